"""The group coordinator's node killed with SIGKILL in a three-node cluster.

A confluent-kafka and a kafka-python consumer group, whose __consumer_offsets partitions are
led by the same node, consume and commit a replication-factor-3 topic; that node is killed.
Both groups find the new coordinator (the partition's new leader, which loaded the groups and
offsets from its replica), go on consuming the records produced afterwards and committing,
and fresh consumers of both groups then see every offset committed, before and after the kill.
"""
import time

from test_cluster import cluster  # noqa: F401  (the three-node cluster fixture)

TOPIC = "coordinator-failover"
PARTITIONS = 3
BEFORE = 300
AFTER = 300
OFFSETS_PARTITIONS = 50
LIMIT = 120


def java_hash(s):
    """Java's String.hashCode, which Kafka uses to place a group."""
    h = 0
    for ch in s:
        h = (31 * h + ord(ch)) & 0xFFFFFFFF
    return h - (1 << 32) if h >= 1 << 31 else h


def offsets_partition(group):
    h = java_hash(group)
    return (0 if h == -(1 << 31) else abs(h)) % OFFSETS_PARTITIONS


def offsets_leaders(admin):
    """__consumer_offsets partition -> leader node, once the topic exists with leaders."""
    deadline = time.time() + 60
    while time.time() < deadline:
        t = admin.list_topics("__consumer_offsets", timeout=5).topics.get("__consumer_offsets")
        if t is not None and t.error is None and len(t.partitions) == OFFSETS_PARTITIONS:
            leaders = {p: m.leader for p, m in t.partitions.items()}
            if all(v >= 0 for v in leaders.values()):
                return leaders
        time.sleep(0.2)
    raise AssertionError("__consumer_offsets has no leaders")


def produce(bootstrap, start, count):
    from confluent_kafka import Producer
    p = Producer({"bootstrap.servers": bootstrap, "acks": "all",
                  "enable.idempotence": True, "message.timeout.ms": 90000})
    for i in range(start, start + count):
        p.produce(TOPIC, key=str(i).encode(), value=str(i).encode())
        p.poll(0)
    assert p.flush(100) == 0


def confluent_consume(consumer, seen, want):
    """Polls and commits (synchronously) until `want` distinct values are seen."""
    from confluent_kafka import KafkaException
    deadline = time.time() + LIMIT
    while len(seen) < want:
        assert time.time() < deadline, f"confluent group saw {len(seen)} of {want}"
        msg = consumer.poll(0.5)
        if msg is None or msg.error():
            continue
        seen.add(int(msg.value()))
        try:
            consumer.commit(message=msg, asynchronous=False)
        except KafkaException:
            # The coordinator moved or the group is rebalancing: the next poll goes on,
            # a later commit covers this record.
            pass


def kafka_python_consume(consumer, seen, want):
    from kafka.errors import KafkaError
    deadline = time.time() + LIMIT
    while len(seen) < want:
        assert time.time() < deadline, f"kafka-python group saw {len(seen)} of {want}"
        batch = consumer.poll(timeout_ms=500)
        for records in batch.values():
            for r in records:
                seen.add(int(r.value))
        if batch:
            try:
                consumer.commit()
            except KafkaError:
                pass


def final_commit(commit, retriable):
    """Commits the consumer's positions, retrying while the coordinator moves."""
    deadline = time.time() + 60
    while True:
        try:
            commit()
            return
        except retriable as e:
            if "NO_OFFSET" in str(e):
                return
            assert time.time() < deadline, f"final commit: {e}"
            time.sleep(0.5)


def committed_total(bootstrap, group):
    """The sum of committed offsets of every partition, asked by a fresh consumer."""
    from confluent_kafka import Consumer, TopicPartition
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": group,
                  "enable.auto.commit": False})
    try:
        deadline = time.time() + 60
        while True:
            try:
                parts = c.committed([TopicPartition(TOPIC, p) for p in range(PARTITIONS)],
                                    timeout=10)
                return sum(max(tp.offset, 0) for tp in parts)
            except Exception:
                assert time.time() < deadline, "committed offsets not readable"
                time.sleep(0.5)
    finally:
        c.close()


def test_groups_survive_sigkill_of_their_coordinator(cluster):  # noqa: F811
    from confluent_kafka import Consumer
    from confluent_kafka.admin import AdminClient, NewTopic
    from kafka import KafkaConsumer

    admin = AdminClient({"bootstrap.servers": cluster.bootstrap()})
    admin.create_topics([NewTopic(TOPIC, PARTITIONS, replication_factor=3)])[TOPIC].result(30)
    produce(cluster.bootstrap(), 0, BEFORE)

    confluent_group = "failover-confluent"
    cc = Consumer({"bootstrap.servers": cluster.bootstrap(), "group.id": confluent_group,
                   "auto.offset.reset": "earliest", "enable.auto.commit": False,
                   "session.timeout.ms": 10000, "heartbeat.interval.ms": 1000})
    cc.subscribe([TOPIC])
    cc_seen = set()
    confluent_consume(cc, cc_seen, BEFORE)

    leaders = offsets_leaders(admin)
    victim = leaders[offsets_partition(confluent_group)]
    # A kafka-python group coordinated by the same node.
    kp_group = next(g for g in (f"failover-kafka-python-{i}" for i in range(1000))
                    if leaders[offsets_partition(g)] == victim)
    kp = KafkaConsumer(TOPIC, bootstrap_servers=cluster.bootstrap(), group_id=kp_group,
                       auto_offset_reset="earliest", enable_auto_commit=False,
                       session_timeout_ms=10000, heartbeat_interval_ms=1000,
                       request_timeout_ms=20000)
    kp_seen = set()
    try:
        kafka_python_consume(kp, kp_seen, BEFORE)
        assert committed_total(cluster.bootstrap(), confluent_group) == BEFORE
        assert committed_total(cluster.bootstrap(), kp_group) == BEFORE

        cluster.kill(victim)
        survivors = cluster.bootstrap([i for i in range(3) if i != victim])
        produce(survivors, BEFORE, AFTER)
        confluent_consume(cc, cc_seen, BEFORE + AFTER)
        kafka_python_consume(kp, kp_seen, BEFORE + AFTER)
        assert cc_seen == set(range(BEFORE + AFTER))
        assert kp_seen == set(range(BEFORE + AFTER))
        from confluent_kafka import KafkaException
        from kafka.errors import KafkaError
        final_commit(lambda: cc.commit(asynchronous=False), KafkaException)
        final_commit(kp.commit, KafkaError)
    finally:
        cc.close()
        kp.close()

    # Fresh consumers of both groups, through the survivors: every offset committed
    # before and after the kill is there.
    deadline = time.time() + 60
    while True:
        totals = (committed_total(survivors, confluent_group),
                  committed_total(survivors, kp_group))
        if totals == (BEFORE + AFTER, BEFORE + AFTER):
            break
        assert time.time() < deadline, f"committed totals {totals}"
        time.sleep(0.5)
    new_leaders = offsets_leaders(AdminClient({"bootstrap.servers": survivors}))
    assert new_leaders[offsets_partition(confluent_group)] != victim
