#!/usr/bin/env bash
# The README's test command (`make test`): set-up, the local stack, lint and types, every test.
# Starts the parts of the stack that are not already up, and stops those again on exit.
# Extra arguments go to pytest (e.g. `scripts/test.sh -x -k smoke`); if one of them is a test
# path, only the paths given run (e.g. `scripts/test.sh tests/integration/test_stack_smoke.py`).
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

echo "== pytest (${SECONDS}s)"
suites=()
for arg in "$@"; do
  [[ $arg != -* && -e ${arg%%::*} ]] && suites=(__given__)
done
if [[ ${#suites[@]} -eq 0 ]]; then
  for dir in tests/unit tests/integration tests/e2e; do
    [[ -d $dir ]] && suites+=("$dir")
  done
else
  suites=()
fi
rc=0
.venv/bin/pytest --durations=10 "${suites[@]}" "$@" || rc=$?
# The pure-Python decoder is the reference and the fallback: with the native one built, the
# decode and aggregator unit tests run once more on it alone (docs/decode.md).
if [[ ${#suites[@]} -gt 0 ]] && .venv/bin/python -c 'import modelmon_native' 2>/dev/null; then
  echo "== pytest, pure-Python decoder (MODELMON_NATIVE=0) (${SECONDS}s)"
  MODELMON_NATIVE=0 .venv/bin/pytest -q -p no:cacheprovider \
    tests/unit/test_decode_parity.py tests/unit/test_streaming_decode.py \
    tests/unit/test_streaming_partition.py tests/unit/test_feature_cap.py \
    tests/unit/test_poison_messages.py tests/unit/test_one_validator.py \
    tests/unit/test_limits.py tests/unit/test_model_watermarks.py \
    tests/unit/test_aggregator_loop.py || { r=$?; [[ $rc -ne 0 ]] || rc=$r; }
fi
echo "== done in ${SECONDS}s"
if [[ $rc -eq 5 ]]; then
  echo "pytest collected no tests: that is a failure here" >&2
  exit 1
fi
exit "$rc"
