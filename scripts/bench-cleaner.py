#!/usr/bin/env python3
"""Does a large compaction stall producers on the same partition? One broker, one
partition: --mb of keyed records (--keys distinct keys, so most are superseded) are
written with cleanup.policy=delete, then a probe producer (librdkafka, one 100-byte
record at a time, acks=1, each waited for) writes to the same partition throughout
while the topic is switched to cleanup.policy=compact and the log cleaner compacts it.
The cleaning's window comes from the broker's "log cleaned ... ms=" line; the probe's
latencies are split into during and outside that window: p50, p99, max. A benchmark,
not a test: nothing is asserted.

  cargo build --release -p vltava-broker --bin vltava
  .tools/venv/bin/python scripts/bench-cleaner.py --bin target/release/vltava --mb 200
"""
import argparse
import datetime
import os
import re
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "interop"))

import conftest  # noqa: E402
from confluent_kafka import Producer  # noqa: E402
from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic  # noqa: E402

TOPIC = "big"
SEGMENT_BYTES = 8 * 1024 * 1024
CLEANED = re.compile(r"^(\S+Z)\s+INFO vltava_broker::log_cleaner: log cleaned topic=(\S+) "
                     r"partition=0 .*records_removed=(\d+) bytes_before=(\d+) .*ms=(\d+)"
                     r"(?: lock_max_us=(\d+))?")


def pct(vals, p):
    s = sorted(vals)
    return s[min(len(s) - 1, int(round(p / 100.0 * (len(s) - 1))))] if s else float("nan")


def topic_config(policy):
    return {"cleanup.policy": policy, "retention.ms": "-1", "segment.bytes": str(SEGMENT_BYTES)}


def preload(bootstrap, mb, keys, size):
    p = Producer({"bootstrap.servers": bootstrap, "linger.ms": 20, "acks": "1",
                  "batch.size": 1_000_000, "queue.buffering.max.messages": 200_000})
    n = mb * 1024 * 1024 // size
    value = b"v" * size
    failed = []

    def cb(err, _msg):
        if err is not None:
            failed.append(err)

    start = time.time()
    for i in range(n):
        while True:
            try:
                p.produce(TOPIC, key=f"key{i % keys}".encode(), value=value, partition=0,
                          on_delivery=cb)
                break
            except BufferError:
                p.poll(0.05)
        if i % 10_000 == 0:
            p.poll(0)
    if p.flush(300) != 0 or failed:
        raise SystemExit(f"preload failed: {len(failed)} errors, e.g. {failed[:1]}")
    return n, time.time() - start


def probe(bootstrap, topic, stop, samples):
    p = Producer({"bootstrap.servers": bootstrap, "linger.ms": 0, "acks": "1"})
    i = 0
    while not stop.is_set():
        t0 = time.time()
        p.produce(topic, key=f"probe{i % 100}".encode(), value=b"p" * 100, partition=0)
        p.flush(30)
        samples.append((t0, (time.time() - t0) * 1000.0))
        i += 1
        time.sleep(0.002)


def cleanings(log_text):
    out = []
    for line in log_text.splitlines():
        m = CLEANED.match(line)
        if m and m.group(2) == TOPIC:
            end = datetime.datetime.fromisoformat(m.group(1).replace("Z", "+00:00")).timestamp()
            ms = int(m.group(5))
            lock_us = int(m.group(6)) if m.group(6) else -1
            out.append((end - ms / 1000.0, end, int(m.group(3)), int(m.group(4)), lock_us))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin", default=os.path.join(ROOT, "target", "release", "vltava"))
    ap.add_argument("--mb", type=int, default=200)
    ap.add_argument("--keys", type=int, default=20_000)
    ap.add_argument("--size", type=int, default=1000, help="value bytes")
    ap.add_argument("--baseline", type=float, default=5.0, help="seconds probed before")
    ap.add_argument("--after", type=float, default=5.0, help="seconds probed after")
    ap.add_argument("--io-rate", type=float, default=None,
                    help="log.cleaner.io.max.bytes.per.second (a longer cleaning: more samples)")
    ap.add_argument("--probe-other-topic", action="store_true",
                    help="probe another topic instead (a control: what the cleaner's CPU "
                         "and IO alone cost a producer)")
    args = ap.parse_args()
    os.environ["VLTAVA_BIN"] = args.bin
    with tempfile.TemporaryDirectory(prefix="vltava-bench-cleaner-") as d:
        extra = ["log.cleaner.backoff.ms=500"]
        if args.io_rate:
            extra.append(f"log.cleaner.io.max.bytes.per.second={args.io_rate:.0f}")
        b = conftest.Broker(os.path.join(d, "data"), extra).start()
        try:
            admin = AdminClient({"bootstrap.servers": b.bootstrap})
            admin.create_topics([NewTopic(TOPIC, 1, 1, config=topic_config("delete"))]
                                )[TOPIC].result(timeout=30)
            probed = TOPIC
            if args.probe_other_topic:
                probed = "other"
                admin.create_topics([NewTopic(probed, 1, 1, config=topic_config("compact"))]
                                    )[probed].result(timeout=30)
            time.sleep(1)
            n, secs = preload(b.bootstrap, args.mb, args.keys, args.size)
            print(f"preloaded {n} records ({args.mb} MB, {args.keys} keys) in {secs:.1f} s")
            stop, samples = threading.Event(), []
            t = threading.Thread(target=probe, args=(b.bootstrap, probed, stop, samples))
            t.start()
            time.sleep(args.baseline)
            from confluent_kafka.admin import AlterConfigOpType, ConfigEntry
            res = ConfigResource(ConfigResource.Type.TOPIC, TOPIC, incremental_configs=[
                ConfigEntry("cleanup.policy", "compact",
                            incremental_operation=AlterConfigOpType.SET)])
            admin.incremental_alter_configs([res])[res].result(timeout=30)
            switched = time.time()
            deadline = switched + 600
            while not cleanings(b.log()) and time.time() < deadline:
                time.sleep(0.2)
            time.sleep(args.after)
            stop.set()
            t.join()
            windows = cleanings(b.log())
        finally:
            b.stop(timeout=60)
            b.kill()
    if not windows:
        raise SystemExit("no cleaning seen")
    during = [lat for t0, lat in samples if any(s <= t0 <= e for s, e, *_ in windows)]
    outside = [lat for t0, lat in samples if not any(s <= t0 <= e for s, e, *_ in windows)]
    print(f"probed topic: {probed}")
    for s, e, removed, before, lock_us in windows:
        print(f"cleaning: {e - s:.2f} s, {before / 1e6:.0f} MB rewritten, {removed} records "
              f"removed, log lock held at most {lock_us / 1000:.2f} ms at a time")
    print(f"{'probe latency (ms)':<22}{'n':>7}{'p50':>9}{'p99':>9}{'max':>9}")
    for name, vals in (("outside compaction", outside), ("during compaction", during)):
        print(f"{name:<22}{len(vals):>7}{pct(vals, 50):>9.2f}{pct(vals, 99):>9.2f}"
              f"{max(vals, default=float('nan')):>9.2f}")


if __name__ == "__main__":
    main()
