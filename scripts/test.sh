#!/usr/bin/env bash
# The test command: every crate's tests. Tests that need a service (PostgreSQL,
# MariaDB, Redis, Redis Cluster, Memcached) read its URL from SESAME_TEST_*_URL;
# unset, they say so on stderr and pass, unless SESAME_REQUIRE_SERVICES=1.
set -euo pipefail
cd "$(dirname "$0")/.."
exec cargo test --workspace --locked "$@"
