#!/usr/bin/env bash
# Benchmark of `sesame serve` validate against a bare axum endpoint.
# Builds release and starts every target at once (bare, bare reading the body,
# bare with as many threads as sesame,
# sesame on each store). Then ROUNDS interleaved rounds: in each, wrk runs
# SECS seconds at 32 connections against every target in turn (peak), so a
# slow spell of the shared machine hits all targets alike; the figure of a
# target is its median round. Last, the fixed-rate client runs each target at
# half its median peak for p50/p99, in interleaved rounds too. Needs wrk
# (scripts/bench-packages.sh) and python3. Usage: [SECS=5] [ROUNDS=5]
# [REDIS=redis://127.0.0.1:6379] [SESAME_BASELINE=path/to/old/sesame]
# scripts/bench-server.sh [STORES...], a store
# being memory, sqlite, redis (the REDIS server, under a key prefix of this
# run) or any store URL.
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${SECS:-5}
ROUNDS=${ROUNDS:-5}
CONNS=32
STORES=${*:-memory sqlite}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target}
scripts/bench-packages.sh
cargo build --release -q -p sesame-server --bin sesame -p sesame-bench --bin bare --bin rate_client
BIN=$CARGO_TARGET_DIR/release
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

KEY=sk_bench_key_not_secret
HASH=sha256:$(printf %s "$KEY" | sha256sum | cut -d' ' -f1)
LUA=crates/sesame-bench/wrk/validate.lua
wait_port() { for _ in $(seq 100); do curl -s "http://127.0.0.1:$1/" >/dev/null 2>&1 && return; sleep 0.1; done; }

# Targets: name, validate URL, token.
names=() urls=() tokens=()
add() { names+=("$1"); urls+=("$2"); tokens+=("$3"); }

"$BIN/bare" 127.0.0.1:7801 >/dev/null & pids+=($!)
wait_port 7801
add "bare axum, constant" http://127.0.0.1:7801/v1/session/validate none
# Context: a bare endpoint that reads the JSON body and answers ~440 bytes.
"$BIN/bare" 127.0.0.1:7809 --read-body >/dev/null & pids+=($!)
wait_port 7809
add "bare axum, reads the body, validate-sized answer" http://127.0.0.1:7809/v1/session/validate none
# Context: the bare endpoint with as many threads as `sesame serve` runs
# (limits.workers default: two per CPU), so the thread count is not what
# separates them.
TOKIO_WORKER_THREADS=$((2 * $(nproc))) "$BIN/bare" 127.0.0.1:7808 >/dev/null & pids+=($!)
wait_port 7808
add "bare axum, constant, $((2 * $(nproc))) worker threads" http://127.0.0.1:7808/v1/session/validate none

# SESAME_BASELINE=<path to another `sesame` binary> runs it beside this
# build on every store, in the same interleaved rounds (before/after figures).
bins=("$BIN/sesame") labels=("sesame")
if [ -n "${SESAME_BASELINE:-}" ]; then bins+=("$SESAME_BASELINE"); labels+=("sesame baseline"); fi
port=7802
for store in $STORES; do
  for b in "${!bins[@]}"; do
  case $store in
    memory) url_store=memory:// ;;
    sqlite) url_store="sqlite://$work/bench-$port.db" ;;
    redis) url_store="${REDIS:-redis://127.0.0.1:6379}?prefix=sesame-bench-server:$$:$port:" ;;
    *) url_store=$store ;;
  esac
  cat >"$work/sesame-$port.toml" <<TOML
listen = "127.0.0.1:$port"
store = "$url_store"
data_dir = "$work/data-$port"
[log]
level = "warn"
[policy]
renewal_interval = "0"
[[api_keys]]
name = "bench"
hash = "$HASH"
scopes = ["admin"]
TOML
  "${bins[$b]}" serve --config "$work/sesame-$port.toml" >/dev/null & pids+=($!)
  wait_port $port
  base=http://127.0.0.1:$port
  token=$(curl -s -X POST $base/v1/sessions -H "authorization: Bearer $KEY" -H 'content-type: application/json' \
    -d '{"user":"bench","device":{"user_agent":"bench"}}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
  add "${labels[$b]}, $store" $base/v1/session/validate "$token"
  port=$((port+1))
  done
done

echo "machine: $(nproc) cores, $(uname -sr), load $(cut -d' ' -f1-3 /proc/loadavg); wrk $CONNS connections, $ROUNDS rounds of ${SECS}s per target"
for round in $(seq "$ROUNDS"); do
  for i in "${!names[@]}"; do
    BENCH_KEY=$KEY BENCH_TOKEN=${tokens[$i]} wrk -t2 -c$CONNS -d${SECS}s --latency -s $LUA "${urls[$i]}" >"$work/wrk.txt"
    rps=$(grep '^Requests/sec' "$work/wrk.txt" | awk '{print $2}')
    echo "$rps" >>"$work/peak-$i"
    echo "round $round: ${names[$i]}: $rps req/s" >&2
  done
done

median() { sort -g "$1" | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
bare=$(median "$work/peak-0")
# Fixed rate: each target (but the read-body context) at half its median
# peak, ROUNDS interleaved runs of SECS; p50 and p99 are the median runs',
# max the largest (one stall of the shared machine spoils one run's p99, not
# the figure).
for round in $(seq "$ROUNDS"); do
  for i in "${!names[@]}"; do
    [ "$i" = 1 ] && continue
    half=$(python3 -c "print(int($(median "$work/peak-$i")/2))")
    line=$("$BIN/rate_client" "${urls[$i]}" "$half" "$SECS" $CONNS $KEY "${tokens[$i]}")
    echo "round $round: ${names[$i]} half-peak: $line" >&2
    for q in p50 p99 max; do
      echo "$line" | sed -E "s/.*$q ([0-9.]+) ms.*/\1/" >>"$work/$q-$i"
    done
  done
done

echo
echo "| target | peak req/s (median of $ROUNDS; min–max) | × bare | fixed rate (half peak) | p50 / p99 (medians of $ROUNDS) / max at half peak |"
echo "| --- | --- | --- | --- | --- |"
for i in "${!names[@]}"; do
  p=$(median "$work/peak-$i")
  range="$(sort -g "$work/peak-$i" | head -1 | cut -d. -f1)–$(sort -g "$work/peak-$i" | tail -1 | cut -d. -f1)"
  ratio=$(python3 -c "print(f'{$p/$bare:.2f}')")
  if [ "$i" = 1 ]; then
    echo "| ${names[$i]} | ${p%.*} ($range) | $ratio | — | — |"
    continue
  fi
  half=$(python3 -c "print(int($p/2))")
  echo "| ${names[$i]} | ${p%.*} ($range) | $ratio | $half/s | $(median "$work/p50-$i") / $(median "$work/p99-$i") / $(sort -g "$work/max-$i" | tail -1) ms |"
done
