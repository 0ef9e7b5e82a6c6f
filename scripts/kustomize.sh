#!/usr/bin/env bash
# Install the pinned kustomize into .venv/bin (instant when it is already there): the renderer of
# k8s/ that tests/unit/test_k8s_overlays.py runs. Built from its Go module with `go install`
# (the Go module proxy is a package registry; no binary is downloaded). Needs Go >= 1.22.
set -euo pipefail
cd "$(dirname "$0")/.."

VERSION=v5.8.1  # sigs.k8s.io/kustomize/kustomize/v5 (kustomize/api v0.21.1)
BIN=.venv/bin/kustomize

if [[ -x $BIN && "$("$BIN" version 2>/dev/null)" == "$VERSION" ]]; then
  exit 0
fi
if ! command -v go >/dev/null 2>&1; then
  echo "kustomize $VERSION is built with Go (go install); install Go 1.22 or newer first." >&2
  exit 2
fi
echo "== building kustomize $VERSION (go install, about a minute the first time)"
mkdir -p .venv/bin
GOBIN="$PWD/.venv/bin" GOTOOLCHAIN=local GOFLAGS=-mod=mod \
  go install "sigs.k8s.io/kustomize/kustomize/v5@$VERSION"
"$BIN" version
