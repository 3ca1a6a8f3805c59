#!/usr/bin/env bash
# The test command: every crate's tests, then the client libraries' tests
# (clients/*/run-tests.sh) against the binary those built.
#
#   scripts/test.sh                  # everything this machine can run
#   scripts/test.sh -p sesame-sql    # arguments go to `cargo test` (and skip the clients)
#
# Tests that need a service (PostgreSQL, MariaDB, Redis, Redis Cluster,
# Memcached, Chromium) read where it is from SESAME_TEST_*. For each one that is
# unset, this script first looks for the service where DEVELOPERS.md says it
# usually is (PostgreSQL and MariaDB on their loopback ports, Redis and
# Memcached answering PING / version, /usr/bin/chromium with chromedriver) and
# uses it when it answers. A test whose service is still missing returns
# without running and records why in target/test-skips.txt
# (sesame::testing::skip); at the end this script lists every suite and test
# that did not run, and why, so a green run says what it did not cover.
# With SESAME_REQUIRE_SERVICES=1 (CI) nothing is skipped: a missing service
# fails its tests.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
target=${CARGO_TARGET_DIR:-target}
[[ $target == /* ]] || target=$root/$target
mkdir -p "$target"
export SESAME_SKIP_LOG=$target/test-skips.txt
: >"$SESAME_SKIP_LOG"
require=${SESAME_REQUIRE_SERVICES:-0}
not_run=()

# Whether something answers on 127.0.0.1:$1; with $2, whether the first
# line it answers to $2 starts with $3. One second at most.
answers() {
    local port=$1 send=${2:-} expect=${3:-}
    timeout 1 bash -c '
        exec 3<>"/dev/tcp/127.0.0.1/$0" || exit 1
        [[ -z $1 ]] && exit 0
        printf "%b" "$1" >&3
        IFS= read -r line <&3 || exit 1
        [[ $line == "$2"* ]]' "$port" "$send" "$expect" 2>/dev/null
}

# find VAR URL CHECK...: sets VAR to URL when VAR is unset and CHECK succeeds.
find_service() {
    local var=$1 url=$2
    shift 2
    [[ -n ${!var:-} ]] && return 0
    if "$@"; then
        export "$var=$url"
        echo "found $var=$url"
    fi
}
find_service SESAME_TEST_POSTGRES_URL postgres://postgres@127.0.0.1:5432/test answers 5432
find_service SESAME_TEST_MYSQL_URL mysql://root@127.0.0.1:3306/test answers 3306
find_service SESAME_TEST_REDIS_URL redis://127.0.0.1:6379 answers 6379 'PING\r\n' '+PONG'
find_service SESAME_TEST_MEMCACHED_URL memcache://127.0.0.1:11211 answers 11211 'version\r\n' 'VERSION'
chromium_with_driver() {
    [[ -x /usr/bin/chromium ]] && [[ -x ${SESAME_TEST_CHROMEDRIVER:-/usr/bin/chromedriver} ]]
}
find_service SESAME_TEST_CHROMIUM /usr/bin/chromium chromium_with_driver

cargo test --workspace --locked "$@"

# The client suites: the whole run only (arguments select cargo tests). Each
# needs its language; without it (and outside CI) the suite is listed as not run.
if [[ $# -eq 0 ]]; then
    node_ok() { command -v npm >/dev/null && node -e 'process.exit(+process.versions.node.split(".")[0] < 20)' 2>/dev/null; }
    python_ok() { python3 -c 'import sys, venv; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; }
    if [[ $require == 1 ]] || node_ok; then
        clients/node/run-tests.sh
    else
        not_run+=("clients/node (run-tests.sh): needs Node.js 20+ and npm (scripts/ci-packages.sh installs them)")
    fi
    if [[ $require == 1 ]] || python_ok; then
        clients/python/run-tests.sh
    else
        not_run+=("clients/python (run-tests.sh): needs python3 3.11+ with venv")
    fi
fi

# What did not run, and why: one line per test binary and reason.
mapfile -t skipped < <(awk '
    { binary = $1; rest = substr($0, length($1) + 2); i = index(rest, ": ")
      key = binary ": " substr(rest, i + 2); n[key]++ }
    END { for (k in n) { split(k, p, ": "); printf "%s (%d test%s): %s\n", p[1], n[k], (n[k] > 1 ? "s" : ""), substr(k, length(p[1]) + 3) } }
' "$SESAME_SKIP_LOG" | sort)
echo
if [[ ${#skipped[@]} -eq 0 && ${#not_run[@]} -eq 0 ]]; then
    echo "scripts/test.sh: every suite ran."
else
    echo "scripts/test.sh: NOT RUN on this machine (these passed without running):"
    for line in "${not_run[@]}" "${skipped[@]}"; do
        echo "  - $line"
    done
    echo "The tests' names are in $SESAME_SKIP_LOG. Set the SESAME_TEST_* variables of"
    echo "DEVELOPERS.md (or start the services) to run them."
fi
