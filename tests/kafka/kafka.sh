#!/usr/bin/env bash
# Start/stop a real single-node Apache Kafka broker (KRaft mode, no
# ZooKeeper) for integration tests. The broker jars are resolved from Maven
# Central by tests/kafka/pom.xml and cached; nothing is installed system-wide.
#
# Usage:
#   kafka.sh fetch                         resolve the jars into the cache
#   kafka.sh start DIR PORT                format DIR, start a broker on
#                                          127.0.0.1:PORT, wait until ready
#   kafka.sh stop DIR                      stop the broker started in DIR
#   kafka.sh restart DIR PORT              start the broker stopped in DIR
#                                          again, keeping its data
#   kafka.sh create-topic DIR PORT NAME PARTITIONS [key=value ...]
#   kafka.sh free-port                     print a free loopback TCP port
#
# Environment:
#   BATON_KAFKA_CACHE          jar cache dir
#                              (default ~/.cache/baton/kafka-<version>)
#   BATON_KAFKA_START_TIMEOUT  seconds to wait for readiness (default 60)
#   BATON_KAFKA_HEAP_OPTS      JVM heap flags (default -Xmx512m -Xms256m)
#   BATON_KAFKA_NO_PYTHON=1    ignore python confluent_kafka even if present
#                              (exercises the kcat / Java fallbacks)
#   JAVA                       java executable (default: java on PATH)
set -euo pipefail

# Keep in sync with <kafka.version> in pom.xml (it is also passed to Maven
# explicitly, so this is the value that wins). Kafka 3.9 is the last line
# with log4j 1.x (reload4j) logging, which the log4j config below assumes.
KAFKA_VERSION=3.9.2

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CACHE=${BATON_KAFKA_CACHE:-$HOME/.cache/baton/kafka-$KAFKA_VERSION}
MARKER=.baton-fetch-complete
JAVA=${JAVA:-java}
HOST=127.0.0.1

die() { echo "kafka: $*" >&2; exit 1; }

