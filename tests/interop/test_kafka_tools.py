"""Apache Kafka's own command-line tools (kafka-tools and kafka_2.13 4.x jars, run by their
main classes as the bin/*.sh scripts do) against the broker: kafka-topics, the console
producer and consumer, kafka-consumer-groups (list, describe, reset offsets, delete),
kafka-configs (topics, brokers, users' SCRAM credentials), kafka-delete-records, kafka-get-offsets, kafka-metadata-quorum,
kafka-producer-perf-test, kafka-consumer-perf-test and kafka-verifiable-producer/consumer. Each launch is a JVM (about 2 s), so the tests share one broker
and each uses its own topics and groups.

The jars come from $VLTAVA_JAVA_TOOLS (scripts/java-env.sh); every test fails when missing."""
import json
import re
import time

import pytest
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient

from conftest import Broker, create_topic
from javatools import run_java

# The main classes behind Kafka 4.1's bin/ scripts.
TOPICS = "org.apache.kafka.tools.TopicCommand"
CONSOLE_PRODUCER = "org.apache.kafka.tools.ConsoleProducer"
CONSOLE_CONSUMER = "org.apache.kafka.tools.consumer.ConsoleConsumer"
GROUPS = "org.apache.kafka.tools.consumer.group.ConsumerGroupCommand"
CONFIGS = "kafka.admin.ConfigCommand"
DELETE_RECORDS = "org.apache.kafka.tools.DeleteRecordsCommand"
GET_OFFSETS = "org.apache.kafka.tools.GetOffsetShell"
QUORUM = "org.apache.kafka.tools.MetadataQuorumCommand"
PRODUCER_PERF = "org.apache.kafka.tools.ProducerPerformance"
CONSUMER_PERF = "org.apache.kafka.tools.ConsumerPerformance"
VERIFIABLE_PRODUCER = "org.apache.kafka.tools.VerifiableProducer"
VERIFIABLE_CONSUMER = "org.apache.kafka.tools.VerifiableConsumer"


@pytest.fixture(scope="module")
def shared_broker(tmp_path_factory):
    b = Broker(str(tmp_path_factory.mktemp("kafka-tools") / "data")).start()
    try:
        yield b
    finally:
        try:
            b.stop()
        finally:
            b.kill()


def tool(broker, main, *args, **kw):
    return run_java(main, "--bootstrap-server", broker.bootstrap, *args, **kw)


def produce(broker, topic, values, partition=0, timestamps=None):
    p = Producer({"bootstrap.servers": broker.bootstrap})
    for i, v in enumerate(values):
        kw = {"timestamp": timestamps[i]} if timestamps else {}
        p.produce(topic, value=v.encode(), partition=partition, **kw)
    assert p.flush(15) == 0


def topic_names(broker):
    return set(AdminClient({"bootstrap.servers": broker.bootstrap}).list_topics(timeout=10).topics)


def test_kafka_topics(shared_broker):
    b = shared_broker
    out = tool(b, TOPICS, "--create", "--topic", "tt", "--partitions", "3",
               "--replication-factor", "1", "--config", "retention.ms=7200000").stdout
    assert "Created topic tt." in out
    assert "tt" in tool(b, TOPICS, "--list").stdout.split()
    desc = tool(b, TOPICS, "--describe", "--topic", "tt").stdout
    assert re.search(r"Topic: tt\s+TopicId: \S+\s+PartitionCount: 3\s+ReplicationFactor: 1", desc), desc
    assert "retention.ms=7200000" in desc
    rows = re.findall(r"Partition: (\d+)\s+Leader: (\d+)\s+Replicas: (\d+)\s+Isr: (\d+)", desc)
    assert sorted(int(r[0]) for r in rows) == [0, 1, 2], desc
    assert all(r[1] == r[2] == r[3] for r in rows), desc
    # A second create fails with Kafka's message and exit code 1.
    dup = tool(b, TOPICS, "--create", "--topic", "tt", "--partitions", "1", check=False)
    assert dup.returncode == 1 and "already exists" in dup.stdout + dup.stderr, dup
    tool(b, TOPICS, "--alter", "--topic", "tt", "--partitions", "5")
    desc = tool(b, TOPICS, "--describe", "--topic", "tt").stdout
    assert "PartitionCount: 5" in desc, desc
    tool(b, TOPICS, "--delete", "--topic", "tt")
    deadline = time.time() + 10
    while "tt" in topic_names(b):
        assert time.time() < deadline, "tt still listed after kafka-topics --delete"
        time.sleep(0.2)
    missing = tool(b, TOPICS, "--describe", "--topic", "tt", check=False)
    assert missing.returncode == 1 and "does not exist" in missing.stdout + missing.stderr, missing


