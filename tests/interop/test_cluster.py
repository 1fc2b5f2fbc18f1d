"""A three-node cluster (examples/cluster/cluster.sh) driven by real clients.

confluent-kafka and kafka-python create topics through any node (the request is forwarded
to the active controller), produce to partitions led by all three nodes, consume them in
groups whose coordinators sit on whichever node leads their __consumer_offsets partition,
and, after the active controller is killed with SIGKILL, still create topics and alter
configs through the surviving quorum. Transactions span partitions led by every node. On a
replication-factor-3 topic, an idempotent acks=all producer goes on through SIGKILL of a
partition leader, and every acknowledged record is read back once, in order.
"""
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from conftest import ROOT, vltava_bin
from free_ports import free_port_block

SCRIPT = ROOT / "examples" / "cluster" / "cluster.sh"
RECORDS = 3000


class Cluster:
    def __init__(self, directory):
        self.dir = Path(directory)
        self.base = free_port_block(6, step=2)
        # Short sessions: a killed node is fenced (and its leadership moved) within seconds.
        self.env = dict(os.environ, VLTAVA_BIN=vltava_bin(), CLUSTER_DIR=str(self.dir),
                        PORT_BASE=str(self.base),
                        CLUSTER_OVERRIDES="broker.session.timeout.ms=3000 "
                                          "broker.heartbeat.interval.ms=500 "
                                          "replica.lag.time.max.ms=5000")

    def run(self, action, timeout, *args):
        return subprocess.run([str(SCRIPT), action, *map(str, args)], env=self.env,
                              capture_output=True, text=True, timeout=timeout)

    def start(self, *nodes, timeout=120):
        """Starts the given nodes (all that are not running when none are given)."""
        out = self.run("start", timeout, *nodes)
        assert out.returncode == 0, out.stdout + out.stderr + self.logs()

    def addr(self, i):
        return f"127.0.0.1:{self.base + 2 * i}"

    def bootstrap(self, nodes=(0, 1, 2)):
        return ",".join(self.addr(i) for i in nodes)

    def pid(self, i):
        return int((self.dir / f"node-{i}.pid").read_text())

    def kill(self, i):
        os.kill(self.pid(i), signal.SIGKILL)
        self.wait_exit(i, 10)

    def terminate(self, i, timeout=60):
        """SIGTERM: a controlled shutdown (leadership moves away before the node exits)."""
        os.kill(self.pid(i), signal.SIGTERM)
        self.wait_exit(i, timeout)

    def wait_exit(self, i, timeout):
        pid = self.pid(i)
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
            # A child of cluster.sh's shell, reparented: reaped by init, or a zombie.
            try:
                if Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z":
                    return
            except OSError:
                return
            time.sleep(0.05)
        raise AssertionError(f"node {i} (pid {pid}) did not exit within {timeout} s")

    # The node ids cluster.sh runs in this layout.
    NODES = range(3)

    def logs(self):
        out = []
        for i in self.NODES:
            p = self.dir / f"node-{i}.log"
            if p.exists():
                out.append(f"---- node {i} ----\n" + p.read_text()[-4000:])
        return "\n".join(out)


@contextlib.contextmanager
def running(cluster_type, prefix):
    """A cluster of `cluster_type` in a fresh directory, started by cluster.sh and stopped
    (its logs printed) afterwards."""
    with tempfile.TemporaryDirectory(prefix=prefix) as d:
        c = cluster_type(d)
        started = c.run("start", timeout=150)
        try:
            assert started.returncode == 0, started.stdout + started.stderr + c.logs()
            yield c
        finally:
            stopped = c.run("stop", timeout=120)
            print(stopped.stdout, stopped.stderr)
            print(c.logs())
            keep = os.environ.get("VLTAVA_CLUSTER_LOGS")
            if keep:  # whole node logs kept for diagnosis (the printout is their tails)
                dest = Path(keep) / Path(d).name
                dest.mkdir(parents=True, exist_ok=True)
                for log in Path(d).glob("node-*.log"):
                    shutil.copy(log, dest / log.name)


