"""MirrorMaker 2 (Kafka's connect-mirror 4.x, dedicated mode: org.apache.kafka.connect.mirror
.MirrorMaker) between two Vltava brokers (issue 13): it copies a topic from cluster A to B as
`A.<topic>` (records, keys and order per partition) and translates a consumer group's
committed offsets into B (checkpoints, sync.group.offsets.enabled). MirrorMaker runs its own
Connect workers against both brokers: compacted internal topics (configs, offsets, status),
the Connect group protocol, offset syncs, heartbeats and checkpoints topics, topic config and
partition sync."""
import os
import subprocess
import time

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient

from conftest import Broker, create_topic
from javatools import java_cmd

TOPIC = "orders"
GROUP = "orders-app"
RECORDS = 300
PARTITIONS = 3
DEADLINE = 240


@pytest.fixture
def two_brokers(tmp_path):
    a = Broker(str(tmp_path / "a")).start()
    b = Broker(str(tmp_path / "b")).start()
    yield a, b
    a.stop()
    b.stop()


def mm2_properties(path, a, b):
    path.write_text("\n".join([
        "clusters = A, B",
        f"A.bootstrap.servers = {a.bootstrap}",
        f"B.bootstrap.servers = {b.bootstrap}",
        "A->B.enabled = true",
        f"A->B.topics = {TOPIC}",
        "B->A.enabled = false",
        # One broker per cluster: every internal topic with one replica.
        "replication.factor = 1",
        "checkpoints.topic.replication.factor = 1",
        "heartbeats.topic.replication.factor = 1",
        "offset-syncs.topic.replication.factor = 1",
        "offset.storage.replication.factor = 1",
        "status.storage.replication.factor = 1",
        "config.storage.replication.factor = 1",
        # Quick cycles for a test.
        "sync.group.offsets.enabled = true",
        "sync.group.offsets.interval.seconds = 1",
        "emit.checkpoints.interval.seconds = 1",
        "emit.heartbeats.interval.seconds = 1",
        "refresh.topics.interval.seconds = 2",
        "refresh.groups.interval.seconds = 2",
        "offset.lag.max = 1",
        "",
    ]))


def read_all(bootstrap, topic, partitions):
    """Every record of `topic`, per partition in offset order: {partition: [(key, value)]}."""
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "mm2-check",
                  "enable.auto.commit": False, "auto.offset.reset": "earliest"})
    c.assign([TopicPartition(topic, p, 0) for p in range(partitions)])
    out = {p: [] for p in range(partitions)}
    idle = 0
    while idle < 10:
        msgs = c.consume(500, timeout=0.5)
        if not msgs:
            idle += 1
            continue
        idle = 0
        for m in msgs:
            if m.error() is None:
                out[m.partition()].append((m.key(), m.value()))
    c.close()
    return out


def committed(bootstrap, group, topic, partitions):
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": group,
                  "enable.auto.commit": False})
    got = c.committed([TopicPartition(topic, p) for p in range(partitions)], timeout=10)
    c.close()
    return {tp.partition: tp.offset for tp in got}


def test_mirror_maker_copies_a_topic_and_translates_group_offsets(two_brokers, tmp_path):
    a, b = two_brokers
    create_topic(a.bootstrap, TOPIC, partitions=PARTITIONS)
    p = Producer({"bootstrap.servers": a.bootstrap})
    for i in range(RECORDS):
        p.produce(TOPIC, key=f"k{i}".encode(), value=f"v{i}".encode(), partition=i % PARTITIONS)
    assert p.flush(30) == 0
    source = read_all(a.bootstrap, TOPIC, PARTITIONS)
    assert sum(len(v) for v in source.values()) == RECORDS
    # A consumer group on A reads the topic and commits where it stopped: at the end. (A
    # commit in the middle of a partition is translated only if MirrorMaker kept an offset
    # sync at or below it; it drops syncs while its producer is busy, so that would depend
    # on timing. The first record of a partition always gets one.)
    c = Consumer({"bootstrap.servers": a.bootstrap, "group.id": GROUP,
                  "enable.auto.commit": False})
    c.assign([TopicPartition(TOPIC, q, 0) for q in range(PARTITIONS)])
    positions = {q: 0 for q in range(PARTITIONS)}
    while sum(positions.values()) < RECORDS:
        for m in c.consume(50, timeout=1):
            if m.error() is None:
                positions[m.partition()] = m.offset() + 1
    c.commit(offsets=[TopicPartition(TOPIC, q, o) for q, o in positions.items()],
             asynchronous=False)
    c.close()
    assert committed(a.bootstrap, GROUP, TOPIC, PARTITIONS) == positions

    props = tmp_path / "mm2.properties"
    mm2_properties(props, a, b)
    log = open(tmp_path / "mm2.log", "w")
    mm2 = subprocess.Popen(java_cmd("org.apache.kafka.connect.mirror.MirrorMaker", props,
                                    jvm_opts=("-Xmx512m",)),
                           stdout=log, stderr=subprocess.STDOUT)
    remote = f"A.{TOPIC}"
    try:
        deadline = time.time() + DEADLINE
        copied, translated = None, None
        while time.time() < deadline:
            assert mm2.poll() is None, (
                f"MirrorMaker exited {mm2.returncode}:\n{(tmp_path / 'mm2.log').read_text()[-6000:]}")
            topics = AdminClient({"bootstrap.servers": b.bootstrap}).list_topics(timeout=5).topics
            if remote in topics and len(topics[remote].partitions) == PARTITIONS:
                copied = read_all(b.bootstrap, remote, PARTITIONS)
                translated = committed(b.bootstrap, GROUP, remote, PARTITIONS)
                if copied == source and all(o > 0 for o in translated.values()):
                    break
            time.sleep(2)
        log_text = (tmp_path / "mm2.log").read_text()
        assert copied == source, (
            f"{remote} on B: {None if copied is None else {q: len(v) for q, v in copied.items()}}"
            f" records per partition, want {RECORDS} in A's order\n{log_text[-6000:]}")
        # The group's offsets on B point into A.orders at most where it stopped on A
        # (MirrorMaker translates through its offset syncs, which may round down) and past
        # the first record (the sync every partition gets).
        assert translated is not None and all(
            0 < translated[q] <= positions[q] for q in range(PARTITIONS)), (
            f"translated offsets {translated}, committed on A {positions}\n{log_text[-6000:]}")
    finally:
        mm2.terminate()
        try:
            mm2.wait(30)
        except subprocess.TimeoutExpired:
            mm2.kill()
            mm2.wait()
        log.close()
