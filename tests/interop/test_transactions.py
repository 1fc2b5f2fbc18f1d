"""Transactions (KIP-98) with confluent-kafka's transactional producer:
commit and abort as seen by read_committed and read_uncommitted consumers,
consume-transform-produce with send_offsets_to_transaction, zombie fencing, and
an open transaction left by a broker killed with -9, aborted after its timeout."""
import time
import uuid

from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition

from conftest import Broker, create_topic


def txn_producer(bootstrap, txn_id, **extra):
    conf = {
        "bootstrap.servers": bootstrap,
        "transactional.id": txn_id,
        "linger.ms": 2,
    }
    conf.update(extra)
    p = Producer(conf)
    p.init_transactions(30)
    return p


def read_all(bootstrap, topic, partitions, isolation, expected, timeout=30):
    """Values read from the start of every partition with `isolation`, until
    `expected` values arrived and every partition reached its end (so nothing
    beyond `expected` is hiding), or the timeout."""
    c = Consumer({
        "bootstrap.servers": bootstrap,
        "group.id": "reader-" + uuid.uuid4().hex[:6],
        "isolation.level": isolation,
        "enable.partition.eof": True,
        "enable.auto.commit": False,
    })
    c.assign([TopicPartition(topic, p, 0) for p in range(partitions)])
    vals = []
    eof = set()
    deadline = time.time() + timeout
    try:
        while time.time() < deadline:
            m = c.poll(0.2)
            if m is None:
                continue
            if m.error():
                if m.error().code() == KafkaError._PARTITION_EOF:
                    eof.add(m.partition())
                    if len(vals) >= expected and len(eof) == partitions:
                        break
                    continue
                raise AssertionError(m.error())
            eof.discard(m.partition())
            vals.append(m.value())
    finally:
        c.close()
    return vals


def test_commit_visible_abort_invisible(broker):
    topic = "tx"
    create_topic(broker.bootstrap, topic, partitions=2)
    p = txn_producer(broker.bootstrap, "tx-" + uuid.uuid4().hex[:6])
    p.begin_transaction()
    for i in range(10):
        p.produce(topic, value=b"c1-%d" % i, partition=i % 2)
    p.commit_transaction(30)
    p.begin_transaction()
    for i in range(10):
        p.produce(topic, value=b"ab-%d" % i, partition=i % 2)
    p.flush(30)
    p.abort_transaction(30)
    p.begin_transaction()
    for i in range(5):
        p.produce(topic, value=b"c2-%d" % i, partition=i % 2)
    p.commit_transaction(30)

    committed = {b"c1-%d" % i for i in range(10)} | {b"c2-%d" % i for i in range(5)}
    aborted = {b"ab-%d" % i for i in range(10)}
    got = read_all(broker.bootstrap, topic, 2, "read_committed", 15)
    assert sorted(got) == sorted(committed)
    got = read_all(broker.bootstrap, topic, 2, "read_uncommitted", 25)
    assert sorted(got) == sorted(committed | aborted)
    # Each transaction left one marker per partition: 25 records + 3 x 2 markers.
    c = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "wm"})
    ends = [c.get_watermark_offsets(TopicPartition(topic, q), timeout=10)[1] for q in (0, 1)]
    c.close()
    assert sum(ends) == 25 + 6


def test_consume_transform_produce_commits_offsets_only_on_commit(broker):
    create_topic(broker.bootstrap, "ctp-in")
    create_topic(broker.bootstrap, "ctp-out")
    src = Producer({"bootstrap.servers": broker.bootstrap})
    for i in range(20):
        src.produce("ctp-in", value=b"%d" % i)
    assert src.flush(30) == 0
    group = "ctp-" + uuid.uuid4().hex[:6]
    c = Consumer({
        "bootstrap.servers": broker.bootstrap,
        "group.id": group,
        "enable.auto.commit": False,
        "auto.offset.reset": "earliest",
        "isolation.level": "read_committed",
    })
    c.subscribe(["ctp-in"])
    p = txn_producer(broker.bootstrap, "ctp-" + uuid.uuid4().hex[:6])

    def transform(n):
        msgs = []
        deadline = time.time() + 30
        while len(msgs) < n and time.time() < deadline:
            m = c.poll(0.2)
            if m is not None and not m.error():
                msgs.append(m)
        assert len(msgs) == n
        p.begin_transaction()
        for m in msgs:
            p.produce("ctp-out", value=b"out-" + m.value())
        p.send_offsets_to_transaction(
            [TopicPartition("ctp-in", 0, msgs[-1].offset() + 1)],
            c.consumer_group_metadata(), 30)
        return msgs

    transform(10)
    p.commit_transaction(30)
    committed = c.committed([TopicPartition("ctp-in", 0)], timeout=10)
    assert committed[0].offset == 10
    transform(10)
    assert p.flush(30) == 0  # see test_many_transactions_with_a_live_read_committed_consumer
    p.abort_transaction(30)
    committed = c.committed([TopicPartition("ctp-in", 0)], timeout=10)
    assert committed[0].offset == 10
    c.close()
    # A new member of the group resumes from the committed offset.
    c2 = Consumer({
        "bootstrap.servers": broker.bootstrap,
        "group.id": group,
        "enable.auto.commit": False,
        "auto.offset.reset": "earliest",
    })
    c2.subscribe(["ctp-in"])
    first = None
    deadline = time.time() + 30
    while first is None and time.time() < deadline:
        m = c2.poll(0.2)
        if m is not None and not m.error():
            first = m.offset()
    c2.close()
    assert first == 10
    out = read_all(broker.bootstrap, "ctp-out", 1, "read_committed", 10)
    assert sorted(out) == sorted(b"out-%d" % i for i in range(10))


