#!/usr/bin/env bash
# The whole test suite, from a fresh clone on a fresh machine:
# dependencies, a normal build and an ASan+UBSan build, every CTest test
# (C units, Lua through herald, the command line end to end) in both (the
# sanitizer pass leaves out the tests labelled "slow"), the
# container image built from deploy/Dockerfile with buildah and checked, and
# each fuzz target for a bounded time.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc 2>/dev/null || echo 2)

deploy/install-deps.sh --test
echo "== real test servers (built once, cached in ${HERALD_CACHE:-~/.cache/herald})"
time tests/servers/build-kube.sh
time tests/servers/build-opensearch.sh
time tests/servers/build-kafka.sh
time tests/servers/build-helm.sh
time tests/servers/build-kafka.sh 3.9.1   # the SCRAM test (tests/kafka/test_auth.py)

echo "== build (RelWithDebInfo)"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$jobs"
echo "== tests"
ctest --test-dir build --output-on-failure -j"$jobs"

echo "== image (deploy/Dockerfile, buildah with chroot isolation; needs root)"
sudo=""
[ "$(id -u)" -eq 0 ] || sudo=sudo
time $sudo tests/image/build.sh
$sudo python3 -m pytest -q -p no:cacheprovider tests/image

echo "== fuzzing (libFuzzer, ASan + UBSan; HERALD_FUZZ_SECONDS per target, default 60)"
tests/fuzz/run.sh

echo "== build (ASan + UBSan)"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DHERALD_SANITIZE=ON >/dev/null
cmake --build build-asan -j"$jobs"
echo "== tests under sanitizers (the suites labelled slow run in the normal build only)"
ctest --test-dir build-asan --output-on-failure -j"$jobs" -LE slow
