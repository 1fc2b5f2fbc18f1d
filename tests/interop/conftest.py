"""Shared fixtures: start the real `vltava` binary on an ephemeral port with a
fresh data directory per test, and stop it afterwards.

The binary is taken from $VLTAVA_BIN, else target/debug/vltava (./test.sh builds
it). Every broker start and stop is bounded in time.
"""
import contextlib
import os
import re
import signal
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT = 30


def vltava_bin():
    b = os.environ.get("VLTAVA_BIN") or str(ROOT / "target" / "debug" / "vltava")
    if not os.path.exists(b):
        raise RuntimeError(f"broker binary {b} not found: run `cargo build -p vltava-broker` first")
    return b


class Broker:
    """A running broker process."""

    def __init__(self, data_dir, extra=()):
        self.data_dir = data_dir
        self.extra = list(extra)
        self.proc = None
        self.bootstrap = None
        # Every client listener's bound address by name ("SSL": "127.0.0.1:40123").
        self.listeners = {}
        self.log_lines = []

    def start(self, timeout=START_TIMEOUT):
        """Starts the process and waits up to `timeout` seconds until it listens."""
        args = [
            vltava_bin(), "server", "start",
            "--override", "listeners=PLAINTEXT://127.0.0.1:0,CONTROLLER://127.0.0.1:0",
            "--override", f"log.dirs={self.data_dir}",
        ]
        for e in self.extra:
            args += ["--override", e]
        env = dict(os.environ)
        env.setdefault("RUST_BACKTRACE", "1")
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     text=True, env=env)
        deadline = time.time() + timeout
        found = threading.Event()

        def pump():
            for line in self.proc.stdout:
                self.log_lines.append(line)
                lm = re.match(r"vltava: listener (\S+) on (\S+)", line)
                if lm:
                    self.listeners[lm.group(1)] = lm.group(2)
                m = re.match(r"vltava: listening on (\S+)", line)
                if m and not found.is_set():
                    self.bootstrap = m.group(1)
                    found.set()

        threading.Thread(target=pump, daemon=True).start()
        while not found.wait(0.1):
            if self.proc.poll() is not None or time.time() > deadline:
                self.kill()
                raise RuntimeError("broker did not start:\n" + "".join(self.log_lines[-50:]))
        return self

    def stop(self, timeout=15):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
                raise RuntimeError("broker did not stop on SIGTERM")
        return self.proc.returncode if self.proc else None

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def log(self):
        return "".join(self.log_lines)


@pytest.fixture
def data_dir():
    with tempfile.TemporaryDirectory(prefix="vltava-interop-") as d:
        yield os.path.join(d, "data")


@contextlib.contextmanager
def running(b, log_tail=8000):
    """Starts broker `b`, yields it, then stops it (killing it if it does not stop) and
    prints the tail of its log, which pytest shows only when the test failed."""
    b.start()
    try:
        yield b
    finally:
        try:
            b.stop()
        finally:
            b.kill()
            print("---- broker log (tail) ----")
            print(b.log()[-log_tail:])


@pytest.fixture
def broker(data_dir):
    with running(Broker(data_dir)) as b:
        yield b


def create_topic(bootstrap, name, partitions=1, config=None):
    """Creates a topic with confluent-kafka's admin client and waits for it."""
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": bootstrap})
    fs = admin.create_topics([NewTopic(name, partitions, 1, config=config or {})],
                             operation_timeout=10, request_timeout=15)
    fs[name].result(timeout=20)
    deadline = time.time() + 10
    while time.time() < deadline:
        md = admin.list_topics(name, timeout=5)
        t = md.topics.get(name)
        if t is not None and t.error is None and len(t.partitions) == partitions:
            return
        time.sleep(0.1)
    raise AssertionError(f"topic {name} did not appear in metadata")