def test_zombie_is_fenced(broker):
    topic = "zombie"
    create_topic(broker.bootstrap, topic)
    txn_id = "z-" + uuid.uuid4().hex[:6]
    old = txn_producer(broker.bootstrap, txn_id)
    old.begin_transaction()
    old.produce(topic, value=b"zombie")
    old.flush(30)
    new = txn_producer(broker.bootstrap, txn_id)
    # The old producer's open transaction was aborted and its epoch is stale.
    try:
        old.produce(topic, value=b"zombie-2")
        old.commit_transaction(30)
        raise AssertionError("the fenced producer committed")
    except KafkaException as e:
        err = e.args[0]
        assert err.fatal() or err.code() in (KafkaError._FENCED, KafkaError.PRODUCER_FENCED,
                                             KafkaError.INVALID_PRODUCER_EPOCH), err
    new.begin_transaction()
    new.produce(topic, value=b"live")
    new.commit_transaction(30)
    got = read_all(broker.bootstrap, topic, 1, "read_committed", 1)
    assert got == [b"live"]


def test_open_transaction_aborted_after_kill_9_and_timeout(data_dir):
    extra = ["transaction.abort.timed.out.transaction.cleanup.interval.ms=500"]
    b = Broker(data_dir, extra).start()
    topic = "killed"
    try:
        create_topic(b.bootstrap, topic)
        p = txn_producer(b.bootstrap, "k-" + uuid.uuid4().hex[:6], **{"transaction.timeout.ms": 4000})
        p.begin_transaction()
        for i in range(5):
            p.produce(topic, value=b"open-%d" % i)
        assert p.flush(30) == 0
    finally:
        b.kill()
    b = Broker(data_dir, extra).start()
    try:
        later = txn_producer(b.bootstrap, "later-" + uuid.uuid4().hex[:6])
        later.begin_transaction()
        for i in range(3):
            later.produce(topic, value=b"after-%d" % i)
        later.commit_transaction(30)
        # Until the open transaction is aborted (its 4 s timeout), read_committed
        # readers stop at it; then they move past it and see only the commit.
        got = read_all(b.bootstrap, topic, 1, "read_committed", 3, timeout=40)
        assert sorted(got) == sorted(b"after-%d" % i for i in range(3))
        got = read_all(b.bootstrap, topic, 1, "read_uncommitted", 8)
        assert sorted(got) == sorted([b"open-%d" % i for i in range(5)]
                                     + [b"after-%d" % i for i in range(3)])
    finally:
        b.stop()


def test_kafka_python_transactional_producer(broker):
    from kafka import KafkaConsumer, KafkaProducer
    from kafka import TopicPartition as KTP

    topic = "kptx"
    create_topic(broker.bootstrap, topic, partitions=2)
    p = KafkaProducer(bootstrap_servers=broker.bootstrap,
                      transactional_id="kp-" + uuid.uuid4().hex[:6])
    p.init_transactions()
    p.begin_transaction()
    for i in range(6):
        p.send(topic, value=b"kc-%d" % i, partition=i % 2)
    p.commit_transaction()
    p.begin_transaction()
    for i in range(4):
        p.send(topic, value=b"ka-%d" % i, partition=i % 2)
    p.flush()
    p.abort_transaction()
    p.close(10)

    def read(isolation, expected):
        c = KafkaConsumer(bootstrap_servers=broker.bootstrap, isolation_level=isolation,
                          enable_auto_commit=False, auto_offset_reset="earliest")
        c.assign([KTP(topic, 0), KTP(topic, 1)])
        c.seek_to_beginning()
        got = []
        deadline = time.time() + 30
        while len(got) < expected and time.time() < deadline:
            for recs in c.poll(timeout_ms=500).values():
                got.extend(r.value for r in recs)
        # Nothing more arrives.
        for recs in c.poll(timeout_ms=1000).values():
            got.extend(r.value for r in recs)
        c.close()
        return got

    assert sorted(read("read_committed", 6)) == sorted(b"kc-%d" % i for i in range(6))
    assert sorted(read("read_uncommitted", 10)) == sorted(
        [b"kc-%d" % i for i in range(6)] + [b"ka-%d" % i for i in range(4)])
    # confluent-kafka agrees with kafka-python.
    assert sorted(read_all(broker.bootstrap, topic, 2, "read_committed", 6)) == sorted(
        b"kc-%d" % i for i in range(6))


