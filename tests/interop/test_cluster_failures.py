"""Nodes of a three-node cluster down, with real clients (confluent-kafka).

- `min.insync.replicas=3` on a replication-factor-3 topic with one node killed: the controller
  quorum keeps its majority and shrinks the ISR to two; an acks=all producer gets
  NOT_ENOUGH_REPLICAS, an acks=1 producer goes on; the node restarts, catches up, rejoins
  the ISR (Metadata and DescribeTopicPartitions, with its offline replicas, both show it)
  and acks=all works again.
- Two of the three combined nodes killed (no controller majority): the surviving leader keeps
  leading from its last metadata, acks=1 writes to it go on, acks=all writes to it cannot
  complete (the ISR cannot shrink without a controller) and time out, partitions led by the
  dead nodes are unreachable, CreateTopics ends with NOT_CONTROLLER; every client call ends
  with a retriable error within its timeout. One node returns: the quorum elects a controller, the dead node is fenced, produce
  and consume work again, and every record acknowledged before and during the outage is read
  back.

- The leader dies while one follower holds records the next leader lacks: that follower is
  told where the logs part, truncates and rejoins the ISR, and acks=all goes on.

Every acknowledged record is read back at the offset it was acknowledged at.
"""
import os
import signal
import socket
import struct
import time

from test_cluster import cluster, wait_for_topic  # noqa: F401  (the three-node cluster fixture)

NOT_ENOUGH_REPLICAS = 19
NOT_ENOUGH_REPLICAS_AFTER_APPEND = 20


def isr(admin, topic, partition):
    t = admin.list_topics(topic, timeout=5).topics[topic]
    p = t.partitions[partition]
    return p.leader, set(p.isrs)


def wait_isr(admin, topic, partition, want, timeout=60):
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        try:
            last = isr(admin, topic, partition)
            if last[1] == set(want):
                return last[0]
        except Exception as e:  # the node asked may be restarting
            last = repr(e)
        time.sleep(0.2)
    raise AssertionError(f"{topic}-{partition}: ISR {last}, want {sorted(want)}")


def _uvarint(buf, i):
    shift = value = 0
    while True:
        b = buf[i]
        i += 1
        value |= (b & 0x7F) << shift
        if not b & 0x80:
            return value, i
        shift += 7


def describe_topic_partitions(addr, topic):
    """DescribeTopicPartitions v0 (KIP-966's API, not the Metadata the clients use) for
    `topic`, by hand: {partition: (leader, isr, offline replicas)}."""
    name = topic.encode()
    body = (b"\x02" + bytes([len(name) + 1]) + name + b"\x00"  # Topics: [topic], no tags
            + struct.pack(">i", 2000) + b"\xff" + b"\x00")     # limit, null cursor, no tags
    client = b"scen"
    header = struct.pack(">hhih", 75, 0, 7, len(client)) + client + b"\x00"
    with socket.create_connection(addr.split(":"), timeout=10) as sock:
        sock.sendall(struct.pack(">i", len(header) + len(body)) + header + body)
        data = b""
        while len(data) < 4 or len(data) < 4 + struct.unpack(">i", data[:4])[0]:
            chunk = sock.recv(65536)
            assert chunk, "connection closed"
            data += chunk
    buf = data[4:]
    assert struct.unpack(">i", buf[:4])[0] == 7
    i = 4
    _, i = _uvarint(buf, i)  # response header tags (none)
    i += 4  # throttle time

    def int_array(i):
        n, i = _uvarint(buf, i)
        out = [struct.unpack(">i", buf[i + 4 * k:i + 4 * k + 4])[0] for k in range(n - 1)]
        return out, i + 4 * max(n - 1, 0)

    topics, i = _uvarint(buf, i)
    assert topics == 2, "one topic"
    code = struct.unpack(">h", buf[i:i + 2])[0]
    assert code == 0, f"topic error {code}"
    i += 2
    n, i = _uvarint(buf, i)
    i += n - 1 + 16 + 1  # name, topic id, is internal
    parts, i = _uvarint(buf, i)
    out = {}
    for _ in range(parts - 1):
        code, index, leader, _epoch = struct.unpack(">hiii", buf[i:i + 14])
        assert code == 0, f"partition error {code}"
        i += 14
        _replicas, i = int_array(i)
        isr, i = int_array(i)
        _elr, i = int_array(i)  # null (0) or an array
        _last_elr, i = int_array(i)
        offline, i = int_array(i)
        _, i = _uvarint(buf, i)  # partition tags
        out[index] = (leader, set(isr), set(offline))
    return out


