#!/usr/bin/env bash
# The Node client's checks, as CI runs them (scripts/test.sh calls this):
#   1. the `sesame` binary the tests start: $SESAME_BIN, else the debug build
#      the way scripts/test.sh builds it (`cargo test --workspace --no-run`: a
#      no-op after the Rust tests; `cargo build -p sesame-server` would build
#      other features and rebuild it each time);
#   2. `npm ci`: the pinned dev dependencies of package-lock.json (TypeScript,
#      @types/node, Express and its types, ajv + ajv-formats); none at run time;
#   3. `tsc` in strict mode over src/, test/, examples/ and bench/ (a type
#      error fails, and nothing is emitted: noEmitOnError) into dist/;
#   4. `node --test` on dist/test/*.test.js: unit tests, then the client, the
#      Express example and the fetch-style integration against real
#      `sesame serve` processes on memory:// and SQLite.
# Needs Node.js >= 20 and npm (`scripts/ci-packages.sh` installs them).
set -euo pipefail
cd "$(dirname "$0")"
root=$(cd ../.. && pwd)
started=$(date +%s)
step() { printf -- '-- node client: %s (+%ss)\n' "$*" "$(( $(date +%s) - started ))"; }

if [[ -z ${SESAME_BIN:-} ]]; then
    step "sesame binary (cargo test --workspace --no-run)"
    (cd "$root" && cargo test --workspace --locked --no-run -q)
    export SESAME_BIN=${CARGO_TARGET_DIR:-$root/target}/debug/sesame
fi
[[ -x $SESAME_BIN ]] || { echo "no sesame binary at $SESAME_BIN" >&2; exit 1; }

step "npm ci"
npm ci --ignore-scripts --no-audit --no-fund --loglevel=error

step "tsc (strict)"
rm -rf dist
npx --no-install tsc -p .

step "node --test"
node --test dist/test/*.test.js
step "done"