def test_transactional_offsets_across_kill_9(data_dir):
    """Offsets committed in a transaction are reloaded after a kill -9; offsets
    sent in a transaction still open at the kill stay invisible, and are
    dropped when that transaction is aborted on its timeout."""
    extra = ["transaction.abort.timed.out.transaction.cleanup.interval.ms=500"]
    group = "tko-" + uuid.uuid4().hex[:6]
    b = Broker(data_dir, extra).start()
    try:
        create_topic(b.bootstrap, "tko-in")
        create_topic(b.bootstrap, "tko-out")
        src = Producer({"bootstrap.servers": b.bootstrap})
        for i in range(10):
            src.produce("tko-in", value=b"%d" % i)
        assert src.flush(30) == 0
        c = Consumer({"bootstrap.servers": b.bootstrap, "group.id": group,
                      "enable.auto.commit": False, "auto.offset.reset": "earliest",
                      "isolation.level": "read_committed"})
        c.subscribe(["tko-in"])
        deadline = time.time() + 30
        while not c.assignment() and time.time() < deadline:
            c.poll(0.2)
        meta = c.consumer_group_metadata()
        p = txn_producer(b.bootstrap, "tko-" + uuid.uuid4().hex[:6],
                         **{"transaction.timeout.ms": 4000})
        p.begin_transaction()
        p.produce("tko-out", value=b"first")
        p.send_offsets_to_transaction([TopicPartition("tko-in", 0, 5)], meta, 30)
        p.commit_transaction(30)
        p.begin_transaction()
        p.produce("tko-out", value=b"second")
        p.send_offsets_to_transaction([TopicPartition("tko-in", 0, 8)], meta, 30)
        assert p.flush(30) == 0
    finally:
        b.kill()
    b = Broker(data_dir, extra).start()
    try:
        c = Consumer({"bootstrap.servers": b.bootstrap, "group.id": group,
                      "enable.auto.commit": False, "isolation.level": "read_committed"})
        # Pending offsets make require_stable fetches wait (UNSTABLE_OFFSET_COMMIT)
        # until the open transaction is aborted on its timeout; then 5 remains.
        offset = None
        deadline = time.time() + 40
        while time.time() < deadline:
            try:
                offset = c.committed([TopicPartition("tko-in", 0)], timeout=10)[0].offset
                break
            except KafkaException:
                time.sleep(0.5)
        c.close()
        assert offset == 5
        out = read_all(b.bootstrap, "tko-out", 1, "read_committed", 1, timeout=40)
        assert out == [b"first"]
    finally:
        b.stop()


def test_many_transactions_with_a_live_read_committed_consumer(broker):
    """40 transactions over 3 partitions, every third aborted, while a
    read_committed consumer follows live: it gets exactly the committed records,
    each partition in order (markers wake its long-polling fetches)."""
    topic = "many"
    create_topic(broker.bootstrap, topic, partitions=3)
    c = Consumer({
        "bootstrap.servers": broker.bootstrap,
        "group.id": "live-" + uuid.uuid4().hex[:6],
        "isolation.level": "read_committed",
        "enable.auto.commit": False,
        "fetch.wait.max.ms": 500,
    })
    c.assign([TopicPartition(topic, q, 0) for q in range(3)])
    p = txn_producer(broker.bootstrap, "many-" + uuid.uuid4().hex[:6])
    expected = []
    got = []

    def drain(t):
        m = c.poll(t)
        if m is not None and not m.error():
            got.append((m.partition(), m.value()))

    for t in range(40):
        p.begin_transaction()
        vals = [(i % 3, b"%d-%d" % (t, i)) for i in range(7)]
        for q, v in vals:
            p.produce(topic, value=v, partition=q)
        if t % 3 == 2:
            # Written first: librdkafka aborts with EndTxn even when its AddPartitionsToTxn was
            # only answered CONCURRENT_TRANSACTIONS (the previous commit's markers still being
            # written), and then fails with INVALID_TXN_STATE against Apache Kafka as well
            # (confluentinc/librdkafka#4849). Flushing waits for the partitions to be added.
            assert p.flush(30) == 0
            p.abort_transaction(30)
        else:
            p.commit_transaction(30)
            expected.extend(vals)
        drain(0)
    deadline = time.time() + 30
    while len(got) < len(expected) and time.time() < deadline:
        drain(0.2)
    for _ in range(5):
        drain(0.2)
    c.close()
    assert sorted(got) == sorted(expected)
    for q in range(3):
        assert [v for (pq, v) in got if pq == q] == [v for (eq, v) in expected if eq == q]
