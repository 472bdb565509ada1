#!/usr/bin/env bash
# Should herald read Events as protobuf? (issue 18). Starts the cached etcd and
# kube-apiserver, loads Events, captures them as JSON and as protobuf, builds
# and runs pbprobe, checks its output against the apiserver's JSON, and
# rewrites bench/PROTOBUF.md.
#   bench/protobuf/run.sh                  3,000 Events (+600 updates)
#   PB_EVENTS=1000 bench/protobuf/run.sh   fewer
set -euo pipefail
cd "$(dirname "$0")/../.."
start=$(date +%s)
out=build-protobuf
mkdir -p "$out"
# shellcheck disable=SC2046
cc -O2 -std=c11 -Wall -Wextra -Werror -Icore $(pkg-config --cflags lua5.4) -o "$out/pbprobe" \
  bench/protobuf/pbprobe.c bench/protobuf/pbevent.c bench/protobuf/pbwrite.c \
  core/json.c core/buf.c core/framer.c $(pkg-config --libs lua5.4) -lm
rm -rf "$out/data"
python3 bench/protobuf/fetch.py --events "${PB_EVENTS:-3000}" --rounds 10 --out "$out/data" >/dev/null
for m in json json-full table; do
  "$out/pbprobe" "$out/data" "--dump-$m" >"$out/pb-$m.jsonl"
done
python3 bench/protobuf/verify.py "$out/data" "$out/pb-json.jsonl" "$out/pb-table.jsonl" "$out/pb-json-full.jsonl" \
  | tee "$out/verify.txt"
"$out/pbprobe" "$out/data" >"$out/probe.json"
python3 bench/protobuf/report.py --data "$out/data" --probe "$out/probe.json" --verify "$out/verify.txt" \
  --seconds $(( $(date +%s) - start )) --out bench/PROTOBUF.md
echo "wrote bench/PROTOBUF.md"
