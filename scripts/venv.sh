#!/usr/bin/env bash
# Create .venv with the pinned dependencies (requirements/lock.txt) and modelmon installed
# editable, then build the native capture decoder (native/, Rust) into it with maturin. Stamps
# keyed on the lock, pyproject.toml and the uv version, and on native/'s sources, make a warm
# run instant (it compiles nothing); change any of them and the next run syncs or builds again.
# Without cargo the decoder is not built and modelmon uses its pure-Python decoder (docs/decode.md).
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
UV_VERSION=0.13.8
VENV=.venv
STAMP=$VENV/.modelmon-sync.sha256

want=$( (cat requirements/lock.txt pyproject.toml; echo "uv==$UV_VERSION") | sha256sum | cut -d' ' -f1)

sync_python() {

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
}

NATIVE_STAMP=$VENV/.modelmon-native.sha256

native_hash() {
  (cd native && find . -path ./target -prune -o -type f \( -name '*.rs' -o -name 'Cargo.*' \
    -o -name pyproject.toml \) -print | LC_ALL=C sort | xargs cat
   "../$VENV/bin/python" -c 'import sys; print(sys.version)'; cargo --version 2>/dev/null || true
  ) | sha256sum | cut -d' ' -f1
}

build_native() {
  if ! command -v cargo >/dev/null 2>&1; then
    echo "note: cargo (the Rust toolchain) is not installed, so the native capture decoder" \
      "(native/) is not built: modelmon uses its pure-Python decoder (same results, slower;" \
      "docs/decode.md). Install Rust and re-run scripts/venv.sh to build it." >&2
    return 0
  fi
  local want_native
  want_native=$(native_hash)
  if [[ -f $NATIVE_STAMP && "$(cat "$NATIVE_STAMP")" == "$want_native" ]] &&
    "$VENV/bin/python" -c 'import modelmon_native' 2>/dev/null; then
    return 0
  fi
  echo "== building the native capture decoder (native/: cargo + maturin, a few minutes)"
  if (cd native && VIRTUAL_ENV="$PWD/../$VENV" "../$VENV/bin/maturin" develop --release --locked --quiet); then
    echo "$want_native" > "$NATIVE_STAMP"
  else
    echo "warning: building native/ failed: modelmon uses its pure-Python decoder" >&2
  fi
}

if ! [[ -x $VENV/bin/python && -f $STAMP && "$(cat "$STAMP")" == "$want" ]]; then
  sync_python
fi
[[ ${MODELMON_NATIVE:-1} == 0 ]] || build_native