def test_console_producer_and_consumer(shared_broker):
    b = shared_broker
    create_topic(b.bootstrap, "console", partitions=2)
    lines = [f"key-{i % 5}:value-{i}" for i in range(60)]
    tool(b, CONSOLE_PRODUCER, "--topic", "console", "--property", "parse.key=true",
         "--property", "key.separator=:", input="\n".join(lines) + "\n")
    r = tool(b, CONSOLE_CONSUMER, "--topic", "console", "--from-beginning", "--max-messages", "60",
             "--timeout-ms", "20000", "--property", "print.key=true",
             "--property", "print.partition=true", "--property", "key.separator=:")
    got = [line for line in r.stdout.splitlines() if line]
    assert "Processed a total of 60 messages" in r.stderr, r.stderr
    # print.partition puts "Partition:N" first, joined by key.separator.
    records = [re.fullmatch(r"Partition:(\d+):(.*)", line).groups() for line in got]
    assert sorted(rec for _, rec in records) == sorted(lines)
    # One key, one partition.
    part_of = {}
    for part, rec in records:
        assert part_of.setdefault(rec.split(":")[0], part) == part, records


def describe_group(b, group):
    out = tool(b, GROUPS, "--describe", "--group", group).stdout
    rows = {}
    for line in out.splitlines():
        f = line.split()
        if len(f) >= 6 and f[0] == group and f[2].isdigit():
            rows[int(f[2])] = (int(f[3]), int(f[4]), int(f[5]))
    return rows, out


def test_consumer_groups_describe_reset_delete(shared_broker):
    b = shared_broker
    create_topic(b.bootstrap, "grouped", partitions=2)
    produce(b, "grouped", [f"a{i}" for i in range(12)], partition=0)
    produce(b, "grouped", [f"b{i}" for i in range(8)], partition=1)
    tool(b, CONSOLE_CONSUMER, "--topic", "grouped", "--group", "tools-g", "--from-beginning",
         "--max-messages", "20", "--timeout-ms", "20000")
    assert "tools-g" in tool(b, GROUPS, "--list").stdout.split()
    rows, out = describe_group(b, "tools-g")
    # partition: (current offset, log end offset, lag)
    assert rows == {0: (12, 12, 0), 1: (8, 8, 0)}, out
    out = tool(b, GROUPS, "--reset-offsets", "--to-earliest", "--group", "tools-g",
               "--topic", "grouped", "--execute").stdout
    reset = {int(f[2]): int(f[3]) for f in (line.split() for line in out.splitlines())
             if len(f) == 4 and f[0] == "tools-g"}
    assert reset == {0: 0, 1: 0}, out
    rows, out = describe_group(b, "tools-g")
    assert rows == {0: (0, 12, 12), 1: (0, 8, 8)}, out
    out = tool(b, GROUPS, "--delete", "--group", "tools-g").stdout
    assert "Deletion of requested consumer groups ('tools-g') was successful." in out, out
    assert "tools-g" not in tool(b, GROUPS, "--list").stdout.split()


