"""Runs the Kafka Streams word count (dev.vltava.interop.StreamsWordCount, compiled by
scripts/java-env.sh) as a child JVM for tests/interop/test_kafka_streams.py, and reads what
it leaves in the broker with confluent-kafka: the values per key of a topic (read_committed
or not), the group's committed offsets, start, end and last stable offsets, topic configs.
Every wait is bounded."""
import os
import struct
import subprocess
import threading
import time

from confluent_kafka import (OFFSET_BEGINNING, Consumer, ConsumerGroupTopicPartitions,
                             IsolationLevel, TopicPartition)
from confluent_kafka.admin import AdminClient, ConfigResource, OffsetSpec

from javatools import java_cmd

MAIN = "dev.vltava.interop.StreamsWordCount"


class StreamsApp:
    """One run of the word count JVM. `halt_after` > 0 makes it halt itself (exit 3, no
    close) in the middle of that input record; `delay_ms` slows each input record."""

    def __init__(self, bootstrap, app_id, input_topic, output_topic, state_dir, log_path,
                 halt_after=0, delay_ms=0):
        self.lines = []
        self.log_path = log_path
        self._err = open(log_path, "a")
        self.proc = subprocess.Popen(
            java_cmd(MAIN, bootstrap, app_id, input_topic, output_topic, state_dir,
                     halt_after, delay_ms),
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._err, text=True)
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self):
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def errors(self):
        return [line for line in self.lines if line.startswith("ERROR")]

    def alive(self):
        return self.proc.poll() is None

    def stop(self, timeout=60):
        """Asks the app to close (a line "stop" on stdin) and returns its exit code."""
        try:
            self.proc.stdin.write("stop\n")
            self.proc.stdin.close()
        except (BrokenPipeError, ValueError):
            pass
        try:
            return self.proc.wait(timeout)
        finally:
            self.kill()

    def wait(self, timeout):
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self._err.close()

    def describe(self):
        """The app's stdout and the tail of its stderr, for assertion messages."""
        with open(self.log_path) as f:
            err = f.read()[-5000:]
        return "stdout:\n" + "\n".join(self.lines[-40:]) + "\nstderr (tail):\n" + err


def decode_long(b):
    return struct.unpack(">q", b)[0]


def values_per_key(bootstrap, topic, partitions, committed=True, timeout=15,
                   decode=decode_long):
    """Reads `topic` from its beginning to its end as of now (the last stable offset under
    read_committed) and returns (key -> its values in offset order, number of records)."""
    c = Consumer({
        "bootstrap.servers": bootstrap,
        "group.id": "streams-test-reader",
        "enable.auto.commit": False,
        "isolation.level": "read_committed" if committed else "read_uncommitted",
    })
    try:
        ends = {}
        for p in range(partitions):
            # librdkafka asks ListOffsets with the consumer's isolation level.
            ends[p] = c.get_watermark_offsets(TopicPartition(topic, p), timeout=5, cached=False)[1]
        c.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(partitions)])
        values, count = {}, 0
        done = {p for p, e in ends.items() if e == 0}
        deadline = time.time() + timeout
        while len(done) < partitions and time.time() < deadline:
            m = c.poll(0.2)
            if m is None:
                # Control records (transaction markers) end a partition without a message.
                for p in set(range(partitions)) - done:
                    if c.position([TopicPartition(topic, p)])[0].offset >= ends[p]:
                        done.add(p)
                continue
            assert m.error() is None, m.error()
            count += 1
            values.setdefault(m.key().decode(), []).append(decode(m.value()))
            if m.offset() + 1 >= ends[m.partition()]:
                done.add(m.partition())
        assert len(done) == partitions, f"{topic}: did not reach the end offsets {ends}"
        return values, count
    finally:
        c.close()


def last_values(bootstrap, topic, partitions, committed=True):
    """(key -> its last value, number of records) of `topic`."""
    values, count = values_per_key(bootstrap, topic, partitions, committed)
    return {k: v[-1] for k, v in values.items()}, count


_ADMINS = {}


def admin(bootstrap):
    """One AdminClient per broker, kept alive: a client that is garbage collected while its
    futures are pending never completes them."""
    if bootstrap not in _ADMINS:
        _ADMINS[bootstrap] = AdminClient({"bootstrap.servers": bootstrap})
    return _ADMINS[bootstrap]


def forget(bootstrap):
    """Drops the broker's AdminClient (before the broker stops: no reconnect attempts)."""
    _ADMINS.pop(bootstrap, None)


def committed_offsets(bootstrap, group, topic, partitions, require_stable):
    """The group's committed offsets on topic (partition -> offset, -1 when none)."""
    req = ConsumerGroupTopicPartitions(group, [TopicPartition(topic, p) for p in range(partitions)])
    f = admin(bootstrap).list_consumer_group_offsets([req], require_stable=require_stable,
                                                     request_timeout=15)
    res = f[group].result(timeout=20)
    return {tp.partition: tp.offset for tp in res.topic_partitions}


def offsets(bootstrap, topic, partitions, spec, committed=False):
    req = {TopicPartition(topic, p): spec for p in range(partitions)}
    level = IsolationLevel.READ_COMMITTED if committed else IsolationLevel.READ_UNCOMMITTED
    fs = admin(bootstrap).list_offsets(req, isolation_level=level, request_timeout=15)
    return {tp.partition: f.result(timeout=20).offset for tp, f in fs.items()}


def end_offsets(bootstrap, topic, partitions):
    """The high watermarks."""
    return offsets(bootstrap, topic, partitions, OffsetSpec.latest())


def stable_offsets(bootstrap, topic, partitions):
    """The last stable offsets (below any open transaction)."""
    return offsets(bootstrap, topic, partitions, OffsetSpec.latest(), committed=True)


def start_offsets(bootstrap, topic, partitions):
    return offsets(bootstrap, topic, partitions, OffsetSpec.earliest())


def topics(bootstrap):
    """topic name -> partition count."""
    md = admin(bootstrap).list_topics(timeout=10)
    return {name: len(t.partitions) for name, t in md.topics.items()}


def topic_configs(bootstrap, topic):
    r = ConfigResource(ConfigResource.Type.TOPIC, topic)
    res = admin(bootstrap).describe_configs([r], request_timeout=15)[r].result(timeout=20)
    return {k: v.value for k, v in res.items()}


def state_dir(base):
    d = os.path.join(base, "streams-state")
    os.makedirs(d, exist_ok=True)
    return d
