#!/usr/bin/env bash
# `npm start`: installs what is missing (system packages, pnpm, node modules), builds the
# web app, then runs the whole stack in the foreground (scripts/start.ts). Ctrl-C stops it.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
# shellcheck source=lib/setup.sh
. "$ROOT/scripts/lib/setup.sh"
ensure_system_packages
ensure_pnpm
ensure_node_modules
if [ -f web/package.json ]; then
  say "building the web app"
  pnpm --filter @lessoncall/web build >/dev/null
fi
say "starting lessoncall"
exec node --import tsx scripts/start.ts
