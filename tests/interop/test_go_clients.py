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
import subprocess
from pathlib import Path

import pytest

from scenario_suite import BROKERS, assert_passed, assert_same_outcome, run_on_every_broker

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


def go_clients():
    p = os.environ.get("VLTAVA_GO_CLIENTS")
    assert p, ("VLTAVA_GO_CLIENTS is not set: run scripts/go-env.sh and export "
               "VLTAVA_GO_CLIENTS=$PWD/.tools/go/goclients (./test.sh does both)")
    assert Path(p).is_file(), f"{p} is missing: run scripts/go-env.sh"
    return p


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Both brokers, one after the other; every scenario in one process per broker."""
    prog = go_clients()
    return run_on_every_broker(
        tmp_path_factory, "go",
        lambda bootstrap: subprocess.run([prog, bootstrap, *SCENARIOS], capture_output=True,
                                         text=True, timeout=300))


@pytest.mark.parametrize("scenario", SCENARIOS)
@pytest.mark.parametrize("kind", list(BROKERS))
def test_go_client(runs, kind, scenario):
    assert_passed(runs, kind, scenario)


def test_same_outcome_on_vltava_and_kafka(runs):
    """A scenario whose outcome differs between the brokers is a difference to fix in
    Vltava (or, if Kafka fails it, a scenario to fix)."""
    assert_same_outcome(runs, SCENARIOS)