def test_kafka_configs(shared_broker):
    b = shared_broker
    create_topic(b.bootstrap, "configured")
    out = tool(b, CONFIGS, "--entity-type", "topics", "--entity-name", "configured", "--alter",
               "--add-config", "retention.ms=3600000,cleanup.policy=compact").stdout
    assert "Completed updating config for topic configured." in out, out
    out = tool(b, CONFIGS, "--entity-type", "topics", "--entity-name", "configured",
               "--describe").stdout
    assert "Dynamic configs for topic configured are:" in out, out
    # With Kafka's synonyms: where each value comes from, first the one it does.
    assert re.search(r"^\s+retention.ms=3600000 sensitive=false "
                     r"synonyms=\{DYNAMIC_TOPIC_CONFIG:retention.ms=3600000\}$", out, re.M), out
    assert re.search(r"^\s+cleanup.policy=compact sensitive=false synonyms=\{DYNAMIC_TOPIC_CONFIG:"
                     r"cleanup.policy=compact, DEFAULT_CONFIG:log.cleanup.policy=delete\}$",
                     out, re.M), out
    tool(b, CONFIGS, "--entity-type", "topics", "--entity-name", "configured", "--alter",
         "--delete-config", "retention.ms")
    out = tool(b, CONFIGS, "--entity-type", "topics", "--entity-name", "configured",
               "--describe", "--all").stdout
    # As Kafka 4.1 answers: log.retention.ms has no default, so no synonym.
    assert re.search(r"^\s+retention.ms=604800000 sensitive=false synonyms=\{\}$", out, re.M), out
    assert re.search(r"^\s+cleanup.policy=compact ", out, re.M), out
    assert re.search(r"^\s+max.message.bytes=1048588 sensitive=false "
                     r"synonyms=\{DEFAULT_CONFIG:message.max.bytes=1048588\}$", out, re.M), out
    out = tool(b, CONFIGS, "--entity-type", "brokers", "--entity-name", "1", "--describe",
               "--all").stdout
    assert "All configs for broker 1 are:" in out, out
    assert re.search(r"^\s+num.partitions=1 sensitive=false "
                     r"synonyms=\{DEFAULT_CONFIG:num.partitions=1\}$", out, re.M), out
    assert re.search(r"^\s+log.dirs=\S+ sensitive=false synonyms=\{STATIC_BROKER_CONFIG:log.dirs=\S+\}$",
                     out, re.M), out


def test_kafka_configs_scram_credentials(shared_broker):
    """kafka-configs for users: SCRAM credentials set one mechanism per call, described,
    deleted; both mechanisms in one call are refused as a Kafka 4.x controller refuses them
    (two changes of one user in one AlterUserScramCredentials request)."""
    b = shared_broker

    def users(*args, **kw):
        return tool(b, CONFIGS, "--entity-type", "users", *args, **kw)

    out = users("--entity-name", "alice", "--alter", "--add-config",
                "SCRAM-SHA-256=[iterations=8192,password=alice-secret]").stdout
    assert "Completed updating config for user alice." in out, out
    users("--entity-name", "alice", "--alter", "--add-config", "SCRAM-SHA-512=[password=alice-secret]")
    out = users("--entity-name", "alice", "--describe").stdout
    assert ("SCRAM credential configs for user-principal 'alice' are "
            "SCRAM-SHA-256=iterations=8192, SCRAM-SHA-512=iterations=4096") in out, out
    both = users("--entity-name", "bob", "--alter", "--add-config",
                 "SCRAM-SHA-256=[password=b],SCRAM-SHA-512=[password=b]", check=False)
    assert both.returncode != 0
    assert "A user credential cannot be altered twice in the same request" in (
        both.stdout + both.stderr), both.stdout + both.stderr
    users("--entity-name", "alice", "--alter", "--delete-config", "SCRAM-SHA-512")
    out = users("--describe").stdout
    assert ("SCRAM credential configs for user-principal 'alice' are "
            "SCRAM-SHA-256=iterations=8192") in out, out
    assert "SCRAM-SHA-512" not in out and "bob" not in out, out


def test_delete_records_and_get_offsets(shared_broker, tmp_path):
    b = shared_broker
    create_topic(b.bootstrap, "offsets", partitions=2)
    base = int(time.time() * 1000) - 60_000
    # Rising timestamps, the largest on offset 7.
    stamps = [base + i * 100 for i in range(40)]
    stamps[7] = base + 50_000
    produce(b, "offsets", [f"o{i}" for i in range(40)], partition=0, timestamps=stamps)
    produce(b, "offsets", ["x"] * 3, partition=1)

    def offsets(*args):
        out = tool(b, GET_OFFSETS, "--topic", "offsets", *args).stdout
        return dict(line.rsplit(":", 1) for line in out.split())

    assert offsets("--time", "-1") == {"offsets:0": "40", "offsets:1": "3"}
    assert offsets("--time", "-2") == {"offsets:0": "0", "offsets:1": "0"}
    assert offsets("--time", "-3", "--partitions", "0") == {"offsets:0": "7"}
    assert offsets("--time", str(base + 550), "--partitions", "0") == {"offsets:0": "6"}
    assert offsets("--time", str(base + 1050), "--partitions", "0") == {"offsets:0": "7"}
    spec = tmp_path / "delete.json"
    spec.write_text('{"version":1,"partitions":[{"topic":"offsets","partition":0,"offset":15}]}')
    out = tool(b, DELETE_RECORDS, "--offset-json-file", str(spec)).stdout
    assert re.search(r"partition: offsets-0\s+low_watermark: 15", out), out
    assert offsets("--time", "-2") == {"offsets:0": "15", "offsets:1": "0"}


