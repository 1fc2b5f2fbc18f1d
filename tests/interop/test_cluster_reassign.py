"""Partition reassignment (KIP-455) in a three-node cluster, driven by Kafka's own
`kafka-reassign-partitions` (ReassignPartitionsCommand from Kafka 4.1.1) and by
`vltava reassign-partitions`, while a confluent-kafka producer writes with acks=all:

- an RF=1 partition moves from node 1 to node 2, and another topic goes from RF=1 to RF=3;
- `--verify` reports both complete; Metadata shows the new replicas and ISR; every
  acknowledged record is read back at its offset, in send order; the partition directory of
  the replica that was moved away is gone from node 1's data dir;
- `vltava reassign-partitions --verify` and `--list` agree against the same cluster; its
  `--execute` refuses a broker that is not in the cluster, starts a move to a stopped node
  that `--list` (and Kafka's `--list`) and `--verify` show in progress, and `--cancel`
  reverts it.
"""
import json
import os
import signal
import subprocess
import threading
import time

import pytest

from conftest import vltava_bin
from javatools import run_java
from test_cluster import Cluster, running, wait_for_topic
from test_cluster_elections import wait_until
from test_cluster_failures import assert_all_read, read_back

REASSIGN = "org.apache.kafka.tools.reassign.ReassignPartitionsCommand"


@pytest.fixture(scope="module")
def cluster():
    with running(Cluster, "vltava-reassign-") as c:
        yield c


def admin(cluster):
    from confluent_kafka.admin import AdminClient
    return AdminClient({"bootstrap.servers": cluster.bootstrap()})


def create(cluster, name, replicas):
    from confluent_kafka.admin import NewTopic
    a = admin(cluster)
    a.create_topics([NewTopic(name, 1, replica_assignment=[replicas],
                              config={"min.insync.replicas": "1"})])[name].result(timeout=30)
    wait_for_topic(a, name, 1)
    # Every node has applied it (a tool may ask any of them next).
    for i in (0, 1, 2):
        from confluent_kafka.admin import AdminClient
        one = AdminClient({"bootstrap.servers": cluster.addr(i)})
        wait_until(f"node {i} knows {name}",
                   lambda: name in one.list_topics(name, timeout=5).topics
                   and one.list_topics(name, timeout=5).topics[name].error is None)


def partition(cluster, topic):
    return admin(cluster).list_topics(topic, timeout=10).topics[topic].partitions[0]


class Writer:
    """A confluent-kafka producer (acks=all, idempotent) writing increasing values to
    partition 0 of each topic until stopped; keeps each acknowledged (value, offset)."""

    def __init__(self, cluster, topics):
        from confluent_kafka import Producer
        self.producer = Producer({"bootstrap.servers": cluster.bootstrap(), "acks": "all",
                                  "enable.idempotence": True, "linger.ms": 5,
                                  "message.timeout.ms": 60000})
        self.topics = topics
        self.acked = {t: [] for t in topics}
        self.failed = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def report(self, err, msg):
        if err:
            self.failed.append(err)
        else:
            self.acked[msg.topic()].append((int(msg.value()), msg.offset()))

    def run(self):
        seq = 0
        while not self.stop.is_set():
            for t in self.topics:
                self.producer.produce(t, str(seq).encode(), partition=0,
                                      on_delivery=self.report)
            seq += 1
            self.producer.poll(0)
            time.sleep(0.003)

    def finish(self):
        self.stop.set()
        self.thread.join(30)
        assert self.producer.flush(90) == 0


def kafka_tool(cluster, *args, check=True):
    return run_java(REASSIGN, "--bootstrap-server", cluster.bootstrap(), *args,
                    timeout=120, check=check)


def vltava_tool(cluster, *args, nodes=(0, 1, 2)):
    return subprocess.run([vltava_bin(), "reassign-partitions", "--bootstrap-server",
                           cluster.bootstrap(nodes), *args],
                          capture_output=True, text=True, timeout=120)


