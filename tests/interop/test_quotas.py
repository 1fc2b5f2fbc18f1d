"""Client quotas (issue 14): set and shown by Apache Kafka's own kafka-configs and by `vltava
configs`, stored in the metadata log, and enforced on real clients: a confluent-kafka
(librdkafka) producer held to a producer_byte_rate and a consumer held to a consumer_byte_rate
are measured at that rate (within 20%), with the broker's throttle_time_ms reported to the
client (librdkafka's throttle callback). Each rate is measured over the last 10 s of 16, after
the first quota window has filled."""
import subprocess
import time

import pytest
from confluent_kafka import Consumer, Producer

from conftest import Broker, create_topic, vltava_bin
from javatools import run_java

CONFIGS = "kafka.admin.ConfigCommand"
RATE = 1_048_576  # 1 MiB/s
RUN_SECONDS = 16
MEASURE_FROM = 6


@pytest.fixture(scope="module")
def shared_broker(tmp_path_factory):
    b = Broker(str(tmp_path_factory.mktemp("quotas") / "data")).start()
    try:
        yield b
    finally:
        try:
            b.stop()
        finally:
            b.kill()


def kafka_configs(b, *args):
    return run_java(CONFIGS, "--bootstrap-server", b.bootstrap, *args).stdout


def vltava_configs(b, *args):
    r = subprocess.run([vltava_bin(), "configs", "--bootstrap-server", b.bootstrap, *args],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return r.stdout


def test_kafka_configs_and_vltava_configs_set_and_show_quotas(shared_broker):
    b = shared_broker
    out = kafka_configs(b, "--alter", "--entity-type", "users", "--entity-name", "alice",
                        "--add-config", "producer_byte_rate=20000,consumer_byte_rate=30000")
    assert "Completed updating config for user alice." in out, out
    kafka_configs(b, "--alter", "--entity-type", "users", "--entity-name", "alice",
                  "--entity-type", "clients", "--entity-name", "app",
                  "--add-config", "request_percentage=12.5")
    kafka_configs(b, "--alter", "--entity-type", "clients", "--entity-default",
                  "--add-config", "consumer_byte_rate=15000000")
    out = kafka_configs(b, "--describe", "--entity-type", "users", "--entity-name", "alice")
    assert "Quota configs for user-principal 'alice' are " \
           "consumer_byte_rate=30000.0, producer_byte_rate=20000.0" in out, out
    out = kafka_configs(b, "--describe", "--entity-type", "users", "--entity-name", "alice",
                        "--entity-type", "clients", "--entity-name", "app")
    assert "Quota configs for user-principal 'alice', client-id 'app' are " \
           "request_percentage=12.5" in out, out
    # The same entities, shown by vltava's tool as Kafka's shows them.
    out = vltava_configs(b, "--describe", "--entity-type", "users", "--entity-name", "alice")
    assert out.strip() == ("Quota configs for user-principal 'alice' are "
                           "consumer_byte_rate=30000.0, producer_byte_rate=20000.0"), out
    out = vltava_configs(b, "--describe", "--entity-type", "clients", "--entity-default")
    assert out.strip() == ("Quota configs for client-id '<default>' are "
                           "consumer_byte_rate=1.5E7"), out
    # Removed by vltava's tool, seen gone by Kafka's.
    out = vltava_configs(b, "--alter", "--entity-type", "users", "--entity-name", "alice",
                         "--delete-config", "producer_byte_rate")
    assert "Completed updating config for user alice." in out, out
    out = kafka_configs(b, "--describe", "--entity-type", "users", "--entity-name", "alice")
    assert "are consumer_byte_rate=30000.0" in out and "producer_byte_rate" not in out, out
    # Refused values and keys, with Kafka's tool's error.
    r = run_java(CONFIGS, "--bootstrap-server", b.bootstrap, "--alter", "--entity-type", "users",
                 "--entity-name", "bob", "--add-config", "producer_byte_rate=1.5", check=False)
    assert r.returncode != 0, r.stdout
    for args in (["--entity-name", "alice", "--delete-config", "consumer_byte_rate"],
                 ["--entity-default", "--delete-config", "consumer_byte_rate"]):
        entity = "users" if "alice" in args else "clients"
        vltava_configs(b, "--alter", "--entity-type", entity, *args)
    out = vltava_configs(b, "--alter", "--entity-type", "users", "--entity-name", "alice",
                         "--entity-type", "clients", "--entity-name", "app",
                         "--delete-config", "request_percentage")
    assert vltava_configs(b, "--describe", "--entity-type", "users").strip() == ""


def run_for(seconds, step):
    """Calls step(elapsed) until `seconds` pass."""
    start = time.time()
    while (now := time.time() - start) < seconds:
        step(now)


def test_a_producer_is_held_to_its_byte_rate(shared_broker):
    b = shared_broker
    create_topic(b.bootstrap, "quota-produce")
    vltava_configs(b, "--alter", "--entity-type", "clients", "--entity-name", "slow-producer",
                   "--add-config", f"producer_byte_rate={RATE}")
    throttles = []
    acked = []  # (time, bytes)
    start = time.time()

    def on_delivery(err, msg):
        if err is None:
            acked.append((time.time() - start, len(msg.value())))

    p = Producer({"bootstrap.servers": b.bootstrap, "client.id": "slow-producer",
                  "linger.ms": 5, "queue.buffering.max.kbytes": 4096,
                  "throttle_cb": lambda ev: throttles.append(ev.throttle_time)})
    value = b"x" * 10_000

    def step(_):
        try:
            p.produce("quota-produce", value=value, on_delivery=on_delivery)
        except BufferError:
            p.poll(0.05)
        p.poll(0)

    run_for(RUN_SECONDS, step)
    p.flush(30)
    measured = sum(n for t, n in acked if MEASURE_FROM <= t < RUN_SECONDS)
    rate = measured / (RUN_SECONDS - MEASURE_FROM)
    print(f"producer: {rate:.0f} B/s against {RATE}, {len(throttles)} throttles, "
          f"max {max(throttles, default=0)} ms")
    assert abs(rate - RATE) / RATE < 0.2, f"{rate:.0f} B/s against {RATE}"
    assert throttles and max(throttles) > 0, "no throttle_time_ms reported"


def test_a_consumer_is_held_to_its_byte_rate(shared_broker):
    b = shared_broker
    create_topic(b.bootstrap, "quota-fetch")
    p = Producer({"bootstrap.servers": b.bootstrap, "linger.ms": 20})
    value = b"y" * 10_000
    for _ in range(3_000):  # 30 MB: more than the consumer may read in the run
        while True:
            try:
                p.produce("quota-fetch", value=value)
                break
            except BufferError:
                p.poll(0.05)
    assert p.flush(60) == 0
    vltava_configs(b, "--alter", "--entity-type", "clients", "--entity-name", "slow-consumer",
                   "--add-config", f"consumer_byte_rate={RATE}")
    throttles = []
    c = Consumer({"bootstrap.servers": b.bootstrap, "client.id": "slow-consumer",
                  "group.id": "quota-fetch-group", "auto.offset.reset": "earliest",
                  "enable.auto.commit": False,
                  "throttle_cb": lambda ev: throttles.append(ev.throttle_time)})
    c.subscribe(["quota-fetch"])
    got = []  # (time, bytes)
    start = time.time()

    def step(_):
        m = c.poll(0.2)
        if m is not None and m.error() is None:
            got.append((time.time() - start, len(m.value())))

    run_for(RUN_SECONDS, step)
    c.close()
    measured = sum(n for t, n in got if MEASURE_FROM <= t < RUN_SECONDS)
    rate = measured / (RUN_SECONDS - MEASURE_FROM)
    print(f"consumer: {rate:.0f} B/s against {RATE}, {len(throttles)} throttles, "
          f"max {max(throttles, default=0)} ms")
    assert sum(n for _, n in got) < 30_000_000, "the consumer read everything: no quota held it"
    assert abs(rate - RATE) / RATE < 0.2, f"{rate:.0f} B/s against {RATE}"
    assert throttles and max(throttles) > 0, "no throttle_time_ms reported"