@pytest.fixture
def cluster():
    with running(Cluster, "vltava-cluster-") as c:
        yield c


def wait_for_topic(admin, name, partitions, timeout=20):
    deadline = time.time() + timeout
    while time.time() < deadline:
        t = admin.list_topics(name, timeout=5).topics.get(name)
        if t is not None and t.error is None and len(t.partitions) == partitions:
            return t
        time.sleep(0.2)
    raise AssertionError(f"topic {name} did not appear")


def test_script_check_describes_quorum_and_topics(cluster):
    out = cluster.run("check", timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "CurrentVoters" in out.stdout
    for i in range(3):
        assert f"CONTROLLER://127.0.0.1:{cluster.base + 2 * i + 1}" in out.stdout
    leaders = {line.split("Leader: ")[1].split()[0]
               for line in out.stdout.splitlines() if "Partition: " in line}
    assert leaders == {"0", "1", "2"}, out.stdout


def test_clients_across_nodes_and_controller_failover(cluster):
    from confluent_kafka import Consumer, Producer, TopicPartition
    from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic
    from kafka import KafkaConsumer
    from kafka.admin import KafkaAdminClient, NewTopic as KpNewTopic

    # Created through node 2 alone: unless it leads the quorum, it forwards.
    admin = AdminClient({"bootstrap.servers": cluster.addr(2)})
    admin.create_topics([NewTopic("orders", 6, 3)])["orders"].result(timeout=30)
    topic = wait_for_topic(admin, "orders", 6)
    assert {p.leader for p in topic.partitions.values()} == {0, 1, 2}
    assert len(admin.list_topics(timeout=5).brokers) == 3

    # An idempotent acks=all producer writes to partitions led by all three nodes.
    errors = []
    p = Producer({"bootstrap.servers": cluster.bootstrap(), "enable.idempotence": True,
                  "acks": "all", "linger.ms": 5})
    for i in range(RECORDS):
        p.produce("orders", key=f"k{i % 60}".encode(), value=str(i).encode(),
                  on_delivery=lambda err, msg: errors.append(err) if err else None)
        if i % 500 == 0:
            p.poll(0)
    assert p.flush(30) == 0
    assert errors == []

    # A confluent-kafka group reads everything, in order per key, and commits.
    c = Consumer({"bootstrap.servers": cluster.bootstrap(), "group.id": "cluster-g1",
                  "auto.offset.reset": "earliest", "enable.auto.commit": False})
    c.subscribe(["orders"])
    seen = {}
    deadline = time.time() + 60
    count = 0
    while count < RECORDS and time.time() < deadline:
        m = c.poll(1.0)
        if m is None or m.error():
            continue
        key, value = m.key().decode(), int(m.value())
        assert value > seen.get(key, -1), f"key {key} out of order"
        seen[key] = value
        count += 1
    assert count == RECORDS
    c.commit(asynchronous=False)
    committed = c.committed([TopicPartition("orders", i) for i in range(6)], timeout=10)
    assert sum(tp.offset for tp in committed) == RECORDS
    c.close()

    # A kafka-python group reads them too (its coordinator may be another node).
    kc = KafkaConsumer("orders", bootstrap_servers=cluster.bootstrap().split(","),
                       group_id="cluster-g2", auto_offset_reset="earliest",
                       consumer_timeout_ms=15000)
    assert sum(1 for _ in kc) == RECORDS
    kc.close()

    # Kill the active controller: the other two voters elect a new one, and topics are
    # still created and configs still altered through them.
    controller = admin.describe_cluster(request_timeout=10).result(timeout=15).controller.id
    cluster.kill(controller)
    survivors = [i for i in range(3) if i != controller]
    deadline = time.time() + 60
    while True:
        # kafka-python picks its controller once per admin client: a new one per attempt.
        kp = KafkaAdminClient(bootstrap_servers=cluster.bootstrap(survivors).split(","),
                              request_timeout_ms=30000)
        try:
            kp.create_topics([KpNewTopic("after-failover", 2, 2)], timeout_ms=30000)
            break
        except Exception as e:  # NOT_CONTROLLER / timeouts while the election runs
            if time.time() > deadline:
                raise AssertionError(f"no topic after controller failover: {e!r}")
            time.sleep(0.5)
        finally:
            kp.close()
    admin2 = AdminClient({"bootstrap.servers": cluster.bootstrap(survivors)})
    wait_for_topic(admin2, "after-failover", 2)
    res = ConfigResource(ConfigResource.Type.TOPIC, "orders", set_config={"retention.ms": "3600000"})
    admin2.alter_configs([res])[res].result(timeout=30)
    deadline = time.time() + 20
    while True:
        desc = admin2.describe_configs([ConfigResource(ConfigResource.Type.TOPIC, "orders")])
        cfg = list(desc.values())[0].result(timeout=15)
        if cfg["retention.ms"].value == "3600000":
            break
        assert time.time() < deadline, cfg["retention.ms"].value
        time.sleep(0.2)
    new_controller = admin2.describe_cluster(request_timeout=10).result(timeout=15).controller.id
    assert new_controller in survivors


def test_transactions_across_brokers(cluster):
    """A transaction spans partitions led by all three nodes (markers go to each leader, the
    coordinator may be on yet another node): a read_committed consumer sees exactly the
    committed records, and offsets sent to the transaction commit with it."""
    from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": cluster.bootstrap()})
    for f in admin.create_topics([NewTopic("txn-in", 3, 3), NewTopic("txn-out", 6, 3)]).values():
        f.result(timeout=30)
    for name, n in (("txn-in", 3), ("txn-out", 6)):
        t = wait_for_topic(admin, name, n)
        assert {p.leader for p in t.partitions.values()} == {0, 1, 2}

    p = Producer({"bootstrap.servers": cluster.bootstrap(), "transactional.id": "cluster-tx",
                  "linger.ms": 5})
    p.init_transactions(30)
    committed, aborted = [], []
    for n in range(8):
        p.begin_transaction()
        values = [f"t{n}-{i}" for i in range(30)]
        for i, v in enumerate(values):
            p.produce("txn-out", value=v.encode(), partition=i % 6)
        if n % 3 == 2:
            # Written first (an abort drops what is still queued), then aborted.
            assert p.flush(30) == 0
            p.abort_transaction(30)
            aborted += values
        else:
            p.commit_transaction(30)
            committed += values

    def read_all(isolation, want):
        c = Consumer({"bootstrap.servers": cluster.bootstrap(), "group.id": f"read-{isolation}",
                      "auto.offset.reset": "earliest", "isolation.level": isolation})
        c.subscribe(["txn-out"])
        got = []
        deadline = time.time() + 60
        while len(got) < want and time.time() < deadline:
            m = c.poll(1.0)
            if m is not None and not m.error():
                got.append(m.value().decode())
        # Nothing more arrives once everything is read.
        end = time.time() + 2
        while time.time() < end:
            m = c.poll(0.5)
            if m is not None and not m.error():
                got.append(m.value().decode())
        c.close()
        return got

    got = read_all("read_committed", len(committed))
    assert sorted(got) == sorted(committed)
    assert not set(got) & set(aborted)
    assert sorted(read_all("read_uncommitted", len(committed) + len(aborted))) == sorted(
        committed + aborted)

    # Consume-transform-produce: input offsets commit with the output, wherever the group's
    # coordinator and the output partitions' leaders are.
    src = Producer({"bootstrap.servers": cluster.bootstrap()})
    for i in range(60):
        src.produce("txn-in", value=str(i).encode(), partition=i % 3)
    assert src.flush(30) == 0
    c = Consumer({"bootstrap.servers": cluster.bootstrap(), "group.id": "cluster-ctp",
                  "auto.offset.reset": "earliest", "enable.auto.commit": False,
                  "isolation.level": "read_committed"})
    c.subscribe(["txn-in"])
    seen = 0
    deadline = time.time() + 60
    while seen < 60 and time.time() < deadline:
        msgs = c.consume(50, 1.0)
        msgs = [m for m in msgs if not m.error()]
        if not msgs:
            continue
        p.begin_transaction()
        for m in msgs:
            p.produce("txn-out", value=b"x" + m.value(), partition=m.partition())
        p.send_offsets_to_transaction(c.position(c.assignment()), c.consumer_group_metadata(), 30)
        p.commit_transaction(30)
        seen += len(msgs)
    assert seen == 60
    c.close()
    check = Consumer({"bootstrap.servers": cluster.bootstrap(), "group.id": "cluster-ctp"})
    offsets = check.committed([TopicPartition("txn-in", i) for i in range(3)], timeout=15)
    assert sum(tp.offset for tp in offsets) == 60
    check.close()


def test_acks_all_survives_a_leader_kill(cluster):
    """librdkafka, idempotent and acks=all, on a topic with three replicas: the leader of a
    partition is killed with SIGKILL mid-stream; afterwards every acknowledged record is
    read back exactly once and each partition keeps the send order."""
    import threading

    from confluent_kafka import Consumer, Producer, TopicPartition
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": cluster.bootstrap()})
    admin.create_topics([NewTopic("replicated", 3, 3, config={"min.insync.replicas": "2"})]
                        )["replicated"].result(timeout=30)
    topic = wait_for_topic(admin, "replicated", 3)
    for p in topic.partitions.values():
        assert sorted(p.replicas) == [0, 1, 2]
        assert sorted(p.isrs) == [0, 1, 2]
    victim = topic.partitions[0].leader

    acked = {0: [], 1: [], 2: []}
    failed = []
    lock = threading.Lock()

    def on_delivery(err, msg):
        with lock:
            if err:
                failed.append(err)
            else:
                acked[msg.partition()].append((msg.offset(), int(msg.value())))

    producer = Producer({"bootstrap.servers": cluster.bootstrap(), "enable.idempotence": True,
                         "acks": "all", "linger.ms": 2, "message.timeout.ms": 60000})
    seq = 0

    def produce_for(seconds):
        nonlocal seq
        end = time.time() + seconds
        while time.time() < end:
            for part in range(3):
                producer.produce("replicated", value=str(seq).encode(), partition=part,
                                 on_delivery=on_delivery)
                seq += 1
            producer.poll(0)
            time.sleep(0.002)

    produce_for(3)
    cluster.kill(victim)
    produce_for(12)
    assert producer.flush(90) == 0
    total_acked = sum(len(v) for v in acked.values())
    assert total_acked > 1000, (total_acked, failed[:3])

    # The killed node comes back (start restarts the nodes that are not running).
    started = cluster.run("start", timeout=120)
    assert started.returncode == 0, started.stdout + started.stderr

    c = Consumer({"bootstrap.servers": cluster.bootstrap(), "group.id": "replicated-check",
                  "auto.offset.reset": "earliest", "enable.auto.commit": False})
    c.assign([TopicPartition("replicated", p, 0) for p in range(3)])
    read = {0: [], 1: [], 2: []}
    want = {p: max((o for o, _ in acked[p]), default=-1) for p in range(3)}
    deadline = time.time() + 60
    while time.time() < deadline and any(
            (read[p][-1][0] if read[p] else -1) < want[p] for p in range(3)):
        m = c.poll(1.0)
        if m is None or m.error():
            continue
        read[m.partition()].append((m.offset(), int(m.value())))
    c.close()
    for p in range(3):
        values = [v for _, v in read[p]]
        assert len(values) == len(set(values)), f"partition {p}: duplicates"
        assert values == sorted(values), f"partition {p}: send order not kept"
        stored = dict(read[p])
        for offset, value in acked[p]:
            assert stored.get(offset) == value, (
                f"partition {p}: acknowledged {value} at {offset}, read {stored.get(offset)}")
