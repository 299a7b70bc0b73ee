# shellcheck shell=bash
# Throwaway (or reusable) PostgreSQL 15 clusters for tests and the local stack.
#
#   . scripts/lib/pg.sh
#   pg_start [DATA_DIR]   # init if needed, start on a free port (or reuse a running one);
#                         # exports PG_DATA_DIR PGHOST PGPORT PGUSER PGDATABASE DATABASE_URL
#   pg_apply [URL]        # supabase/bootstrap/local.sql, then supabase/migrations/*.sql
#                         # not yet recorded in supabase_migrations.schema_migrations
#   pg_stop               # stop; remove the data dir if pg_start made it
#
# Without DATA_DIR (or PG_DATA_DIR in the environment) the cluster lives in a new temp
# dir that pg_stop deletes. A DATA_DIR that already holds a cluster is reused as it is.
#
# Settings (environment, all optional):
#   PG_BIN       server binaries (default /usr/lib/postgresql/15/bin)
#   PG_PORT      port to use instead of a free one
#   PG_FAST      1 (default): fsync/synchronous_commit/full_page_writes off; set 0 for a
#                data dir that should survive a crash of the machine
#   PG_OPTS      extra server options, e.g. "-c max_connections=300"
#   PG_OS_USER   OS user that owns and runs the cluster when we are root (default postgres)
#
# Functions return non-zero on failure and log to stderr; they do not exit the caller.

PG_MAJOR=${PG_MAJOR:-15}
PG_BIN=${PG_BIN:-/usr/lib/postgresql/$PG_MAJOR/bin}
PG_OS_USER=${PG_OS_USER:-postgres}
PG_REPO_ROOT=${PG_REPO_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}

_pg_log() { printf 'pg: %s\n' "$*" >&2; }
_pg_err() {
  printf 'pg: error: %s\n' "$*" >&2
  return 1
}
_pg_is_root() { [ "$(id -u)" -eq 0 ]; }

# Run a server binary as the cluster's owner: initdb and pg_ctl refuse to run as root.
_pg_run() {
  if _pg_is_root; then
    (cd / && runuser -u "$PG_OS_USER" -- "$@")
  else
    "$@"
  fi
}

