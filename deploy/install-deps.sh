#!/usr/bin/env bash
# Installs what herald needs to build, run and be tested, on Debian
# (bookworm) or Ubuntu. Idempotent: installs only what is missing.
#   deploy/install-deps.sh           build + run + test dependencies
#   deploy/install-deps.sh --runtime only what the binary needs at run time
set -euo pipefail

runtime=(liblua5.4-0 libcurl4 libssl3 libyaml-0-2 zlib1g ca-certificates tzdata)
build=(build-essential cmake pkg-config liblua5.4-dev libcurl4-openssl-dev
       libssl-dev libyaml-dev zlib1g-dev libcmocka-dev python3 python3-pip openssl curl lua5.4
       lua-cjson clang)  # lua-cjson: bench/bench.py's baseline; clang: tests/fuzz

want=("${runtime[@]}")
[ "${1:-}" = "--runtime" ] || want+=("${build[@]}")

sudo=""
[ "$(id -u)" -eq 0 ] || sudo=sudo

missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}" >&2
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi

# Test servers: Go builds kube-apiserver and etcd, Java 17 + Maven run
# OpenSearch (tests/servers/). Install Debian's where the machine has none.
if [ "${1:-}" != "--runtime" ]; then
  tools=()
  command -v java >/dev/null 2>&1 || tools+=(openjdk-17-jdk-headless)
  command -v mvn >/dev/null 2>&1 || tools+=(maven)
  command -v go >/dev/null 2>&1 || tools+=(golang)
  if [ ${#tools[@]} -gt 0 ]; then
    echo "installing: ${tools[*]}" >&2
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${tools[@]}" >&2
  fi
fi

# Tests: pytest, PyYAML to read deploy/ manifests, prometheus_client to parse /metrics.
if [ "${1:-}" != "--runtime" ]; then
  for mod in pytest:pytest yaml:pyyaml prometheus_client:prometheus_client; do
    if ! python3 -c "import ${mod%%:*}" >/dev/null 2>&1; then
      echo "installing: ${mod#*:}" >&2
      python3 -m pip install -q "${mod#*:}" >&2 || python3 -m pip install -q --break-system-packages "${mod#*:}" >&2
    fi
  done
fi
