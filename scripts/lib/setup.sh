# shellcheck shell=bash
# What `npm start`, `npm test` and the other npm scripts need on a fresh Debian machine with only Node and npm:
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

# The Debian packages each part needs, named by the checks that find them missing.
_missing_postgres() {
  [ -x /usr/lib/postgresql/15/bin/initdb ] || echo postgresql-15
  [ -f /usr/share/postgresql/15/extension/pgtap.control ] || echo postgresql-15-pgtap
  command -v pg_prove >/dev/null || echo libtap-parser-sourcehandler-pgtap-perl
  command -v psql >/dev/null || echo postgresql-client-15
}
_missing_browser() {
  command -v chromium >/dev/null || echo chromium fonts-liberation
  # The browser suite runs Chromium <-> Firefox lessons (web/e2e/firefox.ts drives it over WebDriver BiDi).
  command -v firefox-esr >/dev/null || echo firefox-esr
}

_install_missing() {
  local missing
  # shellcheck disable=SC2207 # package names have no spaces
  missing=($("$@"))
  if [ ${#missing[@]} -gt 0 ]; then apt_install "${missing[@]}"; fi
}

# PostgreSQL 15, pgTAP and pg_prove (scripts/test-db.sh).
ensure_postgres_packages() { _install_missing _missing_postgres; }

# Chromium for the browser tests (npm run test:e2e).
ensure_browser_packages() { _install_missing _missing_browser; }

# ensure_system_packages [with-browser]: everything the stack and the test suites run.
ensure_system_packages() {
  local missing=()
  command -v nats-server >/dev/null || missing+=(nats-server)
  command -v turnserver >/dev/null || missing+=(coturn)
  # The SFU (group lessons, recordings): Janus with its VideoRoom plugin and WebSocket transport,
  # janus-pp-rec to turn its recordings into media files, ffmpeg to mix them into one WebM.
  [ -x /usr/bin/janus ] || missing+=(janus)
  command -v janus-pp-rec >/dev/null || missing+=(janus-tools)
  command -v ffmpeg >/dev/null || missing+=(ffmpeg)
  # shellcheck disable=SC2207
  missing+=($(_missing_postgres))
  command -v unzip >/dev/null || missing+=(unzip)
  # The NATS TLS test makes its CA and server certificate.
  command -v openssl >/dev/null || missing+=(openssl)
  # The drills' network faults: namespaces and veth pairs (iproute2), loss and blackouts (iptables).
  command -v ip >/dev/null || missing+=(iproute2)
  command -v iptables >/dev/null || missing+=(iptables)
  # shellcheck disable=SC2207
  if [ "${1:-}" = with-browser ]; then missing+=($(_missing_browser)); fi
  if [ ${#missing[@]} -gt 0 ]; then apt_install "${missing[@]}"; fi
  # The Debian coturn package starts a system turnserver on 3478; ours run on their own ports.
  if command -v systemctl >/dev/null && systemctl is-active --quiet coturn 2>/dev/null; then systemctl stop coturn || true; fi
  # Likewise the janus package's system service: ours run from a config the harness writes.
  if command -v systemctl >/dev/null && systemctl is-active --quiet janus 2>/dev/null; then systemctl stop janus || true; fi
}

ensure_pnpm() {
  if ! command -v pnpm >/dev/null || [ "$(pnpm --version 2>/dev/null)" != "$PNPM_VERSION" ]; then
    say "installing pnpm $PNPM_VERSION"
    npm install -g "pnpm@$PNPM_VERSION" --silent >/dev/null 2>&1 || npm install -g "pnpm@$PNPM_VERSION"
  fi
}

ensure_node_modules() {
  # pnpm keeps a copy of the lockfile it installed from: equal means nothing to do, which
  # keeps `npm run typecheck` and friends as fast as before they called this.
  if [ -z "${FORCE_INSTALL:-}" ] && cmp -s "$ROOT/pnpm-lock.yaml" "$ROOT/node_modules/.pnpm/lock.yaml"; then return 0; fi
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

# ensure_for NEED: what an npm script needs, installed where missing.
#   node      pnpm and the node modules
#   servers   node + nats-server, coturn, PostgreSQL 15 with pgTAP (integration tests, stack)
#   browser   servers + Chromium (browser tests against the local stack)
ensure_for() {
  case ${1:-} in
    node) ;;
    servers) ensure_system_packages || return 1 ;;
    browser) ensure_system_packages with-browser || return 1 ;;
    *)
      echo "ensure_for: unknown need '${1:-}' (node, servers or browser)" >&2
      return 2
      ;;
  esac
  ensure_pnpm && ensure_node_modules
}
