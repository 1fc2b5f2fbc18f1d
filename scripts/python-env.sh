#!/usr/bin/env bash
# Creates .tools/venv with the real Kafka clients and tools the tests drive.
# Idempotent: re-running only installs what the requirements file adds.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
venv="$root/.tools/venv"
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
stamp="$venv/.requirements.sha"
want="$(sha256sum "$root/tests/requirements.txt" | cut -d' ' -f1)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$root/tests/requirements.txt"
    echo "$want" > "$stamp"
fi
