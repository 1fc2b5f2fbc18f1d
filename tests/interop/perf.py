"""producer-perf-test / consumer-perf-test style run with confluent-kafka.

Starts the broker binary ($VLTAVA_BIN, default target/release/vltava) on a
fresh data dir unless --bootstrap is given, then for acks=1 and acks=all:
produces --records records of --size bytes and reports records/s, MB/s and
p50/p99 delivery latency; then consumes them back and reports records/s, MB/s.

  cargo build --release --bin vltava
  .tools/venv/bin/python tests/interop/perf.py --records 200000
"""
import argparse
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from confluent_kafka import Consumer, Producer, TopicPartition  # noqa: E402

import conftest  # noqa: E402


def pct(sorted_vals, p):
    if not sorted_vals:
        return float("nan")
    i = min(len(sorted_vals) - 1, int(round(p / 100.0 * (len(sorted_vals) - 1))))
    return sorted_vals[i]


def produce_run(bootstrap, topic, records, size, acks):
    payload = os.urandom(size)
    lat = []
    errors = []
    p = Producer({"bootstrap.servers": bootstrap, "acks": acks, "linger.ms": 5,
                  "batch.size": 1 << 20, "queue.buffering.max.messages": 1_000_000,
                  "queue.buffering.max.kbytes": 1 << 21})

    def cb(err, msg, sent):
        if err:
            errors.append(err)
        else:
            lat.append(time.perf_counter() - sent)

    start = time.perf_counter()
    for _ in range(records):
        sent = time.perf_counter()
        while True:
            try:
                p.produce(topic, payload, on_delivery=lambda e, m, s=sent: cb(e, m, s))
                break
            except BufferError:
                p.poll(0.01)
        p.poll(0)
    p.flush(120)
    elapsed = time.perf_counter() - start
    if errors:
        raise SystemExit(f"{len(errors)} delivery errors, first: {errors[0]}")
    lat.sort()
    return {
        "records/s": records / elapsed,
        "MB/s": records * size / elapsed / 1e6,
        "p50 ms": pct(lat, 50) * 1000,
        "p99 ms": pct(lat, 99) * 1000,
    }


def consume_run(bootstrap, topic, records, size):
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "perf-" + topic,
                  "enable.auto.commit": False, "fetch.max.bytes": 52428800})
    c.assign([TopicPartition(topic, 0, 0)])
    n = 0
    start = time.perf_counter()
    deadline = start + 300
    while n < records and time.perf_counter() < deadline:
        for m in c.consume(10000, 1.0):
            if not m.error():
                n += 1
    elapsed = time.perf_counter() - start
    c.close()
    return {"records/s": n / elapsed, "MB/s": n * size / elapsed / 1e6, "records": n}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bootstrap")
    ap.add_argument("--records", type=int, default=200_000)
    ap.add_argument("--size", type=int, default=1024)
    args = ap.parse_args()
    broker = None
    tmp = None
    bootstrap = args.bootstrap
    if not bootstrap:
        os.environ.setdefault("VLTAVA_BIN", str(conftest.ROOT / "target" / "release" / "vltava"))
        tmp = tempfile.TemporaryDirectory(prefix="vltava-perf-")
        broker = conftest.Broker(os.path.join(tmp.name, "data")).start()
        bootstrap = broker.bootstrap
    try:
        for acks in ("1", "all"):
            topic = f"perf-acks-{acks}"
            conftest.create_topic(bootstrap, topic, partitions=1)
            r = produce_run(bootstrap, topic, args.records, args.size, acks)
            print(f"produce acks={acks}: {args.records} records of {args.size} B: "
                  f"{r['records/s']:.0f} records/s, {r['MB/s']:.1f} MB/s, "
                  f"p50 {r['p50 ms']:.1f} ms, p99 {r['p99 ms']:.1f} ms", flush=True)
            r = consume_run(bootstrap, topic, args.records, args.size)
            print(f"consume: {r['records']} records: {r['records/s']:.0f} records/s, "
                  f"{r['MB/s']:.1f} MB/s", flush=True)
    finally:
        if broker:
            broker.stop()
        if tmp:
            tmp.cleanup()


if __name__ == "__main__":
    main()
