#!/usr/bin/env bash
# The local stack on one machine, with no cloud account: sets up, builds, starts a Kafka broker
# (KRaft, 127.0.0.1:9092 when free) and the mcsink all-in-one process, and runs until Ctrl-C,
# then stops everything. State lives in .deps/run/.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
run=$repo/.deps/run

"$repo/deploy/setup.sh"
"$repo/deploy/build.sh"

mkdir -p "$run"
pids=()
cleanup() {
  trap - EXIT INT TERM
  echo "quickstart: stopping"
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  "$repo/deploy/kafka/kafka-local.sh" stop "$run/kafka"
}
trap cleanup EXIT INT TERM

port=9092
if (echo > /dev/tcp/127.0.0.1/$port) 2>/dev/null; then port=0; fi
bootstrap=$("$repo/deploy/kafka/kafka-local.sh" start "$run/kafka" "$port")
echo "quickstart: Kafka at $bootstrap"

"${MCSINK_BUILD_DIR:-$repo/build}/services/allinone/mcsink" \
  --grpc_address=127.0.0.1:50051 --metrics_address=127.0.0.1:9464 &
pids+=($!)
echo "quickstart: mcsink gRPC at 127.0.0.1:50051 (health, reflection), metrics at" \
     "http://127.0.0.1:9464/metrics; Ctrl-C stops everything"
wait "${pids[@]}"
