#!/usr/bin/env python3
"""Produce throughput and p99 latency of two broker binaries, in one run.

Each broker (NAME=PATH) is started on a fresh data dir in turn, rounds
interleaved (A, B, A, B, ...), and driven by two producers over a 3-partition
topic, acks=1 and acks=all:
  - librdkafka (confluent-kafka): linger.ms as given, 5 requests in flight,
    per-record delivery latency;
  - `vltava producer-perf-test` (the client crate's tool; --tool picks the
    binary, the first broker's by default).
It prints the median of the rounds per case and the ratio of every broker to
the first one. A benchmark, not a test: nothing is asserted.

  cargo build --release --bin vltava
  .tools/venv/bin/python scripts/bench-produce.py \\
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

from confluent_kafka import Producer  # noqa: E402

import conftest  # noqa: E402

PARTITIONS = 3


def pct(sorted_vals, p):
    i = min(len(sorted_vals) - 1, int(round(p / 100.0 * (len(sorted_vals) - 1))))
    return sorted_vals[i]


def librdkafka_run(bootstrap, topic, records, size, acks, linger, idempotence=None):
    """Throughput (records/s) and p99 delivery latency (ms); idempotence defaults to
    acks == "all"."""
    if idempotence is None:
        idempotence = acks == "all"
    payload = os.urandom(size)
    lat = []
    errors = []
    p = Producer({"bootstrap.servers": bootstrap, "acks": acks, "linger.ms": linger,
                  "max.in.flight": 5, "enable.idempotence": idempotence,
                  "queue.buffering.max.messages": 1_000_000,
                  "queue.buffering.max.kbytes": 1 << 21})

    def cb(err, sent):
        if err:
            errors.append(err)
        else:
            lat.append(time.perf_counter() - sent)

    start = time.perf_counter()
    for i in range(records):
        sent = time.perf_counter()
        while True:
            try:
                p.produce(topic, payload, partition=i % PARTITIONS,
                          on_delivery=lambda e, m, s=sent: cb(e, s))
                break
            except BufferError:
                p.poll(0.01)
        if i % 100 == 0:
            p.poll(0)
    p.flush(120)
    elapsed = time.perf_counter() - start
    if errors:
        raise SystemExit(f"{len(errors)} delivery errors, first: {errors[0]}")
    lat.sort()
    return records / elapsed, pct(lat, 99) * 1000


def tool_run(tool, bootstrap, topic, records, size, acks):
    out = subprocess.run(
        [tool, "producer-perf-test", "--topic", topic, "--num-records", str(records),
         "--record-size", str(size), "--throughput", "-1",
         "--producer-props", f"bootstrap.servers={bootstrap}", f"acks={acks}"],
        capture_output=True, text=True, timeout=600, check=True).stdout
    last = [line for line in out.splitlines() if "records sent" in line][-1]
    rate = float(re.search(r"([\d.]+) records/sec", last).group(1))
    p99 = float(re.search(r"([\d.]+) ms 99th", last).group(1))
    return rate, p99


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("brokers", nargs="+", help="NAME=PATH of a vltava binary")
    ap.add_argument("--records", type=int, default=200_000)
    ap.add_argument("--size", type=int, default=1024)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--linger", type=int, default=0)
    ap.add_argument("--tool", help="vltava binary whose producer-perf-test is run")
    args = ap.parse_args()
    brokers = [b.split("=", 1) for b in args.brokers]
    tool = args.tool or brokers[0][1]
    cases = [(client, acks) for client in ("librdkafka", "vltava-client") for acks in ("1", "all")]
    results = {(name, case): [] for name, _ in brokers for case in cases}
    for rnd in range(args.rounds):
        for name, path in brokers:
            os.environ["VLTAVA_BIN"] = path
            with tempfile.TemporaryDirectory(prefix="vltava-bench-") as tmp:
                broker = conftest.Broker(os.path.join(tmp, "data")).start()
                try:
                    for client, acks in cases:
                        topic = f"bench-{client}-{acks}"
                        conftest.create_topic(broker.bootstrap, topic, PARTITIONS)
                        if client == "librdkafka":
                            r = librdkafka_run(broker.bootstrap, topic, args.records,
                                               args.size, acks, args.linger)
                        else:
                            r = tool_run(tool, broker.bootstrap, topic, args.records,
                                         args.size, acks)
                        results[(name, (client, acks))].append(r)
                        print(f"round {rnd} {name} {client} acks={acks}: "
                              f"{r[0]:.0f} records/s, p99 {r[1]:.1f} ms", flush=True)
                finally:
                    broker.stop()
    print(f"\nmedians of {args.rounds} rounds, {args.records} x {args.size} B, "
          f"{PARTITIONS} partitions, librdkafka linger.ms={args.linger}:")
    base = brokers[0][0]
    for case in cases:
        b_rate = statistics.median(r[0] for r in results[(base, case)])
        b_p99 = statistics.median(r[1] for r in results[(base, case)])
        for name, _ in brokers:
            rate = statistics.median(r[0] for r in results[(name, case)])
            p99 = statistics.median(r[1] for r in results[(name, case)])
            print(f"  {case[0]:13} acks={case[1]:3} {name:8} {rate:9.0f} records/s "
                  f"({rate / b_rate:.2f}x)  p99 {p99:7.1f} ms ({p99 / b_p99:.2f}x)")


if __name__ == "__main__":
    main()
