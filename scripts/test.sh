#!/usr/bin/env bash
# `npm test`: sets up what it needs, then runs every suite — typecheck, lint, contracts,
# unit, integration (real NATS, Postgres, coturn), pgTAP, deployment checks, browser e2e —
# and ends with one line: "N passed, N failed, N skipped".
#
#   npm test                 everything
#   npm test -- --no-e2e     everything but the browser tests
#   npm test -- --no-drills  without the short reliability drill (bench/drills, ≈ 3 min)
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
# shellcheck source=lib/setup.sh
. "$ROOT/scripts/lib/setup.sh"

RUN_E2E=1
RUN_DRILLS=1
for a in "$@"; do
  case "$a" in
  --no-e2e) RUN_E2E=0 ;;
  --no-drills) RUN_DRILLS=0 ;;
  esac
done

ensure_system_packages with-browser || exit 1
ensure_pnpm || exit 1
ensure_node_modules || exit 1

OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
PASSED=0
FAILED=0
SKIPPED=0
SUMMARY=()
FAILURES=() # "suite: file › test" of every failed vitest test, repeated at the end so a log's tail names them

record() { # name passed failed skipped
  PASSED=$((PASSED + $2))
  FAILED=$((FAILED + $3))
  SKIPPED=$((SKIPPED + ${4:-0}))
  SUMMARY+=("$(printf '%-22s %5s passed %3s failed' "$1" "$2" "$3")")
}

# A check that is one pass or one failure (typecheck, lint, ...).
check() { # name command...
  local name=$1
  shift
  say "$name"
  if "$@"; then record "$name" 1 0; else
    echo "✗ $name failed" >&2
    record "$name" 0 1
  fi
}

# A vitest project; counts come from its JSON report.
vitest_project() { # name project
  local json="$OUT/$2.json"
  say "$1"
  pnpm exec vitest run --project "$2" --reporter=default --reporter=json --outputFile.json="$json"
  local rc=$?
  if [ -s "$json" ]; then
    read -r p f s < <(node -e 'const r=require(process.argv[1]);console.log(r.numPassedTests,r.numFailedTests+(r.numRuntimeErrorTestSuites??0)+(r.numFailedTestSuites&&!r.numFailedTests?r.numFailedTestSuites:0),r.numPendingTests+r.numTodoTests)' "$json")
    [ "$rc" -ne 0 ] && [ "$f" -eq 0 ] && f=1
    record "$1" "$p" "$f" "$s"
    while IFS= read -r line; do [ -n "$line" ] && FAILURES+=("$1: $line"); done < <(node -e '
      const r = require(process.argv[1]);
      for (const file of r.testResults ?? []) {
        const rel = require("node:path").relative(process.cwd(), file.name);
        const failed = (file.assertionResults ?? []).filter((t) => t.status === "failed");
        for (const t of failed) console.log(`${rel} › ${t.fullName ?? t.title}`);
        if (!failed.length && file.status === "failed") console.log(`${rel} › ${(file.message || "the file failed").split("\n")[0]}`);
      }' "$json")
  else
    record "$1" 0 1
  fi
}

# A script that writes "passed=N failed=M" (and "skipped=K" if it skips any) to $TEST_COUNTS_FILE.
counted() { # name command...
  local name=$1 counts="$OUT/$1.counts"
  shift
  say "$name"
  TEST_COUNTS_FILE="$counts" "$@"
  local rc=$? p=0 f=0 s=0
  if [ -s "$counts" ]; then
    p=$(sed -n 's/.*passed=\([0-9]*\).*/\1/p' "$counts" | awk '{s+=$1} END {print s+0}')
    f=$(sed -n 's/.*failed=\([0-9]*\).*/\1/p' "$counts" | awk '{s+=$1} END {print s+0}')
    s=$(sed -n 's/.*skipped=\([0-9]*\).*/\1/p' "$counts" | awk '{s+=$1} END {print s+0}')
  fi
  [ "$rc" -ne 0 ] && [ "$f" -eq 0 ] && f=1
  record "$name" "$p" "$f" "$s"
}

contracts_regenerate_cleanly() {
  (cd proto && pnpm exec buf lint && pnpm exec buf generate) || return 1
  if ! git diff --quiet -- proto/gen || [ -n "$(git ls-files --others --exclude-standard proto/gen)" ]; then
    echo "proto/gen differs from what buf generate produces: run npm run proto:gen and commit" >&2
    git --no-pager diff --stat -- proto/gen >&2
    return 1
  fi
}

contracts_not_broken() {
  # Against the commit before this one (on main, CI's clone) or the fork point of a branch.
  local against
  against=$(git merge-base HEAD origin/main 2>/dev/null || true)
  [ "$against" = "$(git rev-parse HEAD)" ] && against=""
  [ -n "$against" ] || against=$(git rev-parse -q --verify HEAD~1 || true)
  if [ -z "$against" ] || ! git cat-file -e "$against:proto/buf.yaml" 2>/dev/null; then
    echo "no earlier contracts to compare with" >&2
    return 0
  fi
  (cd proto && pnpm exec buf breaking --against "$ROOT/.git#ref=$against,subdir=proto")
}

check typecheck pnpm run --silent typecheck
check lint pnpm exec biome ci .
check "contracts: lint+regen" contracts_regenerate_cleanly
check "contracts: breaking" contracts_not_broken
check "README config table" pnpm exec tsx scripts/config-docs.ts --check
vitest_project "unit tests" unit
vitest_project "integration tests" integration
counted "pgTAP (RLS)" bash scripts/test-db.sh
# One fault of each kind under load, and the hostile input: one count per fault (npm run drills -- --short).
if [ "$RUN_DRILLS" = 1 ]; then counted "drills (short)" pnpm exec tsx bench/drills/run.ts --short; fi
if [ -f scripts/deploy-check.sh ]; then counted "deploy check" bash scripts/deploy-check.sh; fi
if [ "$RUN_E2E" = 1 ] && [ -f web/package.json ] && grep -q '"test:e2e"' web/package.json; then
  counted "browser e2e" pnpm --filter @lessoncall/web test:e2e
fi

echo
printf '%s\n' "${SUMMARY[@]}"
if [ "${#FAILURES[@]}" -gt 0 ]; then
  echo "failed:"
  printf '  %s\n' "${FAILURES[@]}"
fi
echo "$PASSED passed, $FAILED failed, $SKIPPED skipped"
[ "$FAILED" -eq 0 ]
