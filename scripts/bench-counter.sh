#!/usr/bin/env bash
# The counter benchmark of issue 19 (docs/BENCHMARKS.md, "Counter on one
# shared session"): wrk -t2 -c$CONNS against a counter handler that every
# request runs on ONE shared session (so concurrent requests of one session
# race), for bare axum, axum + sesame-tower (memory, Redis), tower-sessions
# on Redis and actix-session on Redis. All servers are started at once, then
# ROUNDS interleaved rounds of SECS seconds per target; the figure of a
# target is its median round. At the end each server is asked for the
# increments its handler made and the counter's value: the difference is the
# lost increments. For the Redis targets, INFO commandstats is read around
# every wrk run: commands per request and Redis CPU per script call.
#
# Redis: a private redis-server of this machine (no persistence) on a free
# port, so that the command counts are the benchmark's alone; REDIS=<url>
# uses another server instead (e.g. REDIS=redis://127.0.0.1:6379, the shared
# one).
#
# Usage: [SECS=10] [ROUNDS=3] [CONNS=32] [REDIS=url] scripts/bench-counter.sh [TARGETS...]
# Targets: bare sesame-memory sesame-redis tower-sessions-redis actix-redis
# (default: all). With OLD_BIN=<dir> holding a `counter` binary built from
# another commit, `sesame-memory@old` and `sesame-redis@old` run that one in
# the same interleaved rounds. Needs wrk, curl, python3, redis-server and redis-cli
# (scripts/bench-packages.sh installs what is missing).
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${SECS:-10}
ROUNDS=${ROUNDS:-3}
CONNS=${CONNS:-32}
TARGETS=${*:-bare sesame-memory sesame-redis tower-sessions-redis actix-redis}
UA="counter-bench/1.0"
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target}
scripts/bench-packages.sh
if [ -z "${NO_BUILD:-}" ]; then # NO_BUILD=1: run the binaries already built
  cargo build --release -q -p sesame-bench --bin counter
  case " $TARGETS " in
    *" tower-sessions-redis "* | *" actix-redis "*)
      cargo build --release -q --manifest-path crates/sesame-bench/peers/Cargo.toml ;;
  esac
fi
BIN=$CARGO_TARGET_DIR/release
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 200); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return; sleep 0.05; done; echo "port $1 did not open" >&2; exit 1; }

if [ -z "${REDIS:-}" ]; then
  rport=$(free_port)
  redis-server --port "$rport" --bind 127.0.0.1 --save '' --appendonly no --daemonize no \
    --logfile "$work/redis.log" & pids+=($!)
  wait_port "$rport"
  REDIS=redis://127.0.0.1:$rport
fi
rhost=$(python3 -c "import urllib.parse as u; p=u.urlparse('$REDIS'); print(p.hostname or '127.0.0.1', p.port or 6379)")
rcli() { redis-cli -h "${rhost% *}" -p "${rhost#* }" "$@"; }
stats() { rcli INFO commandstats | tr -d '\r' | grep '^cmdstat_' >"$1"; }

names=() urls=() cookies=()
for target in $TARGETS; do
  port=$(free_port)
  case $target in
    bare | sesame-memory) "$BIN/counter" "$target" "127.0.0.1:$port" >/dev/null & pids+=($!) ;;
    sesame-redis) "$BIN/counter" "$target" "127.0.0.1:$port" "$REDIS" >/dev/null & pids+=($!) ;;
    sesame-memory@old) "$OLD_BIN/counter" sesame-memory "127.0.0.1:$port" >/dev/null & pids+=($!) ;;
    sesame-redis@old) "$OLD_BIN/counter" sesame-redis "127.0.0.1:$port" "$REDIS" >/dev/null & pids+=($!) ;;
    tower-sessions-redis | actix-redis) "$BIN/peer-counter" "$target" "127.0.0.1:$port" "$REDIS" >/dev/null & pids+=($!) ;;
    *) echo "unknown target $target" >&2; exit 2 ;;
  esac
  wait_port "$port"
  url=http://127.0.0.1:$port
  # The first request creates the session; every later one presents its cookie.
  cookie=$(curl -s -A "$UA" -D - -o /dev/null "$url/counter" | tr -d '\r' |
    sed -n 's/^[Ss]et-[Cc]ookie: \([^;]*\).*/\1/p' | head -1)
  names+=("$target") urls+=("$url") cookies+=("${cookie:-none=1}")
