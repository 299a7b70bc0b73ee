# shellcheck shell=bash
# What `npm start` and `npm test` need on a fresh Debian machine with only Node and npm:
# system packages (as root, with apt-get, only when missing), pnpm, node modules.

ROOT=${ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
PNPM_VERSION=$(node -p "require('$ROOT/package.json').packageManager.split('@')[1]")

say() { printf '\033[1;34m▸\033[0m %s\n' "$*" >&2; }

_apt_updated=0
apt_install() {
  if [ "$(id -u)" -ne 0 ]; then
    echo "missing system packages: $*; install them with: sudo apt-get install -y $*" >&2
    return 1
  fi
  if [ "$_apt_updated" != 1 ]; then
    say "apt-get update"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
    _apt_updated=1
  fi
  say "installing $*"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# ensure_system_packages [with-browser]
ensure_system_packages() {
  local missing=()
  command -v nats-server >/dev/null || missing+=(nats-server)
  command -v turnserver >/dev/null || missing+=(coturn)
  [ -x /usr/lib/postgresql/15/bin/initdb ] || missing+=(postgresql-15)
  [ -f /usr/share/postgresql/15/extension/pgtap.control ] || missing+=(postgresql-15-pgtap)
  command -v pg_prove >/dev/null || missing+=(libtap-parser-sourcehandler-pgtap-perl)
  command -v psql >/dev/null || missing+=(postgresql-client-15)
  command -v unzip >/dev/null || missing+=(unzip)
  if [ "${1:-}" = with-browser ]; then
    command -v chromium >/dev/null || missing+=(chromium fonts-liberation)
  fi
  if [ ${#missing[@]} -gt 0 ]; then apt_install "${missing[@]}"; fi
  # The Debian coturn package starts a system turnserver on 3478; ours run on their own ports.
  if command -v systemctl >/dev/null && systemctl is-active --quiet coturn 2>/dev/null; then systemctl stop coturn || true; fi
}

ensure_pnpm() {
  if ! command -v pnpm >/dev/null || [ "$(pnpm --version 2>/dev/null)" != "$PNPM_VERSION" ]; then
    say "installing pnpm $PNPM_VERSION"
    npm install -g "pnpm@$PNPM_VERSION" --silent >/dev/null 2>&1 || npm install -g "pnpm@$PNPM_VERSION"
  fi
}

ensure_node_modules() {
  say "installing node modules"
  local log
  log=$(mktemp)
  if (cd "$ROOT" && CI=true pnpm install --frozen-lockfile --reporter=append-only >"$log" 2>&1); then
    rm -f "$log"
  else
    tail -n 30 "$log" >&2
    rm -f "$log"
    return 1
  fi
}
