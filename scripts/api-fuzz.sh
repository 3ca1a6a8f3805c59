#!/usr/bin/env bash
# API fuzzing: schemathesis against `sesame serve`'s own OpenAPI document.
#
# Starts the debug `sesame` binary on memory:// with one admin API key and a
# cookie key (config in a temp dir, listening on a free loopback port), then
# runs schemathesis on /openapi.json with that key: every operation gets
# generated requests (coverage, fuzzing and stateful phases), and every
# response is checked: no 5xx, status code / content type / headers / body
# as documented, schema-valid requests accepted, schema-invalid ones refused,
# authentication not ignored. See docs/SECURITY.md ("API fuzzing").
#
#   scripts/api-fuzz.sh                   # FUZZ_EXAMPLES=100 per operation and phase
#   FUZZ_EXAMPLES=500 FUZZ_SEED=1 scripts/api-fuzz.sh
#   scripts/api-fuzz.sh --include-path /v1/sessions   # extra schemathesis flags
#   SESAME_BIN=target/release/sesame scripts/api-fuzz.sh   # skip the build
#
# schemathesis comes from PyPI, pinned, in a virtualenv under
# $CARGO_TARGET_DIR (default target/), so it is installed once; it runs in
# $CARGO_TARGET_DIR/api-fuzz (reports go there). Exit status:
# schemathesis's (non-zero on any failure), or 1 if the server does not start.
set -euo pipefail
cd "$(dirname "$0")/.."
here=$PWD
SCHEMATHESIS_VERSION=4.32.5
EXAMPLES=${FUZZ_EXAMPLES:-100}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target}

venv=$CARGO_TARGET_DIR/schemathesis-$SCHEMATHESIS_VERSION
if [[ ! -x $venv/bin/schemathesis ]]; then
    echo "installing schemathesis $SCHEMATHESIS_VERSION into $venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q "schemathesis==$SCHEMATHESIS_VERSION"
fi

# The binary as scripts/test.sh builds it (same features, so after the tests,
# as in CI, this is a no-op, where `cargo build -p sesame-server` would build
# the workspace again), or the one in $SESAME_BIN.
if [[ -z ${SESAME_BIN:-} ]]; then
    cargo test --workspace --locked --no-run -q
    SESAME_BIN=$CARGO_TARGET_DIR/debug/sesame
fi
bin=$(realpath "$SESAME_BIN")
venv=$(realpath "$venv")

work=$(mktemp -d /tmp/sesame-api-fuzz.XXXXXX)
server=""
cleanup() {
    if [[ -n $server ]]; then kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT

key=$("$bin" keygen --api-key 2>/dev/null)
hash=$(printf %s "$key" | sha256sum | cut -d' ' -f1)
cookie_key=$("$bin" keygen 2>/dev/null)
cat >"$work/sesame.toml" <<TOML
listen = "127.0.0.1:0"
store = "memory://"
data_dir = "$work/data"
[log]
level = "warn"
[cleanup]
interval = "0"
# The fuzzer sends thousands of unknown tokens from one address: with the
# guard on, every session call would soon be a 429 (documented, but it would
# hide the handlers). Its 429 is tested in tests/probing.rs and tests/cli.rs.
[guard]
max_invalid = 0
[cookie]
keys = ["$cookie_key"]
[[api_keys]]
name = "fuzz"
hash = "sha256:$hash"
scopes = ["admin"]
TOML

: >"$work/stdout"
"$bin" serve --config "$work/sesame.toml" >>"$work/stdout" 2>"$work/stderr" &
server=$!
base=""
for _ in $(seq 100); do
    base=$(sed -n 's/^sesame listening on \(http:[^ ]*\).*/\1/p' "$work/stdout")
    [[ -n $base ]] && curl -fs "$base/readyz" >/dev/null 2>&1 && break
    base=""
    sleep 0.1
done
if [[ -z $base ]]; then
    echo "sesame serve did not become ready:" >&2
    cat "$work/stdout" "$work/stderr" >&2
    exit 1
fi
echo "sesame serve on $base (memory://, guard off); schemathesis $SCHEMATHESIS_VERSION, $EXAMPLES examples per operation"

seed=()
[[ -n ${FUZZ_SEED:-} ]] && seed=(--seed "$FUZZ_SEED")
status=0
# schemathesis keeps its crash cache (past failures are replayed first) and
# any --report output in its working directory: keep them in the target dir.
mkdir -p "$CARGO_TARGET_DIR/api-fuzz"
(
    cd "$CARGO_TARGET_DIR/api-fuzz"
    SESAME_FUZZ_BASE=$base SESAME_FUZZ_KEY=$key SCHEMATHESIS_HOOKS="$here/scripts/api-fuzz/hooks.py" \
        "$venv/bin/schemathesis" --config-file "$here/scripts/api-fuzz/schemathesis.toml" \
        run "$base/openapi.json" \
        --header "Authorization: Bearer $key" \
        --max-examples "$EXAMPLES" \
        --no-color \
        "${seed[@]}" "$@"
) || status=$?

# A 5xx the fuzzer caused is logged at warn level: show the server's side.
if grep -q . "$work/stderr"; then
    echo "--- sesame serve stderr"
    tail -n 50 "$work/stderr"
fi
exit "$status"
