"""confluent-kafka (librdkafka) against the broker: produce and consume with
every codec, offsets by time, admin operations."""
import time
import uuid

import pytest
from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition
from confluent_kafka.admin import AdminClient

from conftest import create_topic

CODECS = ["none", "gzip", "snappy", "lz4", "zstd"]


def consume_all(bootstrap, topic, partitions, expected, timeout=30, extra=None):
    conf = {
        "bootstrap.servers": bootstrap,
        "group.id": "g-" + uuid.uuid4().hex[:8],
        "enable.auto.commit": False,
        "auto.offset.reset": "earliest",
    }
    conf.update(extra or {})
    c = Consumer(conf)
    c.assign([TopicPartition(topic, p, 0) for p in range(partitions)])
    got = []
    deadline = time.time() + timeout
    try:
        while len(got) < expected and time.time() < deadline:
            m = c.poll(0.5)
            if m is None:
                continue
            if m.error():
                if m.error().code() == KafkaError._PARTITION_EOF:
                    continue
                raise AssertionError(m.error())
            got.append(m)
    finally:
        c.close()
    return got


@pytest.mark.parametrize("codec", CODECS)
def test_produce_consume_every_codec(broker, codec):
    topic = f"codec-{codec}"
    create_topic(broker.bootstrap, topic, partitions=3)
    p = Producer({"bootstrap.servers": broker.bootstrap, "compression.type": codec,
                  "linger.ms": 5, "acks": "all"})
    delivered = []
    for i in range(300):
        p.produce(topic, key=f"k{i}".encode(), value=f"value-{i}".encode() * 10,
                  headers=[("h", b"x")], partition=i % 3,
                  on_delivery=lambda e, m: delivered.append((e, m)))
    assert p.flush(30) == 0
    assert len(delivered) == 300
    assert all(e is None for e, _ in delivered), [e for e, _ in delivered if e][:3]
    got = consume_all(broker.bootstrap, topic, 3, 300)
    assert len(got) == 300
    values = sorted(m.value() for m in got)
    assert values == sorted(f"value-{i}".encode() * 10 for i in range(300))
    per_part = {}
    for m in got:
        per_part.setdefault(m.partition(), []).append(m.offset())
        assert m.headers() == [("h", b"x")]
    for offs in per_part.values():
        assert offs == list(range(len(offs)))


def test_acks_zero_and_one(broker):
    create_topic(broker.bootstrap, "acks")
    for acks in ("0", "1"):
        p = Producer({"bootstrap.servers": broker.bootstrap, "acks": acks})
        for i in range(50):
            p.produce("acks", value=f"{acks}-{i}".encode())
        assert p.flush(30) == 0
    got = consume_all(broker.bootstrap, "acks", 1, 100)
    assert len(got) == 100


def test_list_offsets_and_times(broker):
    create_topic(broker.bootstrap, "times")
    p = Producer({"bootstrap.servers": broker.bootstrap})
    # Recent timestamps: records older than retention.ms (7 days) may be deleted.
    base = int(time.time() * 1000) - 3_600_000
    for i in range(10):
        p.produce("times", value=b"v", timestamp=base + i * 1000)
        p.flush(10)
    c = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "lo"})
    try:
        lo, hi = c.get_watermark_offsets(TopicPartition("times", 0), timeout=10)
        assert (lo, hi) == (0, 10)
        found = c.offsets_for_times([TopicPartition("times", 0, base + 4500)], timeout=10)
        assert found[0].offset == 5
        found = c.offsets_for_times([TopicPartition("times", 0, base + 99_000)], timeout=10)
        assert found[0].offset in (-1, 10)
    finally:
        c.close()


def test_message_too_large_is_rejected(broker):
    create_topic(broker.bootstrap, "big", config={"max.message.bytes": "2000"})
    p = Producer({"bootstrap.servers": broker.bootstrap, "message.max.bytes": 100000})
    errs = []
    p.produce("big", value=b"x" * 50000, on_delivery=lambda e, m: errs.append(e))
    p.flush(30)
    assert errs and errs[0] is not None
    assert errs[0].code() == KafkaError.MSG_SIZE_TOO_LARGE


def test_unknown_topic_with_auto_create_off(data_dir):
    from conftest import Broker
    b = Broker(data_dir, ["auto.create.topics.enable=false"]).start()
    try:
        admin = AdminClient({"bootstrap.servers": b.bootstrap})
        md = admin.list_topics("nope", timeout=10)
        assert md.topics["nope"].error is not None
    finally:
        b.stop()
