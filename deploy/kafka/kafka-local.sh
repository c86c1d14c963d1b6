#!/usr/bin/env bash
# A single-node Apache Kafka broker in KRaft mode on 127.0.0.1, for tests and the local stack.
#
#   kafka-local.sh start DIR [PORT]   start a broker with its data and logs in DIR; PORT 0 or none
#                                     picks a free port. Prints the bootstrap address and writes it
#                                     to DIR/bootstrap once the broker answers metadata requests.
#   kafka-local.sh stop DIR           stop that broker (SIGTERM, then SIGKILL after 20 s).
#   kafka-local.sh restart DIR [kill] stop that broker (SIGTERM, or SIGKILL with `kill`: a crash)
#                                     and start it again on the same ports and data, as a broker
#                                     restart in production; returns once it answers again.
#
# Needs Java 17+ and the broker jars in $MCSINK_KAFKA_LIBS (default: .deps/kafka/libs, put there
# by deploy/setup.sh).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
libs=${MCSINK_KAFKA_LIBS:-$repo/.deps/kafka/libs}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

start() {
  local dir=$1 port=${2:-0}
  [ -d "$libs" ] || { echo "kafka-local: no broker jars in $libs; run deploy/setup.sh" >&2; exit 1; }
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  if [ -f "$dir/pid" ] && kill -0 "$(cat "$dir/pid")" 2>/dev/null; then
    echo "kafka-local: a broker already runs from $dir (pid $(cat "$dir/pid"))" >&2; exit 1
  fi
  rm -rf "$dir/data" "$dir/bootstrap" "$dir/broker.log"
  [ "$port" = 0 ] && port=$(free_port)
  local controller_port; controller_port=$(free_port)
  while [ "$controller_port" = "$port" ]; do controller_port=$(free_port); done
  cat > "$dir/server.properties" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$controller_port
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$controller_port
advertised.listeners=PLAINTEXT://127.0.0.1:$port
controller.listener.names=CONTROLLER
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
log.dirs=$dir/data
num.partitions=1
default.replication.factor=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=6
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=false
PROPS
  local cluster_id; cluster_id=$(java -cp "$libs/*" kafka.tools.StorageTool random-uuid 2>/dev/null)
  java "${java_opts[@]}" -cp "$libs/*" kafka.tools.StorageTool format -t "$cluster_id" \
    -c "$dir/server.properties" > "$dir/format.log" 2>&1 || {
      echo "kafka-local: storage format failed:" >&2; cat "$dir/format.log" >&2; exit 1; }
  launch "$dir" "127.0.0.1:$port"
}

java_opts=(-Xms256m -Xmx1g -XX:+UseG1GC -Djava.awt.headless=true)

# Runs the broker of DIR (configured and formatted) and waits until BOOTSTRAP answers.
launch() {
  local dir=$1 bootstrap=$2 started_before
  touch "$dir/broker.log"
  # The log is appended to across restarts: ready means one more "started" line than before.
  started_before=$(grep -c "Kafka Server started" "$dir/broker.log" || true)
  nohup java "${java_opts[@]}" -cp "$libs/*" kafka.Kafka "$dir/server.properties" \
    >> "$dir/broker.log" 2>&1 < /dev/null &
  echo $! > "$dir/pid"
  local deadline=$((SECONDS + 90))
  until kcat -b "$bootstrap" -L -m 2 -t __mcsink_probe >/dev/null 2>&1 \
        && [ "$(grep -c "Kafka Server started" "$dir/broker.log" || true)" -gt "$started_before" ]; do
    if ! kill -0 "$(cat "$dir/pid")" 2>/dev/null; then
      echo "kafka-local: broker exited; last log lines:" >&2; tail -20 "$dir/broker.log" >&2; exit 1
    fi
    if [ $SECONDS -ge $deadline ]; then
      echo "kafka-local: broker not ready after 90 s; see $dir/broker.log" >&2; stop "$dir"; exit 1
    fi
    sleep 0.2
  done
  echo "$bootstrap" > "$dir/bootstrap"
  echo "$bootstrap"
}

# Same ports, same data: clients reconnect to the address they know, committed offsets and
# records are kept.
restart() {
  local dir=$1 how=${2:-term}
  dir=$(cd "$dir" && pwd)
  [ -f "$dir/server.properties" ] || {
    echo "kafka-local: no broker configured in $dir; use start first" >&2; exit 1; }
  local bootstrap; bootstrap=$(sed -n 's|^advertised.listeners=PLAINTEXT://||p' "$dir/server.properties")
  if [ "$how" = kill ]; then
    [ -f "$dir/pid" ] && kill -KILL "$(cat "$dir/pid")" 2>/dev/null || true
    [ -f "$dir/pid" ] && while kill -0 "$(cat "$dir/pid")" 2>/dev/null; do sleep 0.1; done
    rm -f "$dir/pid" "$dir/bootstrap"
  else
    stop "$dir"
  fi
  launch "$dir" "$bootstrap"
}

stop() {
  local dir=$1
  [ -f "$dir/pid" ] || return 0
  local pid; pid=$(cat "$dir/pid")
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$dir/pid" "$dir/bootstrap"
}

case "${1:-}" in
  start) shift; start "$@" ;;
  stop) shift; stop "$@" ;;
  restart) shift; restart "$@" ;;
  *) echo "usage: $0 start DIR [PORT] | stop DIR | restart DIR [kill]" >&2; exit 2 ;;
esac
