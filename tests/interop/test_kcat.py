"""kcat 1.7.1 (librdkafka 2.0.2, older than confluent-kafka's) against the broker:
metadata, produce with every codec, keys and headers, consume by offset, tail and
timestamp, a balanced consumer group with committed offsets, records exchanged
with confluent-kafka in both directions, and kcat's transactional producer.

kcat comes from $VLTAVA_KCAT (./test.sh runs scripts/kcat-env.sh and sets it); every
test fails when it is missing."""
import json
import os
import re
import struct
import subprocess
import threading
import time
import uuid

import pytest
from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition

from conftest import Broker, create_topic, vltava_bin

KCAT_TIMEOUT = 60
# Kafka's compression attribute values (RecordBatch attributes & 0x7).
CODEC_IDS = {"none": 0, "gzip": 1, "snappy": 2, "lz4": 3, "zstd": 4}


class Kcat:
    """Runs the kcat binary against one broker; every call is bounded in time."""

    def __init__(self, path, broker):
        self.path = path
        self.broker = broker

    def run(self, *args, input=None, timeout=KCAT_TIMEOUT):
        cmd = [self.path, "-b", self.broker.bootstrap, *args]
        r = subprocess.run(cmd, input=input, capture_output=True, timeout=timeout)
        assert r.returncode == 0, (
            f"{cmd} exited {r.returncode}\nstdout: {r.stdout[-4000:]!r}\n"
            f"stderr: {r.stderr[-4000:]!r}")
        return r.stdout.decode()

    def produce(self, topic, lines, *args):
        """Produces one record per line (`-P` reads stdin until EOF, then flushes)."""
        data = "".join(line + "\n" for line in lines).encode()
        self.run("-P", "-t", topic, *args, input=data)

    def consume(self, topic, *args, fmt="%k|%s|%h|%p|%o\n"):
        """Consumes until the end of every partition (`-e`); returns the formatted lines."""
        out = self.run("-C", "-t", topic, "-e", "-f", fmt, *args)
        return out.splitlines()

    def consume_json(self, topic, *args):
        out = self.run("-C", "-t", topic, "-e", "-J", *args)
        return [json.loads(line) for line in out.splitlines()]


@pytest.fixture
def kcat(broker):
    path = os.environ.get("VLTAVA_KCAT")
    assert path, ("VLTAVA_KCAT is not set: run scripts/kcat-env.sh and export "
                  "VLTAVA_KCAT=$PWD/.tools/kcat/kcat (./test.sh does both)")
    assert os.access(path, os.X_OK), f"VLTAVA_KCAT={path} is not an executable"
    return Kcat(path, broker)


def stored_batches(data_dir, topic, partition):
    """(compression codec, producer id) of every record batch stored for a
    partition, read from its Kafka-layout segment files."""
    pdir = os.path.join(data_dir, f"{topic}-{partition}")
    batches = []
    for name in sorted(f for f in os.listdir(pdir) if f.endswith(".log")):
        with open(os.path.join(pdir, name), "rb") as f:
            buf = f.read()
        pos = 0
        while pos + 61 <= len(buf):
            _base, length = struct.unpack_from(">qi", buf, pos)
            assert buf[pos + 16] == 2, "expected RecordBatch magic 2"
            (attributes,) = struct.unpack_from(">h", buf, pos + 21)
            (producer_id,) = struct.unpack_from(">q", buf, pos + 43)
            batches.append((attributes & 0x7, producer_id))
            pos += 12 + length
        assert pos == len(buf), f"{name}: trailing bytes after the last batch"
    return batches


def confluent_consume(bootstrap, topic, partitions, expected, timeout=30):
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "cc-" + uuid.uuid4().hex[:8],
                  "enable.auto.commit": False, "auto.offset.reset": "earliest"})
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
        # Nothing beyond what was expected arrives.
        extra = c.poll(1.0)
        assert extra is None or extra.error() is not None, "unexpected extra record"
    finally:
        c.close()
    return got


