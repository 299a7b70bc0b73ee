# syntax=docker/dockerfile:1
# The web app's static build (web/dist) and nothing else: the gateway image copies it in
# and serves it. Build from the repository root:
#   docker build -f deploy/docker/web.Dockerfile -t lessoncall-web .
ARG NODE_IMAGE=node:22-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /repo
ENV CI=true
RUN --mount=type=bind,source=package.json,target=/tmp/root-package.json \
    npm install --global --no-fund --no-audit \
      "pnpm@$(node -p "require('/tmp/root-package.json').packageManager.split('@')[1].split('+')[0]")"
COPY . .
RUN --mount=type=cache,id=pnpm-store,target=/root/.local/share/pnpm/store \
    pnpm install --frozen-lockfile --filter "@lessoncall/web..." \
 && pnpm --filter @lessoncall/web build

FROM scratch
COPY --from=build /repo/web/dist /web
