#!/usr/bin/env bash
# Where a counter request's CPU goes: the server process and redis-server,
# per request, for sesame-tower, actix-session and tower-sessions on Redis
# (docs/BENCHMARKS.md, "Where the CPU goes"). A private redis-server on a
# free port; ROUNDS interleaved wrk runs of SECS seconds per target on one
# shared session; user + system time from /proc/PID/stat before and after
# each run, divided by the requests. Uses the binaries scripts/bench-counter.sh
# builds. Usage: [SECS=8] [ROUNDS=2] scripts/bench-counter-cpu.sh
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${SECS:-8}
ROUNDS=${ROUNDS:-2}
B=${CARGO_TARGET_DIR:-$PWD/target}/release
UA=counter-bench/1.0
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 200); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return; sleep 0.05; done; exit 1; }
ticks() { awk '{print $14+$15}' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)
rport=$(free_port)
redis-server --port "$rport" --bind 127.0.0.1 --save '' --appendonly no --logfile "$work/redis.log" & rpid=$!
pids+=("$rpid")
wait_port "$rport"
names=() ports=() spids=() cookies=()
for t in sesame-redis actix-redis tower-sessions-redis; do
  port=$(free_port)
  case $t in
    sesame-redis) "$B/counter" "$t" "127.0.0.1:$port" "redis://127.0.0.1:$rport" >/dev/null & ;;
    *) "$B/peer-counter" "$t" "127.0.0.1:$port" "redis://127.0.0.1:$rport" >/dev/null & ;;
  esac
  spid=$!
  pids+=("$spid")
  wait_port "$port"
  cookie=$(curl -s -A "$UA" -D - -o /dev/null "http://127.0.0.1:$port/counter" | tr -d '\r' |
    sed -n 's/^[Ss]et-[Cc]ookie: \([^;]*\).*/\1/p' | head -1)
  names+=("$t") ports+=("$port") spids+=("$spid") cookies+=("$cookie")
done
echo "machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); wrk -t2 -c32, $ROUNDS rounds of ${SECS}s"
for round in $(seq "$ROUNDS"); do
  for i in "${!names[@]}"; do
    s0=$(ticks "${spids[$i]}") r0=$(ticks "$rpid")
    out=$(wrk -t2 -c32 -d"${SECS}s" -H "Cookie: ${cookies[$i]}" -H "User-Agent: $UA" "http://127.0.0.1:${ports[$i]}/counter")
    s1=$(ticks "${spids[$i]}") r1=$(ticks "$rpid")
    reqs=$(echo "$out" | awk '/requests in/ {print $1}')
    rps=$(echo "$out" | awk '/^Requests\/sec/ {print $2}')
    python3 -c "print('round $round: ${names[$i]}: $rps req/s; server CPU %.1f us/request; redis CPU %.1f us/request' % (($s1-$s0)*1e6/$hz/$reqs, ($r1-$r0)*1e6/$hz/$reqs))"
  done
done
