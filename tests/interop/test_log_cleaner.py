"""The log cleaner with a real client (confluent-kafka): the compacted topic of the
issue (segment.ms=100, segment.bytes=4096, min.cleanable.dirty.ratio=0.01,
delete.retention.ms=100) written with 40 rounds of the same 10 keys keeps only the
last value per key, and a tombstone vanishes, within log.cleaner.backoff.ms plus the
cleaning time after the segments roll. Transaction markers whose transaction's records
are all gone (aborted, or committed and superseded) are stamped, then dropped after
delete.retention.ms: Kafka's kafka-dump-log no longer finds them in the segment files,
and read_committed reads the latest values, also after a restart."""
import glob
import os
import re
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


def dump_batches(data_dir, topic):
    """Every batch of partition 0 as Kafka's kafka-dump-log reads it from Vltava's
    segment files: (base offset, last offset, is control, delete horizon or None).
    None when a file vanished under the read (a cleaning swapped it)."""
    from javatools import run_java

    files = sorted(glob.glob(os.path.join(data_dir, f"{topic}-0", "*.log")))
    assert files, f"no segment files for {topic}"
    r = run_java("kafka.tools.DumpLogSegments", "--files", ",".join(files), check=False)
    if r.returncode != 0:
        return None
    out = []
    for line in r.stdout.splitlines():
        m = re.search(r"baseOffset: (\d+) lastOffset: (\d+) .*isControl: (true|false)", line)
        if m:
            h = re.search(r"deleteHorizonMs: OptionalLong\[(\d+)\]", line)
            out.append((int(m.group(1)), int(m.group(2)), m.group(3) == "true",
                        int(h.group(1)) if h else None))
    return out


def read_committed(bootstrap, topic):
    """Every record of partition 0 a read_committed consumer gets, as (key, value)."""
    c = Consumer({
        "bootstrap.servers": bootstrap,
        "group.id": "g-" + uuid.uuid4().hex[:8],
        "enable.auto.commit": False,
        "enable.partition.eof": True,
        "auto.offset.reset": "earliest",
        "isolation.level": "read_committed",
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
            out.append((m.key(), m.value()))
    finally:
        c.close()
    raise AssertionError("read_committed: no end of partition within 15 s (hanging?)")


def test_transaction_markers_go_after_delete_retention_ms(cleaner_broker, data_dir):
    """A transactional producer writes A (committed, k0..k4), B (aborted), C
    (committed, k0..k4 again: A's records all superseded), D and E (committed). The
    cleaner removes B's records and A's, stamps their markers with a delete horizon,
    and after delete.retention.ms drops them; kafka-dump-log then finds no control
    batch at their offsets while C's, D's and E's stay, and read_committed reads
    exactly the latest values, also after a restart."""
    bootstrap = cleaner_broker.bootstrap
    topic = "txnclean-" + uuid.uuid4().hex[:6]
    create_topic(bootstrap, topic, config=TOPIC_CONFIG)
    p = Producer({"bootstrap.servers": bootstrap, "linger.ms": 0,
                  "transactional.id": "txnclean-" + uuid.uuid4().hex[:6]})
    p.init_transactions(30)

    def txn(records, commit=True):
        p.begin_transaction()
        for k, v in records:
            p.produce(topic, key=k, value=v, partition=0)
        p.flush(10)
        if commit:
            p.commit_transaction(30)
        else:
            p.abort_transaction(30)

    keys = [f"k{i}".encode() for i in range(5)]
    txn([(k, b"a") for k in keys])                                   # 0..4, marker 5
    txn([(k, b"b-aborted") for k in keys] + [(b"k9", b"aborted-only")], commit=False)  # 6..11, 12
    txn([(k, b"c") for k in keys])                                   # 13..17, marker 18
    txn([(b"k5", b"d")])                                             # 19, marker 20
    # Roll the segment (segment.ms) so everything above is cleanable.
    time.sleep(0.3)
    txn([(b"roll", b"e")])                                           # 21, marker 22
    written = time.time()
    removed_markers = {5, 12}
    want = {k: b"c" for k in keys}
    want[b"k5"] = b"d"
    want[b"roll"] = b"e"

    deadline = written + 40
    while True:
        batches = dump_batches(data_dir, topic)
        if batches is not None:
            controls = {b[0] for b in batches if b[2]}
            if not (controls & removed_markers) and {18, 20, 22} <= controls:
                break
        assert time.time() < deadline, f"markers not removed after 40 s: {batches}"
        time.sleep(0.5)
    print(f"markers removed {time.time() - written:.2f} s after the last write")
    # No batch of A or B is left, not even an empty header.
    assert not [b for b in batches if b[0] <= 12], batches

    def check_reads():
        got = read_committed(bootstrap_now[0], topic)
        assert sorted(got) == sorted(want.items()), got
        assert not [v for _, v in got if v in (b"b-aborted", b"aborted-only", b"a")]

    bootstrap_now = [bootstrap]
    check_reads()
    # After a restart the broker serves the same (producer state replayed from the
    # cleaned log: no transaction left open, so read_committed does not hang).
    cleaner_broker.stop()
    after_stop = dump_batches(data_dir, topic)
    assert not ({b[0] for b in after_stop if b[2]} & removed_markers), after_stop
    cleaner_broker.start()
    bootstrap_now[0] = cleaner_broker.bootstrap
    check_reads()
