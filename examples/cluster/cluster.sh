#!/usr/bin/env bash
# A Vltava cluster on this machine: three combined broker+controller nodes from
# node0..2.properties, or (CLUSTER_LAYOUT=split) three controller-only voters and two
# broker-only nodes from split/node0..4.properties.
#
#   examples/cluster/cluster.sh start    format the data dirs (one cluster id), start every node
#   examples/cluster/cluster.sh start N… start only nodes N… (those not running), e.g. one that died
#   examples/cluster/cluster.sh check    quorum status, a topic created and described through the cluster
#   examples/cluster/cluster.sh stop     SIGTERM (controlled shutdown) and wait
#
# Environment: VLTAVA_BIN (default target/release/vltava, built if missing), CLUSTER_DIR
# (data, logs and pids; default ./cluster-data), PORT_BASE (first of six ports; default 9092,
# the ports the properties files name), CLUSTER_OVERRIDES (more key=value properties for
# every node, space-separated), CLUSTER_LAYOUT (combined, the default, or split).
#
# Ports from PORT_BASE: combined node i has client port base+2i and controller port base+2i+1;
# split: controllers 0..2 have controller ports base+1, base+3, base+5, brokers 3 and 4 have
# client ports base and base+2.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
bin="${VLTAVA_BIN:-$root/target/release/vltava}"
dir="${CLUSTER_DIR:-$PWD/cluster-data}"
base="${PORT_BASE:-9092}"
layout="${CLUSTER_LAYOUT:-combined}"
case "$layout" in
    combined) props="$here" nodes=(0 1 2) controllers=(0 1 2) brokers=(0 1 2) ;;
    split) props="$here/split" nodes=(0 1 2 3 4) controllers=(0 1 2) brokers=(3 4) ;;
    *)
        echo "CLUSTER_LAYOUT must be combined or split, not $layout" >&2
        exit 2
        ;;
esac

# Whether process $1 runs: it exists and is not a zombie (a node killed from outside stays a
# zombie until its parent, often PID 1 here, reaps it; kill -0 alone counts it as running).
running() {
    local state
    state="$(sed 's/.*) //' "/proc/$1/stat" 2> /dev/null | cut -c1)" || return 1
    [ -n "$state" ] && [ "$state" != Z ]
}

is_broker() { [[ " ${brokers[*]} " == *" $1 "* ]]; }
is_controller() { [[ " ${controllers[*]} " == *" $1 "* ]]; }
client_port() {
    if [ "$layout" = split ]; then echo $((base + 2 * ($1 - 3))); else echo $((base + 2 * $1)); fi
}
controller_port() { echo $((base + 2 * $1 + 1)); }
bootstrap() {
    local out=() i
    for i in "${brokers[@]}"; do out+=("127.0.0.1:$(client_port "$i")"); done
    (IFS=,; echo "${out[*]}")
}

# --override arguments for node $1: its data dir, and the ports when PORT_BASE moved them.
overrides() {
    local i=$1 voters=() v o
    echo "--override" "log.dirs=$dir/node-$i"
    for o in ${CLUSTER_OVERRIDES:-}; do echo "--override" "$o"; done
    if [ "$base" != 9092 ]; then
        for v in "${controllers[@]}"; do voters+=("$v@127.0.0.1:$(controller_port "$v")"); done
        local listeners=()
        if is_broker "$i"; then
            listeners+=("PLAINTEXT://127.0.0.1:$(client_port "$i")")
            echo "--override" "advertised.listeners=PLAINTEXT://127.0.0.1:$(client_port "$i")"
        fi
        if is_controller "$i"; then listeners+=("CONTROLLER://127.0.0.1:$(controller_port "$i")"); fi
        echo "--override" "listeners=$(IFS=,; echo "${listeners[*]}")"
        echo "--override" "controller.quorum.voters=$(IFS=,; echo "${voters[*]}")"
    fi
}

ensure_bin() {
    if [ ! -x "$bin" ]; then
        echo "building $bin" >&2
        (cd "$root" && cargo build --release -p vltava-broker --bin vltava)
    fi
}

