#!/usr/bin/env bash
# The pipeline benchmark (issue 5): builds mcsink in Release, starts a Kafka broker of its own,
# and runs tests/bench/pipeline_bench, which prints one table from one run: the two limits
# (librdkafka alone, the writer alone into mclocal), all-in-one and split mode (records/s, MB/s,
# CPU-seconds per million records and peak RSS of each process), produce-to-visible latency, and
# PASS/MISS for each target. Arguments go to pipeline_bench, e.g.
#   deploy/bench.sh --records=5000000 --concurrency=12 --commit_interval_seconds=5
# Build directory: $MCSINK_BENCH_BUILD_DIR (default build-release). Not part of deploy/test.sh;
# `ctest -L bench` runs the same binary on the ctest Kafka fixture.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${MCSINK_BENCH_BUILD_DIR:-$repo/build-release}

mkdir -p "$build"
# ccache, when installed, shares compiled objects with the other build directories.
launcher=()
if command -v ccache >/dev/null; then
  export CCACHE_BASEDIR=${CCACHE_BASEDIR:-$repo}
  launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
fi
# -g costs no speed and lets `perf report` name functions. Warnings are not errors here: GCC 12
# at -O3 reports false -Wrestrict/-Wstringop warnings in std::string code (deploy/build.sh, at
# the default optimization, keeps -Werror).
cmake -S "$repo" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DMCSINK_WERROR=OFF \
  "-DCMAKE_CXX_FLAGS_RELEASE=-O3 -DNDEBUG -g" "${launcher[@]}" > "$build.configure.log" 2>&1 || {
  cat "$build.configure.log" >&2; exit 1; }
cmake --build "$build" --target pipeline_bench -j "$(nproc)"

kafka_dir=$(mktemp -d /tmp/mcsink-bench-kafka.XXXXXX)
trap '"$repo/deploy/kafka/kafka-local.sh" stop "$kafka_dir" >/dev/null 2>&1; rm -rf "$kafka_dir"' EXIT
bootstrap=$("$repo/deploy/kafka/kafka-local.sh" start "$kafka_dir")
"$build/tests/bench/pipeline_bench" --bootstrap="$bootstrap" "$@"