def test_kafka_tool_moves_a_replica_and_raises_the_replication_factor(cluster, tmp_path):
    c = cluster
    create(c, "move", [1])
    create(c, "grow", [0])
    writer = Writer(c, ["move", "grow"])
    writer.thread.start()
    time.sleep(2)

    plan = {"version": 1, "partitions": [
        {"topic": "move", "partition": 0, "replicas": [2]},
        {"topic": "grow", "partition": 0, "replicas": [0, 1, 2]},
    ]}
    plan_file = tmp_path / "plan.json"
    plan_file.write_text(json.dumps(plan))
    out = kafka_tool(c, "--execute", "--reassignment-json-file", plan_file)
    assert "Successfully started partition reassignments" in out.stdout, out.stdout

    last = []

    def verified():
        r = kafka_tool(c, "--verify", "--reassignment-json-file", plan_file, check=False)
        last[:] = [r.returncode, r.stdout, r.stderr[-3000:]]
        done = (r.returncode == 0
                and "Reassignment of partition move-0 is completed" in r.stdout
                and "Reassignment of partition grow-0 is completed" in r.stdout)
        return r.stdout if done else None

    try:
        verify_out = wait_until("reassignments complete", verified, timeout=90)
    except AssertionError:
        raise AssertionError(f"--verify never said complete: {last}") from None
    assert "is still in progress" not in verify_out
    time.sleep(1)  # writes go on a little after the moves
    writer.finish()
    assert sum(len(v) for v in writer.acked.values()) > 300, writer.failed[:3]

    move, grow = partition(c, "move"), partition(c, "grow")
    assert (move.replicas, move.isrs, move.leader) == ([2], [2], 2)
    assert grow.replicas == [0, 1, 2]
    assert sorted(grow.isrs) == [0, 1, 2]

    for topic in ("move", "grow"):
        got = read_back(c.bootstrap(), topic, [0])[0]
        assert_all_read(got, writer.acked[topic])

    # The moved replica's log is gone from node 1; node 2 has it.
    wait_until("node 1 deleted move-0", lambda: not (c.dir / "node-1" / "move-0").exists())
    assert (c.dir / "node-2" / "move-0").is_dir()
    assert (c.dir / "node-2" / "grow-0").is_dir()

    # The same plan, verified and listed by vltava's tool against the same cluster.
    v = vltava_tool(c, "--verify", "--reassignment-json-file", str(plan_file))
    assert v.returncode == 0, v.stdout + v.stderr
    assert "Reassignment of partition move-0 is completed." in v.stdout, v.stdout
    assert "Reassignment of partition grow-0 is completed." in v.stdout, v.stdout
    listed = vltava_tool(c, "--list")
    assert listed.returncode == 0, listed.stdout + listed.stderr
    assert "No partition reassignments found." in listed.stdout, listed.stdout


def test_vltava_tool_executes_lists_and_cancels(cluster, tmp_path):
    c = cluster
    plan_file = tmp_path / "stay.json"
    plan_file.write_text(json.dumps({"version": 1, "partitions": [
        {"topic": "stay", "partition": 0, "replicas": [9]}]}))
    # As Kafka's tool: target brokers must be live brokers of the cluster.
    create(c, "stay", [1])
    bad = vltava_tool(c, "--execute", "--reassignment-json-file", str(plan_file))
    assert bad.returncode == 1
    assert "Unknown broker id 9" in bad.stdout, bad.stdout + bad.stderr

    # A new replica on a node that is stopped (SIGSTOP, still registered and unfenced for
    # the moment the tool runs) cannot catch up: the reassignment stays in progress until it
    # is cancelled. The stopped node is not the active controller.
    a = admin(c)  # alive until the answer: a destroyed handle fails its futures
    controller = a.describe_cluster().result(timeout=30).controller.id
    stopped = next(n for n in (0, 2) if n != controller)
    up = tuple(n for n in (0, 1, 2) if n != stopped)
    plan_file.write_text(json.dumps({"version": 1, "partitions": [
        {"topic": "stay", "partition": 0, "replicas": [stopped, 1]}]}))
    os.kill(c.pid(stopped), signal.SIGSTOP)
    try:
        ex = vltava_tool(c, "--execute", "--reassignment-json-file", str(plan_file), nodes=up)
        assert ex.returncode == 0, ex.stdout + ex.stderr
        assert "Successfully started partition reassignment for stay-0" in ex.stdout, ex.stdout
        assert '{"topic":"stay","partition":0,"replicas":[1]' in ex.stdout, ex.stdout
        listed = vltava_tool(c, "--list", nodes=up)
        want = f"stay-0: replicas: {stopped},1. adding: {stopped}."
        assert want in listed.stdout.splitlines(), listed.stdout
        ver = vltava_tool(c, "--verify", "--reassignment-json-file", str(plan_file), nodes=up)
        assert "Reassignment of partition stay-0 is still in progress." in ver.stdout, ver.stdout
        # Kafka's tool lists the same reassignment.
        kafka_list = run_java(REASSIGN, "--bootstrap-server", c.bootstrap(up), "--list",
                              timeout=120)
        assert want in kafka_list.stdout.splitlines(), kafka_list.stdout
        cancel = vltava_tool(c, "--cancel", "--reassignment-json-file", str(plan_file),
                             nodes=up)
        assert cancel.returncode == 0, cancel.stdout + cancel.stderr
        assert "Successfully cancelled partition reassignment for: stay-0" in cancel.stdout, \
            cancel.stdout
        assert "No partition reassignments found." in vltava_tool(c, "--list", nodes=up).stdout
        # Every node's Metadata shows the original replicas again (each applies the
        # metadata log on its own).
        for i in up:
            from confluent_kafka.admin import AdminClient
            one = AdminClient({"bootstrap.servers": c.addr(i)})
            wait_until(f"node {i} shows stay-0 reverted", lambda: (
                (lambda md: (md.replicas, md.isrs) == ([1], [1]))(
                    one.list_topics("stay", timeout=5).topics["stay"].partitions[0])))
    finally:
        os.kill(c.pid(stopped), signal.SIGCONT)
