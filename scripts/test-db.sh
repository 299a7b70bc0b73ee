#!/usr/bin/env bash
# Database tests: a throwaway PostgreSQL 15, bootstrap + migrations (twice, to prove the
# runner is idempotent), then pg_prove over supabase/tests/*.sql.
#
# Env: TEST_COUNTS_FILE=path  -> writes "passed=N failed=M" (individual pgTAP assertions).
# The last lines printed are pg_prove's summary ("Files=..., Tests=N, ..." / "Result: ...").
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=lib/pg.sh
. "$ROOT/scripts/lib/pg.sh"

counts() {
  if [ -n "${TEST_COUNTS_FILE:-}" ]; then
    printf 'passed=%s failed=%s\n' "$1" "$2" >"$TEST_COUNTS_FILE"
  fi
}

fail() {
  echo "test-db: $*" >&2
  counts "${PASSED:-0}" "${FAILED:-1}"
  exit 1
}

OUT=""
cleanup() {
  pg_stop >/dev/null 2>&1 || true
  [ -z "$OUT" ] || rm -f "$OUT"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

pg_require_server || fail "PostgreSQL $PG_MAJOR is not available"
pg_require_pgtap || fail "pgTAP / pg_prove are not available"

shopt -s nullglob
tests=("$ROOT"/supabase/tests/*.sql)
shopt -u nullglob
[ ${#tests[@]} -gt 0 ] || fail "no tests in supabase/tests/*.sql"
migrations=("$ROOT"/supabase/migrations/*.sql)

pg_start >/dev/null || fail "could not start PostgreSQL"

pg_apply || fail "bootstrap/migrations failed on a fresh database"
[ "$PG_APPLIED" -eq ${#migrations[@]} ] ||
  fail "expected ${#migrations[@]} migrations applied, got $PG_APPLIED"
pg_apply || fail "second run of bootstrap/migrations failed"
[ "$PG_APPLIED" -eq 0 ] || fail "second run applied $PG_APPLIED migrations again"
recorded=$(pg_psql -tA -c 'select count(*) from supabase_migrations.schema_migrations')
[ "$recorded" -eq ${#migrations[@]} ] ||
  fail "schema_migrations has $recorded rows, expected ${#migrations[@]}"
echo "test-db: ${#migrations[@]} migration(s) applied; second run applied none" >&2

OUT=$(mktemp)
set +e
(cd "$ROOT" && pg_prove --verbose --psql-bin "$(_pg_psql_bin)" \
  -h "$PGHOST" -p "$PGPORT" -U postgres -d postgres \
  "${tests[@]#"$ROOT"/}") >"$OUT" 2>&1
rc=$?
set -e

# Count individual assertions per file; planned but never run counts as failed, and so
# does a file that produced no plan at all (it died before plan()).
read -r PASSED FAILED < <(awk '
  function flush() {
    if (!infile) return
    if (!hasplan && ran == 0) failed++
    else if (hasplan && plan > ran) failed += plan - ran
  }
  /\.sql \.\.+/ && !/^(ok|not ok)/ { flush(); infile = 1; hasplan = 0; plan = 0; ran = 0; next }
  /^1\.\.[0-9]+/ { hasplan = 1; plan = substr($1, 4) + 0; next }
  # A test numbered beyond the plan is a failure, as pg_prove counts it.
  /^ok [0-9]+/ {
    ran++
    if (hasplan && $2 + 0 > plan) failed++; else passed++
    next
  }
  /^not ok [0-9]+/ {
    ran++
    if ($0 ~ /# *TODO/ && !(hasplan && $3 + 0 > plan)) passed++; else failed++
    next
  }
  END { flush(); print passed + 0, failed + 0 }
' "$OUT")

# Everything pg_prove said, with our count line just before its summary.
summary_at=$(grep -n '^Files=' "$OUT" | tail -n 1 | cut -d: -f1 || true)
if [ -n "$summary_at" ]; then
  head -n $((summary_at - 1)) "$OUT"
  echo "pgtap: $PASSED passed, $FAILED failed"
  tail -n +"$summary_at" "$OUT"
else
  cat "$OUT"
  echo "pgtap: $PASSED passed, $FAILED failed"
  echo "Result: FAIL (pg_prove printed no summary, exit $rc)"
fi

counts "$PASSED" "$FAILED"
if [ "$rc" -ne 0 ] || [ "$FAILED" -ne 0 ] || [ "$PASSED" -eq 0 ]; then
  exit 1
fi
