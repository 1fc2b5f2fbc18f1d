#!/usr/bin/env bash
# The whole test suite. Installs what the tests need (Python clients, kcat and the
# Java client, Kafka's tools and broker into .tools/,
# kafkajs into tests/interop/node/node_modules), then runs every crate's tests, doc
# tests, the committed fuzz corpora, and the broker interop suite with real clients.
set -euo pipefail
root="$(cd "$(dirname "$0")" && pwd)"
cd "$root"
scripts/python-env.sh
export VLTAVA_PYTHON="$root/.tools/venv/bin/python"
scripts/kcat-env.sh
export VLTAVA_KCAT="$root/.tools/kcat/kcat"
# The Java client, Kafka's own tools and broker (Maven Central, cached in .tools/).
scripts/java-env.sh
export VLTAVA_JAVA_TOOLS="$root/.tools/java"
# The Go clients (franz-go, sarama, kafka-go) in one program (Go module proxy, cached in .tools/go).
scripts/go-env.sh
export VLTAVA_GO_CLIENTS="$root/.tools/go/goclients"
# librdkafka 2.12.1 built from the rdkafka-sys crate's source (static.crates.io, cached in
# .tools/librdkafka): its broker test suite and the rdkafka_performance tool.
scripts/librdkafka-env.sh
export VLTAVA_LIBRDKAFKA_TESTS="$root/.tools/librdkafka/current/librdkafka/tests"
export VLTAVA_RDKAFKA_PERFORMANCE="$root/.tools/librdkafka/current/librdkafka/examples/rdkafka_performance"
if cargo nextest --version >/dev/null 2>&1; then
    cargo nextest run --workspace --no-fail-fast
else
    cargo test --workspace --no-fail-fast --lib --bins --tests --examples
fi
cargo test --workspace --doc --quiet
# Interop: the real broker binary driven by confluent-kafka, kafka-python, aiokafka, kafkajs and kcat.
cargo build --quiet -p vltava-broker --bin vltava
export VLTAVA_BIN="$root/target/debug/vltava"
# Faults: three nodes under ~20 kill -9 / SIGSTOP / SIGTERM faults with vltava-client and
# confluent-kafka workloads (queue, consumer groups, transactions), the history checked (~90 s).
timeout 300 cargo run --quiet -p vltava-faults -- --short
if [ -f tests/interop/node/package.json ]; then
    (cd tests/interop/node && npm ci --no-audit --no-fund --loglevel=error)
fi
# The Java suites (test_java_client.py against Vltava and Apache Kafka, test_kafka_tools.py,
# test_kafka_streams.py against both) add about 3 minutes, the Go suite (test_go_clients.py,
# both brokers) about 1.5, librdkafka's own test suite (test_librdkafka_suite.py) about 6.
(cd tests/interop && timeout 2200 "$VLTAVA_PYTHON" -m pytest -q -p no:warnings -p no:cacheprovider)