def wait_described(cluster, node, topic, want, timeout=10):
    """Until node `node`'s DescribeTopicPartitions shows `want` (leader, ISR, offline
    replicas) for partition 0: each node answers from its own image, which may be a moment
    behind the one that answered Metadata."""
    deadline = time.time() + timeout
    while (got := describe_topic_partitions(cluster.addr(node), topic)[0]) != want:
        assert time.time() < deadline, (node, got, want)
        time.sleep(0.1)


def produce(bootstrap, topic, values, partition, timeout_ms=20000, **conf):
    """Produces `values` to `partition` (or round robin over a list of partitions) and
    waits for every delivery report: [(value, err, offset)]."""
    from confluent_kafka import Producer
    # One request in flight: a retried batch cannot land after a later one.
    p = Producer({"bootstrap.servers": bootstrap, "linger.ms": 1, "max.in.flight": 1,
                  "message.timeout.ms": timeout_ms, **conf})
    results = []
    partitions = partition if isinstance(partition, list) else [partition]
    for i, v in enumerate(values):
        p.produce(topic, value=str(v).encode(), partition=partitions[i % len(partitions)],
                  on_delivery=lambda err, msg: results.append(
                      (int(msg.value()), err, msg.offset())))
        p.poll(0)
    started = time.time()
    assert p.flush(timeout_ms / 1000 + 15) == 0, "delivery reports did not arrive in time"
    assert time.time() - started < timeout_ms / 1000 + 15
    return results


def acknowledged(results):
    return [(v, off) for v, err, off in results if err is None]


def read_back(bootstrap, topic, partitions, timeout=60):
    """Every record of `partitions` up to the high watermark: {partition: {offset: value}}."""
    from confluent_kafka import Consumer, TopicPartition
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": f"read-{topic}",
                  "auto.offset.reset": "earliest", "enable.auto.commit": False})
    ends = {p: c.get_watermark_offsets(TopicPartition(topic, p), timeout=15)[1]
            for p in partitions}
    c.assign([TopicPartition(topic, p, 0) for p in partitions])
    got = {p: {} for p in partitions}
    deadline = time.time() + timeout
    while any(len(got[p]) < ends[p] for p in partitions) and time.time() < deadline:
        m = c.poll(0.5)
        if m is None or m.error():
            continue
        got[m.partition()][m.offset()] = int(m.value())
    c.close()
    return got


def assert_all_read(got, acked):
    """Every acknowledged (value, offset) of a partition is stored there, and the acknowledged
    records keep their send order. (A copy of a record may be stored as well: without
    idempotence, a producer that got no answer, or REQUEST_TIMED_OUT for an acks=all wait
    whose records were appended, sends them again, as with Kafka.)"""
    for value, offset in acked:
        assert got.get(offset) == value, f"acknowledged {value} at {offset}, read {got.get(offset)}"
    values = [v for v, _ in sorted(acked, key=lambda a: a[1])]
    assert values == sorted(values), "acknowledged records out of send order"
    assert len(values) == len(set(values)), "one record acknowledged twice"


