"""A full disk under the broker, seen by confluent-kafka (issue 10).

The broker's log dir is an 8 MiB tmpfs in a private mount namespace (`unshare -m`,
held by a `sleep`; the broker runs in it through `nsenter`, and the test reaches the
tmpfs through /proc/<holder>/root). With a ballast file filling it, an idempotent
producer's records are refused with KAFKA_STORAGE_ERROR, which librdkafka retries;
once the ballast is deleted every record lands, exactly once and in order, without a
broker restart. Without the namespace the test fails; it does not skip.
"""
import os
import subprocess
import tempfile
import time

import pytest

from conftest import Broker, create_topic, vltava_bin


class Tmpfs:
    def __init__(self, path):
        self.path = path
        self.holder = subprocess.Popen(
            ["unshare", "-m", "--propagation", "private", "sh", "-c",
             'mount -t tmpfs -o size=8m vltava-interop "$0" && echo mounted && exec sleep 300',
             path],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = self.holder.stdout.readline()
        if line.strip() != "mounted":
            self.holder.kill()
            err = self.holder.communicate(timeout=5)[1]
            pytest.fail("this test needs a private mount namespace with a tmpfs (`unshare -m`, "
                        f"`mount -t tmpfs`: root or CAP_SYS_ADMIN); it could not make one: {err}")

    def outside(self, *parts):
        return os.path.join(f"/proc/{self.holder.pid}/root", self.path.lstrip("/"), *parts)

    def fill(self):
        chunk = b"\xa5" * 4096
        with open(self.outside("ballast"), "wb", buffering=0) as f:
            try:
                while f.write(chunk):
                    pass
            except OSError as e:
                assert e.errno == 28, e

    def free(self):
        os.remove(self.outside("ballast"))

    def close(self):
        self.holder.kill()
        self.holder.wait(10)


def test_idempotent_producer_retries_through_a_full_disk(monkeypatch):
    from confluent_kafka import Consumer, Producer

    with tempfile.TemporaryDirectory(prefix="vltava-diskfull-") as tmp:
        logs = os.path.join(tmp, "logs")
        os.mkdir(logs)
        fs = Tmpfs(logs)
        wrapper = os.path.join(tmp, "vltava-in-tmpfs.sh")
        with open(wrapper, "w") as f:
            f.write(f"#!/bin/sh\nexec nsenter -t {fs.holder.pid} -m '{vltava_bin()}' \"$@\"\n")
        os.chmod(wrapper, 0o755)
        monkeypatch.setenv("VLTAVA_BIN", wrapper)
        broker = Broker(logs).start()
        try:
            create_topic(broker.bootstrap, "full")
            results = []

            def on_delivery(err, msg):
                results.append((err, msg.value()[:6] if msg.value() else None))

            p = Producer({"bootstrap.servers": broker.bootstrap, "enable.idempotence": True,
                          "linger.ms": 5, "retry.backoff.ms": 100,
                          "message.timeout.ms": 60000})
            for i in range(20):
                p.produce("full", b"%06d" % i + b"." * 1000, on_delivery=on_delivery)
            assert p.flush(15) == 0
            assert [e for e, _ in results] == [None] * 20

            fs.fill()
            for i in range(20, 220):
                p.produce("full", b"%06d" % i + b"." * 1000, on_delivery=on_delivery)
            deadline = time.time() + 3
            while time.time() < deadline:
                p.poll(0.1)
            stuck = 220 - len(results)
            assert stuck > 0, "the full disk refused nothing"
            assert "out of disk space (ENOSPC)" in broker.log()
            assert all(e is None for e, _ in results), results

            fs.free()
            assert p.flush(30) == 0, "records never landed after space came back"
            assert [e for e, _ in results] == [None] * 220

            c = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "disk-full",
                          "auto.offset.reset": "earliest", "enable.auto.commit": False})
            c.subscribe(["full"])
            got = []
            deadline = time.time() + 20
            while len(got) < 220 and time.time() < deadline:
                m = c.poll(0.5)
                if m is not None and m.error() is None:
                    got.append(int(m.value()[:6]))
            c.close()
            assert got == list(range(220)), f"{len(got)} records, first gaps at {sorted(set(range(220)) - set(got))[:5]}"
            print(f"records held back while full: {stuck}")
        finally:
            try:
                broker.stop()
            finally:
                broker.kill()
                print(broker.log()[-6000:])
                fs.close()
