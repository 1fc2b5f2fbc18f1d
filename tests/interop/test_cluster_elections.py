"""Leader elections in a three-node cluster, driven and observed by confluent-kafka
(librdkafka's ElectLeaders and Metadata) and Kafka's `kafka-leader-election` tool:

- a preferred election (ElectLeaders) moves leadership back to the first replica once it
  is in sync again; a second one is ELECTION_NOT_NEEDED;
- with `unclean.leader.election.enable=true` on a topic, a partition whose only in-sync
  replica died is led by the out-of-sync replica that comes back (the records only the
  dead replica held are gone, as the setting accepts); the same partition of a topic
  without the setting stays offline until an unclean ElectLeaders (in the split layout,
  so that both replicas can die while the controllers keep their quorum);
- `auto.leader.rebalance.enable` moves leadership back by itself, every
  `leader.imbalance.check.interval.seconds`.
"""
import contextlib
import time

import pytest

from test_cluster import Cluster, running, wait_for_topic
from test_cluster_failures import read_back
from test_split_roles import SplitCluster
from javatools import run_java

LEADER_ELECTION = "org.apache.kafka.tools.LeaderElectionCommand"


class QuietCluster(Cluster):
    """No automatic rebalance: only the elections a test asks for move leaders."""

    def __init__(self, directory):
        super().__init__(directory)
        self.env["CLUSTER_OVERRIDES"] += " auto.leader.rebalance.enable=false"


class QuietSplitCluster(SplitCluster):
    def __init__(self, directory):
        super().__init__(directory)
        self.env["CLUSTER_OVERRIDES"] += " auto.leader.rebalance.enable=false"


class RebalancingCluster(Cluster):
    def __init__(self, directory):
        super().__init__(directory)
        self.env["CLUSTER_OVERRIDES"] += " leader.imbalance.check.interval.seconds=2"


@pytest.fixture(scope="module")
def quiet_cluster():
    with running(QuietCluster, "vltava-elections-") as c:
        yield c


def admin(cluster, nodes=(0, 1, 2)):
    from confluent_kafka.admin import AdminClient
    return AdminClient({"bootstrap.servers": cluster.bootstrap(nodes)})


def partition(cluster, topic, nodes=(0, 1, 2)):
    return admin(cluster, nodes).list_topics(topic, timeout=10).topics[topic].partitions[0]


def wait_until(what, check, timeout=40):
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        with contextlib.suppress(Exception):
            last = check()
            if last:
                return last
        time.sleep(0.25)
    raise AssertionError(f"{what}: not within {timeout} s (last: {last})")


def create(cluster, name, assignment, config=None, nodes=(0, 1, 2)):
    from confluent_kafka.admin import NewTopic
    a = admin(cluster, nodes)
    a.create_topics([NewTopic(name, len(assignment), replica_assignment=assignment,
                              config=config or {})]
                    )[name].result(timeout=30)
    wait_for_topic(a, name, len(assignment))
    want = sorted(assignment[0])
    wait_until(f"{name} in sync", lambda: sorted(partition(cluster, name, nodes).isrs) == want)


def produce(cluster, topic, values, nodes=(0, 1, 2)):
    """Sends `values` (acks=all); returns {value: offset} of the acknowledged ones."""
    from confluent_kafka import Producer
    p = Producer({"bootstrap.servers": cluster.bootstrap(nodes), "acks": "all",
                  "message.timeout.ms": 20000})
    acked = {}

    def report(err, msg):
        if err is None:
            acked[int(msg.value())] = msg.offset()

    for v in values:
        p.produce(topic, str(v).encode(), partition=0, on_delivery=report)
    p.flush(30)
    return acked


def describe(cluster, topic, nodes=(0, 1, 2)):
    from confluent_kafka.admin import ConfigResource, ResourceType
    a = admin(cluster, nodes)
    [f] = a.describe_configs([ConfigResource(ResourceType.TOPIC, topic)]).values()
    return {k: v.value for k, v in f.result(timeout=30).items()}


def elect(cluster, kind, topic, nodes=(0, 1, 2)):
    """One ElectLeaders for partition 0 of `topic`: the partition's error code (None:
    elected)."""
    from confluent_kafka import ElectionType, TopicPartition
    a = admin(cluster, nodes)  # alive until the answer: a destroyed handle fails its futures
    result = a.elect_leaders(ElectionType[kind], [TopicPartition(topic, 0)]).result(timeout=30)
    [(tp, err)] = result.items()
    assert (tp.topic, tp.partition) == (topic, 0)
    if err is None:
        return None
    return err.code() if hasattr(err, "code") else err.args[0].code()


