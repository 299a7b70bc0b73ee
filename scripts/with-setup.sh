#!/usr/bin/env bash
# What the npm scripts run through, so each works on a fresh Debian machine with only Node
# and npm, as `npm test` does: install what NEED says is missing, then run the command.
#
#   bash scripts/with-setup.sh <node|servers|browser> <command> [args…]
#
# (NEED as in scripts/lib/setup.sh's ensure_for.)
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=lib/setup.sh
. "$ROOT/scripts/lib/setup.sh"
if [ $# -lt 2 ]; then
  echo "usage: bash scripts/with-setup.sh <node|servers|browser> <command> [args…]" >&2
  exit 2
fi
need=$1
shift
ensure_for "$need" || {
  echo "with-setup: could not install what '$*' needs (see above)" >&2
  exit 1
}
exec "$@"
