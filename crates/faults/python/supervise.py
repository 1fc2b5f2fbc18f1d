"""A watchdog for the confluent-kafka workloads of the vltava-faults harness.

Each workload role (the idempotent producer, the group consumer, the transactional
producer, the read_committed consumer) runs one client incarnation after another, each in
a thread of its own. An incarnation reports progress once per turn of its loop; one that
reports none for the role's stall limit, or that has not finished STOP_GRACE seconds after
the stop, is stuck inside its client library (librdkafka issue #5476's lock-order deadlock,
seen after brokers disagree about whether a node is alive, or a synchronous commit that
waits forever for a coordinator). It cannot be freed, so it is abandoned: a `stall`
operation goes into the history (the checker counts and reports them; the abandoned
client's open operations stay of unknown outcome), every thread's stack is written next to
the history, and the role goes on with a new incarnation under a new process id.
"""

import faulthandler
import os
import subprocess
import threading
import time

# How long an incarnation may take to finish after the stop (a producer's final
# flush waits up to 20 s, a consumer's close a little).
STOP_GRACE = 40.0


class Progress:
    """When an incarnation last got through a turn of its loop."""

    def __init__(self):
        self.at = time.monotonic()

    def beat(self):
        self.at = time.monotonic()


def dump_stacks(out, process):
    """Every thread's Python stack, then (with gdb, when it can attach) every native
    stack, into python-stacks-<process>.txt next to the history `out`; returns the path."""
    path = os.path.join(os.path.dirname(os.path.abspath(out)), f"python-stacks-{process}.txt")
    try:
        with open(path, "w", encoding="utf-8") as f:
            faulthandler.dump_traceback(file=f, all_threads=True)
            f.flush()
            try:
                subprocess.run(["timeout", "60", "gdb", "-p", str(os.getpid()), "-batch",
                                "-ex", "thread apply all bt"],
                               stdin=subprocess.DEVNULL, stdout=f, stderr=subprocess.STDOUT,
                               check=False)
            except OSError as e:
                f.write(f"\nno native stacks: {e}\n")
    except OSError as e:
        return f"none ({e})"
    return path


class Supervisor:
    """Runs the roles and remembers which incarnations it abandoned."""

    def __init__(self, history, out, is_stopped, stop_grace=STOP_GRACE):
        self.history = history
        self.out = out
        self.is_stopped = is_stopped
        self.stop_grace = stop_grace
        self.abandoned = []
        self._lock = threading.Lock()

    def role(self, name, run_one, stall_seconds):
        """A thread running `run_one(process, progress)` incarnations `name-g0`, `name-g1`, ...
        until the stop; start it, then join it."""
        return threading.Thread(target=self._run, args=(name, run_one, stall_seconds),
                                name=f"supervise-{name}")

    def _run(self, name, run_one, stall_seconds):
        generation = 0
        while not self.is_stopped():
            process = f"{name}-g{generation}"
            generation += 1
            progress = Progress()
            t = threading.Thread(target=run_one, args=(process, progress), daemon=True,
                                 name=process)
            t.start()
            stop_seen = None
            while t.is_alive():
                t.join(0.5)
                if not t.is_alive():
                    break
                now = time.monotonic()
                if stop_seen is None and self.is_stopped():
                    stop_seen = now
                if stop_seen is not None:
                    if now - stop_seen <= self.stop_grace:
                        continue
                    reason = f"not finished {self.stop_grace:.0f} s after the stop"
                elif now - progress.at > stall_seconds:
                    reason = f"no progress for {stall_seconds:.0f} s"
                else:
                    continue
                self._abandon(process, reason)
                break

    def _abandon(self, process, reason):
        stacks = dump_stacks(self.out, process)
        self.history.record({"process": process, "type": "info", "f": "stall",
                             "error": f"{reason}; stacks in {stacks}"})
        with self._lock:
            self.abandoned.append(process)
