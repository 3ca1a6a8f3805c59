#!/usr/bin/env bash
# Coverage-guided fuzzing of sesame's parsers: cargo fuzz (libFuzzer) targets in fuzz/.
#
#   scripts/fuzz.sh                        # build, then every target for FUZZ_SECS (default 15) s
#   scripts/fuzz.sh cookie_header api_json # only these targets
#   FUZZ_SECS=600 nice -n 10 scripts/fuzz.sh token_parse   # a long run (docs/SECURITY.md)
#   scripts/fuzz.sh --list                 # the targets
#
# cargo fuzz passes nightly-only flags to rustc (-Zsanitizer=address, the sanitizer-coverage
# passes). The machines have only the stable toolchain and none can be fetched, so this script
# sets RUSTC_BOOTSTRAP=1, which makes stable rustc and cargo accept them (the sanitizer runtimes
# ship with stable's rust-std). Installs cargo-fuzz (pinned) when it is missing.
#
# Each target runs on a working corpus fuzz/corpus/<target> (git-ignored, kept between runs)
# plus the committed seeds fuzz/seeds/<target>. A crash stops the run, prints libFuzzer's report
# and the reproducer's path (fuzz/artifacts/<target>/crash-...), and exits non-zero.
# Environment: FUZZ_SECS (per target), FUZZ_MAX_LEN (bytes per input, default 4096),
# FUZZ_SANITIZER (address | none, default address), FUZZ_LOG_DIR (default target/fuzz-logs).
set -euo pipefail
cd "$(dirname "$0")/.."

CARGO_FUZZ_VERSION=0.13.2
ALL=(cookie_header fernet_open token_parse memcached_reply redis_session api_json)

if [[ "${1:-}" == "--list" ]]; then
    printf '%s\n' "${ALL[@]}"
    exit 0
fi
targets=("$@")
[[ ${#targets[@]} -gt 0 ]] || targets=("${ALL[@]}")
for t in "${targets[@]}"; do
    [[ " ${ALL[*]} " == *" $t "* ]] || { echo "fuzz.sh: no target $t (--list)" >&2; exit 2; }
done

secs=${FUZZ_SECS:-15}
max_len=${FUZZ_MAX_LEN:-4096}
sanitizer=${FUZZ_SANITIZER:-address}
log_dir=${FUZZ_LOG_DIR:-target/fuzz-logs}
mkdir -p "$log_dir"

export RUSTC_BOOTSTRAP=1
if ! cargo fuzz --version 2>/dev/null | grep -qF "$CARGO_FUZZ_VERSION"; then
    echo "fuzz.sh: installing cargo-fuzz $CARGO_FUZZ_VERSION"
    cargo install cargo-fuzz --version "$CARGO_FUZZ_VERSION" --locked
fi

# The workspace's `cargo fmt --check` does not see this crate.
cargo fmt --manifest-path fuzz/Cargo.toml -- --check

build_started=$(date +%s)
# One cargo build for every target (they share their dependencies).
cargo fuzz build --sanitizer "$sanitizer"
echo "fuzz.sh: built in $(( $(date +%s) - build_started )) s"

failed=()
for t in "${targets[@]}"; do
    corpus=fuzz/corpus/$t
    mkdir -p "$corpus"
    log=$log_dir/$t.log
    started=$(date +%s)
    if cargo fuzz run --sanitizer "$sanitizer" "$t" "$corpus" "fuzz/seeds/$t" -- \
        -max_total_time="$secs" -max_len="$max_len" -print_final_stats=1 >"$log" 2>&1; then
        status=ok
    else
        status=FAILED
        failed+=("$t")
    fi
    # The last status line has the final coverage ("#N DONE cov: C ft: F corp: ...").
    last=$(grep -E '^#[0-9]+' "$log" | tail -n 1 || true)
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
    rss=$(sed -n 's/^stat::peak_rss_mb: *//p' "$log")
    printf 'fuzz %-16s %-6s %4ss  execs %s (%s/s)  %s  rss %s MB\n' "$t" "$status" \
        "$(( $(date +%s) - started ))" "${execs:-?}" "${rate:-?}" \
        "$(sed -E 's/^#[0-9]+ +[A-Z]+ +//; s/ +(lim|exec\/s|rss):.*//' <<<"$last")" "${rss:-?}"
    if [[ $status != ok ]]; then
        echo "---- $log (tail) ----"
        tail -n 60 "$log"
        echo "----"
    fi
done

if [[ ${#failed[@]} -gt 0 ]]; then
    echo "fuzz.sh: FAILED: ${failed[*]} (reproduce: RUSTC_BOOTSTRAP=1 cargo fuzz run <target> fuzz/artifacts/<target>/<file>)" >&2
    exit 1
fi
echo "fuzz.sh: ${#targets[@]} targets, ${secs} s each, no crash"
