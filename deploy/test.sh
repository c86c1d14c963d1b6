#!/usr/bin/env bash
# Sets up, builds and runs the whole test suite: unit, integration, interop, e2e and fault tests
# (each starts what it needs: a real Kafka broker, mclocal, pyodps), a formatting check, and the
# fuzz targets for a bounded time. Benchmarks (label bench) are not run here: run them with
#   deploy/test.sh -L bench
# Extra arguments go to ctest and replace the default selection.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${MCSINK_BUILD_DIR:-$repo/build}
start=$SECONDS

"$repo/deploy/setup.sh"
"$repo/deploy/build.sh"
echo "test: built in $((SECONDS - start)) s"

cd "$build"
if [ $# -gt 0 ]; then
  ctest --output-on-failure --timeout 900 -j 2 "$@"
  exit
fi
# Everything but the benchmarks, the fault suite included (its fixed timelines and one randomized
# run; MCSINK_FAULT_RUNS=20 deploy/test.sh -L fault for the full randomized suite).
ctest --output-on-failure --timeout 900 -j 2 -LE bench
echo "test: suite passed after $((SECONDS - start)) s"

# Fuzz targets (libFuzzer needs clang): each runs for a bounded time from its seed corpus, and
# any crash or sanitizer report fails the run.
fuzz=${build}-fuzz
CC=clang-14 CXX=clang++-14 cmake -S "$repo" -B "$fuzz" -G Ninja -DMCSINK_FUZZ=ON \
  -DMCSINK_FUZZ_SECONDS="${MCSINK_FUZZ_SECONDS:-60}" > "$fuzz.configure.log" 2>&1 || {
  cat "$fuzz.configure.log" >&2; exit 1; }
cmake --build "$fuzz" -j "$(nproc)"
ctest --test-dir "$fuzz" --output-on-failure -L fuzz -j 2
echo "test: finished in $((SECONDS - start)) s"