def test_metadata(kcat, broker):
    text = kcat.run("-L")
    assert "1 brokers:" in text
    assert f"broker 1 at {broker.bootstrap} (controller)" in text
    assert "0 topics:" in text

    create_topic(broker.bootstrap, "meta3", partitions=3)
    # Producing to an unknown topic auto-creates it with num.partitions (1).
    kcat.produce("auto1", ["hello"])

    md = json.loads(kcat.run("-L", "-J"))
    assert md["controllerid"] == 1
    assert md["brokers"] == [{"id": 1, "name": broker.bootstrap}]
    assert md["originating_broker"]["id"] == 1
    topics = {t["topic"]: t for t in md["topics"]}
    assert set(topics) == {"meta3", "auto1"}
    for name, count in (("meta3", 3), ("auto1", 1)):
        t = topics[name]
        assert "error" not in t, t
        parts = sorted(t["partitions"], key=lambda p: p["partition"])
        assert [p["partition"] for p in parts] == list(range(count))
        for p in parts:
            assert p["leader"] == 1
            assert p["replicas"] == [{"id": 1}]
            assert p["isrs"] == [{"id": 1}]
            assert "error" not in p, p

    one = kcat.run("-L", "-t", "meta3")
    assert 'topic "meta3" with 3 partitions:' in one
    for p in range(3):
        assert f"partition {p}, leader 1, replicas: 1, isrs: 1" in one
    assert "auto1" not in one


@pytest.mark.parametrize("codec", list(CODEC_IDS))
def test_produce_consume_codec_keys_headers(kcat, broker, codec):
    topic = f"kc-{codec}"
    create_topic(broker.bootstrap, topic, partitions=3)
    per_part = 150
    expected = {}
    for p in range(3):
        # Long repetitive values so every batch compresses (librdkafka sends a batch
        # uncompressed when compression would not make it smaller).
        lines = [(f"key-{p}-{i}", f"value-{p}-{i}-" + codec * 30) for i in range(per_part)]
        expected[p] = lines
        kcat.produce(topic, [f"{k}:{v}" for k, v in lines], "-p", str(p), "-K:", "-z", codec,
                     "-H", f"codec={codec}", "-H", "src=kcat")

    got = kcat.consume(topic, "-o", "beginning")
    assert len(got) == 3 * per_part
    rows = {}
    for line in got:
        k, v, h, p, o = line.split("|")
        rows.setdefault(int(p), []).append((k, v, h, int(o)))
    assert sorted(rows) == [0, 1, 2]
    for p, lines in expected.items():
        assert rows[p] == [(k, v, f"codec={codec},src=kcat", i)
                           for i, (k, v) in enumerate(lines)]

    # The same records as JSON: headers as a flat list, offsets contiguous.
    js = kcat.consume_json(topic, "-o", "beginning", "-p", "1")
    assert [(m["partition"], m["offset"], m["key"], m["payload"], m["headers"]) for m in js] == [
        (1, i, k, v, ["codec", codec, "src", "kcat"]) for i, (k, v) in enumerate(expected[1])]

    # kcat's -z really chose the codec: the broker stored the batches as they came.
    for p in range(3):
        assert {c for c, _ in stored_batches(broker.data_dir, topic, p)} == {CODEC_IDS[codec]}


