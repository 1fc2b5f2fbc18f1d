"""The fault harness's watchdog for its confluent-kafka workloads
(crates/faults/python/supervise.py): every client incarnation runs in a process of its own;
one stuck inside its library is killed with a `stall` op in the history and replaced; one
that makes progress never is."""

import json
import os
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                                "crates", "faults", "python"))

from supervise import Supervisor  # noqa: E402


class Recorded:
    """The supervisor's own history, in memory (the clients write files of their own)."""

    def __init__(self):
        self.ops = []
        self.lock = threading.Lock()

    def record(self, op):
        with self.lock:
            self.ops.append(op)


def run(tmp_path, make_run_one, seconds, stall=1.0, grace=1.0):
    """Supervises make_run_one(stopped) for `seconds`, then stops; returns the supervisor's
    ops and the abandoned incarnations."""
    history = Recorded()
    stop_at = time.monotonic() + seconds

    def stopped():
        return time.monotonic() > stop_at

    supervisor = Supervisor(history, str(tmp_path / "history.jsonl"), stopped,
                            stop_grace=grace)
    t = supervisor.role("r", make_run_one(stopped), stall)
    t.start()
    t.join(seconds + 60)
    assert not t.is_alive(), "the supervisor did not end"
    return history.ops, supervisor.abandoned


def client_ops(tmp_path, process):
    path = tmp_path / f"python-history-{process}.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_a_stuck_client_is_killed_and_replaced(tmp_path):
    def make(stopped):
        def run_one(process, progress, history):
            history.record({"process": process, "type": "ok", "f": "assign"})
            if process == "r-g0":
                time.sleep(3600)  # stuck, as in a librdkafka deadlock: no more progress
            while not stopped():
                progress.beat()
                time.sleep(0.05)
        return run_one

    ops, abandoned = run(tmp_path, make, seconds=4.0)
    assert abandoned == ["r-g0"]
    stalls = [o for o in ops if o["f"] == "stall"]
    assert len(stalls) == 1 and stalls[0]["process"] == "r-g0", ops
    assert stalls[0]["type"] == "info"
    assert "no progress for 1 s; killed" in stalls[0]["error"]
    assert (tmp_path / "python-stacks-r-g0.txt").exists()
    # Each incarnation wrote its own history; the replacement ran.
    assert [o["process"] for o in client_ops(tmp_path, "r-g0")] == ["r-g0"]
    assert [o["process"] for o in client_ops(tmp_path, "r-g1")] == ["r-g1"]


def test_a_client_that_makes_progress_is_never_abandoned(tmp_path):
    def make(stopped):
        def run_one(process, progress, history):
            while not stopped():
                progress.beat()
                time.sleep(0.05)
            time.sleep(0.5)  # finishing (a flush, a close) within the grace
        return run_one

    ops, abandoned = run(tmp_path, make, seconds=3.0)
    assert abandoned == []
    assert [o for o in ops if o["f"] == "stall"] == []


def test_a_client_that_ignores_the_stop_is_killed_after_the_grace(tmp_path):
    def make(stopped):
        def run_one(process, progress, history):
            while True:  # beats, but never looks at the stop
                progress.beat()
                time.sleep(0.05)
        return run_one

    ops, abandoned = run(tmp_path, make, seconds=1.0, stall=30.0, grace=1.0)
    assert abandoned == ["r-g0"]
    stalls = [o for o in ops if o["f"] == "stall"]
    assert "not finished 1 s after the stop" in stalls[0]["error"], ops


def test_a_client_holding_the_gil_is_still_killed(tmp_path):
    """A frozen interpreter in the client (a C call that holds the GIL) cannot stop the
    supervisor: it lives in another process."""
    def make(stopped):
        def run_one(process, progress, history):
            if process == "r-g0":
                # Holds the GIL for good: a tight loop in one bytecode-free C call.
                import re
                re.match(r"(a+)+$", "a" * 64 + "b")
            while not stopped():
                progress.beat()
                time.sleep(0.05)
        return run_one

    ops, abandoned = run(tmp_path, make, seconds=4.0)
    assert abandoned == ["r-g0"], ops
