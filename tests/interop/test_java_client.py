"""The Java client (org.apache.kafka:kafka-clients 4.x) against the broker: the producer
with its defaults (idempotence, acks=all), a classic consumer group of two consumers
committing offsets, transactions (commit, abort, offsets in a transaction, read_committed),
and the AdminClient (topics, configs, groups, offsets, delete records, cluster, quorum).

The scenarios live in tests/interop/java (dev.vltava.interop.ClientScenarios) and run in
one JVM per broker. The same scenarios run against Apache Kafka 4.x itself (KRaft combined
mode, kafka_broker.py), the seed of differential testing: every scenario is a test per
broker, and test_same_outcome_on_vltava_and_kafka lists the scenarios whose outcome differs."""
import re

import pytest

from conftest import Broker
from javatools import run_java
from kafka_broker import KafkaBroker

SCENARIOS = [
    "producer_defaults",
    "consumer_group_classic",
    "transactions",
    "admin_topics",
    "admin_configs",
    "admin_groups",
    "admin_offsets_delete_records",
    "admin_cluster_quorum",
]
BROKERS = {"vltava": Broker, "kafka": KafkaBroker}


def run_scenarios(kind, data_dir):
    """Starts one broker of `kind`, runs every scenario in one JVM, stops the broker.
    Returns (name -> (PASS|FAIL, detail), the JVM's CompletedProcess, the broker log)."""
    b = BROKERS[kind](data_dir).start()
    try:
        r = run_java("dev.vltava.interop.ClientScenarios", b.bootstrap, *SCENARIOS,
                     timeout=240, check=False)
    finally:
        try:
            b.stop()
        finally:
            b.kill()
    results = {}
    for line in r.stdout.splitlines():
        m = re.match(r"SCENARIO (\S+) (PASS|FAIL) (.*)", line)
        if m:
            results[m.group(1)] = (m.group(2), m.group(3))
    return results, r, b.log()[-20000:]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Both brokers, one after the other (never two brokers and a client JVM at once)."""
    return {kind: run_scenarios(kind, str(tmp_path_factory.mktemp(f"java-{kind}") / "data"))
            for kind in BROKERS}


@pytest.mark.parametrize("scenario", SCENARIOS)
@pytest.mark.parametrize("kind", list(BROKERS))
def test_java_client(runs, kind, scenario):
    results, r, log = runs[kind]
    assert scenario in results, (
        f"{kind}: scenario {scenario} reported nothing (exit {r.returncode})\n"
        f"stdout: {r.stdout[-3000:]}\nstderr: {r.stderr[-6000:]}\nbroker log: {log[-4000:]}")
    status, detail = results[scenario]
    assert status == "PASS", f"{kind}: {scenario}: {detail}\nstderr: {r.stderr[-6000:]}"


def test_same_outcome_on_vltava_and_kafka(runs):
    """The differential view: a scenario whose outcome differs between the brokers is a
    difference to fix in Vltava (or, if Kafka fails it, a scenario to fix)."""
    differ = []
    for s in SCENARIOS:
        outcome = {kind: runs[kind][0].get(s, ("MISSING", ""))[0] for kind in BROKERS}
        if len(set(outcome.values())) != 1:
            differ.append(f"{s}: " + ", ".join(f"{k} {v}" for k, v in outcome.items()))
    assert not differ, "scenarios whose outcome differs:\n" + "\n".join(differ)