_PG_APT_UPDATED=${_PG_APT_UPDATED:-0}
_pg_install() {
  if ! _pg_is_root; then
    _pg_err "missing $1; install it with: sudo apt-get install -y ${*:2}"
    return 1
  fi
  _pg_log "missing $1; installing ${*:2}"
  if [ "$_PG_APT_UPDATED" != 1 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2 || return 1
    _PG_APT_UPDATED=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${@:2}" >&2 || return 1
}

_pg_psql_bin() {
  if [ -x "$PG_BIN/psql" ]; then echo "$PG_BIN/psql"; else command -v psql; fi
}

# initdb, pg_ctl, postgres and psql.
pg_require_server() {
  local b missing=""
  for b in initdb pg_ctl postgres psql; do
    [ -x "$PG_BIN/$b" ] || missing="$missing $b"
  done
  if [ -n "$missing" ]; then
    _pg_install "PostgreSQL $PG_MAJOR ($PG_BIN:$missing)" "postgresql-$PG_MAJOR" || return 1
    for b in initdb pg_ctl postgres psql; do
      [ -x "$PG_BIN/$b" ] || {
        _pg_err "$PG_BIN/$b still missing after installing postgresql-$PG_MAJOR"
        return 1
      }
    done
  fi
  if _pg_is_root && ! id -u "$PG_OS_USER" >/dev/null 2>&1; then
    _pg_err "OS user $PG_OS_USER does not exist (the postgresql-$PG_MAJOR package creates it)"
    return 1
  fi
}

# The pgtap extension and pg_prove.
pg_require_pgtap() {
  local share
  share=$("$PG_BIN/pg_config" --sharedir 2>/dev/null || echo "/usr/share/postgresql/$PG_MAJOR")
  if [ ! -f "$share/extension/pgtap.control" ] || ! command -v pg_prove >/dev/null 2>&1; then
    _pg_install "pgTAP / pg_prove" "postgresql-$PG_MAJOR-pgtap" \
      libtap-parser-sourcehandler-pgtap-perl || return 1
  fi
  [ -f "$share/extension/pgtap.control" ] || {
    _pg_err "pgtap extension missing ($share/extension/pgtap.control)"
    return 1
  }
  command -v pg_prove >/dev/null 2>&1 || {
    _pg_err "pg_prove missing (apt-get install -y libtap-parser-sourcehandler-pgtap-perl)"
    return 1
  }
}

_pg_port_in_use() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

_pg_free_port() {
  local port i
  for i in $(seq 1 200); do
    # Below Linux's ephemeral range, so an outgoing connection will not take it meanwhile.
    port=$((15000 + (RANDOM * 32768 + RANDOM) % 17000))
    if ! _pg_port_in_use "$port"; then
      echo "$port"
      return 0
    fi
  done
  _pg_err "no free port found"
}

_pg_export() {
  export PG_DATA_DIR=$1 PGHOST=127.0.0.1 PGPORT=$2 PGUSER=postgres PGDATABASE=postgres
  export DATABASE_URL="postgres://postgres@127.0.0.1:$2/postgres"
}

pg_start() {
  pg_require_server || return 1
  local dir=${1:-${PG_DATA_DIR:-}} temp=0
  if [ -z "$dir" ]; then
    dir=$(mktemp -d "${TMPDIR:-/tmp}/lessoncall-pg.XXXXXX") || return 1
    temp=1
  else
    mkdir -p "$dir" || return 1
  fi
  dir=$(cd "$dir" && pwd) || return 1
  case $dir in
    *[[:space:]\'\"\\]*)
      _pg_err "data dir path must not contain spaces or quotes: $dir"
      return 1
      ;;
  esac
  # The unix socket lives in the data dir; its path is limited to 107 bytes.
  if [ $((${#dir} + 20)) -gt 107 ]; then
    _pg_err "data dir path too long for a unix socket: $dir"
    return 1
  fi
  if _pg_is_root; then
    chown "$PG_OS_USER:" "$dir" && chmod 700 "$dir" || return 1
    if ! runuser -u "$PG_OS_USER" -- test -w "$dir"; then
      _pg_err "user $PG_OS_USER cannot reach $dir (is a parent directory not traversable?)"
      return 1
    fi
  fi
  PG_DIR_IS_TEMP=$temp
  PG_DATA_DIR=$dir

  if [ ! -f "$dir/PG_VERSION" ]; then
    if [ -n "$(ls -A "$dir")" ]; then
      _pg_err "$dir is neither empty nor a PostgreSQL data dir"
      return 1
    fi
    local out
    out=$(_pg_run "$PG_BIN/initdb" -D "$dir" -U postgres --auth=trust -E UTF8 --no-locale \
      --no-instructions 2>&1) || {
      printf '%s\n' "$out" >&2
      _pg_err "initdb failed"
      return 1
    }
  else
    local v
    v=$(cat "$dir/PG_VERSION")
    [ "$v" = "$PG_MAJOR" ] || {
      _pg_err "$dir holds a PostgreSQL $v cluster, not $PG_MAJOR"
      return 1
    }
  fi

  # Already running (the local stack started it before): reuse it.
  if _pg_run "$PG_BIN/pg_ctl" -D "$dir" status >/dev/null 2>&1; then
    local port
    port=$(sed -n 4p "$dir/postmaster.pid")
    _pg_export "$dir" "$port"
    _pg_log "reusing running cluster in $dir on port $port"
    return 0
  fi

  local fast="" attempt port
  if [ "${PG_FAST:-1}" = 1 ]; then
    fast="-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
  fi
  for attempt in 1 2 3 4 5; do
    port=${PG_PORT:-$(_pg_free_port)} || return 1
    if _pg_run "$PG_BIN/pg_ctl" -D "$dir" -l "$dir/postgres.log" -w -t 60 -s start \
      -o "-p $port -c listen_addresses=127.0.0.1 -k '$dir' $fast ${PG_OPTS:-}" >&2; then
      _pg_export "$dir" "$port"
      if "$(_pg_psql_bin)" -X -q -d "$DATABASE_URL" -c 'select 1' >/dev/null; then
        _pg_log "PostgreSQL $PG_MAJOR running in $dir on 127.0.0.1:$port"
        return 0
      fi
      _pg_err "server started but does not answer on $DATABASE_URL"
      return 1
    fi
    if [ -z "${PG_PORT:-}" ] && grep -qiE 'could not bind|address already in use' \
      "$dir/postgres.log" 2>/dev/null; then
      _pg_log "port $port taken meanwhile, trying another"
      continue
    fi
    break
  done
  tail -n 30 "$dir/postgres.log" >&2 2>/dev/null
  _pg_err "could not start PostgreSQL in $dir"
  return 1
}

pg_stop() {
  local dir=${PG_DATA_DIR:-}
  [ -n "$dir" ] || return 0
  if [ -f "$dir/postmaster.pid" ]; then
    _pg_run "$PG_BIN/pg_ctl" -D "$dir" -s -w -t 30 -m fast stop >/dev/null 2>&1 ||
      _pg_run "$PG_BIN/pg_ctl" -D "$dir" -s -w -t 30 -m immediate stop >/dev/null 2>&1 ||
      _pg_log "could not stop the cluster in $dir"
  fi
  if [ "${PG_DIR_IS_TEMP:-0}" = 1 ]; then
    case $dir in
      "${TMPDIR:-/tmp}"/lessoncall-pg.*) rm -rf -- "$dir" ;;
    esac
  fi
  unset PG_DATA_DIR PG_DIR_IS_TEMP
}

# psql as the scripts use it: fail on the first error, no psqlrc, no notices.
pg_psql() {
  PGOPTIONS="${PGOPTIONS:-} -c client_min_messages=warning" \
    "$(_pg_psql_bin)" -X -q -v ON_ERROR_STOP=1 "$@"
}

# Apply bootstrap + migrations to URL (default $DATABASE_URL). Each migration runs in one
# transaction together with the row that records it, so a failed one leaves no trace and
# a re-run applies exactly what is missing. Sets PG_APPLIED (how many were applied now).
pg_apply() {
  local url=${1:-${DATABASE_URL:-}}
  [ -n "$url" ] || {
    _pg_err "pg_apply: no database URL (run pg_start or pass one)"
    return 1
  }
  # One migration runner for everything: the one the harness and the local stack use.
  local out
  out=$(cd "$PG_REPO_ROOT" && pnpm exec tsx scripts/migrate.ts "$url") || {
    _pg_err "bootstrap/migrations failed"
    return 1
  }
  PG_APPLIED=${out#applied=}
  _pg_log "migrations: $PG_APPLIED applied"
}
