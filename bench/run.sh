#!/usr/bin/env bash
# `npm run bench`: every benchmark, one after another (they share 2 cores: never run them
# in parallel with each other or with tests). Each writes bench/results/<name>.json.
#   npm run bench -- booking-ingest rest-join     only these
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
all=(booking-ingest participant-join rest-join signaling-relay lesson-start gateway-sockets join-to-frame scaled-sim sfu-room)
names=("${@:-${all[@]}}")
for name in "${names[@]}"; do
  echo "▸ bench/$name.ts"
  pnpm exec tsx "bench/$name.ts"
done
