"""A JSONL history file in the format of vltava_faults::history: one op per line, times in
wall-clock nanoseconds. Each client process writes its own (a line is written whole and
flushed, so a killed process leaves at most its last line cut off)."""

import json
import threading
import time


class History:
    def __init__(self, path):
        self.lock = threading.Lock()
        self.out = open(path, "w", encoding="utf-8")

    def record(self, op):
        op["time"] = time.time_ns()
        line = json.dumps(op, separators=(",", ":")) + "\n"
        with self.lock:
            if not self.out.closed:
                self.out.write(line)
                self.out.flush()

    def close(self):
        with self.lock:
            if not self.out.closed:
                self.out.close()
