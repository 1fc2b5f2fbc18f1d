#!/usr/bin/env python3
"""Recovery after kill -9, as a benchmark: one node (release build), a 3-partition topic,
--gib of 1 KiB records written with librdkafka (acks=1), the broker killed with SIGKILL,
started again on the same directory; prints the time from process start to the first
Metadata answer with every partition led, and checks that every acknowledged record is
there (each partition's high watermark equals the records acknowledged to it). The
reference in the same run: the time to read the same .log bytes from the data directory
(the raw disk / page cache).

  cargo build --release -p vltava-broker --bin vltava
  .tools/venv/bin/python scripts/bench-recovery.py --bin target/release/vltava --gib 1
"""
import argparse
import os
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "interop"))

import conftest  # noqa: E402
from confluent_kafka import Consumer, Producer, TopicPartition  # noqa: E402
from confluent_kafka.admin import AdminClient  # noqa: E402

PARTITIONS = 3


def first_full_metadata(bootstrap, topic):
    admin = AdminClient({"bootstrap.servers": bootstrap})
    while True:
        try:
            t = admin.list_topics(topic, timeout=10).topics.get(topic)
        except Exception:
            continue
        if t is not None and t.error is None and len(t.partitions) == PARTITIONS and all(
                p.leader >= 0 for p in t.partitions.values()):
            return


def read_dir(path):
    start = time.perf_counter()
    total = 0
    for root, _, files in os.walk(path):
        for f in files:
            if f.endswith(".log"):
                with open(os.path.join(root, f), "rb") as fh:
                    while chunk := fh.read(1 << 20):
                        total += len(chunk)
    return total, time.perf_counter() - start


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default=os.path.join(ROOT, "target", "release", "vltava"))
    ap.add_argument("--gib", type=float, default=1.0)
    args = ap.parse_args()
    os.environ["VLTAVA_BIN"] = args.bin
    records = int(args.gib * 1024 * 1024)
    payload = os.urandom(1024)
    with tempfile.TemporaryDirectory(prefix="vltava-bench-recovery-") as tmp:
        data = os.path.join(tmp, "data")
        broker = conftest.Broker(data).start()
        conftest.create_topic(broker.bootstrap, "recover", PARTITIONS)
        acked = [0] * PARTITIONS

        def cb(err, msg):
            if err is None:
                acked[msg.partition()] += 1

        p = Producer({"bootstrap.servers": broker.bootstrap, "acks": "1", "linger.ms": 5,
                      "queue.buffering.max.kbytes": 1 << 20})
        for i in range(records):
            while True:
                try:
                    p.produce("recover", payload, partition=i % PARTITIONS, on_delivery=cb)
                    break
                except BufferError:
                    p.poll(0.01)
            if i % 1000 == 0:
                p.poll(0)
        p.flush(300)
        broker.kill()
        start = time.perf_counter()
        broker = conftest.Broker(data).start()
        first_full_metadata(broker.bootstrap, "recover")
        elapsed = time.perf_counter() - start
        c = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "bench-recovery"})
        highs = [c.get_watermark_offsets(TopicPartition("recover", i), timeout=30)[1]
                 for i in range(PARTITIONS)]
        c.close()
        broker.stop(timeout=120)
        total, read_s = read_dir(data)
        gib = total / (1 << 30)
        print(f"{sum(acked)} records acknowledged ({gib:.2f} GiB of .log files), "
              f"high watermarks {highs}, acknowledged per partition {acked}: "
              f"{'all present' if highs == acked else 'MISSING RECORDS'}")
        print(f"kill -9 restart to first full Metadata: {elapsed:.2f} s; reading the same "
              f".log bytes from the data dir: {read_s:.2f} s (ratio {elapsed / read_s:.2f})")


if __name__ == "__main__":
    main()
