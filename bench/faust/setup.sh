#!/usr/bin/env bash
# Create .venvs/faust with faust-streaming for the stream-processing comparison
# (docs/decisions/0001-stream-processing.md). Kept out of modelmon's lock on purpose.
# Usage (from the repo root): bench/faust/setup.sh   (idempotent)
set -euo pipefail
cd "$(dirname "$0")/../.."
venv=.venvs/faust
if [ -x "$venv/bin/python" ] && "$venv/bin/python" -c "import faust, orjson" 2>/dev/null; then
  echo "faust: ready ($venv)"; exit 0
fi
.venv/bin/uv venv --quiet --python "${FAUST_PYTHON:-3.11}" "$venv"
.venv/bin/uv pip install --quiet --python "$venv/bin/python" "faust-streaming==0.11.*" "aiokafka==0.13.0" cramjam orjson
"$venv/bin/python" -c "import faust, orjson; print('faust', faust.__version__)"
