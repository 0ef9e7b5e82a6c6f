#!/usr/bin/env bash
# Create the peer virtualenvs the statistics benchmark compares against.
# Each peer lives in its own venv because of dependency clashes with modelmon's lock:
#   whylogs 1.6.4 breaks on numpy 2 (np.unicode_), Evidently 0.7.23 breaks on pandas 3,
#   smclarify 0.5 (SageMaker Clarify's bias metrics; bench_bias.py) on pandas >= 2.2.
# Usage (from the repo root): bench/peers/setup_peers.sh [whylogs|evidently|smclarify ...]
# Idempotent: an existing, working venv is kept.
set -euo pipefail
cd "$(dirname "$0")/../.."
UV=.venv/bin/uv
PY=${PEER_PYTHON:-3.11}
peers=("$@")
[ ${#peers[@]} -eq 0 ] && peers=(whylogs evidently)

declare -A PINS=(
  [whylogs]="whylogs==1.6.4 numpy<2 pandas<3 pyarrow<18"
  [evidently]="evidently==0.7.23 pandas<3 pyarrow<18"
  [smclarify]="smclarify==0.5 pandas<2.2 numpy<2"
)
declare -A PROBE=(
  [whylogs]="import whylogs, numpy, pandas, pyarrow"
  [evidently]="import evidently, pandas, pyarrow"
  [smclarify]="import smclarify.bias.report"
)

for peer in "${peers[@]}"; do
  venv=".venvs/$peer"
  if [ -x "$venv/bin/python" ] && "$venv/bin/python" -c "${PROBE[$peer]}" 2>/dev/null; then
    echo "$peer: ready ($venv)"; continue
  fi
  echo "$peer: creating $venv"
  "$UV" venv --quiet --python "$PY" "$venv"
  # shellcheck disable=SC2086
  "$UV" pip install --quiet --python "$venv/bin/python" ${PINS[$peer]}
  "$venv/bin/python" -c "${PROBE[$peer]}" && echo "$peer: ready ($venv)"
done
