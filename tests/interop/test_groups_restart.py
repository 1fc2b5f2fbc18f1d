"""Consumer groups through the broker's group coordinator (confluent-kafka and
kafka-python), commit and resume, and durability across kill -9."""
import time
import uuid

from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition

from conftest import Broker, create_topic


def produce(bootstrap, topic, n, partitions, acks="all"):
    p = Producer({"bootstrap.servers": bootstrap, "acks": acks, "linger.ms": 2})
    errs = []
    for i in range(n):
        p.produce(topic, key=b"%d" % i, value=b"v%d" % i, partition=i % partitions,
                  on_delivery=lambda e, m: errs.append(e) if e else None)
    assert p.flush(30) == 0
    assert not errs, errs[:3]


def group_consumer(bootstrap, group, **extra):
    conf = {
        "bootstrap.servers": bootstrap,
        "group.id": group,
        "enable.auto.commit": False,
        "auto.offset.reset": "earliest",
        "session.timeout.ms": 10000,
        "heartbeat.interval.ms": 500,
    }
    conf.update(extra)
    return Consumer(conf)


def poll_until(consumers, cond, timeout=45):
    deadline = time.time() + timeout
    msgs = []
    while time.time() < deadline:
        for c in consumers:
            m = c.poll(0.2)
            if m is not None and not m.error():
                msgs.append(m)
            elif m is not None and m.error().code() != KafkaError._PARTITION_EOF:
                raise AssertionError(m.error())
        if cond(msgs):
            return msgs
    raise AssertionError(f"condition not met in {timeout}s; got {len(msgs)} messages")


def test_group_of_two_rebalances_commits_and_resumes(broker):
    topic = "grp"
    create_topic(broker.bootstrap, topic, partitions=4)
    produce(broker.bootstrap, topic, 400, 4)
    group = "g-" + uuid.uuid4().hex[:6]
    c1 = group_consumer(broker.bootstrap, group)
    c1.subscribe([topic])
    poll_until([c1], lambda ms: len(c1.assignment()) == 4)
    c2 = group_consumer(broker.bootstrap, group)
    c2.subscribe([topic])
    msgs = poll_until(
        [c1, c2],
        lambda ms: len(c1.assignment()) > 0 and len(c2.assignment()) > 0
        and len(c1.assignment()) + len(c2.assignment()) == 4,
    )
    a1 = {tp.partition for tp in c1.assignment()}
    a2 = {tp.partition for tp in c2.assignment()}
    assert a1.isdisjoint(a2) and a1 | a2 == {0, 1, 2, 3}
    # Commit offset 50 on every partition, from whichever member owns it.
    for c, parts in ((c1, a1), (c2, a2)):
        c.commit(offsets=[TopicPartition(topic, p, 50) for p in parts], asynchronous=False)
    c1.close()
    c2.close()
    c3 = group_consumer(broker.bootstrap, group)
    committed = c3.committed([TopicPartition(topic, p) for p in range(4)], timeout=10)
    assert [tp.offset for tp in committed] == [50, 50, 50, 50]
    c3.subscribe([topic])
    msgs = poll_until([c3], lambda ms: len(ms) >= 200)
    assert len(msgs) == 200
    assert min(m.offset() for m in msgs) == 50
    c3.close()


def test_kafka_python_group_consumer(broker):
    from kafka import KafkaConsumer, KafkaProducer

    create_topic(broker.bootstrap, "kpg", partitions=2)
    p = KafkaProducer(bootstrap_servers=broker.bootstrap, acks="all")
    for i in range(100):
        p.send("kpg", value=b"m%d" % i)
    p.flush(30)
    p.close(10)
    c = KafkaConsumer("kpg", bootstrap_servers=broker.bootstrap, group_id="kpg-group",
                      auto_offset_reset="earliest", enable_auto_commit=False,
                      consumer_timeout_ms=20000)
    got = []
    deadline = time.time() + 40
    while len(got) < 100 and time.time() < deadline:
        for recs in c.poll(timeout_ms=500).values():
            got.extend(recs)
    c.commit()
    c.close()
    assert sorted(r.value for r in got) == sorted(b"m%d" % i for i in range(100))
    c = KafkaConsumer(bootstrap_servers=broker.bootstrap, group_id="kpg-group")
    from kafka import TopicPartition as KTP
    assert sum(c.committed(KTP("kpg", p)) for p in range(2)) == 100
    c.close()


def test_kill_9_keeps_acknowledged_records_and_offsets(data_dir):
    b = Broker(data_dir).start()
    try:
        create_topic(b.bootstrap, "durable", partitions=2)
        produce(b.bootstrap, "durable", 1000, 2)
        c = group_consumer(b.bootstrap, "dur-group")
        c.commit(offsets=[TopicPartition("durable", 0, 123), TopicPartition("durable", 1, 321)],
                 asynchronous=False)
        c.close()
    finally:
        b.kill()
    b = Broker(data_dir).start()
    try:
        c = group_consumer(b.bootstrap, "dur-group")
        committed = c.committed([TopicPartition("durable", 0), TopicPartition("durable", 1)],
                                timeout=20)
        assert [tp.offset for tp in committed] == [123, 321]
        for p in (0, 1):
            assert c.get_watermark_offsets(TopicPartition("durable", p), timeout=10) == (0, 500)
        c.close()
        c = group_consumer(b.bootstrap, "reader")
        c.assign([TopicPartition("durable", p, 0) for p in (0, 1)])
        vals = set()
        deadline = time.time() + 30
        while len(vals) < 1000 and time.time() < deadline:
            m = c.poll(0.5)
            if m is not None and not m.error():
                vals.add(m.value())
        c.close()
        assert vals == {b"v%d" % i for i in range(1000)}
    finally:
        b.stop()
