"""A split-roles cluster driven by confluent-kafka: examples/cluster/cluster.sh with
CLUSTER_LAYOUT=split runs three controller-only voters (nodes 0-2, no client listener) and
two broker-only nodes (3, 4) that follow the metadata log as observers. Clients see only
the brokers; replicas are placed only on them; an idempotent acks=all producer and a group
consumer work through them; after SIGKILL of the active controller, topics are still
created, configs altered, records produced and consumed through the brokers.
"""
import re
import subprocess
import time

import pytest

from conftest import vltava_bin
from test_cluster import Cluster, running, wait_for_topic

BROKERS = (3, 4)
RECORDS = 1000


class SplitCluster(Cluster):
    NODES = range(5)

    def __init__(self, directory):
        super().__init__(directory)
        self.env["CLUSTER_LAYOUT"] = "split"

    def addr(self, i):
        # Brokers 3 and 4 take the client ports base and base + 2.
        return f"127.0.0.1:{self.base + 2 * (i - 3)}"

    def bootstrap(self, nodes=BROKERS):
        return ",".join(self.addr(i) for i in nodes)

    def quorum_leader(self):
        out = subprocess.run([vltava_bin(), "metadata-quorum", "--bootstrap-server",
                              self.bootstrap(), "describe", "--status"],
                             capture_output=True, text=True, timeout=30)
        assert out.returncode == 0, out.stdout + out.stderr
        return int(re.search(r"LeaderId:\s+(\d+)", out.stdout).group(1)), out.stdout


@pytest.fixture
def split_cluster():
    with running(SplitCluster, "vltava-split-") as c:
        yield c


def produce(bootstrap, topic, start, count):
    from confluent_kafka import Producer
    errors = []
    p = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True,
                  "acks": "all", "linger.ms": 5})
    for i in range(start, start + count):
        p.produce(topic, key=f"k{i % 20}".encode(), value=str(i).encode(),
                  on_delivery=lambda err, msg: errors.append(err) if err else None)
        p.poll(0)
    assert p.flush(30) == 0
    assert errors == []


def test_split_roles_with_confluent_kafka(split_cluster):
    from confluent_kafka import Consumer, KafkaException, TopicPartition
    from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic

    cluster = split_cluster
    out = cluster.run("check", timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr
    assert re.search(r'CurrentObservers:\s+\[\{"id": 3\}, \{"id": 4\}\]', out.stdout), out.stdout
    for i in range(3):
        assert f"CONTROLLER://127.0.0.1:{cluster.base + 2 * i + 1}" in out.stdout

    admin = AdminClient({"bootstrap.servers": cluster.bootstrap()})
    assert set(admin.list_topics(timeout=10).brokers) == set(BROKERS)
    admin.create_topics([NewTopic("split-orders", 4, 2)])["split-orders"].result(timeout=30)
    topic = wait_for_topic(admin, "split-orders", 4)
    for p in topic.partitions.values():
        assert sorted(p.replicas) == [3, 4] and p.leader in BROKERS
    produce(cluster.bootstrap(), "split-orders", 0, RECORDS)

    # The active controller dies: the brokers follow the new one.
    leader, _ = cluster.quorum_leader()
    assert leader in (0, 1, 2)
    cluster.kill(leader)
    deadline = time.time() + 60
    while True:
        try:
            admin.create_topics([NewTopic("after-kill", 2, 2)])["after-kill"].result(timeout=30)
            break
        except KafkaException as e:  # NOT_CONTROLLER while the election runs
            assert time.time() < deadline, f"no topic after the controller kill: {e!r}"
            time.sleep(0.5)
    wait_for_topic(admin, "after-kill", 2)
    res = ConfigResource(ConfigResource.Type.TOPIC, "split-orders",
                         set_config={"retention.ms": "3600000"})
    admin.alter_configs([res])[res].result(timeout=30)
    new_leader, status = cluster.quorum_leader()
    assert new_leader != leader, status
    produce(cluster.bootstrap(), "split-orders", RECORDS, RECORDS)

    c = Consumer({"bootstrap.servers": cluster.bootstrap(), "group.id": "split-g",
                  "auto.offset.reset": "earliest", "enable.auto.commit": False})
    c.subscribe(["split-orders"])
    seen = {}
    count = 0
    deadline = time.time() + 60
    while count < 2 * RECORDS and time.time() < deadline:
        m = c.poll(1.0)
        if m is None or m.error():
            continue
        key, value = m.key().decode(), int(m.value())
        assert value > seen.get(key, -1), f"key {key} out of order"
        seen[key] = value
        count += 1
    assert count == 2 * RECORDS
    c.commit(asynchronous=False)
    committed = c.committed([TopicPartition("split-orders", i) for i in range(4)], timeout=10)
    assert sum(tp.offset for tp in committed) == 2 * RECORDS
    c.close()
