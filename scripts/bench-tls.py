#!/usr/bin/env python3
"""Produce throughput over SSL against PLAINTEXT, on one broker in one run.

One broker listens on PLAINTEXT and SSL (a server certificate made with the openssl
CLI into a temporary directory); a librdkafka (confluent-kafka) producer sends
--records records of --size bytes to a 3-partition topic, acks=1, rounds alternating
between the listeners (PLAINTEXT, SSL, PLAINTEXT, SSL, ...). It prints the median
records/s and MB/s of each listener and the SSL/PLAINTEXT ratio. A benchmark, not a
test: nothing is asserted.

  cargo build -p vltava-broker --bin vltava        # or --release for real numbers
  .tools/venv/bin/python scripts/bench-tls.py --binary target/debug/vltava --rounds 3
"""
import argparse
import os
import statistics
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "interop"))

from confluent_kafka import Producer  # noqa: E402
from confluent_kafka.admin import AdminClient, NewTopic  # noqa: E402

import conftest  # noqa: E402
from tls_certs import make_certs  # noqa: E402


def run(conf, topic, records, size):
    payload = os.urandom(size)
    errors = []
    p = Producer(dict(conf, **{"acks": "1", "linger.ms": 5, "max.in.flight": 5,
                                "queue.buffering.max.messages": 1_000_000,
                                "queue.buffering.max.kbytes": 1 << 21}))
    start = time.perf_counter()
    for _ in range(records):
        while True:
            try:
                p.produce(topic, payload, on_delivery=lambda e, m: e and errors.append(e))
                break
            except BufferError:
                p.poll(0.01)
    left = p.flush(120)
    took = time.perf_counter() - start
    if left or errors:
        raise RuntimeError(f"{left} undelivered, errors {errors[:3]}")
    return records / took


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", default=os.path.join(ROOT, "target", "debug", "vltava"))
    ap.add_argument("--records", type=int, default=200_000)
    ap.add_argument("--size", type=int, default=1024)
    ap.add_argument("--rounds", type=int, default=3)
    a = ap.parse_args()
    os.environ["VLTAVA_BIN"] = a.binary
    with tempfile.TemporaryDirectory(prefix="vltava-bench-tls-") as d:
        certs = make_certs(os.path.join(d, "certs"))
        b = conftest.Broker(os.path.join(d, "data"), extra=[
            "listeners=PLAINTEXT://127.0.0.1:0,SSL://127.0.0.1:0,CONTROLLER://127.0.0.1:0",
            "ssl.keystore.type=PEM", f"ssl.keystore.location={certs['keystore']}",
        ]).start()
        try:
            confs = {
                "PLAINTEXT": {"bootstrap.servers": b.listeners["PLAINTEXT"]},
                "SSL": {"bootstrap.servers": b.listeners["SSL"], "security.protocol": "SSL",
                        "ssl.ca.location": certs["ca"]},
            }
            admin = AdminClient(confs["PLAINTEXT"])
            results = {name: [] for name in confs}
            for r in range(a.rounds):
                for name, conf in confs.items():
                    topic = f"bench-{name.lower()}-{r}"
                    admin.create_topics([NewTopic(topic, 3, 1)])[topic].result(20)
                    time.sleep(0.5)
                    rate = run(conf, topic, a.records, a.size)
                    results[name].append(rate)
                    print(f"round {r} {name}: {rate:,.0f} records/s", flush=True)
        finally:
            b.stop()
            b.kill()
    med = {n: statistics.median(v) for n, v in results.items()}
    for n, v in med.items():
        print(f"{n}: median {v:,.0f} records/s, {v * a.size / 1e6:,.1f} MB/s")
    print(f"SSL / PLAINTEXT: {med['SSL'] / med['PLAINTEXT']:.2f}")


if __name__ == "__main__":
    main()
