"""The Java client (org.apache.kafka:kafka-clients 4.x) against the broker: the producer
with its defaults (idempotence, acks=all), a classic consumer group of two consumers
committing offsets, transactions (commit, abort, offsets in a transaction, read_committed),
and the AdminClient (topics, configs, groups, offsets, delete records, cluster, quorum,
SCRAM credentials, client quotas). Its ACL scenario needs an authorizer: test_java_admin_acls.py.

The scenarios live in tests/interop/java (dev.vltava.interop.ClientScenarios) and run in
one JVM per broker. The same scenarios run against Apache Kafka 4.x itself (KRaft combined
mode, kafka_broker.py), the seed of differential testing: every scenario is a test per
broker, and test_same_outcome_on_vltava_and_kafka lists the scenarios whose outcome differs."""
import pytest

from javatools import run_java
from scenario_suite import BROKERS, assert_passed, assert_same_outcome, run_on_every_broker

SCENARIOS = [
    "producer_defaults",
    "consumer_group_classic",
    "transactions",
    "admin_topics",
    "admin_configs",
    "admin_groups",
    "admin_offsets_delete_records",
    "admin_cluster_quorum",
    "admin_scram",
    "admin_client_quotas",
]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Both brokers, one after the other; every scenario in one JVM per broker."""
    return run_on_every_broker(
        tmp_path_factory, "java",
        lambda bootstrap: run_java("dev.vltava.interop.ClientScenarios", bootstrap, *SCENARIOS,
                                   timeout=240, check=False))


@pytest.mark.parametrize("scenario", SCENARIOS)
@pytest.mark.parametrize("kind", list(BROKERS))
def test_java_client(runs, kind, scenario):
    assert_passed(runs, kind, scenario)


def test_same_outcome_on_vltava_and_kafka(runs):
    """The differential view: a scenario whose outcome differs between the brokers is a
    difference to fix in Vltava (or, if Kafka fails it, a scenario to fix)."""
    assert_same_outcome(runs, SCENARIOS)
