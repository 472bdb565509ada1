#!/usr/bin/env bash
# Builds the two peers herald is compared with (bench/peers/run.sh) from
# their sources with Go, and prints one line per peer: NAME VERSION BINARY.
# Binaries are cached under ~/.cache/herald/peers/bin/NAME-VERSION, so a
# second run is instant. No peer source is kept in this repository.
#
#   kubernetes-event-exporter: the Go module github.com/resmoio/kubernetes-event-exporter,
#     fetched with `go mod download` (its dependencies from the Go module proxy).
#   kube-eventer: github.com/AliyunContainerService/kube-eventer. The module
#     proxy does not serve it (its release tags are not semantic versions), so
#     its source tree, with its vendor/ folder, must be put by hand in
#     ~/.cache/herald/peers/src/kube-eventer-VERSION/ (the tag's tree, e.g.
#     `git archive 1.2.14 | tar -x -C ~/.cache/herald/peers/src/kube-eventer-1.2.14`
#     in a clone of that repository).
set -euo pipefail
CACHE=${HERALD_PEERS_CACHE:-$HOME/.cache/herald/peers}
EXPORTER_VERSION=${EXPORTER_VERSION:-v1.6.1}
EVENTER_VERSION=${EVENTER_VERSION:-1.2.14}
mkdir -p "$CACHE/bin" "$CACHE/src"
say() { echo "build.sh: $*" >&2; }

build_exporter() {
  local bin="$CACHE/bin/kubernetes-event-exporter-$EXPORTER_VERSION"
  if [ ! -x "$bin" ]; then
    local src="$CACHE/src/kubernetes-event-exporter-$EXPORTER_VERSION"
    if [ ! -d "$src" ]; then
      local dir
      dir=$(go mod download -json "github.com/resmoio/kubernetes-event-exporter@$EXPORTER_VERSION" |
            python3 -c 'import json,sys; d=json.load(sys.stdin); print(d.get("Dir") or sys.exit(d.get("Error")))')
      cp -r "$dir" "$src.tmp" && chmod -R u+w "$src.tmp" && mv "$src.tmp" "$src"
    fi
    say "building kubernetes-event-exporter $EXPORTER_VERSION"
    (cd "$src" && CGO_ENABLED=0 go build -trimpath -o "$bin.tmp" . && mv "$bin.tmp" "$bin")
  fi
  echo "kubernetes-event-exporter $EXPORTER_VERSION $bin"
}

build_eventer() {
  local bin="$CACHE/bin/kube-eventer-$EVENTER_VERSION"
  if [ ! -x "$bin" ]; then
    local src="$CACHE/src/kube-eventer-$EVENTER_VERSION"
    if [ ! -f "$src/go.mod" ]; then
      say "kube-eventer $EVENTER_VERSION: no source tree in $src."
      say "  The Go module proxy does not serve github.com/AliyunContainerService/kube-eventer."
      say "  Put the tree of its tag $EVENTER_VERSION there (with vendor/), e.g. in a clone:"
      say "    mkdir -p $src && git archive $EVENTER_VERSION | tar -x -C $src"
      return 1
    fi
    say "building kube-eventer $EVENTER_VERSION"
    local mod=mod
    [ -d "$src/vendor" ] && mod=vendor
    (cd "$src" && CGO_ENABLED=0 go build -mod=$mod -trimpath -o "$bin.tmp" . && mv "$bin.tmp" "$bin")
  fi
  echo "kube-eventer $EVENTER_VERSION $bin"
}

status=0
build_exporter || status=1
build_eventer || status=1
exit $status
