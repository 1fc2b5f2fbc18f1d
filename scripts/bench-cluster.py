#!/usr/bin/env python3
"""The price of replication, in one run: librdkafka (confluent-kafka) producing to
  - one node, a 3-partition topic with one replica, acks=1 (the reference), and
  - a three-node cluster (examples/cluster/cluster.sh), a 3-partition topic with three
    replicas and min.insync.replicas=2, acks=all twice: as librdkafka's defaults have it
    (not idempotent), and idempotent,
rounds interleaved, throughput and p99 delivery latency, medians and the ratio to the
reference. (librdkafka's idempotent producer keeps at most five *messages*' worth of
requests in flight per partition — in practice one request — and polls while it waits,
so its acks=all rate follows the replication round trip.) Then a follower's catch-up rate: one node is stopped (SIGTERM), --catchup-mb
are written with acks=all, the node is started again, and the time until it is back in
every partition's ISR gives MB/s. A benchmark, not a test: nothing is asserted.

  cargo build --release -p vltava-broker --bin vltava
  .tools/venv/bin/python scripts/bench-cluster.py --bin target/release/vltava --rounds 3
"""
import argparse
import importlib.util
import os
import statistics
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "interop"))

import conftest  # noqa: E402
from confluent_kafka.admin import AdminClient, NewTopic  # noqa: E402
from test_cluster import Cluster  # noqa: E402

spec = importlib.util.spec_from_file_location(
    "bench_produce", os.path.join(ROOT, "scripts", "bench-produce.py"))
bench_produce = importlib.util.module_from_spec(spec)
spec.loader.exec_module(bench_produce)

SCRIPT = os.path.join(ROOT, "examples", "cluster", "cluster.sh")
PARTITIONS = 3


def cluster_sh(cluster, action):
    out = cluster.run(action, timeout=300)
    if out.returncode != 0:
        raise SystemExit(f"cluster.sh {action} failed:\n{out.stdout}{out.stderr}")


def create(bootstrap, name, rf):
    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.create_topics([NewTopic(name, PARTITIONS, rf, config={"min.insync.replicas":
                                                                str(min(rf, 2))})]
                        )[name].result(timeout=30)
    deadline = time.time() + 30
    while time.time() < deadline:
        t = admin.list_topics(name, timeout=5).topics.get(name)
        if t is not None and t.error is None and len(t.partitions) == PARTITIONS and all(
                len(p.isrs) == rf for p in t.partitions.values()):
            return admin
        time.sleep(0.1)
    raise SystemExit(f"topic {name} not ready")


def in_sync(admin, name, node):
    t = admin.list_topics(name, timeout=5).topics.get(name)
    return t is not None and all(node in p.isrs for p in t.partitions.values())


