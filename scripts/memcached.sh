#!/usr/bin/env bash
# Starts a memcached for the tests on a loopback port and waits until it answers.
#
#   scripts/memcached.sh start [port]   (default 11211; installs memcached with
#                                        apt-get when it is missing)
#   scripts/memcached.sh stop [port]
#
# Then: export SESAME_TEST_MEMCACHED_URL=memcache://127.0.0.1:<port>
set -euo pipefail

cmd="${1:-}"
port="${2:-11211}"
pidfile="/tmp/sesame-memcached-${port}.pid"

answers() {
    # "version" over a plain TCP connection (bash's /dev/tcp: no nc needed).
    { exec 3<>"/dev/tcp/127.0.0.1/${port}"; } 2>/dev/null || return 1
    printf 'version\r\n' >&3
    local line=""
    read -r -t 2 line <&3 || true
    exec 3<&- 3>&-
    [[ "$line" == VERSION* ]]
}

case "$cmd" in
start)
    if answers; then
        echo "memcached already answers on 127.0.0.1:${port}"
        exit 0
    fi
    if ! command -v memcached >/dev/null 2>&1; then
        echo "installing memcached with apt-get"
        sudo_cmd=""
        if [[ "$(id -u)" != 0 ]]; then sudo_cmd="sudo"; fi
        $sudo_cmd apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq memcached >/dev/null
    fi
    user_args=()
    if [[ "$(id -u)" == 0 ]]; then user_args=(-u root); fi
    memcached -d "${user_args[@]}" -l 127.0.0.1 -p "$port" -U 0 -m 256 -c 4096 -P "$pidfile"
    for _ in $(seq 1 100); do
        if answers; then
            echo "memcached answers on 127.0.0.1:${port}"
            echo "SESAME_TEST_MEMCACHED_URL=memcache://127.0.0.1:${port}"
            exit 0
        fi
        sleep 0.1
    done
    echo "memcached did not answer on 127.0.0.1:${port}" >&2
    exit 1
    ;;
stop)
    if [[ -f "$pidfile" ]]; then
        kill "$(cat "$pidfile")" && rm -f "$pidfile"
        echo "stopped memcached on port ${port}"
    else
        echo "no memcached started by this script on port ${port}" >&2
        exit 1
    fi
    ;;
*)
    echo "usage: $0 start|stop [port]" >&2
    exit 2
    ;;
esac