def test_offsets_tail_absolute_and_by_time(kcat, broker):
    create_topic(broker.bootstrap, "offs")
    p = Producer({"bootstrap.servers": broker.bootstrap, "linger.ms": 0})
    # Recent timestamps: records older than retention.ms (7 days) may be deleted.
    base = int(time.time() * 1000) - 3_600_000
    for i in range(10):
        p.produce("offs", key=f"k{i}".encode(), value=f"v{i}".encode(), timestamp=base + i * 1000)
        assert p.flush(10) == 0

    fmt = "%o|%s|%T\n"

    def offsets(*args):
        lines = kcat.consume("offs", *args, fmt=fmt)
        for line in lines:
            o, v, ts = line.split("|")
            assert v == f"v{o}" and int(ts) == base + int(o) * 1000, line
        return [int(line.split("|")[0]) for line in lines]

    assert offsets("-o", "beginning") == list(range(10))
    assert offsets("-o", "-3") == [7, 8, 9]
    assert offsets("-o", "4") == list(range(4, 10))
    assert offsets("-o", "end") == []
    assert offsets("-o", "beginning", "-c", "3") == [0, 1, 2]
    # ListOffsets by timestamp: the first record with a timestamp >= the given one.
    assert offsets("-o", f"s@{base + 4000}") == list(range(4, 10))
    assert offsets("-o", f"s@{base + 4500}") == list(range(5, 10))
    assert offsets("-o", f"s@{base - 10_000}") == list(range(10))
    assert offsets("-o", f"s@{base + 99_000}") == []
    # A start and an end timestamp (kcat stops at the first record at or after e@).
    lines = kcat.run("-C", "-t", "offs", "-o", f"s@{base + 2000}", "-o", f"e@{base + 5000}",
                     "-f", "%o\n").split()
    assert lines == ["2", "3", "4"]
    # -Q: the offset lookup alone.
    q = json.loads(kcat.run("-Q", "-J", "-t", f"offs:0:{base + 6500}"))
    assert q["offs"]["0"]["offset"] == 7
    assert "offs [0] offset 10" in kcat.run("-Q", "-t", "offs:0:-1")
    assert "offs [0] offset 0" in kcat.run("-Q", "-t", "offs:0:-2")


def group_offsets_tool(broker, group):
    """Committed offsets per (topic, partition) from `vltava consumer-groups --describe`."""
    r = subprocess.run([vltava_bin(), "consumer-groups", "--bootstrap-server", broker.bootstrap,
                        "--describe", "--group", group],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    rows = {}
    for line in r.stdout.splitlines():
        cols = line.split()
        if len(cols) >= 6 and cols[0] == group and cols[2].isdigit():
            # "-" where the group has no committed offset (yet).
            rows[(cols[1], int(cols[2]))] = tuple(None if c == "-" else int(c)
                                                  for c in cols[3:6])
    return rows


def test_balanced_consumer_group_commits(kcat, broker):
    topic = "kgroup"
    create_topic(broker.bootstrap, topic, partitions=3)
    for p in range(3):
        kcat.produce(topic, [f"k{p}-{i}:first-{p}-{i}" for i in range(10)], "-p", str(p), "-K:")

    # No -o: with -G, kcat forces -o on every assignment; without it the committed
    # offsets (or auto.offset.reset when there are none) decide where to start.
    def group_run():
        out = kcat.run("-G", "kg", "-X", "auto.offset.reset=earliest", "-e",
                       "-f", "%p|%o|%k|%s\n", topic, timeout=90)
        return sorted(tuple(line.split("|")) for line in out.splitlines())

    assert group_run() == sorted((str(p), str(i), f"k{p}-{i}", f"first-{p}-{i}")
                                 for p in range(3) for i in range(10))

    c = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "kg"})
    try:
        committed = c.committed([TopicPartition(topic, p) for p in range(3)], timeout=15)
    finally:
        c.close()
    assert [(tp.partition, tp.offset, tp.error) for tp in committed] == \
        [(p, 10, None) for p in range(3)]
    assert group_offsets_tool(broker, "kg") == {(topic, p): (10, 10, 0) for p in range(3)}

    # A second member run resumes from the committed offsets: only the new records.
    for p in range(3):
        kcat.produce(topic, [f"k{p}-{i}:second-{p}-{i}" for i in range(10, 12)], "-p", str(p),
                     "-K:")
    assert group_run() == sorted((str(p), str(i), f"k{p}-{i}", f"second-{p}-{i}")
                                 for p in range(3) for i in range(10, 12))
    assert group_offsets_tool(broker, "kg") == {(topic, p): (12, 12, 0) for p in range(3)}


