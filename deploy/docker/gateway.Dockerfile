# syntax=docker/dockerfile:1
# The gateway, serving the built web app too. Build from the repository root, web first:
#   docker build -f deploy/docker/web.Dockerfile -t lessoncall-web .
#   docker build -f deploy/docker/gateway.Dockerfile --build-arg WEB_IMAGE=lessoncall-web -t lessoncall-gateway .
# (skaffold passes WEB_IMAGE itself: the gateway artifact requires the web one.)
# It runs what the local stack runs: node --import tsx src/main.ts in the package directory.
ARG NODE_IMAGE=node:22-bookworm-slim
ARG WEB_IMAGE=lessoncall-web

FROM ${WEB_IMAGE} AS web

FROM ${NODE_IMAGE} AS build
WORKDIR /repo
ENV CI=true
RUN --mount=type=bind,source=package.json,target=/tmp/root-package.json \
    npm install --global --no-fund --no-audit \
      "pnpm@$(node -p "require('/tmp/root-package.json').packageManager.split('@')[1].split('+')[0]")"
COPY . .
# Only this package and its workspace dependencies, then a self-contained copy of it with
# production dependencies alone (workspace packages copied in, not linked).
RUN --mount=type=cache,id=pnpm-store,target=/root/.local/share/pnpm/store \
    pnpm install --frozen-lockfile --filter "@lessoncall/gateway..." \
 && pnpm --filter @lessoncall/gateway deploy --prod --legacy /out

# skaffold dev (target "dev"): sources owned by the app user so file sync can replace them,
# and the process restarts when they change.
FROM ${NODE_IMAGE} AS dev
WORKDIR /app
COPY --from=build --chown=1000:1000 /out /app
COPY --from=web /web /app/web
USER 1000:1000
CMD ["node_modules/.bin/tsx", "watch", "--clear-screen=false", "src/main.ts"]

# Production, the default target. Root-owned files, numeric non-root user (Kubernetes can
# check runAsNonRoot against it). No HEALTHCHECK: Kubernetes probes /healthz and /readyz.
# The chart sets WEB_DIST_DIR=/app/web.
FROM ${NODE_IMAGE}
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /out /app
COPY --from=web /web /app/web
USER 1000:1000
EXPOSE 8080
CMD ["node", "--import", "tsx", "src/main.ts"]
