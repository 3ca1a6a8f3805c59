#!/usr/bin/env bash
# Instructions per request, in process (no sockets), counted by callgrind:
# the counter route (bare axum, sesame-tower, tower-sessions; memory stores)
# and sesame serve's validate (bare axum endpoint, sesame's router). Each
# target runs N1 and then N2 requests (`sesame-bench`'s `instructions`
# binary); (count(N2) - count(N1)) / (N2 - N1) is one request's instructions,
# start-up cancelled. Every thread is counted. Repeatable to well under 1 %
# on a shared VM, where wall-clock figures move by ±20 % (perf stat's
# hardware counters are not available in these VMs).
#
# Usage: [N1=2000] [N2=12000] [INSTRUCTIONS_BIN=path] scripts/bench-instructions.sh [TARGETS...]
# (INSTRUCTIONS_BIN: a binary built from another commit, to compare.)
set -euo pipefail
cd "$(dirname "$0")/.."
N1=${N1:-2000}
N2=${N2:-12000}
TARGETS=${*:-bare sesame-tower tower-sessions validate-bare sesame-validate}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target}
scripts/bench-packages.sh
BIN=${INSTRUCTIONS_BIN:-}
if [ -z "$BIN" ]; then
  cargo build --release -q -p sesame-bench --bin instructions
  BIN=$CARGO_TARGET_DIR/release/instructions
fi
count() {
  valgrind --tool=callgrind --callgrind-out-file=/dev/null "$BIN" "$1" "$2" 2>&1 |
    sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
}
echo "| target | instructions per request | total at $N1 / $N2 requests |"
echo "| --- | ---: | --- |"
for t in $TARGETS; do
  a=$(count "$t" "$N1")
  b=$(count "$t" "$N2")
  echo "| $t | $(( (b - a) / (N2 - N1) )) | $a / $b |"
done
