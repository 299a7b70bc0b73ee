# syntax=docker/dockerfile:1
# A Janus node for sfu meetings: Debian's janus 1.1.2 (VideoRoom plugin, WebSocket transport),
# the same package the local stack and the tests run. Its config is rendered at start by the
# chart's start.sh (templates/janus/statefulset.yaml) from a template and the Secret.
#   docker build -f deploy/docker/janus.Dockerfile -t lessoncall-janus .
FROM debian:bookworm-slim
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends janus ca-certificates \
 && rm -rf /var/lib/apt/lists/*
USER 1000:1000
EXPOSE 8188 7188
CMD ["janus", "-o", "-N", "--log-stdout"]
