#!/usr/bin/env bash
# Runs each libFuzzer target for HERALD_FUZZ_SECONDS (default 60) under
# ASan + UBSan, starting from its seed corpus in tests/fuzz/corpus/<target>/.
# Fails (non-zero) when a target finds a crash, a leak, a timeout or runs
# out of memory; the input that did it is kept in build-fuzz/artifacts/.
#   tests/fuzz/run.sh                        every target, 60 s each
#   HERALD_FUZZ_SECONDS=3600 tests/fuzz/run.sh json   one target, an hour
# New inputs the fuzzer finds go to build-fuzz/corpus/<target>/, never
# into the repository's seeds.
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds=${HERALD_FUZZ_SECONDS:-60}
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(framer json lazy kubeconfig http_request replay)

command -v clang >/dev/null || { echo "fuzz: clang is missing (deploy/install-deps.sh installs it)" >&2; exit 1; }
CC=clang cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DHERALD_FUZZ=ON -DHERALD_TESTS=OFF >/dev/null
cmake --build build-fuzz -j"$(nproc 2>/dev/null || echo 2)" >/dev/null

mkdir -p build-fuzz/artifacts
failed=()
for t in "${targets[@]}"; do
  work=build-fuzz/corpus/$t
  mkdir -p "$work"
  echo "== fuzz $t (${seconds}s)"
  if ! build-fuzz/tests/fuzz/fuzz_"$t" "$work" "tests/fuzz/corpus/$t" \
       -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
       -artifact_prefix="build-fuzz/artifacts/$t-" -print_final_stats=1 \
       >"build-fuzz/fuzz-$t.log" 2>&1; then
    failed+=("$t")
    tail -40 "build-fuzz/fuzz-$t.log" >&2
  fi
  grep -E "^stat::number_of_executed_units|^Done" "build-fuzz/fuzz-$t.log" | tr '\n' ' ' || true
  echo
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: ${failed[*]} failed; inputs in build-fuzz/artifacts/" >&2
  exit 1
fi
echo "fuzz: ${#targets[@]} target(s), ${seconds}s each, nothing found"
