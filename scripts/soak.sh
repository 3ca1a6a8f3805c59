#!/usr/bin/env bash
# The soak run of `sesame serve` (issue 9, "load held"; not part of CI):
# mixed traffic (create / validate / patch / logout at 1:50:5:1) at 32
# connections for SOAK_SECS (default 600) per store. First 20 s as fast as the
# server answers (the peak), then the soak at half that rate, reporting every
# 30 s the rate, worst latency, errors and the server's RSS; at the end the
# p50/p99 per operation. Exit code 1 on any failed request.
# Usage: scripts/soak.sh [sqlite] [redis] [memory]
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${SOAK_SECS:-600}
CONNS=32
STORES=${*:-sqlite redis}
REDIS_URL=${SESAME_TEST_REDIS_URL:-redis://127.0.0.1:6379}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target}
cargo build --release -q -p sesame-server --bin sesame -p sesame-bench --bin soak
BIN=$CARGO_TARGET_DIR/release
work=$(mktemp -d)
server=
cleanup() { [ -n "$server" ] && kill "$server" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

KEY=sk_soak_key_not_secret
HASH=sha256:$(printf %s "$KEY" | sha256sum | cut -d' ' -f1)
port=7820
status=0
echo "machine: $(nproc) cores, $(uname -sr); $CONNS connections, ${SECS}s soak per store"
for store in $STORES; do
  case $store in
    memory) url=memory:// ;;
    sqlite) url="sqlite://$work/soak.db" ;;
    redis) url="$REDIS_URL?prefix=soak-$$-$(date +%s):" ;;
    *) url=$store ;;
  esac
  cat >"$work/sesame.toml" <<TOML
listen = "127.0.0.1:$port"
store = "$url"
data_dir = "$work/data"
[log]
level = "warn"
[cleanup]
interval = "1m"
[policy]
renewal_interval = "5m"
[[api_keys]]
name = "soak"
hash = "$HASH"
scopes = ["admin"]
TOML
  "$BIN/sesame" serve --config "$work/sesame.toml" >"$work/server-$store.log" 2>&1 &
  server=$!
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && break; sleep 0.1; done
  echo "== $store ($url)"
  peak=$("$BIN/soak" 127.0.0.1:$port 20 $CONNS 0 $KEY $server | sed -n 's/^all: .*(\([0-9]*\) req\/s).*/\1/p')
  rate=$((peak / 2))
  echo "peak (20 s, closed loop): $peak req/s; soak at $rate req/s for ${SECS}s"
  "$BIN/soak" 127.0.0.1:$port "$SECS" $CONNS $rate $KEY $server || status=1
  if grep -qiE 'panic|ERROR' "$work/server-$store.log"; then
    echo "server log has errors:"; grep -iE 'panic|ERROR' "$work/server-$store.log" | head; status=1
  fi
  kill "$server"; wait "$server" 2>/dev/null || true; server=
  port=$((port + 1))
done
exit $status
