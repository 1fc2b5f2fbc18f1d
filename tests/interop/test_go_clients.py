"""The Go clients against the broker: franz-go (kgo and kadm), IBM/sarama and
segmentio/kafka-go. The scenarios live in tests/interop/go (one program, built by
scripts/go-env.sh into .tools/go/goclients; $VLTAVA_GO_CLIENTS names it, ./test.sh sets
it) and run in one process per broker:

- franz-go: the idempotent producer (its default) with per-partition offsets and key order,
  a consumer group committing and a second member resuming from the committed offset,
  transactions (commit, abort, commit) seen by read_committed and read_uncommitted
  consumers with the end offset counting the markers, and a GroupTransactSession
  (consume-transform-produce, an aborted session then a committed one);
- kadm: topics (create, duplicate refused, list, delete) and configs (describe, incremental
  alter and delete), offsets (start, end, by time) with DeleteRecords, groups (list,
  describe, fetch offsets, lag, delete refused while a member is in, then deleted);
- sarama: the idempotent SyncProducer with acks=all read back by partition consumers, a
  ConsumerGroup committing and resuming, ClusterAdmin (cluster, topics, partitions,
  configs, delete records, groups and their offsets);
- kafka-go: the Writer (acks=all, hash balancer) read back by partition Readers, a group
  Reader committing one by one and a second resuming.

Like the Java suite, the same scenarios run against Apache Kafka 4.1.1 (kafka_broker.py),
and test_same_outcome_on_vltava_and_kafka lists the scenarios whose outcome differs. Every
test fails, never skips, when the program is missing."""
import os
import re
import subprocess
from pathlib import Path

import pytest

from conftest import Broker
from kafka_broker import KafkaBroker

SCENARIOS = [
    "franz_producer_idempotent",
    "franz_group_commit_resume",
    "franz_transactions",
    "franz_group_transact",
    "kadm_topics_configs",
    "kadm_offsets_delete_records",
    "kadm_groups",
    "sarama_producer_idempotent",
    "sarama_group_commit_resume",
    "sarama_cluster_admin",
    "kafkago_producer",
    "kafkago_group_commit_resume",
]
BROKERS = {"vltava": Broker, "kafka": KafkaBroker}


def go_clients():
    p = os.environ.get("VLTAVA_GO_CLIENTS")
    assert p, ("VLTAVA_GO_CLIENTS is not set: run scripts/go-env.sh and export "
               "VLTAVA_GO_CLIENTS=$PWD/.tools/go/goclients (./test.sh does both)")
    assert Path(p).is_file(), f"{p} is missing: run scripts/go-env.sh"
    return p


def run_scenarios(kind, data_dir):
    """Starts one broker of `kind`, runs every scenario in one process, stops the broker.
    Returns (name -> (PASS|FAIL, detail), the CompletedProcess, the broker log)."""
    prog = go_clients()
    b = BROKERS[kind](data_dir).start()
    try:
        r = subprocess.run([prog, b.bootstrap, *SCENARIOS], capture_output=True, text=True,
                           timeout=300)
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
    """Both brokers, one after the other."""
    return {kind: run_scenarios(kind, str(tmp_path_factory.mktemp(f"go-{kind}") / "data"))
            for kind in BROKERS}


@pytest.mark.parametrize("scenario", SCENARIOS)
@pytest.mark.parametrize("kind", list(BROKERS))
def test_go_client(runs, kind, scenario):
    results, r, log = runs[kind]
    assert scenario in results, (
        f"{kind}: scenario {scenario} reported nothing (exit {r.returncode})\n"
        f"stdout: {r.stdout[-3000:]}\nstderr: {r.stderr[-6000:]}\nbroker log: {log[-4000:]}")
    status, detail = results[scenario]
    assert status == "PASS", f"{kind}: {scenario}: {detail}\nstderr: {r.stderr[-6000:]}"


def test_same_outcome_on_vltava_and_kafka(runs):
    """A scenario whose outcome differs between the brokers is a difference to fix in
    Vltava (or, if Kafka fails it, a scenario to fix)."""
    differ = []
    for s in SCENARIOS:
        outcome = {kind: runs[kind][0].get(s, ("MISSING", ""))[0] for kind in BROKERS}
        if len(set(outcome.values())) != 1:
            differ.append(f"{s}: " + ", ".join(f"{k} {v}" for k, v in outcome.items()))
    assert not differ, "scenarios whose outcome differs:\n" + "\n".join(differ)
