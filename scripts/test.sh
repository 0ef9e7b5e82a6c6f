#!/usr/bin/env bash
# The README's test command (`make test`): set-up, the local stack, lint and types, every test,
# then every test that decodes capture events once more on the pure-Python decoder.
# Starts the parts of the stack that are not already up, and stops those again on exit.
# Extra arguments go to pytest (e.g. `scripts/test.sh -x -k smoke`); if one of them is a test
# path, only the paths given run (e.g. `scripts/test.sh tests/integration/test_stack_smoke.py`).
# Exits non-zero when either pass fails or collects no test; the last lines say, per decoder
# path, how many tests ran and whether that pass failed.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/venv.sh
echo "== virtualenv ready (${SECONDS}s)"
bash scripts/kustomize.sh  # the renderer of k8s/ (tests/unit/test_k8s_overlays.py)
modelmon=.venv/bin/modelmon

# Stop, on exit, exactly the services this run started (`up` prints "<name> started ...");
# whatever was already running stays up.
up_log=$(mktemp)
stop_what_we_started() {
  local started
  started=$(awk '$2 == "started" {print $1}' "$up_log" | tr '\n' ' ')
  if [[ -n ${started// /} ]]; then
    echo "== stopping what this run started: $started"
    # shellcheck disable=SC2086  # one word per service
    "$modelmon" stack down $started || true
  fi
  rm -f "$up_log"
}
trap stop_what_we_started EXIT
"$modelmon" stack up | tee "$up_log"
echo "== stack ready (${SECONDS}s)"

# The dashboard's browser test drives Debian's chromium (Playwright cannot download browsers
# here): install it when missing, as the stack does for redis-server.
if ! command -v chromium >/dev/null 2>&1; then
  if command -v apt-get >/dev/null 2>&1 && [[ $(id -u) -eq 0 ]]; then
    echo "== installing chromium (apt-get) for the dashboard's browser test"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "chromium is missing: apt-get install -y chromium (the browser test will fail)" >&2
  fi
fi

echo "== ruff"
.venv/bin/ruff check .
.venv/bin/ruff format --check --extend-exclude "*.md" .  # docs code samples are not gated
echo "== mypy"
.venv/bin/mypy
echo "== bandit"
.venv/bin/bandit -q -r shared services -ll

suites=()
for arg in "$@"; do
  [[ $arg != -* && -e ${arg%%::*} ]] && suites=(__given__)
done
if [[ ${#suites[@]} -eq 0 ]]; then
  for dir in tests/e2e tests/integration tests/unit; do  # the longest files start first
    [[ -d $dir ]] && suites+=("$dir")
  done
else
  suites=()
fi
# Two passes (docs/decode.md "Testing both paths"): every test on the native decoder (or the
# pure-Python one when it is not built), then, with MODELMON_NATIVE=0, exactly the tests that
# decoded capture events in the first pass (tests/decode_paths.py finds them while they run).
# TEST_WORKERS (default 3) test files run at once (pytest-xdist, one file per worker: most tests
# wait on Kafka, Redis and the services they start, not on the CPU); TEST_WORKERS=0: one process.
parallel=(-n "${TEST_WORKERS:-3}" --dist loadfile)
[[ ${TEST_WORKERS:-3} != 0 ]] || parallel=()
reports=$(mktemp -d)
trap 'stop_what_we_started; rm -rf "$reports"' EXIT
native=native
.venv/bin/python -c 'import modelmon_native' 2>/dev/null || native="python (native decoder not built)"
echo "== pytest, $native path (${SECONDS}s)"
ok=1  # cleared by a failing pass, an empty one or selected tests that never ran
rc=0
.venv/bin/pytest "${parallel[@]}" --durations=10 --paths-report="$reports/first.json" \
  "${suites[@]}" "$@" || rc=$?
summary=$(.venv/bin/python scripts/decode_report.py summary "$native path" \
  "$reports/first.json" "$rc") || ok=0
if [[ $native == native ]]; then
  mapfile -t files < <(.venv/bin/python scripts/decode_report.py files "$reports/first.json")
  if [[ ${#files[@]} -gt 0 ]]; then
    echo "== pytest, pure-Python path (MODELMON_NATIVE=0): the tests that decode, in ${#files[@]} files (${SECONDS}s)"
    rc=0
    MODELMON_NATIVE=0 .venv/bin/pytest "${parallel[@]}" --durations=10 -p no:cacheprovider \
      --decode-paths-only="$reports/first.json" --paths-report="$reports/second.json" \
      "${files[@]}" "$@" || rc=$?
    line=$(.venv/bin/python scripts/decode_report.py summary \
      "pure-Python path (MODELMON_NATIVE=0)" "$reports/second.json" "$rc") || ok=0
    summary+=$'\n'$line
  elif [[ ${#suites[@]} -gt 0 ]]; then
    summary+=$'\n'"pure-Python path (MODELMON_NATIVE=0): no test decoded capture events (the parity tests always do): FAILED"
    ok=0
  else
    summary+=$'\n'"pure-Python path (MODELMON_NATIVE=0): none of the tests given decodes capture events; not run"
  fi
fi
echo "== done in ${SECONDS}s"
echo "$summary"
[[ $ok == 1 ]] || exit 1
