#!/usr/bin/env python3
"""Consume throughput of broker binaries against loopback TCP, in one run.

Each broker (NAME=PATH) is started on a fresh data dir in turn, rounds
interleaved (A, B, A, B, ...). Per round and broker: librdkafka (confluent-kafka)
produces --mb MiB of --size-byte records to a 1-partition topic and to a
3-partition topic (unmeasured), then
  - a librdkafka consumer reads the 1-partition topic from the start, --reads
    times (the best read counts: the page cache is warm after the first);
  - `vltava consumer-perf-test` (the client crate's tool; --tool picks the
    binary, the first broker's by default) reads the 3-partition topic;
  - the reference: a loopback TCP pump (two processes, 1 MiB sends into
    recv_into, as much data as a consume read moves), run right after, so it sees
    the same machine state.
It prints MB/s (10^6 bytes of record values per second) and every figure's ratio
to the loopback pump of the same round, medians over the rounds. A benchmark,
not a test: nothing is asserted.

  cargo build --release -p vltava-broker --bin vltava
  .tools/venv/bin/python scripts/bench-consume.py \\
      before=/tmp/vltava-before after=target/release/vltava --rounds 3
"""
import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "interop"))

from confluent_kafka import Consumer, Producer, TopicPartition  # noqa: E402

import conftest  # noqa: E402

sys.path.insert(0, os.path.join(ROOT, "scripts"))
from benchlib import loopback_mbps  # noqa: E402

def produce(bootstrap, topic, partitions, total, size):
    payload = os.urandom(size)
    p = Producer({"bootstrap.servers": bootstrap, "acks": "1", "linger.ms": 20,
                  "batch.size": 1 << 20, "compression.type": "none",
                  "queue.buffering.max.kbytes": 1 << 20})
    n = total // size
    for i in range(n):
        while True:
            try:
                p.produce(topic, payload, partition=i % partitions)
                break
            except BufferError:
                p.poll(0.01)
    p.flush(300)
    return n


def librdkafka_read_mbps(bootstrap, topic, records, size):
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": f"bench-{time.time_ns()}",
                  "enable.auto.commit": False, "auto.offset.reset": "earliest",
                  "fetch.max.bytes": 52428800, "max.partition.fetch.bytes": 10485760,
                  "queued.max.messages.kbytes": 262144})
    # Timed from the assignment (librdkafka fetches ahead into its queue at once).
    start = time.perf_counter()
    c.assign([TopicPartition(topic, 0, 0)])
    got = 0
    deadline = start + 300
    while got < records and time.perf_counter() < deadline:
        # consume() waits for num_messages or the timeout: never ask for more than is left.
        for m in c.consume(num_messages=min(256, records - got), timeout=1.0):
            if m.error() is None:
                got += 1
    elapsed = time.perf_counter() - start
    c.close()
    if got < records:
        raise SystemExit(f"consumed {got} of {records} records from {topic}")
    return records * size / elapsed / 1e6


def tool_mbps(tool, bootstrap, topic, records):
    out = subprocess.run(
        [tool, "consumer-perf-test", "--bootstrap-server", bootstrap, "--topic", topic,
         "--messages", str(records)],
        capture_output=True, text=True, timeout=600, check=True).stdout
    # Kafka's columns: start, end, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg,
    # nMsg.sec, rebalance.time.ms, fetch.time.ms, fetch.MB.sec (MiB/s after the join).
    last = [line for line in out.splitlines() if re.match(r"^[\d.]+, ", line)][-1]
    mib_per_s = float(last.split(",")[8])
    return mib_per_s * 1.048576


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("brokers", nargs="+", help="NAME=PATH of a vltava binary")
    ap.add_argument("--mb", type=int, default=1024, help="MiB per topic")
    ap.add_argument("--size", type=int, default=65536, help="record value bytes")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--reads", type=int, default=3)
    ap.add_argument("--tool", help="vltava binary whose consumer-perf-test is run")
    args = ap.parse_args()
    brokers = [b.split("=", 1) for b in args.brokers]
    tool = args.tool or brokers[0][1]
    total = args.mb << 20
    cases = ["librdkafka 1 partition", "vltava consumer-perf-test 3 partitions",
             "loopback TCP pump"]
    results = {(name, c): [] for name, _ in brokers for c in cases}
    for rnd in range(args.rounds):
        for name, path in brokers:
            os.environ["VLTAVA_BIN"] = path
            with tempfile.TemporaryDirectory(prefix="vltava-bench-") as tmp:
                broker = conftest.Broker(os.path.join(tmp, "data")).start()
                try:
                    b = broker.bootstrap
                    conftest.create_topic(b, "one", 1)
                    conftest.create_topic(b, "three", 3)
                    n1 = produce(b, "one", 1, total, args.size)
                    n3 = produce(b, "three", 3, total, args.size)
                    rd = max(librdkafka_read_mbps(b, "one", n1, args.size)
                             for _ in range(args.reads))
                    tl = max(tool_mbps(tool, b, "three", n3) for _ in range(args.reads))
                finally:
                    broker.stop()
            lo = loopback_mbps(total)
            for case, v in zip(cases, (rd, tl, lo)):
                results[(name, case)].append(v)
            print(f"round {rnd} {name}: librdkafka {rd:.0f} MB/s, consumer-perf-test "
                  f"{tl:.0f} MB/s, loopback {lo:.0f} MB/s", flush=True)
    print(f"\nmedians of {args.rounds} rounds, {args.mb} MiB of {args.size}-byte records "
          f"per topic, best of {args.reads} reads; ratio to the loopback pump of the "
          f"same round:")
    for name, _ in brokers:
        for case in cases:
            vals = results[(name, case)]
            ratios = [v / lo for v, lo in zip(vals, results[(name, cases[2])])]
            print(f"  {name:8} {case:40} {statistics.median(vals):7.0f} MB/s "
                  f"({statistics.median(ratios):.2f}x loopback)")


if __name__ == "__main__":
    main()
