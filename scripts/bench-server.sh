#!/usr/bin/env bash
# Benchmark of `sesame serve` validate against a bare axum endpoint.
# Builds release, then for each target (bare, sesame on memory://, sesame on
# sqlite) runs wrk at 32 connections for $SECS seconds (peak), then the
# fixed-rate client at half that peak for p50/p99. Also a bare endpoint that
# reads the body and answers a validate-sized constant, for context. Needs wrk
# (apt-get install -y wrk) and python3. Usage: scripts/bench-server.sh [STORES...]
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${SECS:-10}
CONNS=32
STORES=${*:-memory sqlite}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target}
cargo build --release -q -p sesame-server --bin sesame --example bare --example rate_client
BIN=$CARGO_TARGET_DIR/release
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

KEY=sk_bench_key_not_secret
HASH=sha256:$(printf %s "$KEY" | sha256sum | cut -d' ' -f1)
LUA=crates/sesame-server/bench/validate.lua

peak() { # url token -> requests/s
  BENCH_KEY=$KEY BENCH_TOKEN=$2 wrk -t2 -c$CONNS -d${SECS}s --latency -s $LUA "$1" >"$work/wrk.txt"
  cat "$work/wrk.txt" >&2
  grep '^Requests/sec' "$work/wrk.txt" | awk '{print $2}'
}
wait_port() { for _ in $(seq 100); do curl -s "http://127.0.0.1:$1/" >/dev/null 2>&1 && return; sleep 0.1; done; }

echo "machine: $(nproc) cores, $(uname -sr); wrk $CONNS connections, ${SECS}s per run"
# Bare endpoint.
"$BIN/examples/bare" 127.0.0.1:7801 >/dev/null & pids+=($!)
wait_port 7801
url=http://127.0.0.1:7801/v1/session/validate
bare=$(peak $url none)
bare_rate=$(python3 -c "print(int($bare/2))")
echo "bare: peak $bare req/s"
"$BIN/examples/rate_client" $url "$bare_rate" "$SECS" $CONNS $KEY none | sed 's/^/bare half-peak: /'

# Context: a bare endpoint that reads the JSON body and answers ~440 bytes.
"$BIN/examples/bare" 127.0.0.1:7809 --read-body >/dev/null & pids+=($!)
wait_port 7809
rb=$(peak http://127.0.0.1:7809/v1/session/validate none)
echo "bare --read-body: peak $rb req/s = $(python3 -c "print(round($rb/$bare,2))") x bare"

port=7802
for store in $STORES; do
  case $store in
    memory) url_store=memory:// ;;
    sqlite) url_store="sqlite://$work/bench.db" ;;
    *) url_store=$store ;;
  esac
  cat >"$work/sesame.toml" <<TOML
listen = "127.0.0.1:$port"
store = "$url_store"
data_dir = "$work/data"
[log]
level = "warn"
[policy]
renewal_interval = "0"
[[api_keys]]
name = "bench"
hash = "$HASH"
scopes = ["admin"]
TOML
  "$BIN/sesame" serve --config "$work/sesame.toml" >/dev/null & pids+=($!)
  wait_port $port
  base=http://127.0.0.1:$port
  token=$(curl -s -X POST $base/v1/sessions -H "authorization: Bearer $KEY" -H 'content-type: application/json' \
    -d '{"user":"bench","device":{"user_agent":"bench"}}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
  p=$(peak $base/v1/session/validate "$token")
  half=$(python3 -c "print(int($p/2))")
  echo "sesame ($store): peak $p req/s = $(python3 -c "print(round($p/$bare,2))") x bare"
  "$BIN/examples/rate_client" $base/v1/session/validate "$half" "$SECS" $CONNS $KEY "$token" | sed "s/^/sesame ($store) half-peak: /"
  port=$((port+1))
done
