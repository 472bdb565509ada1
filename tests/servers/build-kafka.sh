#!/usr/bin/env bash
# Build a single-node Kafka (KRaft) broker from Maven Central jars, once,
# into a cache outside the repository (HERALD_CACHE, default
# ~/.cache/herald), keyed by version. Prints the directory holding lib/
# (every jar the broker and kafka-storage need). tests/servers/kafka.py runs it.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
version=$(sed -n 's|.*<kafka.version>\(.*\)</kafka.version>.*|\1|p' "$here/kafka/pom.xml")
out=${HERALD_CACHE:-$HOME/.cache/herald}/kafka-$version
if [ -f "$out/ready" ]; then echo "$out"; exit 0; fi
rm -rf "$out" && mkdir -p "$out"
cp "$here/kafka/pom.xml" "$out/"
(cd "$out" && mvn -q -B package >&2)
mv "$out/target/lib" "$out/lib" && rm -rf "$out/target"
touch "$out/ready"
echo "$out"
