"""The fault harness's watchdog for its confluent-kafka workloads
(crates/faults/python/supervise.py): a client stuck inside its library is abandoned with a
`stall` op in the history and replaced; a client that makes progress never is."""

import os
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                                "crates", "faults", "python"))

from supervise import Supervisor  # noqa: E402


class Recorded:
    def __init__(self):
        self.ops = []
        self.lock = threading.Lock()

    def record(self, op):
        with self.lock:
            self.ops.append(op)


def run(tmp_path, make_run_one, seconds, stall=1.0, grace=1.0):
    """Supervises make_run_one(stopped) for `seconds`, then stops."""
    history = Recorded()
    stop_at = time.monotonic() + seconds

    def stopped():
        return time.monotonic() > stop_at

    supervisor = Supervisor(history, str(tmp_path / "history.jsonl"), stopped,
                            stop_grace=grace)
    t = supervisor.role("r", make_run_one(stopped), stall)
    t.start()
    t.join(seconds + 30)
    assert not t.is_alive(), "the supervisor did not end"
    return history.ops, supervisor.abandoned


def test_a_stuck_client_is_abandoned_and_replaced(tmp_path):
    started = []
    forever = threading.Event()

    def make(stopped):
        def run_one(process, progress):
            started.append(process)
            if process == "r-g0":
                forever.wait()  # stuck, as in a librdkafka deadlock: no more progress
            while not stopped():
                progress.beat()
                time.sleep(0.05)
        return run_one

    ops, abandoned = run(tmp_path, make, seconds=3.5)
    assert started[:2] == ["r-g0", "r-g1"]
    assert abandoned == ["r-g0"]
    stalls = [o for o in ops if o["f"] == "stall"]
    assert len(stalls) == 1 and stalls[0]["process"] == "r-g0", ops
    assert stalls[0]["type"] == "info"
    assert "no progress for 1 s" in stalls[0]["error"]
    assert (tmp_path / "python-stacks-r-g0.txt").exists()
    forever.set()


def test_a_client_that_makes_progress_is_never_abandoned(tmp_path):
    def make(stopped):
        def run_one(process, progress):
            while not stopped():
                progress.beat()
                time.sleep(0.05)
            time.sleep(0.5)  # finishing (a flush, a close) within the grace
        return run_one

    ops, abandoned = run(tmp_path, make, seconds=3.0)
    assert abandoned == []
    assert [o for o in ops if o["f"] == "stall"] == []


def test_a_client_that_ignores_the_stop_is_abandoned_after_the_grace(tmp_path):
    forever = threading.Event()

    def make(stopped):
        def run_one(process, progress):
            while not forever.is_set():  # beats, but never looks at the stop
                progress.beat()
                time.sleep(0.05)
        return run_one

    ops, abandoned = run(tmp_path, make, seconds=1.0, stall=30.0, grace=1.0)
    assert abandoned == ["r-g0"]
    stalls = [o for o in ops if o["f"] == "stall"]
    assert "not finished 1 s after the stop" in stalls[0]["error"], ops
    forever.set()