# True while process $1 exists and is not a zombie. (A broker that dies
# while this script is still its parent stays a zombie, and kill -0 on a
# zombie succeeds.)
alive() {
  local stat
  kill -0 "$1" 2>/dev/null || return 1
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  stat=${stat##*) }
  [[ ${stat%% *} != Z ]]
}

usage() {
  sed -n '/^# Usage:/,/^# Environment:/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//' >&2
  exit 2
}

# True when the Python client (confluent_kafka) can be used.
have_py() {
  [[ ${BATON_KAFKA_NO_PYTHON:-0} != 1 ]] &&
    python3 -c 'import confluent_kafka' >/dev/null 2>&1
}

# ---------------------------------------------------------------- fetch --

cmd_fetch() {
  [[ -f $CACHE/$MARKER ]] && return 0   # warm cache: no Maven at all

  command -v mvn >/dev/null || die "mvn not found on PATH (needed once to fetch Kafka jars)"
  mkdir -p "$(dirname "$CACHE")"
  # Serialise concurrent fetches (e.g. parallel test jobs on a cold cache).
  exec 9>"$CACHE.lock"
  flock 9
  if [[ ! -f $CACHE/$MARKER ]]; then
    echo "kafka: fetching Apache Kafka $KAFKA_VERSION jars into $CACHE" >&2
    local tmp="$CACHE.tmp.$$"
    rm -rf "$tmp" "$tmp.log"
    # The copy goes to a temp dir that is renamed into place, so an
    # interrupted fetch never looks complete. Maven's output (which even
    # with -B -q contains stray ANSI resets on Maven 3.8) is only shown on
    # failure.
    if ! mvn -B -q -f "$SCRIPT_DIR/pom.xml" \
        -Dkafka.version="$KAFKA_VERSION" \
        dependency:copy-dependencies \
        -DoutputDirectory="$tmp" -DincludeScope=runtime >"$tmp.log" 2>&1; then
      cat "$tmp.log" >&2
      rm -rf "$tmp" "$tmp.log"
      die "maven failed to resolve Kafka $KAFKA_VERSION"
    fi
    rm -f "$tmp.log"
    compgen -G "$tmp/kafka_2.13-$KAFKA_VERSION.jar" >/dev/null ||
      { rm -rf "$tmp"; die "maven ran but kafka_2.13-$KAFKA_VERSION.jar is missing"; }
    rm -rf "$CACHE"
    mv "$tmp" "$CACHE"
    echo "$KAFKA_VERSION" >"$CACHE/$MARKER"
  fi
  flock -u 9
  exec 9>&-
}

# ------------------------------------------------------------ free-port --

cmd_free_port() {
  python3 -c '
import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()'
}

# True when nothing listens on / is bound to 127.0.0.1:$1. SO_REUSEADDR
# like the JVM's server sockets, so TIME_WAIT leftovers of a broker that
# just stopped on this port do not count as "in use".
port_free() {
  python3 -c '
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
try:
    s.bind(("127.0.0.1", int(sys.argv[1])))
except OSError:
    sys.exit(1)
finally:
    s.close()' "$1"
}

# ---------------------------------------------------------------- start --

# Kafka Uuid string: 16 random bytes, URL-safe base64 without padding.
# Kafka's own generator avoids ids starting with '-' (CLI-unfriendly).
random_cluster_id() {
  local id
  while :; do
    id=$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')
    [[ $id != -* ]] && { echo "$id"; return; }
  done
}

write_configs() {
  local dir=$1 port=$2 cport=$3
  cat >"$dir/server.properties" <<EOF
# Generated by tests/kafka/kafka.sh: single-node KRaft broker for tests.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@$HOST:$cport
listeners=PLAINTEXT://$HOST:$port,CONTROLLER://$HOST:$cport
advertised.listeners=PLAINTEXT://$HOST:$port
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
controller.listener.names=CONTROLLER
log.dirs=$dir/data

# Single replica everywhere.
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
default.replication.factor=1
min.insync.replicas=1
# The internal topics are created lazily on first group join / first
# transactional producer; one partition each makes that near-instant
# instead of creating 50 partitions on a slow machine.
offsets.topic.num.partitions=1
transaction.state.log.num.partitions=1

# Test-friendly behaviour.
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=false
num.partitions=1
num.network.threads=2
num.io.threads=4
EOF

  # log4j 1.x (reload4j) config: everything to DIR/broker.log, nothing on
  # the console. Request/state-change chatter is kept at WARN.
  cat >"$dir/log4j.properties" <<EOF
log4j.rootLogger=INFO, file
log4j.appender.file=org.apache.log4j.FileAppender
log4j.appender.file.File=$dir/broker.log
log4j.appender.file.Append=true
log4j.appender.file.layout=org.apache.log4j.PatternLayout
log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka.request.logger=WARN
log4j.logger.state.change.logger=WARN
EOF

  # For the short-lived Java tools (storage format, create-topic fallback).
  cat >"$dir/tools-log4j.properties" <<EOF
log4j.rootLogger=WARN, stderr
log4j.appender.stderr=org.apache.log4j.ConsoleAppender
log4j.appender.stderr.Target=System.err
log4j.appender.stderr.layout=org.apache.log4j.PatternLayout
log4j.appender.stderr.layout.ConversionPattern=[%d] %p %m (%c)%n
EOF
}

# Print the tail of the broker's logs (for failures).
show_logs() {
  local dir=$1 f
  for f in "$dir/format.out" "$dir/broker.log" "$dir/kafka.out"; do
    [[ -s $f ]] || continue
    echo "----- last 50 lines of $f -----" >&2
    tail -n 50 "$f" >&2
  done
}

# Poll until the broker answers a metadata request, the process dies, or
# the deadline passes. Returns 0 when ready.
wait_ready() {
  local dir=$1 port=$2 pid=$3 deadline=$4
  if have_py; then
    # One Python process for the whole wait: the import is the slow part.
    python3 - "$HOST:$port" "$pid" "$deadline" <<'PY'
import os, sys, time
from confluent_kafka.admin import AdminClient
bootstrap, pid, deadline = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
admin = AdminClient({
    "bootstrap.servers": bootstrap,
    "log_level": 0,                    # connection-refused noise while booting
    "reconnect.backoff.ms": 50,
    "reconnect.backoff.max.ms": 250,   # default 10 s would delay detection
})
while time.time() < deadline:
    try:                               # broker died (gone or zombie)?
        with open(f"/proc/{pid}/stat") as f:
            if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                sys.exit(2)
    except OSError:
        sys.exit(2)
    try:
        md = admin.list_topics(timeout=1)
        if md.brokers:
            sys.exit(0)
    except Exception:
        time.sleep(0.1)
sys.exit(1)
PY
    return
  fi

  if command -v kcat >/dev/null; then
    probe() { kcat -L -b "$HOST:$port" -m 1 >/dev/null 2>&1; }
  else
    # No client available. An open port alone does not prove the broker
    # serves requests yet, so also require its own "started" log line.
    probe() {
      (exec 3<>"/dev/tcp/$HOST/$port") 2>/dev/null &&
        grep -q 'Kafka Server started' "$dir/broker.log" 2>/dev/null
    }
  fi
  while (($(date +%s) < ${deadline%.*})); do
    alive "$pid" || return 2
    probe && return 0
    sleep 0.2
  done
  return 1
}

cmd_start() {
  (($# == 2)) || usage
  local dir=$1 port=$2
  [[ $port =~ ^[0-9]+$ ]] || die "bad port: $port"
  cmd_fetch

  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  if [[ -f $dir/kafka.pid ]] && alive "$(cat "$dir/kafka.pid")"; then
    die "a broker is already running from $dir (pid $(cat "$dir/kafka.pid"))"
  fi
  # Every start begins with an empty broker: drop what an earlier run in
  # the same DIR left behind (only files this script creates).
  rm -rf "$dir/data"
  rm -f "$dir"/{broker.log,kafka.out,format.out,kafka.pid}
  port_free "$port" || die "port $HOST:$port is already in use"

  # Controller (KRaft quorum) listener: PORT+1 if free, else any free port.
  local cport=$((port + 1))
  port_free "$cport" || cport=$(cmd_free_port)

  write_configs "$dir" "$port" "$cport"
  local t0=$SECONDS

  # Format the metadata log dir (what kafka-storage.sh format does).
  # C1-only JIT: noticeably faster for short-lived tool JVMs on few cores.
  if ! "$JAVA" -Xmx256m -XX:TieredStopAtLevel=1 \
      "-Dlog4j.configuration=file:$dir/tools-log4j.properties" -cp "$CACHE/*" \
      kafka.tools.StorageTool format \
      -t "$(random_cluster_id)" -c "$dir/server.properties" \
      >"$dir/format.out" 2>&1; then
    cat "$dir/format.out" >&2
    die "storage format failed"
  fi
  launch "$dir" "$port" "$t0"
}

# A broker that was stopped comes back with its data, configs and ports:
# what a broker restart in production looks like to clients.
cmd_restart() {
  (($# == 2)) || usage
  local dir=$1 port=$2
  dir=$(cd "$dir" && pwd)
  [[ -f $dir/server.properties && -d $dir/data ]] || die "no stopped broker in $dir"
  if [[ -f $dir/kafka.pid ]] && alive "$(cat "$dir/kafka.pid")"; then
    die "a broker is already running from $dir (pid $(cat "$dir/kafka.pid"))"
  fi
  local t0=$SECONDS
  local waited
  # The stopped broker's listener may take a moment to be released.
  for ((waited = 0; waited < 100; waited++)); do
    port_free "$port" && break
    sleep 0.1
  done
  port_free "$port" || die "port $HOST:$port is already in use"
  launch "$dir" "$port" "$t0"
}

# launch DIR PORT T0: run the broker configured in DIR, wait until ready.
launch() {
  local dir=$1 port=$2 t0=$3
  # setsid: the broker must not die with the caller's process group (e.g.
  # a test runner's setup step) - `stop` ends it. All three std streams go
  # to files so no caller waits on an inherited pipe.
  # shellcheck disable=SC2086 # heap opts are intentionally word-split
  setsid bash -c 'echo $$ >"$1"; shift; exec "$@"' _ "$dir/kafka.pid" \
    "$JAVA" ${BATON_KAFKA_HEAP_OPTS:--Xmx512m -Xms256m} \
    -XX:+UseG1GC -Djava.awt.headless=true \
    "-Dlog4j.configuration=file:$dir/log4j.properties" -cp "$CACHE/*" \
    kafka.Kafka "$dir/server.properties" \
    </dev/null >"$dir/kafka.out" 2>&1 &
  local i
  for ((i = 0; i < 50; i++)); do   # the pid file appears within ms
    [[ -s $dir/kafka.pid ]] && break
    sleep 0.02
  done
  local pid
  pid=$(cat "$dir/kafka.pid")

  local timeout=${BATON_KAFKA_START_TIMEOUT:-60} rc=0
  local deadline=$(($(date +%s) + timeout))
  wait_ready "$dir" "$port" "$pid" "$deadline" || rc=$?
  if ((rc != 0)); then
    if ((rc == 2)); then
      echo "kafka: broker process $pid exited during startup" >&2
    else
      echo "kafka: broker not ready on $HOST:$port after ${timeout}s" >&2
    fi
    show_logs "$dir"
    cmd_stop "$dir" >/dev/null 2>&1 || true
    exit 1
  fi
  echo "kafka: broker pid $pid, up in $((SECONDS - t0))s" >&2
  echo "kafka: ready on $HOST:$port"
}

# ----------------------------------------------------------------- stop --

cmd_stop() {
  (($# == 1)) || usage
  local dir=$1 pidfile=$1/kafka.pid pid
  [[ -f $pidfile ]] || { echo "kafka: not running (no $pidfile)"; return 0; }
  pid=$(cat "$pidfile")
  # Only signal the pid if it is still our broker (pids get reused).
  if [[ -z $pid ]] || ! alive "$pid" ||
      ! tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q 'kafka\.Kafka'; then
    rm -f "$pidfile"
    echo "kafka: not running"
    return 0
  fi
  kill -TERM "$pid" 2>/dev/null || true
  local i
  for ((i = 0; i < 150; i++)); do   # up to 15 s for a clean shutdown
    alive "$pid" || break
    sleep 0.1
  done
  if alive "$pid"; then
    echo "kafka: pid $pid ignored SIGTERM for 15s, sending SIGKILL" >&2
    kill -KILL "$pid" 2>/dev/null || true
    while alive "$pid"; do sleep 0.05; done
  fi
  rm -f "$pidfile"
  echo "kafka: stopped (pid $pid)"
}

# --------------------------------------------------------- create-topic --

cmd_create_topic() {
  (($# >= 4)) || usage
  local dir=$1 port=$2 name=$3 parts=$4
  shift 4
  [[ $parts =~ ^[0-9]+$ ]] || die "bad partition count: $parts"
  local kv
  for kv in "$@"; do
    [[ $kv == ?*=* ]] || die "topic config must be key=value, got: $kv"
  done

  if have_py; then
    python3 - "$HOST:$port" "$name" "$parts" "$@" <<'PY'
import sys, time
from confluent_kafka.admin import AdminClient, NewTopic
bootstrap, name, parts = sys.argv[1], sys.argv[2], int(sys.argv[3])
config = dict(kv.split("=", 1) for kv in sys.argv[4:])
admin = AdminClient({"bootstrap.servers": bootstrap})
fut = admin.create_topics(
    [NewTopic(name, num_partitions=parts, replication_factor=1, config=config)],
    operation_timeout=30, request_timeout=30)[name]
try:
    fut.result(timeout=30)
except Exception as e:
    sys.exit(f"kafka: creating topic {name} failed: {e}")
# CreateTopics returns once the controller committed the topic; the broker
# applies the metadata asynchronously. Wait until every partition has a
# leader so the first produce does not race it.
deadline = time.time() + 30
while time.time() < deadline:
    t = admin.list_topics(topic=name, timeout=5).topics.get(name)
    if (t is not None and t.error is None and len(t.partitions) == parts
            and all(p.leader >= 0 for p in t.partitions.values())):
        sys.exit(0)
    time.sleep(0.05)
sys.exit(f"kafka: topic {name} created but partitions have no leader after 30s")
PY
  else
    cmd_fetch
    local -a cfg=()
    for kv in "$@"; do cfg+=(--config "$kv"); done
    # Tool logging: warnings only, to stderr (tools-log4j.properties is
    # written by `start`).
    "$JAVA" -Xmx256m -XX:TieredStopAtLevel=1 \
      "-Dlog4j.configuration=file:$dir/tools-log4j.properties" \
      -cp "$CACHE/*" org.apache.kafka.tools.TopicCommand \
      --bootstrap-server "$HOST:$port" --create --topic "$name" \
      --partitions "$parts" --replication-factor 1 "${cfg[@]}" >/dev/null ||
      die "creating topic $name failed"
  fi
  echo "kafka: created topic $name ($parts partitions${*:+, $*})"
}

# ------------------------------------------------------------------ main --

(($# >= 1)) || usage
sub=$1
shift
case $sub in
  fetch)        (($# == 0)) || usage; cmd_fetch ;;
  start)        cmd_start "$@" ;;
  restart)      cmd_restart "$@" ;;
  stop)         cmd_stop "$@" ;;
  create-topic) cmd_create_topic "$@" ;;
  free-port)    (($# == 0)) || usage; cmd_free_port ;;
  -h|--help|help) usage ;;
  *)            usage ;;
esac
