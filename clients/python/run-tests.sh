#!/usr/bin/env bash
# The Python client's checks: ruff, mypy --strict and pytest, the tests against
# real `sesame serve` processes (memory:// and SQLite) built from this tree.
#
#   clients/python/run-tests.sh               # everything
#   clients/python/run-tests.sh -k flask -x   # extra pytest arguments
#   SESAME_BIN=target/release/sesame clients/python/run-tests.sh   # skip the build
#
# The tools and libraries come from PyPI, pinned (requirements-test.txt), into a
# virtualenv under $CARGO_TARGET_DIR (default target/, like scripts/api-fuzz.sh),
# made once per version of that file; the package itself is installed from this
# folder on every run (as `pip install ./clients/python[...]` would), so the
# tests see what a user installs. Needs python3 (3.11+) with venv.
set -euo pipefail
cd "$(dirname "$0")"
repo=$(cd ../.. && pwd)
target=${CARGO_TARGET_DIR:-target}
[[ $target == /* ]] || target=$repo/$target

venv=$target/python-client-$(sha256sum requirements-test.txt | cut -c1-12)
if [[ ! -e $venv/.complete ]]; then
    echo "installing the Python test tools into $venv"
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q --disable-pip-version-check -r requirements-test.txt
    touch "$venv/.complete"
fi
"$venv/bin/pip" install -q --disable-pip-version-check --no-deps --no-build-isolation --force-reinstall .

# The binary as scripts/test.sh builds it: after the Rust tests (as in CI) this
# is a no-op, where `cargo build -p sesame-server` would build the workspace
# again with other features.
if [[ -z ${SESAME_BIN:-} ]]; then
    (cd "$repo" && cargo test --workspace --locked --no-run -q)
    export SESAME_BIN=$target/debug/sesame
fi

echo "== ruff"
"$venv/bin/ruff" check .
"$venv/bin/ruff" format --check .
echo "== mypy --strict"
"$venv/bin/mypy" --strict
echo "== pytest"
"$venv/bin/pytest" "$@"
