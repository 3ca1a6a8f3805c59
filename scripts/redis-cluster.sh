#!/usr/bin/env bash
# Starts or stops a local Redis Cluster of 3 masters (no replicas, no
# persistence) on loopback, for sesame-redis's tests and CI.
#
#   scripts/redis-cluster.sh start <dir> [first-port]   # default 7101: 7101-7103
#   scripts/redis-cluster.sh stop  <dir>
#
# `start` waits for cluster_state:ok and prints the URL for
# SESAME_TEST_REDIS_CLUSTER_URL, e.g.
#   redis+cluster://127.0.0.1:7101,127.0.0.1:7102,127.0.0.1:7103
# Needs redis-server and redis-cli (Debian: apt-get install redis-server).
set -euo pipefail

cmd=${1:-}
dir=${2:-}
first=${3:-7101}
if [[ -z "$cmd" || -z "$dir" ]]; then
    echo "usage: $0 start|stop <dir> [first-port]" >&2
    exit 2
fi
ports=("$first" "$((first + 1))" "$((first + 2))")

case "$cmd" in
start)
    mkdir -p "$dir"
    for p in "${ports[@]}"; do
        mkdir -p "$dir/$p"
        rm -f "$dir/$p/nodes.conf"
        redis-server --port "$p" --bind 127.0.0.1 --daemonize yes \
            --cluster-enabled yes --cluster-config-file "$dir/$p/nodes.conf" \
            --cluster-node-timeout 2000 --save '' --appendonly no \
            --dir "$dir/$p" --pidfile "$dir/$p/redis.pid" --logfile "$dir/$p/redis.log"
    done
    for p in "${ports[@]}"; do
        for _ in $(seq 50); do
            redis-cli -p "$p" ping >/dev/null 2>&1 && break
            sleep 0.1
        done
    done
    if ! redis-cli -p "$first" cluster info | grep -q 'cluster_state:ok'; then
        redis-cli --cluster create "${ports[@]/#/127.0.0.1:}" --cluster-replicas 0 --cluster-yes >"$dir/create.log"
    fi
    for _ in $(seq 100); do
        ok=1
        for p in "${ports[@]}"; do
            redis-cli -p "$p" cluster info | grep -q 'cluster_state:ok' || ok=0
        done
        [[ $ok == 1 ]] && break
        sleep 0.1
    done
    if [[ $ok != 1 ]]; then
        echo "redis cluster did not reach cluster_state:ok; see $dir/*/redis.log" >&2
        exit 1
    fi
    urls=$(printf '127.0.0.1:%s,' "${ports[@]}")
    echo "redis+cluster://${urls%,}"
    ;;
stop)
    for p in "${ports[@]}"; do
        if [[ -f "$dir/$p/redis.pid" ]]; then
            kill "$(cat "$dir/$p/redis.pid")" 2>/dev/null || true
            rm -f "$dir/$p/redis.pid"
        fi
    done
    ;;
*)
    echo "usage: $0 start|stop <dir> [first-port]" >&2
    exit 2
    ;;
esac
