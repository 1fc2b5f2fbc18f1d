"""The Java client (org.apache.kafka:kafka-clients 4.x) against the broker: the producer
with its defaults (idempotence, acks=all), a classic consumer group of two consumers
committing offsets, transactions (commit, abort, offsets in a transaction, read_committed),
and the AdminClient (topics, configs, groups, offsets, delete records, cluster, quorum).

The scenarios live in tests/interop/java (dev.vltava.interop.ClientScenarios) and run in
one JVM against one broker; each is reported as its own test here."""
import re

import pytest

from conftest import Broker
from javatools import run_java

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


@pytest.fixture(scope="module")
def java_results(tmp_path_factory):
    """Runs every scenario in one JVM; maps scenario name to (PASS|FAIL, detail)."""
    b = Broker(str(tmp_path_factory.mktemp("java-client") / "data")).start()
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
    return results, r, b.log()


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_java_client(java_results, scenario):
    results, r, log = java_results
    assert scenario in results, (
        f"scenario {scenario} reported nothing (exit {r.returncode})\n"
        f"stdout: {r.stdout[-3000:]}\nstderr: {r.stderr[-6000:]}\nbroker log: {log[-4000:]}")
    status, detail = results[scenario]
    assert status == "PASS", f"{scenario}: {detail}\nstderr: {r.stderr[-6000:]}"
