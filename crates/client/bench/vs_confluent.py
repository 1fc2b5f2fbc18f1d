"""Producer and consumer throughput: vltava-client's producer-perf-test and
consumer-perf-test against confluent-kafka (librdkafka, driven from Python) on
the same release broker, 1 KiB records; producing with acks=1 and acks=all,
without and with lz4; consuming the same topics (each client in a fresh group,
timed from the partition assignment so the group join is left out on both sides). Prints one table row per run.

  cargo build --release -p vltava-broker --bin vltava
  cargo build --release -p vltava-client --example vltava_tool
  .tools/venv/bin/python crates/client/bench/vs_confluent.py --records 200000
"""
import argparse
import os
import random
import re
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
BROKER = os.environ.get("VLTAVA_BIN") or os.path.join(ROOT, "target", "release", "vltava")

from confluent_kafka import Consumer, Producer  # noqa: E402
from confluent_kafka.admin import AdminClient, NewTopic  # noqa: E402



class Broker:
    """The release broker on an ephemeral port; stopped with SIGTERM."""

    def __init__(self, data_dir):
        self.proc = subprocess.Popen(
            [BROKER, "server", "start",
             "--override", "listeners=PLAINTEXT://127.0.0.1:0,CONTROLLER://127.0.0.1:0",
             "--override", f"log.dirs={data_dir}"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        deadline = time.time() + 30
        self.bootstrap = None
        while self.bootstrap is None:
            line = self.proc.stdout.readline()
            m = re.match(r"vltava: listening on (\S+)", line)
            if m:
                self.bootstrap = m.group(1)
            elif not line or time.time() > deadline:
                self.proc.kill()
                raise RuntimeError("broker did not start")

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()

TOOL = os.path.join(ROOT, "target", "release", "examples", "vltava_tool")
SIZE = 1024


def confluent_run(bootstrap, topic, records, acks, compression):
    # Random uppercase letters, as Kafka's producer-perf-test and ours use.
    payload = bytes(random.choice(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ") for _ in range(SIZE))
    p = Producer({"bootstrap.servers": bootstrap, "acks": acks, "linger.ms": 5,
                  "batch.size": 1 << 20, "compression.type": compression,
                  "queue.buffering.max.messages": 1_000_000,
                  "queue.buffering.max.kbytes": 1 << 21,
                  "enable.idempotence": acks == "all"})
    errors = []

    def cb(err, _msg):
        if err:
            errors.append(err)

    start = time.perf_counter()
    for _ in range(records):
        while True:
            try:
                p.produce(topic, payload, on_delivery=cb)
                break
            except BufferError:
                p.poll(0.001)
        p.poll(0)
    p.flush(120)
    secs = time.perf_counter() - start
    assert not errors, errors[:3]
    return records / secs, records * SIZE / secs / (1 << 20)


def vltava_run(bootstrap, topic, records, acks, compression):
    args = [TOOL, "producer-perf-test", "--topic", topic, "--num-records", str(records),
            "--record-size", str(SIZE), "--throughput", "-1", "--producer-props",
            f"bootstrap.servers={bootstrap}", f"acks={acks}", f"compression.type={compression}",
            "linger.ms=5", "batch.size=1048576", "buffer.memory=67108864"]
    r = subprocess.run(args, capture_output=True, text=True, timeout=600)
    out = r.stdout
    if r.returncode != 0:
        raise RuntimeError(f"vltava run failed: {out[-2000:]}")
    last = out.strip().splitlines()[-1]
    m = re.search(r"records sent, ([\d.]+) records/sec \(([\d.]+) MB/sec\)", last)
    return float(m.group(1)), float(m.group(2)), last


def confluent_consume(bootstrap, topic, records):
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": f"cc-{topic}-{time.time()}",
                  "auto.offset.reset": "earliest", "enable.auto.commit": False,
                  "fetch.max.bytes": 52428800, "max.partition.fetch.bytes": 10485760})
    # Timed from the assignment, like the fetch.* columns of consumer-perf-test:
    # the group join (group.initial.rebalance.delay.ms) is left out on both sides.
    assigned = []

    def on_assign(_consumer, partitions):
        if partitions and not assigned:
            assigned.append(time.perf_counter())

    c.subscribe([topic], on_assign=on_assign)
    count = size = 0
    deadline = time.time() + 300
    while count < records and time.time() < deadline:
        for m in c.consume(10000, 0.1):
            if m.error() is None:
                count += 1
                size += len(m.value() or b"")
    secs = time.perf_counter() - assigned[0]
    c.close()
    assert count >= records, f"confluent consumed {count} of {records}"
    return count / secs, size / secs / (1 << 20)


def vltava_consume(bootstrap, topic, records):
    args = [TOOL, "consumer-perf-test", "--bootstrap-server", bootstrap, "--topic", topic,
            "--messages", str(records), "--group", f"vc-{topic}-{time.time()}"]
    r = subprocess.run(args, capture_output=True, text=True, timeout=600)
    if r.returncode != 0:
        raise RuntimeError(f"vltava consume failed: {r.stdout[-2000:]}{r.stderr[-2000:]}")
    fields = [f.strip() for f in r.stdout.strip().splitlines()[-1].split(",")]
    # start, end, MB, MB/s, nMsg, nMsg/s, rebalance ms, fetch ms, fetch MB/s, fetch nMsg/s
    assert int(fields[4]) >= records, f"vltava consumed {fields[4]} of {records}"
    return float(fields[9]), float(fields[8])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=200_000)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="vltava-client-bench-") as d:
        b = Broker(os.path.join(d, "data"))
        try:
            admin = AdminClient({"bootstrap.servers": b.bootstrap})
            print(f"{'run':<22} {'vltava rec/s':>13} {'MB/s':>8} {'confluent rec/s':>16} {'MB/s':>8} {'ratio':>6}")
            for acks in ("1", "all"):
                for comp in ("none", "lz4"):
                    names = [f"bench-{acks}-{comp}-v", f"bench-{acks}-{comp}-c"]
                    fs = admin.create_topics([NewTopic(n, 3, 1) for n in names])
                    for f in fs.values():
                        f.result(30)
                    time.sleep(0.5)
                    vr, vm, _ = vltava_run(b.bootstrap, names[0], a.records, acks, comp)
                    cr, cm = confluent_run(b.bootstrap, names[1], a.records, acks, comp)
                    print(f"{'acks=' + acks + ' ' + comp:<22} {vr:>13.0f} {vm:>8.1f} {cr:>16.0f} {cm:>8.1f} {vr / cr:>6.2f}",
                          flush=True)
            print()
            print(f"{'consume':<22} {'vltava rec/s':>13} {'MB/s':>8} {'confluent rec/s':>16} {'MB/s':>8} {'ratio':>6}")
            for comp in ("none", "lz4"):
                topic = f"bench-1-{comp}-c"
                vr, vm = vltava_consume(b.bootstrap, topic, a.records)
                cr, cm = confluent_consume(b.bootstrap, topic, a.records)
                print(f"{comp:<22} {vr:>13.0f} {vm:>8.1f} {cr:>16.0f} {cm:>8.1f} {vr / cr:>6.2f}", flush=True)
        finally:
            b.stop()


if __name__ == "__main__":
    main()
