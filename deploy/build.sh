#!/usr/bin/env bash
# Configures and builds mcsink in build/ (after deploy/setup.sh). Extra arguments go to cmake's
# configure step, e.g. -DMCSINK_SANITIZE=ON.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${MCSINK_BUILD_DIR:-$repo/build}
cmake -S "$repo" -B "$build" -G Ninja -DMCSINK_WERROR=ON "$@" > "$build.configure.log" 2>&1 || {
  cat "$build.configure.log" >&2; exit 1; }
cmake --build "$build" -j "$(nproc)"
