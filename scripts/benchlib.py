"""Shared parts of the benchmark scripts in scripts/: the reference measurements
(loopback TCP pump, page-cache and fdatasync'd writes), a broker process's CPU time and
resident memory from /proc, a raw ApiVersions probe, and min/median/max summaries.

Benchmarks, not tests: nothing here asserts, and nothing runs in the test suite.
"""
import multiprocessing
import os
import socket
import statistics
import struct
import time

CHUNK = 1 << 20
CLK_TCK = os.sysconf("SC_CLK_TCK")


def _pump_receiver(port_q, total, out_q, path=None):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600) if path else None
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    port_q.put(srv.getsockname()[1])
    conn, _ = srv.accept()
    buf = bytearray(CHUNK)
    view = memoryview(buf)
    got = 0
    start = None
    while got < total:
        n = conn.recv_into(view)
        if n == 0:
            break
        if start is None:
            start = time.perf_counter()
        if fd is not None:
            os.write(fd, view[:n])
        got += n
    out_q.put((got, time.perf_counter() - start))
    conn.close()
    if fd is not None:
        os.close(fd)
        os.unlink(path)


def loopback_mbps(total, directory=None):
    """MB/s (10^6 bytes) of one TCP stream over loopback, sender and receiver in two
    processes, 1 MiB `sendall` into `recv_into`. With `directory`, the receiver also
    writes every chunk it receives to a new file there (page cache, no sync): the
    rate of the least a broker must do with produced bytes, receive them and write
    them once, on the same cores as the sender."""
    path = None
    if directory:
        path = os.path.join(directory, f"bench-pump-{os.getpid()}-{time.time_ns()}")
    port_q, out_q = multiprocessing.Queue(), multiprocessing.Queue()
    rx = multiprocessing.Process(target=_pump_receiver, args=(port_q, total, out_q, path))
    rx.start()
    s = socket.create_connection(("127.0.0.1", port_q.get()))
    data = os.urandom(CHUNK)
    sent = 0
    while sent < total:
        s.sendall(data)
        sent += len(data)
    got, elapsed = out_q.get()
    s.close()
    rx.join()
    return got / elapsed / 1e6


def write_mbps(directory, total, sync):
    """MB/s of writing `total` bytes in 1 MiB writes to a new file in `directory`;
    with `sync`, the time includes an fdatasync at the end (the disk's rate), else it is
    the page cache's. The file is removed afterwards."""
    data = os.urandom(CHUNK)
    path = os.path.join(directory, f"bench-write-{os.getpid()}-{time.time_ns()}")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        start = time.perf_counter()
        written = 0
        while written < total:
            written += os.write(fd, data)
        if sync:
            os.fdatasync(fd)
        elapsed = time.perf_counter() - start
    finally:
        os.close(fd)
        os.unlink(path)
    return written / elapsed / 1e6


def cpu_seconds(pid):
    """User + system CPU seconds of process `pid` so far (/proc/<pid>/stat)."""
    with open(f"/proc/{pid}/stat") as f:
        # The command name may hold spaces; the fields after it are fixed.
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def rss_mib(pid):
    """Resident memory (VmRSS) of process `pid` in MiB."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def api_versions_ok(bootstrap, timeout=1.0):
    """Whether the broker at host:port answers an ApiVersions v0 request without error."""
    host, port = bootstrap.rsplit(":", 1)
    client = b"perf-suite"
    body = struct.pack(">hhih", 18, 0, 1, len(client)) + client
    try:
        with socket.create_connection((host, int(port)), timeout=timeout) as s:
            s.sendall(struct.pack(">i", len(body)) + body)
            head = b""
            while len(head) < 10:
                chunk = s.recv(10 - len(head))
                if not chunk:
                    return False
                head += chunk
            _size, corr, err = struct.unpack(">iih", head)
            return corr == 1 and err == 0
    except OSError:
        return False


def load_average():
    """The 1-minute load average."""
    return os.getloadavg()[0]


def summary(values):
    """(min, median, max) of a non-empty list."""
    return min(values), statistics.median(values), max(values)