def test_min_insync_three_with_one_node_down(cluster):
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": cluster.bootstrap()})
    admin.create_topics([NewTopic("strict", 1, 3, config={"min.insync.replicas": "3"})]
                        )["strict"].result(timeout=30)
    wait_for_topic(admin, "strict", 1)
    leader = wait_isr(admin, "strict", 0, {0, 1, 2})
    controller = admin.describe_cluster(request_timeout=10).result(timeout=15).controller.id
    # A follower dies; the controller, if it is another node, keeps running.
    victim = next(i for i in (2, 1, 0) if i not in (leader, controller)) \
        if leader != controller else next(i for i in (2, 1, 0) if i != leader)
    seq = iter(range(1_000_000))
    acked = []

    first = produce(cluster.bootstrap(), "strict", [next(seq) for _ in range(100)], 0,
                    acks="all")
    assert [e for _, e, _ in first if e] == []
    acked += acknowledged(first)

    cluster.kill(victim)
    survivors = [i for i in range(3) if i != victim]
    leader = wait_isr(admin, "strict", 0, set(survivors), timeout=30)
    for node in survivors:
        wait_described(cluster, node, "strict", (leader, set(survivors), {victim}))

    # acks=all: refused before the append (retries=0 hands the broker's error, retriable in
    # Kafka's table, to the application).
    refused = produce(cluster.bootstrap(survivors), "strict", [next(seq) for _ in range(20)],
                      0, acks="all", retries=0, timeout_ms=10000)
    codes = {e.code() for _, e, _ in refused if e}
    assert acknowledged(refused) == [], "acks=all acknowledged with two of three in sync"
    assert codes == {NOT_ENOUGH_REPLICAS}, [e for _, e, _ in refused]

    # acks=1: the leader alone acknowledges.
    single = produce(cluster.bootstrap(survivors), "strict", [next(seq) for _ in range(300)],
                     0, acks=1)
    assert [e for _, e, _ in single if e] == []
    acked += acknowledged(single)

    # The node returns, fetches what it missed and rejoins the ISR.
    cluster.start(victim)
    leader = wait_isr(admin, "strict", 0, {0, 1, 2}, timeout=60)
    for node in range(3):
        wait_described(cluster, node, "strict", (leader, {0, 1, 2}, set()))
    again = produce(cluster.bootstrap(), "strict", [next(seq) for _ in range(100)], 0,
                    acks="all")
    assert [e for _, e, _ in again if e] == []
    acked += acknowledged(again)

    got = read_back(cluster.bootstrap(), "strict", [0])[0]
    assert_all_read(got, acked)
    # Nothing refused was appended: the log holds exactly the acknowledged records.
    assert sorted(got.values()) == sorted(v for v, _ in acked)


