#!/usr/bin/env bash
# herald's benchmarks: builds herald in release mode and the watch-stream
# generator, runs every scenario, and rewrites bench/RESULTS.md.
#   bench/run.sh                 1,000,000 events per throughput figure
#   BENCH_N=200000 bench/run.sh  a quicker run
set -euo pipefail
cd "$(dirname "$0")/.."
deploy/install-deps.sh --test
cmake -S . -B build-release -DCMAKE_BUILD_TYPE=Release -DHERALD_TESTS=OFF >/dev/null
cmake --build build-release -j"$(nproc)" >/dev/null
mkdir -p build-release/bench
cc -O2 -Wall -o build-release/bench/watchgen bench/watchgen.c -lpthread
python3 bench/bench.py --herald build-release/herald --watchgen build-release/bench/watchgen \
  --events "${BENCH_N:-1000000}" --out bench/RESULTS.md
