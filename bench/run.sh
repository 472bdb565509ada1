#!/usr/bin/env bash
# herald's benchmarks: builds herald in release mode and the watch-stream
# generator, runs every scenario, and rewrites bench/RESULTS.md.
#   bench/run.sh                 1,000,000 events per throughput figure
#   BENCH_N=200000 bench/run.sh  a quicker run
#   BENCH_ONLY=kafka bench/run.sh   only the Kafka scenario (BENCH_N events, default
#                                 100,000), its figures printed; RESULTS.md untouched
set -euo pipefail
cd "$(dirname "$0")/.."
deploy/install-deps.sh --test
cmake -S . -B build-release -DCMAKE_BUILD_TYPE=Release -DHERALD_TESTS=OFF >/dev/null
cmake --build build-release -j"$(nproc)" >/dev/null
mkdir -p build-release/bench
cc -O2 -Wall -o build-release/bench/watchgen bench/watchgen.c -lpthread
if [ "${BENCH_ONLY:-}" = kafka ]; then
  exec python3 bench/bench.py --herald build-release/herald --watchgen build-release/bench/watchgen \
    --events "${BENCH_N:-100000}" --only kafka
fi
python3 bench/bench.py --herald build-release/herald --watchgen build-release/bench/watchgen \
  --events "${BENCH_N:-1000000}" --out bench/RESULTS.md