def test_two_nodes_down_then_one_returns(cluster):
    from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": cluster.bootstrap()})
    admin.create_topics([NewTopic("quorumless", 3, 3, config={"min.insync.replicas": "2"})]
                        )["quorumless"].result(timeout=30)
    topic = wait_for_topic(admin, "quorumless", 3)
    for p in range(3):
        wait_isr(admin, "quorumless", p, {0, 1, 2})
    leaders = {p: m.leader for p, m in admin.list_topics("quorumless", timeout=5)
               .topics["quorumless"].partitions.items()}
    assert set(leaders.values()) == {0, 1, 2}, leaders
    del topic
    controller = admin.describe_cluster(request_timeout=10).result(timeout=15).controller.id
    # The survivor is not the controller: the quorum's leader dies too.
    survivor = next(i for i in (0, 1, 2) if i != controller)
    back = controller
    dead = [i for i in range(3) if i != survivor]
    own = next(p for p, l in leaders.items() if l == survivor)  # led by the survivor
    seq = iter(range(1_000_000))
    acked = {p: [] for p in range(3)}

    for p in range(3):
        res = produce(cluster.bootstrap(), "quorumless", [next(seq) for _ in range(100)], p,
                      acks="all")
        assert [e for _, e, _ in res if e] == []
        acked[p] += acknowledged(res)

    for i in dead:
        cluster.kill(i)
    alone = cluster.bootstrap([survivor])
    retriable = {KafkaError._MSG_TIMED_OUT, KafkaError.REQUEST_TIMED_OUT,
                 KafkaError._TIMED_OUT, KafkaError._TRANSPORT,
                 KafkaError.NOT_LEADER_FOR_PARTITION, KafkaError.LEADER_NOT_AVAILABLE,
                 KafkaError.NOT_ENOUGH_REPLICAS, KafkaError.NOT_ENOUGH_REPLICAS_AFTER_APPEND}

    # Without a controller majority the survivor keeps leading its partition from its last
    # metadata: acks=1 writes go on.
    single = produce(alone, "quorumless", [next(seq) for _ in range(200)], own, acks=1,
                     timeout_ms=10000)
    assert [e for _, e, _ in single if e] == [], "acks=1 to a live leader failed"
    acked[own] += acknowledged(single)
    # acks=all cannot complete: the dead followers are still in the committed ISR and no
    # controller can take them out; the producer's message timeout ends it, retriably.
    waiting = produce(alone, "quorumless", [next(seq) for _ in range(10)], own, acks="all",
                      timeout_ms=6000)
    assert acknowledged(waiting) == [], "acks=all acknowledged without the ISR"
    assert {e.code() for _, e, _ in waiting} <= {KafkaError._MSG_TIMED_OUT,
                                                 KafkaError.REQUEST_TIMED_OUT}, [
        e for _, e, _ in waiting]
    # Partitions led by dead nodes cannot be written; the producer gives up in time.
    lost = produce(alone, "quorumless", [next(seq) for _ in range(10)],
                   [p for p in range(3) if p != own], acks=1, timeout_ms=6000)
    assert acknowledged(lost) == []
    assert {e.code() for _, e, _ in lost} <= retriable, [e for _, e, _ in lost]
    # The survivor still answers Metadata (from its last image) and serves reads of its
    # partition up to the high watermark.
    assert isr(AdminClient({"bootstrap.servers": alone}), "quorumless", own)[0] == survivor
    c = Consumer({"bootstrap.servers": alone, "group.id": "unused",
                  "enable.auto.commit": False})
    low, high = c.get_watermark_offsets(TopicPartition("quorumless", own), timeout=10)
    c.close()
    assert (low, high) == (0, 100), (low, high)

    # Nothing that needs the controller can happen: a topic is refused, retriably, in time.
    started = time.time()
    try:
        lonely = AdminClient({"bootstrap.servers": alone})
        lonely.create_topics([NewTopic("no-quorum", 1, 1)], request_timeout=5
                             )["no-quorum"].result(timeout=30)
        raise AssertionError("a topic was created without a controller majority")
    except KafkaException as e:
        err = e.args[0]
        # NOT_CONTROLLER (retriable in Kafka: NotControllerException) or a timeout.
        assert err.code() in retriable | {KafkaError.NOT_CONTROLLER}, err
    assert time.time() - started < 30

    # One node returns: a controller is elected, the other dead node is fenced and its
    # leadership moves, and everything works again.
    cluster.start(back)
    live = cluster.bootstrap([survivor, back])
    deadline = time.time() + 60
    pending = set(range(3))
    while pending:
        assert time.time() < deadline, f"partitions {pending} still refuse acks=all"
        for p in sorted(pending):
            res = produce(live, "quorumless", [next(seq) for _ in range(20)], p, acks="all",
                          timeout_ms=5000, **{"enable.idempotence": True})
            acked[p] += acknowledged(res)
            if all(e is None for _, e, _ in res):
                pending.discard(p)
    for p in range(3):
        res = produce(live, "quorumless", [next(seq) for _ in range(50)], p, acks="all")
        assert [e for _, e, _ in res if e] == []
        acked[p] += acknowledged(res)

    got = read_back(live, "quorumless", [0, 1, 2])
    for p in range(3):
        assert_all_read(got[p], acked[p])


def log_bytes(cluster, node, partition_dir):
    """Bytes in the segment files of one partition's log on `node`."""
    d = cluster.dir / f"node-{node}" / partition_dir
    return sum(f.stat().st_size for f in d.glob("*.log")) if d.is_dir() else 0