done

echo "machine: $(nproc) cores, $(uname -sr), load $(cut -d' ' -f1-3 /proc/loadavg); redis $(rcli INFO server | tr -d '\r' | sed -n 's/^redis_version://p') at $REDIS; wrk -t2 -c$CONNS, $ROUNDS rounds of ${SECS}s per target, one shared session"
for round in $(seq "$ROUNDS"); do
  for i in "${!names[@]}"; do
    stats "$work/before"
    wrk -t2 -c"$CONNS" -d"${SECS}s" -H "Cookie: ${cookies[$i]}" -H "User-Agent: $UA" \
      "${urls[$i]}/counter" >"$work/wrk.txt"
    stats "$work/after"
    rps=$(awk '/^Requests\/sec/ {print $2}' "$work/wrk.txt")
    reqs=$(awk '/requests in/ {print $1}' "$work/wrk.txt")
    bad=$(awk '/Non-2xx/ {print $NF}' "$work/wrk.txt")
    echo "$rps" >>"$work/rps-$i"
    echo "${bad:-0}" >>"$work/bad-$i"
    python3 - "$work/before" "$work/after" "$reqs" >>"$work/cmds-$i" <<'PY'
import sys, re
def read(p):
    out = {}
    for line in open(p):
        m = re.match(r'cmdstat_([^:]+):calls=(\d+),usec=(\d+)', line)
        if m: out[m[1]] = (int(m[2]), int(m[3]))
    return out
a, b, n = read(sys.argv[1]), read(sys.argv[2]), int(sys.argv[3])
parts = []
for cmd in sorted(b):
    calls = b[cmd][0] - a.get(cmd, (0, 0))[0]
    usec = b[cmd][1] - a.get(cmd, (0, 0))[1]
    if calls > n * 0.01 and not cmd.startswith(('info', 'config')):
        parts.append(f"{cmd} {calls / n:.2f} ({usec / calls:.1f} µs)")
print(", ".join(parts) or "-")
PY
    echo "round $round: ${names[$i]}: $rps req/s, non-2xx ${bad:-0}; redis per request: $(tail -1 "$work/cmds-$i")" >&2
  done
done

median() { sort -g "$1" | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
ref() { for j in "${!names[@]}"; do [ "${names[$j]}" = "$1" ] && median "$work/rps-$j" && return; done; echo ""; }
bare=$(ref bare); actix=$(ref actix-redis)
ratio() { [ -n "$2" ] && python3 -c "print(f'{$1/$2:.2f}')" || echo "—"; }
echo
echo "| target | req/s (median of $ROUNDS; min–max) | × bare | × actix-session | lost increments (of made) | non-2xx | Redis commands per request (µs per call), last round |"
echo "| --- | --- | --- | --- | --- | --- | --- |"
for i in "${!names[@]}"; do
  p=$(median "$work/rps-$i")
  range="$(sort -g "$work/rps-$i" | head -1 | cut -d. -f1)–$(sort -g "$work/rps-$i" | tail -1 | cut -d. -f1)"
  value=$(curl -s -A "$UA" -H "Cookie: ${cookies[$i]}" "${urls[$i]}/counter")
  made=$(curl -s "${urls[$i]}/stats")
  lost=$((made - value))
  pct=$(python3 -c "print(f'{100*$lost/max($made,1):.1f} %')")
  bad=$(awk '{s+=$1} END {print s}' "$work/bad-$i")
  cmds=$(tail -1 "$work/cmds-$i")
  echo "| ${names[$i]} | ${p%.*} ($range) | $(ratio "$p" "$bare") | $(ratio "$p" "$actix") | $lost of $made ($pct) | $bad | $cmds |"
done