start() {
    local which=("${nodes[@]}")
    if [ $# -gt 0 ]; then which=("$@"); fi
    ensure_bin
    mkdir -p "$dir"
    if [ ! -f "$dir/cluster-id" ]; then
        "$bin" storage random-uuid > "$dir/cluster-id"
    fi
    local id i
    id="$(cat "$dir/cluster-id")"
    for i in "${nodes[@]}"; do
        # shellcheck disable=SC2046
        "$bin" storage format -g --cluster-id="$id" -c "$props/node$i.properties" $(overrides "$i") > /dev/null
    done
    for i in "${which[@]}"; do
        if [ -f "$dir/node-$i.pid" ] && running "$(cat "$dir/node-$i.pid")"; then
            echo "node $i already runs (pid $(cat "$dir/node-$i.pid"))"
            continue
        fi
        # shellcheck disable=SC2046
        "$bin" server start -c "$props/node$i.properties" $(overrides "$i") > "$dir/node-$i.log" 2>&1 &
        echo $! > "$dir/node-$i.pid"
    done
    # Each node listens once it has registered with the quorum, which needs a majority up.
    local deadline=$((SECONDS + 90))
    for i in "${which[@]}"; do
        until grep -q "vltava: listening on" "$dir/node-$i.log" 2> /dev/null; do
            if ! running "$(cat "$dir/node-$i.pid")"; then
                echo "node $i exited; its log:" >&2
                cat "$dir/node-$i.log" >&2
                return 1
            fi
            if [ $SECONDS -ge $deadline ]; then
                echo "node $i did not start in time; see $dir/node-$i.log" >&2
                return 1
            fi
            sleep 0.2
        done
        if is_broker "$i"; then
            echo "node $i listening on 127.0.0.1:$(client_port "$i")"
        else
            echo "node $i (controller) listening on 127.0.0.1:$(controller_port "$i")"
        fi
    done
    echo "bootstrap servers: $(bootstrap)"
}

check() {
    ensure_bin
    local servers
    servers="$(bootstrap)"
    "$bin" metadata-quorum --bootstrap-server "$servers" describe --status
    "$bin" topics --bootstrap-server "$servers" --create --if-not-exists \
        --topic cluster-check --partitions 6
    # The node asked may apply the new topic a moment after the controller committed it.
    local deadline=$((SECONDS + 15))
    until "$bin" topics --bootstrap-server "$servers" --describe --topic cluster-check 2> /dev/null; do
        if [ $SECONDS -ge $deadline ]; then
            "$bin" topics --bootstrap-server "$servers" --describe --topic cluster-check
            return 1
        fi
        sleep 0.2
    done
}

stop() {
    local i pid deadline order=("${brokers[@]}")
    # Brokers first: their controlled shutdown needs the controllers.
    for i in "${controllers[@]}"; do is_broker "$i" || order+=("$i"); done
    for i in "${order[@]}"; do
        [ -f "$dir/node-$i.pid" ] || continue
        pid="$(cat "$dir/node-$i.pid")"
        kill -TERM "$pid" 2> /dev/null || true
        if [ "$layout" = split ] && is_broker "$i"; then
            deadline=$((SECONDS + 30))
            while running "$pid" && [ $SECONDS -lt $deadline ]; do sleep 0.2; done
        fi
    done
    deadline=$((SECONDS + 60))
    for i in "${order[@]}"; do
        [ -f "$dir/node-$i.pid" ] || continue
        pid="$(cat "$dir/node-$i.pid")"
        while running "$pid"; do
            if [ $SECONDS -ge $deadline ]; then
                echo "node $i (pid $pid) did not stop; killing it" >&2
                kill -KILL "$pid" 2> /dev/null || true
                break
            fi
            sleep 0.2
        done
        rm -f "$dir/node-$i.pid"
        echo "node $i stopped"
    done
}

case "${1:-}" in
    start)
        shift
        start "$@"
        ;;
    check) check ;;
    stop) stop ;;
    *)
        echo "usage: $0 start [node…]|check|stop" >&2
        exit 2
        ;;
esac
