#!/usr/bin/env bash
# Build herald's image from deploy/Dockerfile without a Docker engine:
# buildah with chroot isolation, on the debian:bookworm-slim base that
# tests/servers/build-debian-base.sh makes from Debian's packages (cached).
# Tags herald:VERSION (VERSION from CMakeLists.txt), the tag deploy/ uses.
# Layers are cached in buildah's storage, so a second build with the same
# deploy/install-deps.sh skips the package installs. The builder stage is
# tagged too (localhost/herald-build:VERSION), so that pruning untagged
# images drops only the layers of earlier builds. Prints the tag.
set -euo pipefail
cd "$(dirname "$0")/../.."
version=$(sed -n 's/^project(herald VERSION \([0-9.]*\).*/\1/p' CMakeLists.txt)
tag=${HERALD_IMAGE:-herald:$version}
tests/servers/build-debian-base.sh >/dev/null
bud=(buildah bud --isolation chroot --layers --pull=never -q -f deploy/Dockerfile)
"${bud[@]}" --target build -t "localhost/herald-build:$version" . >&2
"${bud[@]}" -t "$tag" . >&2
buildah rmi --prune >/dev/null 2>&1 || true
echo "$tag"
