"""The rules a broker applies to what clients write (issue 18), seen by real clients: records
without a key on a compacted topic fail one by one (KIP-467 record errors: librdkafka fails
the keyless records with INVALID_RECORD and their batch mates with _INVALID_DIFFERENT_RECORD),
an illegal topic name fails at once with TOPIC_EXCEPTION instead of timing out, record
timestamps outside `message.timestamp.{before,after}.max.ms` are refused, a topic's
`compression.type` decides the codec batches are stored with (read back by Kafka's own
kafka-dump-log), and clients may not write to `__consumer_offsets`. The raw frames of the
same rules are compared with Apache Kafka's answers by test_differential.py (`validation`).
"""
import glob
import os
import time

import pytest
from confluent_kafka import KafkaError, Producer

from conftest import create_topic


def deliveries(bootstrap, topic, messages, **conf):
    """Produces `messages` (key, value, timestamp) to partition 0 of `topic` as one batch
    and returns each message's delivery error code (None when delivered), in order."""
    results = {}
    p = Producer({"bootstrap.servers": bootstrap, "linger.ms": 200, "batch.num.messages": 10000,
                  "message.timeout.ms": 20000, **conf})

    def report(i):
        return lambda err, _msg: results.__setitem__(i, err.code() if err else None)

    for i, (key, value, ts) in enumerate(messages):
        p.produce(topic, value=value, key=key, partition=0, timestamp=ts or 0,
                  on_delivery=report(i))
    assert p.flush(30) == 0
    return [results[i] for i in range(len(messages))]


def test_keyless_records_on_a_compacted_topic_fail_one_by_one(broker):
    create_topic(broker.bootstrap, "rules-compact", config={"cleanup.policy": "compact"})
    messages = [(None if i % 10 == 0 else f"k{i}".encode(), f"v{i}".encode(), None)
                for i in range(100)]
    codes = deliveries(broker.bootstrap, "rules-compact", messages)
    assert codes.count(KafkaError.INVALID_RECORD) == 10, codes
    assert codes.count(KafkaError._INVALID_DIFFERENT_RECORD) == 90, codes
    assert all(codes[i] == KafkaError.INVALID_RECORD for i in range(0, 100, 10))
    # One record per batch: only the keyless ones fail.
    codes = deliveries(broker.bootstrap, "rules-compact", messages, **{"batch.size": 1})
    assert codes.count(KafkaError.INVALID_RECORD) == 10, codes
    assert codes.count(None) == 90, codes


def test_keyless_records_refused_for_kafka_python(broker):
    from kafka import KafkaProducer
    from kafka.errors import InvalidRecordError

    create_topic(broker.bootstrap, "rules-compact-kp", config={"cleanup.policy": "compact"})
    p = KafkaProducer(bootstrap_servers=broker.bootstrap, retries=0)
    try:
        with pytest.raises(InvalidRecordError):
            p.send("rules-compact-kp", value=b"no key", partition=0).get(timeout=20)
        assert p.send("rules-compact-kp", key=b"k", value=b"v", partition=0).get(timeout=20)
    finally:
        p.close()


def test_an_illegal_topic_name_fails_at_once(broker):
    p = Producer({"bootstrap.servers": broker.bootstrap, "message.timeout.ms": 30000})
    errors = []
    start = time.time()
    for partition in (-1, 0, 1):
        p.produce("rules-illegal$#!", b"bad", partition=partition,
                  on_delivery=lambda err, _m: errors.append(err.code() if err else None))
    p.produce("rules-legal", b"good", on_delivery=lambda err, _m: errors.append(
        ("good", err.code() if err else None)))
    assert p.flush(25) == 0
    took = time.time() - start
    assert errors.count(KafkaError.TOPIC_EXCEPTION) == 3, errors
    assert ("good", None) in errors, errors
    assert took < 10, f"the illegal name's records took {took:.1f} s to fail"


