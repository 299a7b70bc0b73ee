# syntax=docker/dockerfile:1
# A backend service (meeting, participant, signaling, turn, media): one Dockerfile, the service
# named by SERVICE. Build from the repository root:
#   docker build -f deploy/docker/service.Dockerfile --build-arg SERVICE=meeting -t lessoncall-meeting .
# (skaffold passes SERVICE per artifact.) The gateway has its own: it also carries the web app.
# It runs what the local stack runs: node --import tsx src/main.ts in the package directory.
ARG NODE_IMAGE=node:22-bookworm-slim

FROM ${NODE_IMAGE} AS build
ARG SERVICE
WORKDIR /repo
ENV CI=true
RUN --mount=type=bind,source=package.json,target=/tmp/root-package.json \
    npm install --global --no-fund --no-audit \
      "pnpm@$(node -p "require('/tmp/root-package.json').packageManager.split('@')[1].split('+')[0]")"
COPY . .
# A missing or misspelt SERVICE would otherwise end in pnpm's "no projects matched".
RUN test -n "${SERVICE}" && test -f "services/${SERVICE}/src/main.ts" \
 || { echo "build with --build-arg SERVICE=<one of: $(ls services | tr '\n' ' ')>, got '${SERVICE}'" >&2; exit 1; }
# Only this package and its workspace dependencies, then a self-contained copy of it with
# production dependencies alone (workspace packages copied in, not linked).
RUN --mount=type=cache,id=pnpm-store,target=/root/.local/share/pnpm/store \
    pnpm install --frozen-lockfile --filter "@lessoncall/${SERVICE}..." \
 && pnpm --filter "@lessoncall/${SERVICE}" deploy --prod --legacy /out

# skaffold dev (target "dev"): sources owned by the app user so file sync can replace them,
# and the process restarts when they change.
FROM ${NODE_IMAGE} AS dev
ARG SERVICE
# The media service mixes recordings: janus-pp-rec (janus-tools) and ffmpeg.
RUN if [ "${SERVICE}" = "media" ]; then \
      apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends janus-tools ffmpeg \
      && rm -rf /var/lib/apt/lists/*; \
    fi
WORKDIR /app
COPY --from=build --chown=1000:1000 /out /app
USER 1000:1000
CMD ["node_modules/.bin/tsx", "watch", "--clear-screen=false", "src/main.ts"]

# Production, the default target. Root-owned files, numeric non-root user (Kubernetes can
# check runAsNonRoot against it). No HEALTHCHECK: Kubernetes probes /healthz and /readyz.
FROM ${NODE_IMAGE}
ARG SERVICE
# The media service mixes recordings: janus-pp-rec (janus-tools) and ffmpeg.
RUN if [ "${SERVICE}" = "media" ]; then \
      apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends janus-tools ffmpeg \
      && rm -rf /var/lib/apt/lists/*; \
    fi
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /out /app
USER 1000:1000
EXPOSE 9090
CMD ["node", "--import", "tsx", "src/main.ts"]