def log_bytes(data_dir, topic):
    """Bytes of `topic`'s .log files under one node's data dir."""
    total = 0
    for entry in os.listdir(data_dir):
        if entry.rsplit("-", 1)[0] != topic:
            continue
        part = os.path.join(data_dir, entry)
        total += sum(os.path.getsize(os.path.join(part, f)) for f in os.listdir(part)
                     if f.endswith(".log"))
    return total


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default=os.path.join(ROOT, "target", "release", "vltava"))
    ap.add_argument("--records", type=int, default=200_000)
    ap.add_argument("--size", type=int, default=1024)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--linger", type=int, default=5)
    ap.add_argument("--catchup-mb", type=int, default=200)
    args = ap.parse_args()
    os.environ["VLTAVA_BIN"] = args.bin
    single, replicated, idempotent = [], [], []
    for rnd in range(args.rounds):
        with tempfile.TemporaryDirectory(prefix="vltava-bench-one-") as tmp:
            broker = conftest.Broker(os.path.join(tmp, "data")).start()
            try:
                create(broker.bootstrap, "bench", 1)
                r = bench_produce.librdkafka_run(broker.bootstrap, "bench", args.records,
                                                 args.size, "1", args.linger)
                single.append(r)
                print(f"round {rnd} one node RF=1 acks=1: {r[0]:.0f} records/s, "
                      f"p99 {r[1]:.1f} ms", flush=True)
            finally:
                broker.stop()
        with tempfile.TemporaryDirectory(prefix="vltava-bench-three-") as tmp:
            c = Cluster(tmp)
            cluster_sh(c, "start")
            try:
                create(c.bootstrap(), "bench", 3)
                r = bench_produce.librdkafka_run(c.bootstrap(), "bench", args.records,
                                                 args.size, "all", args.linger,
                                                 idempotence=False)
                replicated.append(r)
                print(f"round {rnd} three nodes RF=3 acks=all: {r[0]:.0f} records/s, "
                      f"p99 {r[1]:.1f} ms", flush=True)
                create(c.bootstrap(), "bench-idempotent", 3)
                r = bench_produce.librdkafka_run(c.bootstrap(), "bench-idempotent",
                                                 args.records, args.size, "all", args.linger,
                                                 idempotence=True)
                idempotent.append(r)
                print(f"round {rnd} three nodes RF=3 acks=all idempotent: {r[0]:.0f} "
                      f"records/s, p99 {r[1]:.1f} ms", flush=True)
            finally:
                cluster_sh(c, "stop")
    s_rate = statistics.median(r[0] for r in single)
    s_p99 = statistics.median(r[1] for r in single)
    print(f"\nmedians of {args.rounds} rounds, {args.records} x {args.size} B, "
          f"{PARTITIONS} partitions, librdkafka linger.ms={args.linger}:")
    print(f"  one node    RF=1 acks=1               {s_rate:9.0f} records/s (1.00x)  "
          f"p99 {s_p99:7.1f} ms")
    for label, runs in (("acks=all", replicated), ("acks=all idempotent", idempotent)):
        r_rate = statistics.median(r[0] for r in runs)
        r_p99 = statistics.median(r[1] for r in runs)
        print(f"  three nodes RF=3 {label:<20} {r_rate:9.0f} records/s "
              f"({r_rate / s_rate:.2f}x)  p99 {r_p99:7.1f} ms ({r_p99 / s_p99:.2f}x)")

    # Follower catch-up.
    with tempfile.TemporaryDirectory(prefix="vltava-bench-catchup-") as tmp:
        c = Cluster(tmp)
        cluster_sh(c, "start")
        try:
            admin = create(c.bootstrap(), "catchup", 3)
            victim = 2
            os.kill(c.pid(victim), 15)
            deadline = time.time() + 60
            while time.time() < deadline and any(
                    victim in p.isrs
                    for p in admin.list_topics("catchup", timeout=5).topics["catchup"]
                    .partitions.values()):
                time.sleep(0.2)
            records = args.catchup_mb * 1024 * 1024 // args.size
            bench_produce.librdkafka_run(c.bootstrap(), "catchup", records, args.size, "all",
                                         args.linger)
            # Caught up: the victim's log files hold as many bytes as a node that stayed up
            # (every node replicates every partition), and the ISR names it again.
            target = log_bytes(os.path.join(tmp, "node-0"), "catchup")
            behind = target - log_bytes(os.path.join(tmp, f"node-{victim}"), "catchup")
            start = time.perf_counter()
            cluster_sh(c, "start")
            while (log_bytes(os.path.join(tmp, f"node-{victim}"), "catchup") < target
                   or not in_sync(admin, "catchup", victim)):
                if time.perf_counter() - start > 600:
                    raise SystemExit("follower did not catch up in 600 s")
                time.sleep(0.02)
            elapsed = time.perf_counter() - start
            mb = behind / (1024 * 1024)
            print(f"  follower catch-up: {mb:.0f} MB behind, {elapsed:.2f} s from restart to "
                  f"equal log bytes and full ISR = {mb / elapsed:.0f} MB/s (includes process "
                  f"start)")
        finally:
            cluster_sh(c, "stop")


if __name__ == "__main__":
    main()