def test_a_follower_ahead_of_the_new_leader_truncates_and_rejoins(cluster):
    """The leader dies while one follower has records the other (the next leader) has not:
    acks=1 records written while the next leader was stopped. The new leader's log is shorter
    than the remaining follower's fetch offset; that follower must be told where the logs
    part (KIP-320), truncate and rejoin, so acks=all with min.insync.replicas=2 goes on. (It
    used to be refused OFFSET_OUT_OF_RANGE instead, the ISR shrank to the leader alone and
    every acks=all produce was refused NOT_ENOUGH_REPLICAS for good.)"""
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": cluster.bootstrap()})
    # Replica order [0, 1, 2]: node 0 leads, node 1 is the first choice after it.
    admin.create_topics([NewTopic("ahead", 1, replica_assignment=[[0, 1, 2]],
                                  config={"min.insync.replicas": "2"})]
                        )["ahead"].result(timeout=30)
    wait_for_topic(admin, "ahead", 1)
    assert wait_isr(admin, "ahead", 0, {0, 1, 2}) == 0
    seq = iter(range(1_000_000))
    first = produce(cluster.bootstrap(), "ahead", [next(seq) for _ in range(20)], 0,
                    acks="all")
    assert [e for _, e, _ in first if e] == []
    acked = acknowledged(first)

    # Node 1 stops fetching for under a second (less than the 3 s session and 5 s lag, so it
    # stays unfenced and in the ISR); node 0 takes 100 acks=1 records only node 2 fetches.
    # Then node 0 dies and node 1, first in replica order, leads with the shorter log.
    from confluent_kafka import Producer
    p = Producer({"bootstrap.servers": cluster.bootstrap((0, 2)), "acks": 1, "linger.ms": 1})
    p.produce("ahead", value=b"-1", partition=0)  # connected and warmed up before the stop
    assert p.flush(15) == 0
    stopped = cluster.pid(1)
    os.kill(stopped, signal.SIGSTOP)
    began = time.time()
    try:
        # A first record answers the fetch node 1 had waiting on node 0 (it is read from the
        # socket after SIGCONT); node 1 sends no other fetch while stopped, so what follows
        # reaches node 2 only.
        p.produce("ahead", value=b"-1", partition=0)
        assert p.flush(2) == 0
        time.sleep(0.1)
        for _ in range(100):
            p.produce("ahead", value=str(next(seq)).encode(), partition=0)
        assert p.flush(2) == 0
        # Until node 2's copy of the log is as long as node 0's (their segment files).
        deadline = time.time() + 2
        while log_bytes(cluster, 2, "ahead-0") < log_bytes(cluster, 0, "ahead-0") \
                and time.time() < deadline:
            time.sleep(0.02)
        cluster.kill(0)
    finally:
        os.kill(stopped, signal.SIGCONT)
    print("node 1 stopped for", round(time.time() - began, 2), "s")
    time.sleep(0.3)
    sizes = [log_bytes(cluster, n, "ahead-0") for n in range(3)]
    print("log bytes per node", sizes)
    assert sizes[2] == sizes[0] > sizes[1], "node 2 is not ahead of node 1: case not set up"
    admin = AdminClient({"bootstrap.servers": cluster.bootstrap((1, 2))})
    leader = wait_isr(admin, "ahead", 0, {1, 2}, timeout=30)
    print("new leader", leader)

    # One record per request, one request at a time: the new leader's log grows slowly, so
    # it stays shorter than node 2's fetch offset well past the 5 s lag time.
    after = produce(cluster.bootstrap((1, 2)), "ahead", [next(seq) for _ in range(30)], 0,
                    acks="all", timeout_ms=30000, **{"batch.num.messages": 1})
    assert [e for _, e, _ in after if e] == [], "acks=all refused after the leader moved"
    acked += acknowledged(after)
    assert wait_isr(admin, "ahead", 0, {1, 2}, timeout=30) in (1, 2)
    got = read_back(cluster.bootstrap((1, 2)), "ahead", [0])[0]
    assert_all_read(got, acked)
