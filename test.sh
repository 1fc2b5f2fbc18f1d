#!/usr/bin/env bash
# The whole test suite. Installs what the tests need (Python clients into .tools/),
# then runs every crate's tests, doc tests and the committed fuzz corpora.
set -euo pipefail
root="$(cd "$(dirname "$0")" && pwd)"
cd "$root"
scripts/python-env.sh
export VLTAVA_PYTHON="$root/.tools/venv/bin/python"
if cargo nextest --version >/dev/null 2>&1; then
    cargo nextest run --workspace --no-fail-fast
else
    cargo test --workspace --no-fail-fast --lib --bins --tests --examples
fi
cargo test --workspace --doc --quiet
