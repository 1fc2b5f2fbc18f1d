"""A watchdog for the confluent-kafka workloads of the vltava-faults harness.

Each workload role (the idempotent producer, the group consumer, the transactional
producer, the read_committed consumer) runs one client incarnation after another, each in
a process of its own (forked from this one, which holds no client), writing its own history
file (`python-history-<process>.jsonl` beside the main one). An incarnation reports
progress once per turn of its loop through shared memory; one that reports none for the
role's stall limit, or that has not finished STOP_GRACE seconds after the stop, is stuck
inside its client library (librdkafka issue #5476's lock-order deadlock, seen after brokers
disagree about whether a node is alive, or a synchronous commit that waits forever for a
coordinator). Its native stacks are written next to the history (gdb), a `stall` operation
goes into the main history (the checker counts and reports them; the client's open
operations stay of unknown outcome), the process is killed, and the role goes on with a new
incarnation under a new process id. A process is needed, not a thread: some confluent-kafka
calls (`Consumer.position()`) hold Python's GIL while they wait inside librdkafka, which
freezes every thread of their process.
"""

import multiprocessing
import os
import subprocess
import threading
import time

from history import History

# How long an incarnation may take to finish after the stop (a producer's final
# flush waits up to 20 s, a consumer's close a little).
STOP_GRACE = 40.0


class Progress:
    """When an incarnation last got through a turn of its loop (CLOCK_MONOTONIC, in
    memory shared with the supervising process)."""

    def __init__(self, shared):
        self.shared = shared

    def beat(self):
        self.shared.value = time.monotonic()


def dump_stacks(out, process, pid):
    """Every native stack of process `pid` (gdb), into python-stacks-<process>.txt next to
    the history `out`; returns the path."""
    path = os.path.join(os.path.dirname(os.path.abspath(out)), f"python-stacks-{process}.txt")
    try:
        with open(path, "w", encoding="utf-8") as f:
            try:
                subprocess.run(["timeout", "60", "gdb", "-p", str(pid), "-batch",
                                "-ex", "thread apply all bt"],
                               stdin=subprocess.DEVNULL, stdout=f, stderr=subprocess.STDOUT,
                               check=False)
            except OSError as e:
                f.write(f"no native stacks: {e}\n")
    except OSError as e:
        return f"none ({e})"
    return path


def _incarnation(run_one, process, shared, path):
    """The body of an incarnation's process."""
    history = History(path)
    try:
        run_one(process, Progress(shared), history)
    finally:
        history.close()


class Supervisor:
    """Runs the roles and remembers which incarnations it abandoned."""

    def __init__(self, history, out, is_stopped, stop_grace=STOP_GRACE):
        self.history = history
        self.out = out
        self.is_stopped = is_stopped
        self.stop_grace = stop_grace
        self.abandoned = []
        self._lock = threading.Lock()
        self._ctx = multiprocessing.get_context("fork")

    def history_path(self, process):
        """Where incarnation `process` writes its history."""
        base = os.path.dirname(os.path.abspath(self.out))
        return os.path.join(base, f"python-history-{process}.jsonl")

    def role(self, name, run_one, stall_seconds):
        """A thread running `run_one(process, progress, history)` incarnations `name-g0`,
        `name-g1`, ... in processes of their own until the stop; start it, then join it."""
        return threading.Thread(target=self._run, args=(name, run_one, stall_seconds),
                                name=f"supervise-{name}")

    def _run(self, name, run_one, stall_seconds):
        generation = 0
        while not self.is_stopped():
            process = f"{name}-g{generation}"
            generation += 1
            shared = self._ctx.Value("d", time.monotonic(), lock=False)
            child = self._ctx.Process(target=_incarnation, name=process,
                                      args=(run_one, process, shared,
                                            self.history_path(process)))
            child.start()
            stop_seen = None
            while child.is_alive():
                child.join(0.5)
                if not child.is_alive():
                    break
                now = time.monotonic()
                if stop_seen is None and self.is_stopped():
                    stop_seen = now
                if stop_seen is not None:
                    if now - stop_seen <= self.stop_grace:
                        continue
                    reason = f"not finished {self.stop_grace:.0f} s after the stop"
                elif now - shared.value > stall_seconds:
                    reason = f"no progress for {stall_seconds:.0f} s"
                else:
                    continue
                self._abandon(process, child, reason)
                break

    def _abandon(self, process, child, reason):
        stacks = dump_stacks(self.out, process, child.pid)
        child.kill()
        child.join()
        self.history.record({"process": process, "type": "info", "f": "stall",
                             "error": f"{reason}; killed; stacks in {stacks}"})
        with self._lock:
            self.abandoned.append(process)