def test_preferred_election_moves_leadership_back_to_the_first_replica(quiet_cluster):
    from confluent_kafka import KafkaError
    c = quiet_cluster
    create(c, "preferred", [[1, 2, 0]])
    create(c, "tool", [[1, 0, 2]])
    assert partition(c, "preferred").leader == 1
    assert elect(c, "PREFERRED", "preferred") == KafkaError.ELECTION_NOT_NEEDED
    assert elect(c, "UNCLEAN", "preferred") == KafkaError.ELECTION_NOT_NEEDED
    # The topic describes the settings elections follow as the broker resolves them.
    configs = describe(c, "preferred")
    assert configs["unclean.leader.election.enable"] == "false"
    assert configs["min.insync.replicas"] == "2", "the cluster's server.properties value"

    c.kill(1)
    wait_until("leadership moved", lambda: partition(c, "preferred", (0, 2)).leader in (0, 2))
    # Out of the ISR (fenced): the preferred replica cannot lead.
    err = elect(c, "PREFERRED", "preferred", (0, 2))
    assert err == KafkaError.PREFERRED_LEADER_NOT_AVAILABLE, err
    c.start(1)
    for topic in ("preferred", "tool"):
        wait_until(f"node 1 back in sync on {topic}",
                   lambda t=topic: sorted(partition(c, t).isrs) == [0, 1, 2])
    # Nothing moves it back by itself here (no automatic rebalance) ...
    time.sleep(3)
    assert partition(c, "preferred").leader != 1
    # ... an election does, and records written before and after survive.
    before = produce(c, "preferred", range(50))
    assert len(before) == 50
    assert elect(c, "PREFERRED", "preferred") is None
    wait_until("node 1 leads", lambda: partition(c, "preferred").leader == 1)
    after = produce(c, "preferred", range(50, 100))
    assert len(after) == 50
    stored = read_back(c.bootstrap(), "preferred", [0])[0]
    for value, offset in {**before, **after}.items():
        assert stored.get(offset) == value
    assert elect(c, "PREFERRED", "preferred") == KafkaError.ELECTION_NOT_NEEDED

    # Kafka's own tool, for one partition and then for all.
    assert partition(c, "tool").leader != 1
    out = run_java(LEADER_ELECTION, "--bootstrap-server", c.bootstrap(),
                   "--election-type", "PREFERRED", "--topic", "tool", "--partition", "0")
    assert "Successfully completed leader election (PREFERRED) for partitions tool-0" \
        in out.stdout, out.stdout
    assert partition(c, "tool").leader == 1
    out = run_java(LEADER_ELECTION, "--bootstrap-server", c.bootstrap(),
                   "--election-type", "PREFERRED", "--all-topic-partitions")
    assert "Error" not in out.stdout and "Successfully" not in out.stdout, out.stdout


def test_unclean_election_brings_back_an_offline_partition_only_where_allowed():
    # Brokers 3 and 4 of the split layout: both may die while the controllers (0-2) keep
    # their quorum.
    from confluent_kafka import KafkaError
    with running(QuietSplitCluster, "vltava-unclean-") as c:
        both, only_4 = (3, 4), (4,)
        # One in-sync replica is enough to write.
        create(c, "dirty", [[3, 4]], {"unclean.leader.election.enable": "true",
                                      "min.insync.replicas": "1"}, both)
        create(c, "clean", [[3, 4]], {"min.insync.replicas": "1"}, both)
        assert describe(c, "dirty", both)["unclean.leader.election.enable"] == "true"
        for topic in ("dirty", "clean"):
            assert len(produce(c, topic, range(10), both)) == 10
        # The follower dies: the ISR shrinks to the leader, which takes more records alone.
        c.kill(4)
        for topic in ("dirty", "clean"):
            wait_until(f"{topic}: ISR without node 4",
                       lambda t=topic: partition(c, t, (3,)).isrs == [3])
            assert len(produce(c, topic, range(10, 15), (3,))) == 5
        # Then the leader dies: both partitions go offline (3 stays their last ISR member).
        c.kill(3)
        c.start(4)
        # The out-of-sync replica is back: it leads "dirty" at once, with only its own log;
        # "clean" stays offline.
        wait_until("node 4 leads dirty", lambda: partition(c, "dirty", only_4).leader == 4)
        assert partition(c, "dirty", only_4).isrs == [4]
        assert partition(c, "clean", only_4).leader == -1
        # An unclean ElectLeaders brings "clean" back on the one live replica too; a
        # preferred one would need node 3.
        assert elect(c, "PREFERRED", "dirty", only_4) == KafkaError.PREFERRED_LEADER_NOT_AVAILABLE
        assert elect(c, "UNCLEAN", "clean", only_4) is None
        wait_until("node 4 leads clean", lambda: partition(c, "clean", only_4).leader == 4)
        assert elect(c, "UNCLEAN", "clean", only_4) == KafkaError.ELECTION_NOT_NEEDED
        for topic in ("dirty", "clean"):
            assert len(produce(c, topic, range(100, 105), only_4)) == 5
        expected = list(range(10)) + list(range(100, 105))
        for topic in ("dirty", "clean"):
            got = read_back(c.bootstrap(only_4), topic, [0])[0]
            assert sorted(got.values()) == expected, (topic, got)
        # The old leader returns, drops the records the new leader never had, catches up.
        c.start(3)
        for topic in ("dirty", "clean"):
            wait_until(f"node 3 back in sync on {topic}",
                       lambda t=topic: sorted(partition(c, t, both).isrs) == [3, 4])
            got = read_back(c.bootstrap(both), topic, [0])[0]
            assert sorted(got.values()) == expected, (topic, got)


def test_automatic_rebalance_moves_leadership_back_by_itself():
    with running(RebalancingCluster, "vltava-rebalance-") as c:
        create(c, "auto", [[2, 0, 1]])
        assert partition(c, "auto").leader == 2
        c.kill(2)
        wait_until("leadership moved", lambda: partition(c, "auto", (0, 1)).leader in (0, 1))
        c.start(2)
        wait_until("leadership back on node 2", lambda: partition(c, "auto").leader == 2)
        assert sorted(partition(c, "auto").isrs) == [0, 1, 2]
