"""The log cleaner with a real client (confluent-kafka): the compacted topic of the
issue (segment.ms=100, segment.bytes=4096, min.cleanable.dirty.ratio=0.01,
delete.retention.ms=100) written with 40 rounds of the same 10 keys keeps only the
last value per key, and a tombstone vanishes, within log.cleaner.backoff.ms plus the
cleaning time after the segments roll."""
import time
import uuid

import pytest
from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, ConfigResource

from conftest import Broker, create_topic

BACKOFF_MS = 200
TOPIC_CONFIG = {
    "cleanup.policy": "compact",
    "segment.ms": "100",
    "segment.bytes": "4096",
    "min.cleanable.dirty.ratio": "0.01",
    "delete.retention.ms": "100",
}


@pytest.fixture
def cleaner_broker(data_dir):
    b = Broker(data_dir, [f"log.cleaner.backoff.ms={BACKOFF_MS}"]).start()
    try:
        yield b
    finally:
        try:
            b.stop()
        finally:
            b.kill()
            print("---- broker log (tail) ----")
            print(b.log()[-8000:])


def read_partition(bootstrap, topic):
    """Every record of partition 0 as (offset, key, value), read up to the end."""
    c = Consumer({
        "bootstrap.servers": bootstrap,
        "group.id": "g-" + uuid.uuid4().hex[:8],
        "enable.auto.commit": False,
        "enable.partition.eof": True,
        "auto.offset.reset": "earliest",
    })
    c.assign([TopicPartition(topic, 0, 0)])
    out = []
    deadline = time.time() + 15
    try:
        while time.time() < deadline:
            m = c.poll(0.5)
            if m is None:
                continue
            if m.error():
                if m.error().code() == KafkaError._PARTITION_EOF:
                    return out
                raise AssertionError(m.error())
            out.append((m.offset(), m.key(), m.value()))
    finally:
        c.close()
    raise AssertionError("no end of partition within 15 s")


def test_compacted_topic_keeps_the_last_value_per_key(cleaner_broker):
    bootstrap = cleaner_broker.bootstrap
    topic = "cleaned-" + uuid.uuid4().hex[:6]
    create_topic(bootstrap, topic, config=TOPIC_CONFIG)
    p = Producer({"bootstrap.servers": bootstrap, "linger.ms": 0})
    for r in range(40):
        for k in range(10):
            p.produce(topic, key=f"k{k}".encode(), value=f"{r}".encode(), partition=0)
        p.flush(10)
        time.sleep(0.01)
    # A tombstone for k0.
    p.produce(topic, key=b"k0", value=None, partition=0)
    p.flush(10)
    # The active segment is never cleaned: roll it (segment.ms) with one more record.
    time.sleep(0.3)
    p.produce(topic, key=b"roll", value=b"x", partition=0)
    p.flush(10)
    rolled = time.time()

    want = {f"k{k}".encode(): b"39" for k in range(1, 10)}
    want[b"roll"] = b"x"
    deadline = rolled + 20
    while True:
        recs = read_partition(bootstrap, topic)
        got = {}
        for _, k, v in recs:
            got.setdefault(k, []).append(v)
        if all(len(vs) == 1 for vs in got.values()) and {k: vs[0] for k, vs in got.items()} == want:
            break
        assert time.time() < deadline, f"not compacted after 20 s: {len(recs)} records: {recs[:20]}"
        time.sleep(0.2)
    took = time.time() - rolled
    print(f"compacted {len(recs)} records left, {took:.2f} s after the roll")
    # Offsets never change: each survivor is at the offset it was written at.
    offsets = {k: o for o, k, _ in recs}
    assert offsets[b"k9"] == 399 and offsets[b"roll"] == 401
    # Within the cleaner's backoff plus the cleaning (generous for a loaded machine).
    assert took < BACKOFF_MS / 1000 + 10


def test_cleaner_topic_configs_are_described(cleaner_broker):
    bootstrap = cleaner_broker.bootstrap
    topic = "described-" + uuid.uuid4().hex[:6]
    create_topic(bootstrap, topic, config=dict(TOPIC_CONFIG, **{"max.compaction.lag.ms": "60000"}))
    admin = AdminClient({"bootstrap.servers": bootstrap})
    res = ConfigResource(ConfigResource.Type.TOPIC, topic)
    configs = admin.describe_configs([res])[res].result(timeout=15)
    assert configs["min.cleanable.dirty.ratio"].value == "0.01"
    assert configs["max.compaction.lag.ms"].value == "60000"
    assert configs["delete.retention.ms"].value == "100"
