#!/usr/bin/env bash
# Build helm from the Go module proxy, once, into a cache outside the
# repository (HERALD_CACHE, default ~/.cache/herald), keyed by version.
# Debian packages no helm. Prints the path of the helm binary. A second run
# finds the cache and returns.
set -euo pipefail
HELM_VERSION=${HELM_VERSION:-3.19.5}
out=${HERALD_CACHE:-$HOME/.cache/herald}/helm-$HELM_VERSION
if [ -x "$out/bin/helm" ]; then echo "$out/bin/helm"; exit 0; fi
mkdir -p "$out/tmp"
GOBIN=$out/tmp CGO_ENABLED=0 GOFLAGS=-mod=mod \
  go install -trimpath -ldflags "-s -w -X helm.sh/helm/v3/internal/version.version=v$HELM_VERSION" \
  "helm.sh/helm/v3/cmd/helm@v$HELM_VERSION" >&2
mkdir -p "$out/bin" && mv "$out/tmp/helm" "$out/bin/helm" && rmdir "$out/tmp"
echo "$out/bin/helm"
