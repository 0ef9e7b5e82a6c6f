#!/usr/bin/env bash
# Create .venv with the pinned dependencies (requirements/lock.txt) and modelmon installed
# editable. A stamp keyed on the lock, pyproject.toml and the uv version makes a warm run
# instant; change any of them and the next run syncs again.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
UV_VERSION=0.13.8
VENV=.venv
STAMP=$VENV/.modelmon-sync.sha256

want=$( (cat requirements/lock.txt pyproject.toml; echo "uv==$UV_VERSION") | sha256sum | cut -d' ' -f1)
if [[ -x $VENV/bin/python && -f $STAMP && "$(cat "$STAMP")" == "$want" ]]; then
  exit 0
fi

if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  echo "modelmon needs Python 3.11 or newer as \`$PYTHON\` (set PYTHON=/path/to/python3.11)." >&2
  exit 2
fi
if [[ ! -x $VENV/bin/python ]]; then
  echo "== creating $VENV with $("$PYTHON" --version)"
  "$PYTHON" -m venv "$VENV"
fi
if [[ "$("$VENV/bin/uv" --version 2>/dev/null | cut -d' ' -f2)" != "$UV_VERSION" ]]; then
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "uv==$UV_VERSION"
fi
echo "== installing requirements/lock.txt into $VENV"
"$VENV/bin/uv" pip sync --quiet --python "$VENV/bin/python" requirements/lock.txt
"$VENV/bin/uv" pip install --quiet --python "$VENV/bin/python" -e . --no-deps
echo "$want" > "$STAMP"
