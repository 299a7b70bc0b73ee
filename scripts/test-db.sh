#!/usr/bin/env bash
# Database tests: a throwaway PostgreSQL 15 from the test harness (scripts/with-postgres.ts),
# bootstrap + migrations (twice, to prove the runner is idempotent), then pg_prove over
# supabase/tests/*.sql. Installs what it needs first, as `npm test` does.
#
# Env: TEST_COUNTS_FILE=path  -> writes "passed=N failed=M" (individual pgTAP assertions).
# The last lines printed are pg_prove's summary ("Files=..., Tests=N, ..." / "Result: ...").
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

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

# First pass: install, then run this script again inside a harness Postgres, which sets
# DATABASE_URL and PG* for the second pass and removes the cluster afterwards.
if [ -z "${TEST_DB_INSIDE:-}" ]; then
  # shellcheck source=lib/setup.sh
  . "$ROOT/scripts/lib/setup.sh"
  ensure_postgres_packages || fail "PostgreSQL 15, pgTAP and pg_prove are not available"
  ensure_pnpm || fail "pnpm is not available"
  ensure_node_modules || fail "node modules could not be installed"
  TEST_DB_INSIDE=1 exec pnpm exec tsx scripts/with-postgres.ts --no-migrate -- bash "$ROOT/scripts/test-db.sh"
fi

shopt -s nullglob
tests=(supabase/tests/*.sql)
migrations=(supabase/migrations/*.sql)
shopt -u nullglob
[ ${#tests[@]} -gt 0 ] || fail "no tests in supabase/tests/*.sql"

PSQL=/usr/lib/postgresql/15/bin/psql
[ -x "$PSQL" ] || PSQL=$(command -v psql)

applied() { # runs the migration runner once, prints how many migrations it applied
  local out
  out=$(pnpm exec tsx scripts/migrate.ts "$DATABASE_URL") || return 1
  echo "${out#applied=}"
}

n=$(applied) || fail "bootstrap/migrations failed on a fresh database"
[ "$n" -eq ${#migrations[@]} ] || fail "expected ${#migrations[@]} migrations applied, got $n"
n=$(applied) || fail "second run of bootstrap/migrations failed"
[ "$n" -eq 0 ] || fail "second run applied $n migrations again"
recorded=$("$PSQL" -X -q -tA -v ON_ERROR_STOP=1 -c 'select count(*) from supabase_migrations.schema_migrations')
[ "$recorded" -eq ${#migrations[@]} ] ||
  fail "schema_migrations has $recorded rows, expected ${#migrations[@]}"
echo "test-db: ${#migrations[@]} migration(s) applied; second run applied none" >&2

OUT=""
trap '[ -z "$OUT" ] || rm -f "$OUT"' EXIT
OUT=$(mktemp)
set +e
pg_prove --verbose --psql-bin "$PSQL" -h "$PGHOST" -p "$PGPORT" -U "$PGUSER" -d "$PGDATABASE" \
  "${tests[@]}" >"$OUT" 2>&1
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
