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
if [ $# -eq 0 ]; then set -- -LE bench; fi
ctest --output-on-failure --timeout 900 -j 2 "$@"
echo "test: finished in $((SECONDS - start)) s"