MEMBER_ID = re.compile(r"\(memberid ([^)]+)\)")


def test_group_member_ids_differ_across_broker_restart(kcat, broker):
    """A kcat member killed with -9 stays in the stored group; after a broker
    restart a new kcat member (same client id `rdkafka`) must get another id and
    resume from the committed offsets."""
    topic = "krestart"
    create_topic(broker.bootstrap, topic)
    kcat.produce(topic, [f"a{i}" for i in range(10)])
    conf = ["-X", "auto.offset.reset=earliest", "-X", "session.timeout.ms=6000",
            "-X", "heartbeat.interval.ms=500", "-X", "auto.commit.interval.ms=100"]

    # -u: unbuffered output, each record is seen as soon as kcat consumes it.
    first = subprocess.Popen([kcat.path, "-b", broker.bootstrap, "-u", "-G", "kr", *conf,
                              "-f", "%o\n", topic],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out, err = [], []
    for stream, sink in ((first.stdout, out), (first.stderr, err)):
        threading.Thread(target=lambda s=stream, k=sink: k.extend(s), daemon=True).start()
    try:
        deadline = time.time() + 60
        while time.time() < deadline:
            if len(out) == 10 and group_offsets_tool(broker, "kr").get((topic, 0), (0,))[0] == 10:
                break
            assert first.poll() is None, "".join(err)
            time.sleep(0.2)
        else:
            raise AssertionError(f"first member: {out} {err}")
    finally:
        first.kill()
        first.wait(10)
    assert [int(o) for o in out] == list(range(10))
    first_ids = MEMBER_ID.findall("".join(err))
    assert len(set(first_ids)) == 1, err

    broker.stop()
    again = Broker(broker.data_dir).start()
    try:
        k2 = Kcat(kcat.path, again)
        k2.produce(topic, [f"b{i}" for i in range(10, 15)])
        r = subprocess.run([kcat.path, "-b", again.bootstrap, "-G", "kr", *conf, "-e",
                            "-f", "%o|%s\n", topic], capture_output=True, text=True, timeout=90)
        assert r.returncode == 0, r.stderr
        assert r.stdout.splitlines() == [f"{i}|b{i}" for i in range(10, 15)]
        second_ids = MEMBER_ID.findall(r.stderr)
        assert second_ids and second_ids[0] != first_ids[0], (first_ids, second_ids)
        assert group_offsets_tool(again, "kr") == {(topic, 0): (15, 15, 0)}
    finally:
        try:
            again.stop()
        finally:
            again.kill()
            print("---- restarted broker log (tail) ----")
            print(again.log()[-8000:])


def test_kcat_to_confluent(kcat, broker):
    topic = "k2c"
    create_topic(broker.bootstrap, topic, partitions=2)
    sent = []
    for p in range(2):
        lines = [f"key{p}-{i}:val{p}-{i}" for i in range(40)] + [f"tomb{p}:"]
        # -Z: an empty value is a null value (a tombstone). Idempotent producer:
        # InitProducerId and sequence numbers as librdkafka 2.0.2 sends them.
        kcat.produce(topic, lines, "-p", str(p), "-K:", "-Z", "-z", "snappy",
                     "-H", "a=1", "-H", "b=two", "-X", "enable.idempotence=true")
        sent += [(p, i, f"key{p}-{i}".encode(), f"val{p}-{i}".encode()) for i in range(40)]
        sent.append((p, 40, f"tomb{p}".encode(), None))
    for p in range(2):
        batches = stored_batches(broker.data_dir, topic, p)
        assert batches and all(c == CODEC_IDS["snappy"] and pid >= 0 for c, pid in batches)
    got = confluent_consume(broker.bootstrap, topic, 2, len(sent))
    assert sorted((m.partition(), m.offset(), m.key(), m.value()) for m in got) == sorted(sent)
    for m in got:
        assert m.headers() == [("a", b"1"), ("b", b"two")]
        assert m.timestamp()[0] == 1  # CreateTime


def test_confluent_to_kcat(kcat, broker):
    topic = "c2k"
    create_topic(broker.bootstrap, topic, partitions=2)
    p = Producer({"bootstrap.servers": broker.bootstrap, "compression.type": "lz4",
                  "linger.ms": 5, "acks": "all"})
    base = int(time.time() * 1000) - 60_000
    sent = []
    for i in range(60):
        part = i % 2
        key = None if i % 10 == 0 else f"ck{i}".encode()
        value = None if i % 15 == 0 else f"cv{i}".encode()
        headers = [("i", str(i).encode()), ("dup", b"x"), ("dup", b"y")]
        p.produce(topic, key=key, value=value, partition=part, headers=headers,
                  timestamp=base + i)
        sent.append((part, key, value, headers, base + i))
    assert p.flush(30) == 0

    js = kcat.consume_json(topic, "-o", "beginning")
    assert len(js) == len(sent)
    for part in range(2):
        mine = [m for m in js if m["partition"] == part]
        want = [s for s in sent if s[0] == part]
        assert [m["offset"] for m in mine] == list(range(len(want)))
        for m, (_, key, value, headers, ts) in zip(mine, want):
            assert m["topic"] == topic
            assert m["key"] == (key.decode() if key is not None else None)
            assert m["payload"] == (value.decode() if value is not None else None)
            assert m["headers"] == [x for k, v in headers for x in (k, v.decode())]
            assert (m["tstype"], m["ts"]) == ("create", ts)


def test_transactional_kcat_producer(kcat, broker):
    """kcat's `-X transactional.id` sends stdin in one transaction, committed at
    EOF; read_committed readers see it, not a transaction aborted by
    confluent-kafka, which read_uncommitted readers do see."""

    create_topic(broker.bootstrap, "ktx")
    kcat.produce("ktx", [f"k{i}:committed-{i}" for i in range(5)], "-K", ":",
                 "-X", "transactional.id=kcat-" + uuid.uuid4().hex[:6])
    p = Producer({"bootstrap.servers": broker.bootstrap,
                  "transactional.id": "ktx-abort-" + uuid.uuid4().hex[:6]})
    p.init_transactions(30)
    p.begin_transaction()
    for i in range(3):
        p.produce("ktx", key=b"a%d" % i, value=b"aborted-%d" % i)
    p.flush(30)
    p.abort_transaction(30)
    kcat.produce("ktx", ["k9:last"], "-K", ":",
                 "-X", "transactional.id=kcat-" + uuid.uuid4().hex[:6])
    committed = kcat.consume("ktx", "-X", "isolation.level=read_committed", fmt="%s\n")
    assert committed == [f"committed-{i}" for i in range(5)] + ["last"]
    everything = kcat.consume("ktx", "-X", "isolation.level=read_uncommitted", fmt="%s\n")
    assert sorted(everything) == sorted(committed + [f"aborted-{i}" for i in range(3)])
    # On disk: transactional data batches (attribute bit 4) of one producer per
    # transaction, and one control batch (bit 5) ending each transaction.
    pdir_batches = []
    pdir = os.path.join(broker.data_dir, "ktx-0")
    for name in sorted(f for f in os.listdir(pdir) if f.endswith(".log")):
        with open(os.path.join(pdir, name), "rb") as f:
            buf = f.read()
        pos = 0
        while pos + 61 <= len(buf):
            _base, length = struct.unpack_from(">qi", buf, pos)
            (attributes,) = struct.unpack_from(">h", buf, pos + 21)
            pdir_batches.append(attributes)
            pos += 12 + length
    assert all(a & 0x10 for a in pdir_batches), pdir_batches
    assert sum(1 for a in pdir_batches if a & 0x20) == 3, pdir_batches
