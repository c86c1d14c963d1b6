#!/usr/bin/env bash
# The seed guide's walk-through on one machine, with no cloud account, through the controller as
# a user would drive it:
#   1. start Kafka (KRaft, 127.0.0.1:9092 when free) and mclocal, the local MaxCompute
#      (127.0.0.1:8080 when free);
#   2. create table test_kafka in project connector_test with the guide's statement (mcsinkctl
#      sql), and the source topic maxcompute-test-input;
#   3. start `mcsink` with its embedded controller (127.0.0.1:50051 when free), then
#      `mcsinkctl create -f deploy/examples/kafka-maxcompute-sink.yaml --deploy --wait`: the
#      guide's connector kafka-maxcompute-sink (group connect-kafka-maxcompute-sink, 6 consumer
#      threads, earliest, continue on failure, automatic internal topics, DEFAULT mode, TEXT,
#      HOUR partitions in GMT+08:00);
#   4. send the test message (key 1, value 1), then show `show partitions test_kafka;` and
#      `select * from test_kafka where pt=...;` as the guide does;
#   5. keep running (send more with kcat, manage with mcsinkctl) until Ctrl-C, then stop
#      everything cleanly.
# Options: --once (stop after step 4), --skip-build (use an existing build).
# State lives in .deps/run/ (MCSINK_RUN_DIR).
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${MCSINK_BUILD_DIR:-$repo/build}
run=${MCSINK_RUN_DIR:-$repo/.deps/run}
once=false
skip_build=false
for arg in "$@"; do
  case "$arg" in
    --once) once=true ;;
    --skip-build) skip_build=true ;;
    *) echo "usage: $0 [--once] [--skip-build]" >&2; exit 2 ;;
  esac
done

if ! $skip_build; then
  "$repo/deploy/setup.sh"
  "$repo/deploy/build.sh"
fi

port_free() { ! (echo > "/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
log() { echo "quickstart: $*"; }

mkdir -p "$run"
pids=()
cleanup() {
  trap - EXIT INT TERM
  log "stopping"
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  "$repo/deploy/kafka/kafka-local.sh" stop "$run/kafka"
}
trap cleanup EXIT INT TERM

# 1. Kafka and mclocal.
kafka_port=0; port_free 9092 && kafka_port=9092
bootstrap=$("$repo/deploy/kafka/kafka-local.sh" start "$run/kafka" "$kafka_port")
log "Kafka at $bootstrap"
mc_port=0; port_free 8080 && mc_port=8080
rm -f "$run/mclocal.port"
"$build/services/mclocal/mclocal" --address="127.0.0.1:$mc_port" --port_file="$run/mclocal.port" \
  --data_dir="$run/mclocal" > "$run/mclocal.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do [ -s "$run/mclocal.port" ] && break; sleep 0.1; done
mc_port=$(cat "$run/mclocal.port")
endpoint="http://127.0.0.1:$mc_port/api"
log "mclocal (MaxCompute) at $endpoint"
# mclocal runs in permissive mode: any key will do. The connector (by reference, see the YAML)
# and `mcsinkctl sql` read them from the environment, as they would a real AccessKey.
export ALIBABA_CLOUD_ACCESS_KEY_ID=mclocal ALIBABA_CLOUD_ACCESS_KEY_SECRET=mclocal
ctl() { "$build/services/mcsinkctl/mcsinkctl" "$@"; }
sql() { ctl sql --endpoint="$endpoint" --project=connector_test -e "$1"; }

# 2. The table and the source topic.
log "odps@ connector_test> CREATE TABLE IF NOT EXISTS test_kafka(...) PARTITIONED by (pt STRING);"
sql "CREATE TABLE IF NOT EXISTS test_kafka(topic STRING,partition BIGINT,offset BIGINT,key STRING,value STRING) PARTITIONED by (pt STRING);"
java -cp "$repo/.deps/kafka/libs/*" org.apache.kafka.tools.TopicCommand --bootstrap-server \
  "$bootstrap" --create --if-not-exists --topic maxcompute-test-input --partitions 12 \
  > "$run/topics.log" 2>&1
log "source topic maxcompute-test-input (12 partitions)"

# 3. mcsink with its embedded controller, then the connector through the controller's API.
ctl_port=50051
while ! port_free "$ctl_port"; do ctl_port=$((ctl_port + 1)); done
export MCSINK_CONTROLLER="127.0.0.1:$ctl_port"
"$build/services/allinone/mcsink" --kafka_bootstrap_servers="$bootstrap" \
  --grpc_address="$MCSINK_CONTROLLER" --metrics_address=127.0.0.1:0 --commit_interval_seconds=5 \
  > "$run/mcsink.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 150); do ctl list > /dev/null 2>&1 && break; sleep 0.2; done
ctl list > /dev/null || { log "the controller did not answer; see $run/mcsink.log"; exit 1; }
log "mcsink and its controller at $MCSINK_CONTROLLER (log: $run/mcsink.log)"
log "mcsinkctl create -f deploy/examples/kafka-maxcompute-sink.yaml --deploy --wait"
ctl create -f "$repo/deploy/examples/kafka-maxcompute-sink.yaml" \
  --bootstrap-servers="$bootstrap" --endpoint="$endpoint" \
  --tunnel-endpoint="http://127.0.0.1:$mc_port" --deploy --wait --wait-timeout=120s
ctl list

# 4. The test message, then the guide's checks (with the connector's own endpoint and project).
printf '1:1\n' | kcat -b "$bootstrap" -t maxcompute-test-input -K: -P
log "sent key 1, value 1 to maxcompute-test-input"
csql() { ctl sql --connector=kafka-maxcompute-sink -e "$1"; }
rows=0
for _ in $(seq 1 120); do
  rows=$(csql "SELECT COUNT(*) FROM test_kafka;" 2>/dev/null | grep -Eo '[0-9]+' | tail -1 || true)
  [ "${rows:-0}" -gt 0 ] && break
  sleep 0.5
done
[ "${rows:-0}" -gt 0 ] || {
  log "no row arrived; see $run/mcsink.log and: mcsinkctl status kafka-maxcompute-sink"
  ctl status kafka-maxcompute-sink || true
  exit 1; }
echo "odps@ connector_test> show partitions test_kafka;"
partitions=$(csql "show partitions test_kafka;")
echo "$partitions"
pt=$(echo "$partitions" | grep -o 'pt=.*' | tail -1 | cut -d= -f2- | sed 's/[[:space:]|]*$//')
echo "odps@ connector_test> select * from test_kafka where pt=\"$pt\";"
csql "select * from test_kafka where pt=\"$pt\";"

if $once; then exit 0; fi
log "running; send more with: kcat -b $bootstrap -t maxcompute-test-input -K: -P"
log "manage it with: MCSINK_CONTROLLER=$MCSINK_CONTROLLER $build/services/mcsinkctl/mcsinkctl status kafka-maxcompute-sink"
log "Ctrl-C stops everything"
wait "${pids[@]}"
