#!/usr/bin/env python3
"""Vltava beside Apache Kafka, in one run: start time, produce and consume throughput with
librdkafka, and memory, on this machine.

Each round starts Apache Kafka 4.1.1 (one KRaft node, the jars scripts/java-env.sh
resolved, Kafka's own JVM settings: 1 GiB heap, G1, full JIT) and a Vltava binary (its
embedded defaults) in turn, each on a fresh data dir, and drives each the same way:
  - start: from spawning the server process to the first Metadata answer that lists it
    (Kafka's `kafka-storage format` runs before and is not counted; Vltava formats itself
    and that is counted);
  - produce: librdkafka (confluent-kafka) over a 3-partition topic, acks=1, then acks=all
    with idempotence (scripts/bench-produce.py's producer): records/s and p99 delivery;
  - consume: a librdkafka consumer reading the acks=1 topic from the start: records/s;
  - Kafka's own perf tools (the Java client, one JVM each; --no-java leaves them out):
    kafka-producer-perf-test with the producer's defaults (idempotent, acks=all) and
    --throughput -1: records/s and p99 latency as the tool reports them; then
    kafka-consumer-perf-test reading that topic: records/s (nMsg.sec);
  - memory: the server's resident set after the workload and its peak (VmRSS, VmHWM).
Before the measured runs each broker gets an unmeasured warm-up (--warmup records produced
and consumed), so the JVM's JIT has compiled Kafka's hot paths; --warmup 0 measures cold.
It prints every round, then the medians and Vltava's ratio to Kafka. A benchmark, not a
test: nothing is asserted.

  cargo build --release --bin vltava
  VLTAVA_JAVA_TOOLS=$PWD/.tools/java .tools/venv/bin/python scripts/bench-vs-kafka.py \\
      --bin target/release/vltava --rounds 3 --records 200000
"""
import argparse
import importlib.util
import os
import re
import statistics
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "interop"))

from confluent_kafka import Consumer, TopicPartition  # noqa: E402
from confluent_kafka.admin import AdminClient  # noqa: E402

import conftest  # noqa: E402
from kafka_broker import KafkaBroker  # noqa: E402
from javatools import run_java  # noqa: E402

PRODUCER_PERF = "org.apache.kafka.tools.ProducerPerformance"
CONSUMER_PERF = "org.apache.kafka.tools.ConsumerPerformance"
# The perf tools' JVM: Kafka's tool scripts give them 256 MiB; a little more here.
PERF_JVM = ("-Xmx512m",)

_spec = importlib.util.spec_from_file_location(
    "bench_produce", os.path.join(ROOT, "scripts", "bench-produce.py"))
bench_produce = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench_produce)
PARTITIONS = bench_produce.PARTITIONS


