#!/usr/bin/env bash
# herald side by side with kube-eventer and kubernetes-event-exporter, both
# built from their sources (bench/peers/build.sh), on the same generated
# stream; writes bench/PEERS.md. Not part of the test command: the peers are
# large Go builds. Takes about 10-20 minutes at the defaults.
#   bench/peers/run.sh                         200,000 events, 3 runs per row
#   PEERS_N=20000 PEERS_RUNS=1 bench/peers/run.sh   a quick try
#   PEERS_ONLY=kube-eventer bench/peers/run.sh      one program, figures printed only
set -euo pipefail
cd "$(dirname "$0")/../.."
N=${PEERS_N:-200000}
RUNS=${PEERS_RUNS:-3}
cmake -S . -B build-release -DCMAKE_BUILD_TYPE=Release -DHERALD_TESTS=OFF >/dev/null
cmake --build build-release -j"$(nproc)" >/dev/null
mkdir -p build-release/bench
cc -O2 -Wall -o build-release/bench/watchgen bench/watchgen.c -lpthread
peers=$(bench/peers/build.sh)
bin() { awk -v n="$1" '$1 == n { print $3 }' <<<"$peers"; }
versions=$(awk '{ printf "%s %s;", $1, $2 }' <<<"$peers")
cmd="bench/peers/run.sh"
[ "$N" != 200000 ] && cmd="PEERS_N=$N $cmd"
[ "$RUNS" != 3 ] && cmd="PEERS_RUNS=$RUNS $cmd"
if [ -n "${PEERS_ONLY:-}" ]; then what=(--only "$PEERS_ONLY"); else what=(--out bench/PEERS.md); fi
exec python3 bench/peers/peers.py --herald build-release/herald --watchgen build-release/bench/watchgen \
  --eventer "$(bin kube-eventer)" --exporter "$(bin kubernetes-event-exporter)" --versions "$versions" \
  --cmd "$cmd" --events "$N" --runs "$RUNS" "${what[@]}"