def test_timestamps_outside_the_topic_bounds_are_refused(broker):
    hour = 3_600_000
    create_topic(broker.bootstrap, "rules-timestamps",
                 config={"message.timestamp.before.max.ms": str(hour),
                         "message.timestamp.after.max.ms": str(hour)})
    now = int(time.time() * 1000)
    codes = deliveries(broker.bootstrap, "rules-timestamps",
                       [(b"a", b"old", now - 2 * hour)], **{"batch.size": 1})
    codes += deliveries(broker.bootstrap, "rules-timestamps",
                        [(b"b", b"new", now + 2 * hour)], **{"batch.size": 1})
    codes += deliveries(broker.bootstrap, "rules-timestamps",
                        [(b"c", b"now", now)], **{"batch.size": 1})
    assert codes == [KafkaError.INVALID_TIMESTAMP, KafkaError.INVALID_TIMESTAMP, None]
    # Kafka 4's defaults: any age, at most an hour ahead.
    create_topic(broker.bootstrap, "rules-timestamps-default")
    codes = deliveries(broker.bootstrap, "rules-timestamps-default",
                       [(b"a", b"old", 1_000_000_000_000)], **{"batch.size": 1})
    codes += deliveries(broker.bootstrap, "rules-timestamps-default",
                        [(b"b", b"new", now + 2 * hour)], **{"batch.size": 1})
    assert codes == [None, KafkaError.INVALID_TIMESTAMP]


def dumped_codecs(data_dir, partition_dir):
    """The codecs of the batches in a partition's segments, as Kafka's kafka-dump-log reads
    them from the files Vltava wrote."""
    from javatools import run_java

    files = sorted(glob.glob(os.path.join(data_dir, partition_dir, "*.log")))
    assert files, f"no segment files in {partition_dir}"
    out = run_java("kafka.tools.DumpLogSegments", "--files", ",".join(files)).stdout
    return [line.split("compresscodec: ")[1].split()[0]
            for line in out.splitlines() if "compresscodec: " in line]


def test_the_topic_compression_type_decides_the_stored_codec(broker, data_dir):
    create_topic(broker.bootstrap, "rules-gzip", config={"compression.type": "gzip"})
    create_topic(broker.bootstrap, "rules-uncompressed",
                 config={"compression.type": "uncompressed"})
    msgs = [(f"k{i}".encode(), b"x" * 100, None) for i in range(50)]
    assert deliveries(broker.bootstrap, "rules-gzip", msgs, **{"compression.type": "none"}) \
        == [None] * 50
    assert deliveries(broker.bootstrap, "rules-gzip", msgs, **{"compression.type": "lz4"}) \
        == [None] * 50
    assert deliveries(broker.bootstrap, "rules-uncompressed", msgs,
                      **{"compression.type": "zstd"}) == [None] * 50
    from confluent_kafka import Consumer
    for topic in ("rules-gzip", "rules-uncompressed"):
        c = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": f"g-{topic}",
                      "auto.offset.reset": "earliest"})
        c.subscribe([topic])
        got = []
        deadline = time.time() + 30
        while len(got) < (100 if topic == "rules-gzip" else 50) and time.time() < deadline:
            m = c.poll(0.5)
            if m is not None and m.error() is None:
                got.append(m.key())
        c.close()
        assert got[:50] == [k for k, _, _ in msgs], topic
    assert set(dumped_codecs(data_dir, "rules-gzip-0")) == {"gzip"}
    assert set(dumped_codecs(data_dir, "rules-uncompressed-0")) == {"none"}


def test_clients_may_not_write_to_the_offsets_topic(broker):
    from confluent_kafka import Consumer, TopicPartition

    create_topic(broker.bootstrap, "rules-plain")
    c = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "rules-g"})
    c.commit(offsets=[TopicPartition("rules-plain", 0, 1)], asynchronous=False)
    c.close()
    codes = deliveries(broker.bootstrap, "__consumer_offsets", [(b"k", b"v", None)])
    assert codes == [KafkaError.TOPIC_EXCEPTION]
