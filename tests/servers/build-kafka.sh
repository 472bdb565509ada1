#!/usr/bin/env bash
# Build a single-node Kafka (KRaft) broker from Maven Central jars, once,
# into a cache outside the repository (HERALD_CACHE, default
# ~/.cache/herald), keyed by version. Prints the directory holding lib/
# (every jar the broker and kafka-storage need). tests/servers/kafka.py runs it.
#   build-kafka.sh           the version in kafka/pom.xml (4.1.1)
#   build-kafka.sh 3.9.1     another release (the SCRAM test needs a 3.9 broker:
#                            Debian's librdkafka 2.0.2 cannot do SCRAM with Kafka 4)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
version=${1:-$(sed -n 's|.*<kafka.version>\(.*\)</kafka.version>.*|\1|p' "$here/kafka/pom.xml")}
case $version in *[!0-9.]*|"") echo "build-kafka.sh: bad version '$version'" >&2; exit 2;; esac
out=${HERALD_CACHE:-$HOME/.cache/herald}/kafka-$version
if [ -f "$out/ready" ]; then echo "$out"; exit 0; fi
rm -rf "$out" && mkdir -p "$out"
sed "s|<kafka.version>.*</kafka.version>|<kafka.version>$version</kafka.version>|" "$here/kafka/pom.xml" >"$out/pom.xml"
(cd "$out" && mvn -q -B package >&2)
mv "$out/target/lib" "$out/lib" && rm -rf "$out/target"
touch "$out/ready"
echo "$out"
