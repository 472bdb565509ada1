#!/usr/bin/env bash
# herald's benchmarks: builds herald in release mode from the working tree
# (build-release), a baseline herald from a git revision (build-release-base)
# and the watch-stream generator, runs every scenario, and rewrites
# bench/RESULTS.md. One run gives every figure of issue 18, before and after:
# the baseline and the working tree take turns on each scenario, so both
# share the machine's noise.
#   bench/run.sh                 1,000,000 events per throughput figure;
#                                before/after: 200,000 events, median of 3
#   BENCH_N=200000 bench/run.sh  a quicker run (before/after: BENCH_N/5,
#                                at least 20,000)
#   BENCH_BASE=REV               the baseline revision (default c10fda7, main
#                                before issue 18); BENCH_BASE=none: no baseline
#   BENCH_REPS=N                 before/after repetitions (default 3; median)
#   BENCH_PEERS=1                first run bench/peers/run.sh (herald beside
#                                kube-eventer and kubernetes-event-exporter),
#                                which writes bench/PEERS.md
#   BENCH_ONLY=kafka bench/run.sh   only the Kafka scenario (BENCH_N events, default
#                                 100,000), its figures printed; RESULTS.md untouched
# bench/PEERS.md and bench/PROTOBUF.md, when they exist, become sections of
# RESULTS.md. With valgrind installed, callgrind counts each build's
# instructions: the per-event breakdown (20,000 events, default rules) and
# the full-decode scenarios (e), (e-es) (5,000 events).
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
BENCH_STARTED=$(date +%s)
export BENCH_STARTED

# The baseline: the revision's tree (git archive, so the working tree and
# its worktrees are left alone) built the same way. build-release-base/REV
# names the commit built; the same commit is not built twice.
base_args=()
base="${BENCH_BASE:-c10fda7}"
if [ "$base" != none ]; then
  rev=$(git rev-parse --verify "$base^{commit}")
  if [ ! -x build-release-base/herald ] || [ "$(cat build-release-base/REV 2>/dev/null)" != "$rev" ]; then
    src=$(mktemp -d)
    trap 'rm -rf "$src"' EXIT
    git archive "$rev" | tar -x -C "$src"
    rm -rf build-release-base
    cmake -S "$src" -B build-release-base -DCMAKE_BUILD_TYPE=Release -DHERALD_TESTS=OFF >/dev/null
    cmake --build build-release-base -j"$(nproc)" >/dev/null
    echo "$rev" > build-release-base/REV
    rm -rf "$src"
    trap - EXIT
  fi
  base_args=(--base-herald build-release-base/herald --base-rev "$(git rev-parse --short "$rev")")
fi

if [ "${BENCH_PEERS:-}" = 1 ]; then
  if [ -x bench/peers/run.sh ]; then
    bench/peers/run.sh
  else
    echo "BENCH_PEERS=1: there is no bench/peers/run.sh; the peers are not measured" \
         "(RESULTS.md still shows bench/PEERS.md if it exists, with its date)" >&2
  fi
fi

python3 bench/bench.py --herald build-release/herald --watchgen build-release/bench/watchgen \
  --events "${BENCH_N:-1000000}" --reps "${BENCH_REPS:-3}" "${base_args[@]}" --out bench/RESULTS.md
