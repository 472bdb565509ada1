#!/usr/bin/env bash
# Build a single-node OpenSearch runner from Maven Central jars, once, into
# a cache outside the repository (HERALD_CACHE, default ~/.cache/herald),
# keyed by version. Prints the directory holding classes/ and lib/.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
version=$(sed -n 's|.*<opensearch.version>\(.*\)</opensearch.version>.*|\1|p' "$here/opensearch/pom.xml")
out=${HERALD_CACHE:-$HOME/.cache/herald}/opensearch-$version
if [ -f "$out/ready" ]; then echo "$out"; exit 0; fi
rm -rf "$out" && mkdir -p "$out"
cp -r "$here/opensearch/pom.xml" "$here/opensearch/src" "$out/"
(cd "$out" && mvn -q -B package -DskipTests >&2)
touch "$out/ready"
echo "$out"
