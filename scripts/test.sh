#!/usr/bin/env bash
# The test command: every crate's tests, then the client libraries' tests
# (clients/*/run-tests.sh) against the binary those built. Tests that need a service (PostgreSQL,
# MariaDB, Redis, Redis Cluster, Memcached) read its URL from SESAME_TEST_*_URL;
# unset, they say so on stderr and pass, unless SESAME_REQUIRE_SERVICES=1.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --workspace --locked "$@"
# The whole run only (arguments select cargo tests): Node 20+ and npm.
[ $# -gt 0 ] || clients/node/run-tests.sh
# Python 3.11+ with venv (packages from PyPI into target/).
[ $# -gt 0 ] || clients/python/run-tests.sh