def wait_listed(bootstrap, timeout=90):
    """Polls Metadata until the broker lists itself; returns the monotonic time it did."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if AdminClient({"bootstrap.servers": bootstrap}).list_topics(timeout=2).brokers:
                return time.monotonic()
        except Exception:
            pass
        time.sleep(0.02)
    raise SystemExit(f"{bootstrap} never answered Metadata")


def memory_kib(pid):
    fields = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                fields[key] = int(value.split()[0])
    return fields["VmRSS"], fields["VmHWM"]


def create_topic(bootstrap, topic):
    from confluent_kafka.admin import NewTopic
    a = AdminClient({"bootstrap.servers": bootstrap})
    a.create_topics([NewTopic(topic, PARTITIONS, 1)])[topic].result(timeout=30)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        t = a.list_topics(topic, timeout=5).topics.get(topic)
        if t and t.error is None and all(p.leader >= 0 for p in t.partitions.values()) \
                and len(t.partitions) == PARTITIONS:
            return
        time.sleep(0.1)
    raise SystemExit(f"{topic} has no leaders")


def consume_rate(bootstrap, topic, records):
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": f"bench-{time.time_ns()}",
                  "enable.auto.commit": False, "auto.offset.reset": "earliest",
                  "fetch.max.bytes": 52428800, "max.partition.fetch.bytes": 10485760})
    c.assign([TopicPartition(topic, p, 0) for p in range(PARTITIONS)])
    got = 0
    start = time.perf_counter()
    deadline = start + 300
    while got < records and time.perf_counter() < deadline:
        for m in c.consume(num_messages=10000, timeout=1.0):
            if m.error() is None:
                got += 1
    elapsed = time.perf_counter() - start
    c.close()
    if got < records:
        raise SystemExit(f"consumed {got} of {records} records from {topic}")
    return records / elapsed


def java_perf(bootstrap, topic, records, size):
    """kafka-producer-perf-test then kafka-consumer-perf-test on `topic`: (produce records/s,
    produce p99 ms, consume records/s) as the tools print them."""
    out = run_java(PRODUCER_PERF, "--topic", topic, "--num-records", records,
                   "--record-size", size, "--throughput", "-1",
                   "--producer-props", f"bootstrap.servers={bootstrap}",
                   timeout=600, jvm_opts=PERF_JVM).stdout
    m = re.search(rf"^{records} records sent, ([\d.]+) records/sec .* ([\d.]+) ms 99th", out,
                  re.M)
    if not m:
        raise SystemExit(f"producer-perf-test printed no summary:\n{out[-2000:]}")
    out = run_java(CONSUMER_PERF, "--bootstrap-server", bootstrap, "--topic", topic,
                   "--messages", records, "--timeout", "60000",
                   timeout=600, jvm_opts=PERF_JVM).stdout
    header, row = [line.split(", ") for line in out.strip().splitlines()[-2:]]
    consumed = dict(zip(header, row))
    if int(consumed["data.consumed.in.nMsg"]) != records:
        raise SystemExit(f"consumer-perf-test read {consumed['data.consumed.in.nMsg']} of "
                         f"{records}")
    return float(m.group(1)), float(m.group(2)), float(consumed["nMsg.sec"])


def one_broker(name, start, args):
    """start() -> (bootstrap, pid, spawned_at, stop); returns this broker's figures."""
    bootstrap, pid, spawned_at, stop = start()
    try:
        started = wait_listed(bootstrap) - spawned_at
        if args.warmup:
            # Not measured: lets the JVM compile its hot paths before the runs that are.
            create_topic(bootstrap, "bench-warmup")
            bench_produce.librdkafka_run(bootstrap, "bench-warmup", args.warmup, args.size,
                                         "all", args.linger)
            consume_rate(bootstrap, "bench-warmup", args.warmup)
        create_topic(bootstrap, "bench-acks1")
        create_topic(bootstrap, "bench-acksall")
        p1 = bench_produce.librdkafka_run(bootstrap, "bench-acks1", args.records, args.size,
                                          "1", args.linger)
        pall = bench_produce.librdkafka_run(bootstrap, "bench-acksall", args.records,
                                            args.size, "all", args.linger)
        consumed = consume_rate(bootstrap, "bench-acks1", args.records)
        java = None
        if not args.no_java:
            create_topic(bootstrap, "bench-java")
            java = java_perf(bootstrap, "bench-java", args.records, args.size)
        rss, hwm = memory_kib(pid)
    finally:
        stop()
    figures = {"start s": started, "acks=1 rec/s": p1[0], "acks=1 p99 ms": p1[1],
               "acks=all rec/s": pall[0], "acks=all p99 ms": pall[1],
               "consume rec/s": consumed}
    if java is not None:
        figures.update({"java prod rec/s": java[0], "java prod p99 ms": java[1],
                        "java cons rec/s": java[2]})
    figures.update({"RSS MiB": rss / 1024, "peak RSS MiB": hwm / 1024})
    return figures


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True, help="the vltava binary (a release build)")
    ap.add_argument("--records", type=int, default=200_000)
    ap.add_argument("--size", type=int, default=1024)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--linger", type=int, default=5)
    ap.add_argument("--no-java", action="store_true",
                    help="leave out Kafka's Java perf tools")
    ap.add_argument("--warmup", type=int, default=100_000,
                    help="records produced (acks=all) and consumed, unmeasured, after start")
    args = ap.parse_args()
    os.environ["VLTAVA_BIN"] = os.path.abspath(args.bin)
    results = {"kafka": [], "vltava": []}
    for rnd in range(args.rounds):
        for name in ("kafka", "vltava"):
            with tempfile.TemporaryDirectory(prefix=f"bench-{name}-") as tmp:
                if name == "kafka":
                    def start(tmp=tmp):
                        k = KafkaBroker(os.path.join(tmp, "kafka"), kafka_jvm=True).start()
                        return k.bootstrap, k.proc.pid, k.spawned_at, k.stop
                else:
                    def start(tmp=tmp):
                        spawned = time.monotonic()
                        b = conftest.Broker(os.path.join(tmp, "data")).start()
                        return b.bootstrap, b.proc.pid, spawned, b.stop
                r = one_broker(name, start, args)
            results[name].append(r)
            print(f"round {rnd} {name}: " + ", ".join(f"{k} {v:.2f}" for k, v in r.items()),
                  flush=True)
    print(f"\nmedians of {args.rounds} rounds, {args.records} x {args.size} B records, "
          f"{PARTITIONS} partitions, librdkafka linger.ms={args.linger}:")
    print(f"  {'':15} {'Kafka':>12} {'Vltava':>12} {'Vltava/Kafka':>13}")
    for key in results["kafka"][0]:
        k = statistics.median(r[key] for r in results["kafka"])
        v = statistics.median(r[key] for r in results["vltava"])
        print(f"  {key:15} {k:12.2f} {v:12.2f} {v / k:12.2f}x")


if __name__ == "__main__":
    main()