def test_metadata_quorum(shared_broker):
    b = shared_broker
    out = tool(b, QUORUM, "describe", "--status").stdout
    fields = dict(re.findall(r"^(\w+):\s+(.*)$", out, re.M))
    assert fields["LeaderId"] == "1", out
    assert int(fields["LeaderEpoch"]) >= 1, out
    assert int(fields["HighWatermark"]) > 0, out
    assert fields["MaxFollowerLag"] == "0", out
    assert fields["CurrentVoters"].startswith('[{"id": 1,'), out
    assert fields["CurrentObservers"] == "[]", out
    out = tool(b, QUORUM, "describe", "--replication").stdout
    rows = [line.split() for line in out.splitlines()[1:] if line.strip()]
    assert len(rows) == 1 and rows[0][0] == "1" and rows[0][-1] == "Leader", out


def test_producer_perf_test(shared_broker):
    b = shared_broker
    create_topic(b.bootstrap, "perf", partitions=2)
    out = run_java(PRODUCER_PERF, "--topic", "perf", "--num-records", "5000", "--record-size", "100",
                   "--throughput", "-1", "--producer-props", f"bootstrap.servers={b.bootstrap}",
                   "acks=all").stdout
    m = re.search(r"^5000 records sent, [\d.]+ records/sec .* ([\d.]+) ms avg latency", out, re.M)
    assert m, out
    r = tool(b, GET_OFFSETS, "--topic", "perf", "--time", "-1")
    assert sum(int(line.rsplit(":", 1)[1]) for line in r.stdout.split()) == 5000, r.stdout
    out = tool(b, CONSUMER_PERF, "--topic", "perf", "--messages", "5000", "--timeout", "30000").stdout
    header, row = [line.split(", ") for line in out.strip().splitlines()[-2:]]
    assert dict(zip(header, row))["data.consumed.in.nMsg"] == "5000", out


def events(stdout):
    return [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]


def test_verifiable_producer_and_consumer(shared_broker):
    b = shared_broker
    create_topic(b.bootstrap, "verifiable", partitions=3)
    out = tool(b, VERIFIABLE_PRODUCER, "--topic", "verifiable", "--max-messages", "300",
               "--acks", "-1").stdout
    ev = events(out)
    acked = [e for e in ev if e["name"] == "producer_send_success"]
    assert len(acked) == 300, out[-3000:]
    assert not [e for e in ev if e["name"] == "producer_send_error"], out[-3000:]
    # Offsets per partition are dense from 0.
    per_part = {}
    for e in acked:
        per_part.setdefault(e["partition"], []).append(e["offset"])
    assert all(sorted(o) == list(range(len(o))) for o in per_part.values()), per_part
    tool_data = [e for e in ev if e["name"] == "tool_data"][-1]
    assert (tool_data["sent"], tool_data["acked"]) == (300, 300), tool_data
    out = tool(b, VERIFIABLE_CONSUMER, "--topic", "verifiable", "--group-id", "verifiable-g",
               "--group-protocol", "classic", "--max-messages", "300", timeout=90).stdout
    ev = events(out)
    assert sum(e["count"] for e in ev if e["name"] == "records_consumed") == 300, out[-3000:]
    commits = [e for e in ev if e["name"] == "offsets_committed"]
    assert commits and all(e["success"] for e in commits), out[-3000:]
    last = {}
    for e in commits:
        for o in e["offsets"]:
            last[o["partition"]] = o["offset"]
    assert last == {p: len(o) for p, o in per_part.items()}, (last, out[-3000:])
