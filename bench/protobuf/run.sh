#!/usr/bin/env bash
# Should herald read Events as protobuf? (issue 18). Starts the cached etcd and
# kube-apiserver, loads Events, captures them as JSON and as protobuf, builds
# and runs pbprobe, checks its output against the apiserver's JSON, times
# protobuf-c on the same frames (pbcprobe, when protoc-c is installed), and
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
  core/json*.c core/buf.c core/framer.c $(pkg-config --libs lua5.4) -lm
rm -rf "$out/data"
python3 bench/protobuf/fetch.py --events "${PB_EVENTS:-3000}" --rounds 10 --out "$out/data" >/dev/null
for m in json json-full table; do
  "$out/pbprobe" "$out/data" "--dump-$m" >"$out/pb-$m.jsonl"
done
python3 bench/protobuf/verify.py "$out/data" "$out/pb-json.jsonl" "$out/pb-table.jsonl" "$out/pb-json-full.jsonl" \
  | tee "$out/verify.txt"
"$out/pbprobe" "$out/data" >"$out/probe.json"

# protobuf-c (Debian libprotobuf-c-dev, protobuf-c-compiler) on the same frames,
# its C generated from the Kubernetes .proto files of the apiserver's version.
pbc=()
mods=$(go env GOMODCACHE 2>/dev/null || echo "$HOME/go/pkg/mod")/k8s.io
if command -v protoc-c >/dev/null && pkg-config --exists libprotobuf-c &&
   [ -d "$mods/api@v0.36.3" ] && [ -d "$mods/apimachinery@v0.36.3" ]; then
  rm -rf "$out/pbc" && mkdir -p "$out/pbc/src/k8s.io"
  ln -s "$mods/api@v0.36.3" "$out/pbc/src/k8s.io/api"
  ln -s "$mods/apimachinery@v0.36.3" "$out/pbc/src/k8s.io/apimachinery"
  am=k8s.io/apimachinery/pkg
  protoc-c -I"$out/pbc/src" --c_out="$out/pbc" k8s.io/api/core/v1/generated.proto \
    $am/apis/meta/v1/generated.proto $am/runtime/generated.proto $am/runtime/schema/generated.proto \
    $am/util/intstr/generated.proto $am/api/resource/generated.proto 2>/dev/null
  # shellcheck disable=SC2046
  cc -O2 -std=c11 -Wall -Wextra -Werror -Icore -Ibench/protobuf -I"$out/pbc" -o "$out/pbcprobe" \
    bench/protobuf/pbcprobe.c bench/protobuf/pbevent.c core/buf.c $(find "$out/pbc" -name '*.pb-c.c') \
    $(pkg-config --cflags --libs libprotobuf-c)
  "$out/pbcprobe" "$out/data" >"$out/pbc.json"
  pbc=(--pbc "$out/pbc.json")
else
  echo "protobuf-c part skipped: needs apt-get install libprotobuf-c-dev protobuf-c-compiler," \
       "and k8s.io/api and apimachinery v0.36.3 in the Go module cache" >&2
fi
python3 bench/protobuf/report.py --data "$out/data" --probe "$out/probe.json" --verify "$out/verify.txt" \
  "${pbc[@]}" --seconds $(( $(date +%s) - start )) --out bench/PROTOBUF.md
echo "wrote bench/PROTOBUF.md"
