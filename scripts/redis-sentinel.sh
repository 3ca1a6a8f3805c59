#!/usr/bin/env bash
# Starts or stops a local Redis Sentinel set-up on loopback: 1 master, 2
# replicas and 3 sentinels watching master name "sesame", with test-sized
# timeouts (down after 1 s, failover timeout 3 s), no persistence.
#
#   scripts/redis-sentinel.sh start <dir> [first-port]  # default 7501:
#        master 7501, replicas 7502-7503, sentinels 7504-7506
#   scripts/redis-sentinel.sh stop  <dir>
#
# `start` waits until every sentinel knows the master and both replicas, and
# prints the URL for SESAME_TEST_REDIS_SENTINEL_URL (and `sesame serve`), e.g.
#   redis+sentinel://127.0.0.1:7504,127.0.0.1:7505,127.0.0.1:7506/sesame
# Installs Debian's redis-sentinel through scripts/ci-packages.sh if missing.
# sesame's failover tests start their own servers; this is for trying it out
# by hand (kill -9 the master and watch sesame follow) and for CI.
set -euo pipefail

cmd=${1:-}
dir=${2:-}
first=${3:-7501}
if [[ -z "$cmd" || -z "$dir" ]]; then
    echo "usage: $0 start|stop <dir> [first-port]" >&2
    exit 2
fi
master=$first
replicas=("$((first + 1))" "$((first + 2))")
sentinels=("$((first + 3))" "$((first + 4))" "$((first + 5))")
name=sesame

start_redis() { # port [replicaof-port]
    local p=$1
    mkdir -p "$dir/$p"
    local args=(--port "$p" --bind 127.0.0.1 --daemonize yes --save '' --appendonly no
        --dir "$dir/$p" --pidfile "$dir/$p/redis.pid" --logfile "$dir/$p/redis.log")
    [[ $# -gt 1 ]] && args+=(--replicaof 127.0.0.1 "$2")
    redis-server "${args[@]}"
}

wait_for() { # description, command...
    local what=$1
    shift
    for _ in $(seq 100); do
        "$@" >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    echo "redis sentinel set-up: $what did not happen; see $dir/*/*.log" >&2
    exit 1
}

case "$cmd" in
start)
    command -v redis-sentinel >/dev/null || "$(dirname "$0")/ci-packages.sh"
    mkdir -p "$dir"
    start_redis "$master"
    for p in "${replicas[@]}"; do start_redis "$p" "$master"; done
    for p in "$master" "${replicas[@]}"; do wait_for "redis on $p" redis-cli -p "$p" ping; done
    for p in "${replicas[@]}"; do
        wait_for "replica $p in sync" sh -c "redis-cli -p $p info replication | grep -q 'master_link_status:up'"
    done
    for p in "${sentinels[@]}"; do
        mkdir -p "$dir/$p"
        # Sentinel rewrites its config file: one per sentinel, written fresh.
        cat >"$dir/$p/sentinel.conf" <<CONF
port $p
bind 127.0.0.1
daemonize yes
pidfile $dir/$p/sentinel.pid
logfile $dir/$p/sentinel.log
dir $dir/$p
sentinel monitor $name 127.0.0.1 $master 2
sentinel down-after-milliseconds $name 1000
sentinel failover-timeout $name 3000
sentinel parallel-syncs $name 1
CONF
        redis-sentinel "$dir/$p/sentinel.conf"
    done
    for p in "${sentinels[@]}"; do
        wait_for "sentinel $p sees 2 replicas" sh -c \
            "redis-cli -p $p sentinel master $name | grep -A1 -x num-slaves | tail -1 | grep -qx 2"
        wait_for "sentinel $p sees 2 other sentinels" sh -c \
            "redis-cli -p $p sentinel master $name | grep -A1 -x num-other-sentinels | tail -1 | grep -qx 2"
    done
    urls=$(printf '127.0.0.1:%s,' "${sentinels[@]}")
    echo "redis+sentinel://${urls%,}/$name"
    ;;
stop)
    for p in "${sentinels[@]}"; do
        [[ -f "$dir/$p/sentinel.pid" ]] && kill "$(cat "$dir/$p/sentinel.pid")" 2>/dev/null || true
        rm -f "$dir/$p/sentinel.pid"
    done
    for p in "$master" "${replicas[@]}"; do
        [[ -f "$dir/$p/redis.pid" ]] && kill "$(cat "$dir/$p/redis.pid")" 2>/dev/null || true
        rm -f "$dir/$p/redis.pid"
    done
    ;;
*)
    echo "usage: $0 start|stop <dir> [first-port]" >&2
    exit 2
    ;;
esac
