#!/usr/bin/env bash
# Build a real kube-apiserver and etcd from Go modules, once, into a cache
# outside the repository (HERALD_CACHE, default ~/.cache/herald), keyed by
# version. Prints the bin directory. A second run finds the cache and returns.
set -euo pipefail
K8S_VERSION=${K8S_VERSION:-1.36.3}          # k8s.io/kubernetes v1.X.Y
STAGING_VERSION=${STAGING_VERSION:-0.${K8S_VERSION#1.}}   # staging modules v0.X.Y
ETCD_VERSION=${ETCD_VERSION:-3.6.16}
CACHE=${HERALD_CACHE:-$HOME/.cache/herald}
out=$CACHE/kube-$K8S_VERSION-etcd-$ETCD_VERSION
if [ -x "$out/bin/kube-apiserver" ] && [ -x "$out/bin/etcd" ]; then
  echo "$out/bin"; exit 0
fi
mkdir -p "$out/bin" "$out/src"
export GOFLAGS=-mod=mod CGO_ENABLED=0

build_etcd() {
  local d=$out/src/etcd
  rm -rf "$d"; mkdir -p "$d"; cd "$d"
  go mod init herald.invalid/etcd >/dev/null 2>&1
  go get "go.etcd.io/etcd/server/v3@v$ETCD_VERSION" >&2
  go build -trimpath -ldflags "-s -w" -o "$out/bin/etcd.tmp" go.etcd.io/etcd/server/v3 >&2
  mv "$out/bin/etcd.tmp" "$out/bin/etcd"
}

build_apiserver() {
  local d=$out/src/kas
  rm -rf "$d"; mkdir -p "$d"; cd "$d"
  go mod init herald.invalid/kas >/dev/null 2>&1
  local gomod minor
  gomod=$(go mod download -json "k8s.io/kubernetes@v$K8S_VERSION" | sed -n 's/.*"GoMod": "\(.*\)",*/\1/p')
  # k8s.io/kubernetes requires its staging modules at v0.0.0 and replaces them
  # with ./staging paths; point each at the matching published release.
  for m in $(sed -n 's|^[[:space:]]*\(k8s.io/[^ ]*\) => \./staging/src/.*|\1|p' "$gomod"); do
    go mod edit "-replace=$m=$m@v$STAGING_VERSION"
  done
  go get "k8s.io/kubernetes@v$K8S_VERSION" >&2
  minor=$(echo "$K8S_VERSION" | cut -d. -f2)
  go build -trimpath -o "$out/bin/kube-apiserver.tmp" \
    -ldflags "-s -w -X k8s.io/component-base/version.gitVersion=v$K8S_VERSION \
      -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$minor" \
    k8s.io/kubernetes/cmd/kube-apiserver >&2
  mv "$out/bin/kube-apiserver.tmp" "$out/bin/kube-apiserver"
}

[ -x "$out/bin/etcd" ] || build_etcd
[ -x "$out/bin/kube-apiserver" ] || build_apiserver
echo "$out/bin"
