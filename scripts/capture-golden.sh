#!/usr/bin/env bash
# Regenerates testdata/captures: the request frames real Kafka producers
# (confluent-kafka / librdkafka and kafka-python) send to a fake broker,
# plus manifest.json. See tests/capture/capture.py.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
scripts/python-env.sh
.tools/venv/bin/python tests/capture/capture.py --out testdata/captures
