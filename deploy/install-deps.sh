#!/usr/bin/env bash
# Installs herald's dependencies from Debian (bookworm) or Ubuntu packages.
# Idempotent: installs only what is missing. One mode per call:
#   deploy/install-deps.sh --runtime  what the binary needs to run: its shared
#                                     libraries, CA certificates, tzdata
#                                     (the image's final stage)
#   deploy/install-deps.sh --build    what building the binary needs: the C
#                                     compiler, headers, cmake, pkg-config
#                                     (the image's builder stage)
#   deploy/install-deps.sh            --runtime and --build: build herald and
#                                     run it on this machine
#   deploy/install-deps.sh --test     everything tests/run-all.sh needs: the
#                                     above, cmocka, Python with pytest, the
#                                     test servers' toolchains (Go, Java 17,
#                                     Maven), debootstrap and buildah (image)
# Python modules come from Debian's python3-* packages, so PEP 668 does not
# apply; pip only serves a python3 that is not Debian's.
set -euo pipefail

runtime=(liblua5.4-0 libcurl4 libssl3 libyaml-0-2 zlib1g ca-certificates tzdata)
runtime+=(librdkafka1)
build=(build-essential cmake pkg-config liblua5.4-dev libcurl4-openssl-dev
       libssl-dev libyaml-dev zlib1g-dev)
build+=(librdkafka-dev)
test=(libcmocka-dev python3 openssl curl lua5.4 debootstrap debian-archive-keyring buildah)
# lua-cjson: bench/bench.py's baseline; clang: the libFuzzer targets (tests/fuzz);
# valgrind: bench/bench.py's instructions per event (callgrind).
test+=(lua-cjson clang valgrind)
# Test servers: Go builds kube-apiserver and etcd, Java 17 + Maven run
# OpenSearch (tests/servers/). COMMAND:PACKAGE, installed where the machine
# has no such command (a toolchain installed another way is kept).
tools=(go:golang java:openjdk-17-jdk-headless mvn:maven)
# pytest, PyYAML to read deploy/ manifests, prometheus_client to parse
# /metrics. MODULE:DEBIAN-PACKAGE:PIP-NAME, installed where python3 cannot
# import MODULE; pip only for a python3 that Debian's packages do not reach.
pymods=(pytest:python3-pytest:pytest yaml:python3-yaml:pyyaml
        prometheus_client:python3-prometheus-client:prometheus_client)
# confluent-kafka: the tests' Kafka consumer (tests/servers/kafka.py).
pymods+=(confluent_kafka:python3-confluent-kafka:confluent-kafka)

case "${1:-}" in
  --runtime) want=("${runtime[@]}") ;;
  --build)   want=("${build[@]}") ;;
  "")        want=("${runtime[@]}" "${build[@]}") ;;
  --test)    want=("${runtime[@]}" "${build[@]}" "${test[@]}") ;;
  *) echo "usage: $0 [--runtime|--build|--test]" >&2; exit 2 ;;
esac

sudo=""
[ "$(id -u)" -eq 0 ] || sudo=sudo

if [ "${1:-}" = "--test" ]; then
  for t in "${tools[@]}"; do
    command -v "${t%%:*}" >/dev/null 2>&1 || want+=("${t#*:}")
  done
  for m in "${pymods[@]}"; do
    IFS=: read -r mod deb _ <<< "$m"
    python3 -c "import $mod" >/dev/null 2>&1 || want+=("$deb")
  done
fi
missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}" >&2
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi
# A python3 of its own (pyenv, a virtualenv) does not see python3-* packages.
if [ "${1:-}" = "--test" ]; then
  for m in "${pymods[@]}"; do
    IFS=: read -r mod _ pip <<< "$m"
    python3 -c "import $mod" >/dev/null 2>&1 && continue
    echo "installing with pip: $pip" >&2
    python3 -m pip install -q "$pip" >&2
  done
fi
