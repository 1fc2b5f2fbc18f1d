#!/usr/bin/env python3
"""Issue 16's performance suite: one command, one run, docs/performance.md updated.

Per round (--rounds, figures are min/median/max over the rounds, ratios the median of
each round's ratio against a reference measured in that round):
  - references: writing the produce runs' bytes to the data dir's disk with an
    fdatasync at the end, the same without the sync (the page cache's rate), a
    loopback TCP pump (two processes) of the same bytes, and the same pump whose
    receiver writes what it receives to a file (the least a broker does);
  - a fresh broker (release build, defaults) on a fresh data dir under /tmp: start to
    ready (spawn to the first ApiVersions answer) and idle resident memory;
  - produce with librdkafka's `rdkafka_performance` and with `vltava
    producer-perf-test` (vltava-client), same settings for both (linger.ms=5,
    batch.size=1000000, idempotence with acks=all only), for 1 KiB and 100 B records,
    1 and --partitions partitions, compression none and lz4, acks=1 and acks=all; the
    broker's CPU seconds (utime+stime from /proc) per MB produced;
  - consume from the start, each topic produced by rdkafka_performance with acks=1, by
    `rdkafka_performance -C` (all partitions assigned) and by `vltava
    consumer-perf-test` (fetch.MB.sec, after the group join), alternating which goes
    first; the broker's CPU seconds per MB consumed;
  - latency: both producers at a fixed rate, half of the sustained max rate with the
    same settings in that round (1 KiB, 1 partition, acks=1, linger.ms=0), p50/p99/p999
    of delivery latency (librdkafka through scripts/rdkafka-latency.c, built here
    against the same librdkafka: per-record nanoseconds from its due time;
    producer-perf-test: its percentile columns, whole ms); librdkafka alone also at a
    quarter and an eighth of that maximum, and at half the highest fixed rate it keeps
    up with (a rate search).
MB/s are 10^6 bytes of record values per second. A benchmark, not a test: nothing runs
in the test suite and nothing is asserted; the targets are reported as met or not.

  cargo build --release --bin vltava
  .tools/venv/bin/python scripts/perf-suite.py --bin target/release/vltava --rounds 3
  .tools/venv/bin/python scripts/perf-suite.py --quick      # a short smoke run

rdkafka_performance is taken from --rdkafka-performance, else $VLTAVA_RDKAFKA_PERFORMANCE,
else .tools/librdkafka/current/librdkafka/examples/rdkafka_performance, which
scripts/librdkafka-env.sh builds (from the rdkafka-sys crate's librdkafka) when missing.
"""
import argparse
import datetime
import os
import random
import re
import statistics
import string
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "interop"))
sys.path.insert(0, os.path.join(ROOT, "scripts"))

import benchlib  # noqa: E402
import conftest  # noqa: E402

BEGIN = "<!-- perf-suite: begin (written by scripts/perf-suite.py) -->"
END = "<!-- perf-suite: end -->"
TIMEOUT = 900


def rdkafka_performance(arg):
    path = arg or os.environ.get("VLTAVA_RDKAFKA_PERFORMANCE") or os.path.join(
        ROOT, ".tools/librdkafka/current/librdkafka/examples/rdkafka_performance")
    if not os.access(path, os.X_OK):
        subprocess.run([os.path.join(ROOT, "scripts", "librdkafka-env.sh")], check=True)
    if not os.access(path, os.X_OK):
        raise SystemExit(f"no rdkafka_performance at {path}")
    return path


# Fractions of the sustained maximum (as 1/n) at which librdkafka's latency is also taken.
LOWER_RATE_FRACTIONS = (4, 8)


def latency_tool(rk):
    """scripts/rdkafka-latency.c built against the librdkafka next to `rk` (cached;
    rebuilt when the source is newer)."""
    lib = os.path.join(os.path.dirname(os.path.dirname(rk)), "src")
    src = os.path.join(ROOT, "scripts", "rdkafka-latency.c")
    out = os.path.join(os.path.dirname(os.path.dirname(rk)), "rdkafka-latency")
    if not os.path.exists(out) or os.path.getmtime(out) < os.path.getmtime(src):
        subprocess.run(["cc", "-O2", "-o", out, src, f"-I{lib}",
                        os.path.join(lib, "librdkafka.so"), f"-Wl,-rpath,{lib}"], check=True)
    return out


def run(cmd, timeout=TIMEOUT, check=True):
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if check and r.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} exited {r.returncode}:\n{r.stdout[-3000:]}"
                         f"\n{r.stderr[-3000:]}")
    return r.stdout


def rk_props(linger, acks, batch=True):
    props = ["-X", f"linger.ms={linger}",
             "-X", f"enable.idempotence={'true' if acks == 'all' else 'false'}"]
    if batch:
        props += ["-X", "batch.size=1000000"]
    return props


def letters(size):
    """A payload of random upper-case letters, as producer-perf-test sends (same
    compressibility for both producers)."""
    return "".join(random.choice(string.ascii_uppercase) for _ in range(size))


def rk_produce(rk, bs, topic, records, size, acks, comp, linger=5):
    """rdkafka_performance -P: (MB/s, records/s) of delivered record values, from its
    first progress line with deliveries to its last (so its start, which for an
    idempotent producer includes librdkafka's InitProducerId retry, is left out; the whole
    run when it was too short for two lines)."""
    cmd = [rk, "-P", "-t", topic, "-b", bs, "-s", str(size), "-c", str(records),
           "-a", "-1" if acks == "all" else acks, "-z", comp, "-i", "100"]
    cmd += rk_props(linger, acks)
    cmd += ["-m", letters(size)]
    # rdkafka_performance has exited 1 after a run whose every record was delivered
    # (idempotent, lz4, 100 B); the delivery counts below decide, not its exit status.
    out = run(cmd, check=False)
    points = []
    for ln in out.splitlines():
        m = re.search(r"(\d+) delivered \((?:offset -?\d+, )?(\d+) failed\) in (\d+)ms", ln)
        if m:
            points.append((int(m.group(1)), int(m.group(2)), int(m.group(3))))
    if not points:
        raise SystemExit(f"rdkafka_performance printed no progress:\n{out[-2000:]}")
    delivered, failed, ms = points[-1]
    if delivered != records or failed:
        raise SystemExit(f"rdkafka_performance delivered {delivered} of {records}:\n{out[-2000:]}")
    first = next(p for p in points if p[0] > 0)
    if first[0] < delivered and ms > first[2]:
        n, secs = delivered - first[0], (ms - first[2]) / 1000
    else:
        n, secs = delivered, max(ms, 1) / 1000
    return n * size / secs / 1e6, n / secs


def rk_consume(rk, bs, topic, partitions, records):
    """rdkafka_performance -C from the beginning of every partition: MB/s."""
    cmd = [rk, "-C", "-t", topic, "-b", bs, "-o", "beginning", "-c", str(records), "-q",
           "-i", "60000"]
    for p in range(partitions):
        cmd += ["-p", str(p)]
    out = run(cmd)
    last = [ln for ln in out.splitlines() if " consumed in " in ln][-1]
    m = re.search(r"(\d+) messages \((\d+) bytes\) consumed in (\d+)ms", last)
    n, nbytes, ms = int(m.group(1)), int(m.group(2)), max(1, int(m.group(3)))
    if n < records:
        raise SystemExit(f"rdkafka_performance consumed {n} of {records}:\n{out[-2000:]}")
    return nbytes / (ms / 1000) / 1e6


def tool_produce(tool, bs, topic, records, size, acks, comp, linger=5, rate=-1):
    """vltava producer-perf-test: (MB/s, p50, p99, p999 ms) from its final line."""
    idem = "true" if acks == "all" else "false"
    out = run([tool, "producer-perf-test", "--topic", topic, "--num-records", str(records),
               "--record-size", str(size), "--throughput", str(rate),
               "--reporting-interval", "60000", "--producer-props", f"bootstrap.servers={bs}",
               f"acks={acks}", f"compression.type={comp}", f"linger.ms={linger}",
               "batch.size=1000000", f"enable.idempotence={idem}"])
    last = [ln for ln in out.splitlines() if "99.9th" in ln][-1]
    m = re.match(r"(\d+) records sent, ([\d.]+) records/sec .* (\d+) ms 50th, \d+ ms 95th, "
                 r"(\d+) ms 99th, (\d+) ms 99.9th\.", last)
    if int(m.group(1)) != records:
        raise SystemExit(f"producer-perf-test: {last}")
    return (float(m.group(2)) * size / 1e6, int(m.group(3)), int(m.group(4)),
            int(m.group(5)))


def tool_consume(tool, bs, topic, records):
    """vltava consumer-perf-test: fetch.MB.sec (after the join) in MB/s."""
    out = run([tool, "consumer-perf-test", "--bootstrap-server", bs, "--topic", topic,
               "--messages", str(records), "--timeout", "30000"])
    last = [ln for ln in out.splitlines() if re.match(r"^[\d.]+, ", ln)][-1]
    f = [x.strip() for x in last.split(",")]
    if int(f[4]) < records:
        raise SystemExit(f"consumer-perf-test consumed {f[4]} of {records}")
    return float(f[8]) * 1.048576


def rk_latency(lat_tool, bs, topic, records, size, rate):
    """scripts/rdkafka-latency (librdkafka at a fixed rate, sleeping between 1 ms ticks,
    latency from each record's due time to its delivery report; acks=1, linger.ms=0,
    batch.size=1000000, no idempotence): (offered records/s, p50, p99, p999, max ms,
    delivered records/s)."""
    out = run([lat_tool, bs, topic, str(records), str(size), str(rate), "acks=1",
               "linger.ms=0", "batch.size=1000000", "enable.idempotence=false"])
    return tuple(float(x) for x in out.split())


def keeps_up(lat_tool, bs, topic, rate, secs):
    """Whether the fixed-rate librdkafka producer, asked for `rate` records/s of 1 KiB for
    `secs`, offered and had delivered at least 97% of it."""
    n = max(1000, int(rate * secs))
    offered, *_, delivered = rk_latency(lat_tool, bs, topic, n, 1024, rate)
    return offered >= 0.97 * rate and delivered >= 0.97 * rate


def kept_up_max(lat_tool, bs, ceiling, secs):
    """The highest fixed rate the producer keeps up with (`keeps_up`), at most `ceiling`:
    doubling from a sixteenth of it, then three bisection steps."""
    conftest.create_topic(bs, "lat-search", 1)
    lo, hi, rate = 0, None, max(1000, int(ceiling / 16))
    while hi is None and rate <= ceiling:
        if keeps_up(lat_tool, bs, "lat-search", rate, secs):
            lo, rate = rate, rate * 2
        else:
            hi = rate
    if hi is None:
        return lo
    for _ in range(3):
        mid = (lo + hi) // 2
        if keeps_up(lat_tool, bs, "lat-search", mid, secs):
            lo = mid
        else:
            hi = mid
    return lo


def start_broker(binary, data_dir):
    """Starts a broker: (broker, start-to-ready s, idle RSS MiB)."""
    os.environ["VLTAVA_BIN"] = binary
    t0 = time.perf_counter()
    b = conftest.Broker(data_dir).start()
    while not benchlib.api_versions_ok(b.bootstrap):
        if time.perf_counter() - t0 > 30:
            b.kill()
            raise SystemExit("the broker did not answer ApiVersions")
        time.sleep(0.001)
    ready = time.perf_counter() - t0
    time.sleep(1.0)
    return b, ready, benchlib.rss_mib(b.proc.pid)


class Results:
    """Figures per (case, column) over the rounds."""

    def __init__(self):
        self.v = {}

    def add(self, case, col, value):
        self.v.setdefault((case, col), []).append(value)

    def get(self, case, col):
        return self.v.get((case, col), [])


def measure_round(args, rk, lat_tool, tool, rnd, res):
    cases = []
    sizes = [(1024, args.records_1k), (100, args.records_100)]
    for size, records in sizes:
        for parts in (1, args.partitions):
            for comp in ("none", "lz4"):
                for acks in ("1", "all"):
                    cases.append((size, records, parts, comp, acks))
    with tempfile.TemporaryDirectory(prefix="vltava-perf-") as tmp:
        total = args.records_1k * 1024
        res.add("ref", "fdatasync", benchlib.write_mbps(tmp, total, sync=True))
        res.add("ref", "pagecache", benchlib.write_mbps(tmp, total, sync=False))
        res.add("ref", "loopback", benchlib.loopback_mbps(total))
        res.add("ref", "pump_to_file", benchlib.loopback_mbps(total, directory=tmp))
        broker, ready, rss = start_broker(args.bin, os.path.join(tmp, "data"))
        pid = broker.proc.pid
        try:
            res.add("broker", "ready_ms", ready * 1000)
            res.add("broker", "idle_rss", rss)
            bs = broker.bootstrap
            for size, records, parts, comp, acks in cases:
                case = ("produce", size, parts, comp, acks)
                order = [("rk", "rdkafka"), ("vc", "tool")]
                if rnd % 2:
                    order.reverse()
                for short, client in order:
                    topic = f"p-{short}-{size}-{parts}-{comp}-{acks}"
                    conftest.create_topic(bs, topic, parts)
                    cpu0 = benchlib.cpu_seconds(pid)
                    if client == "rdkafka":
                        mbps = rk_produce(rk, bs, topic, records, size, acks, comp)[0]
                    else:
                        mbps = tool_produce(tool, bs, topic, records, size, acks, comp)[0]
                    cpu = benchlib.cpu_seconds(pid) - cpu0
                    res.add(case, client, mbps)
                    res.add(case, client + "_cpu", cpu / (records * size / 1e6))
                print(f"round {rnd} produce {size} B x{parts} {comp} acks={acks}: "
                      f"rdkafka_performance {res.get(case, 'rdkafka')[-1]:.0f} MB/s, "
                      f"producer-perf-test {res.get(case, 'tool')[-1]:.0f} MB/s",
                      flush=True)
            for size, records, parts, comp, acks in cases:
                if acks != "1":
                    continue
                case = ("consume", size, parts, comp)
                topic = f"p-rk-{size}-{parts}-{comp}-1"
                order = ["rdkafka", "tool"] if rnd % 2 == 0 else ["tool", "rdkafka"]
                for client in order:
                    cpu0 = benchlib.cpu_seconds(pid)
                    if client == "rdkafka":
                        mbps = rk_consume(rk, bs, topic, parts, records)
                    else:
                        mbps = tool_consume(tool, bs, topic, records)
                    cpu = benchlib.cpu_seconds(pid) - cpu0
                    res.add(case, client, mbps)
                    res.add(case, client + "_cpu", cpu / (records * size / 1e6))
                print(f"round {rnd} consume {size} B x{parts} {comp}: "
                      f"rdkafka_performance {res.get(case, 'rdkafka')[-1]:.0f} MB/s, "
                      f"consumer-perf-test {res.get(case, 'tool')[-1]:.0f} MB/s", flush=True)
            # Latency at half of this round's max rate of the same settings
            # (rdkafka_performance, 1 KiB, 1 partition, acks=1, linger.ms=0).
            conftest.create_topic(bs, "lat-max", 1)
            _, max_rate = rk_produce(rk, bs, "lat-max", args.records_1k, 1024, "1", "none",
                                     linger=0)
            res.add("latency", "max_rate", max_rate)
            # The burst rate queues every record at once (large batches); a producer at a
            # fixed rate sends smaller ones and may sustain less. The sustained maximum is
            # what the fixed-rate producer delivers when asked for the burst rate; latency is
            # taken at half of that, so it runs at half load, not near saturation.
            conftest.create_topic(bs, "lat-sustain", 1)
            sustain_n = max(1000, int(max_rate * args.latency_secs / 2))
            sustained = rk_latency(lat_tool, bs, "lat-sustain", sustain_n, 1024, max_rate)[5]
            res.add("latency", "sustained_rate", sustained)
            rate = int(min(max_rate, sustained) / 2)
            n = max(1000, int(rate * args.latency_secs))
            res.add("latency", "rate", rate)
            conftest.create_topic(bs, "lat-rk", 1)
            conftest.create_topic(bs, "lat-vc", 1)
            for name, value in zip(("achieved", "p50", "p99", "p999", "max", "delivered"),
                                   rk_latency(lat_tool, bs, "lat-rk", n, 1024, rate)):
                res.add("latency", "rdkafka_" + name, value)
            _, p50, p99, p999 = tool_produce(tool, bs, "lat-vc", n, 1024, "1", "none",
                                             linger=0, rate=rate)
            for name, value in zip(("p50", "p99", "p999"), (p50, p99, p999)):
                res.add("latency", "tool_" + name, value)
            print(f"round {rnd} latency at {rate} records/s: rdkafka_performance p99 "
                  f"{res.get('latency', 'rdkafka_p99')[-1]:.2f} ms, producer-perf-test p99 "
                  f"{p99} ms", flush=True)
            # The highest fixed rate the same producer keeps up with (small batches, as
            # sent at a fixed rate), and its latency at half of that.
            kept = kept_up_max(lat_tool, bs, max_rate, args.latency_secs / 2)
            res.add("latency", "kept_rate", kept)
            conftest.create_topic(bs, "lat-kept", 1)
            half_kept = max(1000, kept // 2)
            vals = rk_latency(lat_tool, bs, "lat-kept", max(1000, int(half_kept *
                              args.latency_secs)), 1024, half_kept)
            for name, value in zip(("achieved", "p50", "p99", "p999", "max", "delivered"), vals):
                res.add("latency", "rdkafka_kept_" + name, value)
            print(f"round {rnd} kept-up maximum {kept} records/s; at half of it p99 "
                  f"{vals[2]:.2f} ms", flush=True)
            # Lower fixed rates, librdkafka only: where the p99 stands below half load.
            for frac in LOWER_RATE_FRACTIONS:
                low = int(min(max_rate, sustained) / frac)
                conftest.create_topic(bs, f"lat-rk-{frac}", 1)
                low_n = max(1000, int(low * args.latency_secs))
                vals = rk_latency(lat_tool, bs, f"lat-rk-{frac}", low_n, 1024, low)
                for name, value in zip(("achieved", "p50", "p99", "p999", "max", "delivered"),
                                       vals):
                    res.add("latency", f"rdkafka_1/{frac}_{name}", value)
                print(f"round {rnd} latency at {low} records/s (1/{frac}): p99 {vals[2]:.2f} ms",
                      flush=True)
        finally:
            broker.stop()


def fmt3(vals, digits=0):
    if not vals:
        return "–"
    lo, med, hi = benchlib.summary(vals)
    return f"{med:,.{digits}f} ({lo:,.{digits}f}–{hi:,.{digits}f})"


def ratios(a, b):
    """Median of the per-round ratios a/b."""
    return statistics.median(x / y for x, y in zip(a, b)) if a and b else float("nan")


def report(args, res, cmdline, load_before, load_after, started):
    commit = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"],
                            capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run(["git", "-C", ROOT, "status", "--porcelain", "--untracked-files=no"],
                           capture_output=True, text=True).stdout.strip()
    ref_pc = res.get("ref", "pagecache")
    ref_lo = res.get("ref", "loopback")
    ref_pf = res.get("ref", "pump_to_file")
    lines = [BEGIN, "", f"## Performance suite ({started:%Y-%m-%d %H:%M} UTC)", "", "```sh",
             cmdline, "```", "",
             f"Git commit {commit}{' (with uncommitted changes)' if dirty else ''}, release "
             f"build, {os.cpu_count()} cores shared by the broker and the clients; load "
             f"average {load_before:.2f} before the run and {load_after:.2f} after (other "
             f"work on the machine). {args.rounds} round(s), each on a fresh broker and data "
             f"dir under /tmp; figures are median (min–max) over the rounds; ratios are the "
             f"median of the per-round ratios to a reference measured in the same round. "
             f"Produce runs: {args.records_1k:,} records of 1 KiB or {args.records_100:,} of "
             f"100 B per case, linger.ms=5, batch.size=1000000 for both clients, "
             f"idempotence with acks=all only. MB/s are 10^6 bytes of record values.", "",
             "### References", "", "| reference | MB/s |", "| --- | ---: |",
             f"| disk write + fdatasync ({args.records_1k * 1024 >> 20} MiB) | "
             f"{fmt3(res.get('ref', 'fdatasync'))} |",
             f"| page-cache write, same bytes | {fmt3(ref_pc)} |",
             f"| loopback TCP pump, same bytes | {fmt3(ref_lo)} |",
             f"| loopback TCP pump whose receiver writes each chunk to a file (page cache), "
             f"same bytes | {fmt3(ref_pf)} |", "",
             "The last is the least any broker does with produced bytes (receive them, "
             "write them once) on the same two cores as its client, with no client work, "
             "no protocol and no checks: a produce ceiling on this machine.", "",
             "### Produce", "",
             "| records | partitions | compression | acks | rdkafka_performance MB/s | "
             "producer-perf-test MB/s | vltava-client / librdkafka | librdkafka / page cache "
             "| librdkafka / pump to file | broker CPU ms/MB (librdkafka run) |",
             "| --- | ---: | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    keys = list(dict.fromkeys(k[0] for k in res.v if isinstance(k[0], tuple)))
    for case in [k for k in keys if k[0] == "produce"]:
        _, size, parts, comp, acks = case
        rk, vc = res.get(case, "rdkafka"), res.get(case, "tool")
        lines.append(
            f"| {size} B | {parts} | {comp} | {acks} | {fmt3(rk)} | {fmt3(vc)} | "
            f"{ratios(vc, rk):.2f}x | {ratios(rk, ref_pc):.2f}x | {ratios(rk, ref_pf):.2f}x | "
            f"{statistics.median(res.get(case, 'rdkafka_cpu')) * 1000:.2f} |")
    lines += ["", "### Consume (from the start, topics written by rdkafka_performance with "
              "acks=1)", "",
              "| records | partitions | compression | rdkafka_performance -C MB/s | "
              "consumer-perf-test MB/s | vltava-client / librdkafka | librdkafka / loopback | "
              "broker CPU ms/MB (librdkafka run) |",
              "| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: |"]
    for case in [k for k in keys if k[0] == "consume"]:
        _, size, parts, comp = case
        rk, vc = res.get(case, "rdkafka"), res.get(case, "tool")
        lines.append(
            f"| {size} B | {parts} | {comp} | {fmt3(rk)} | {fmt3(vc)} | {ratios(vc, rk):.2f}x"
            f" | {ratios(rk, ref_lo):.2f}x | "
            f"{statistics.median(res.get(case, 'rdkafka_cpu')) * 1000:.2f} |")
    rate = res.get("latency", "rate")
    lines += ["", f"### Produce latency at a fixed rate (1 KiB, 1 partition, acks=1, "
              f"linger.ms=0)", "",
              f"The maximum: rdkafka_performance with these settings, all records queued at "
              f"once, {fmt3(res.get('latency', 'max_rate'))} records/s; the fixed-rate "
              f"librdkafka producer (`scripts/rdkafka-latency.c`) asked for that rate delivered "
              f"{fmt3(res.get('latency', 'sustained_rate'))} (its sustained maximum: small "
              f"batches, linger.ms=0). Half of the lower of the two, "
              f"{fmt3(rate)} records/s, was asked of both producers below.", "",
              "| producer | offered records/s | p50 ms | p99 ms | p99.9 ms | max ms |",
              "| --- | ---: | ---: | ---: | ---: | ---: |",
              f"| librdkafka, scripts/rdkafka-latency.c | "
              f"{fmt3(res.get('latency', 'rdkafka_achieved'))} | "
              f"{fmt3(res.get('latency', 'rdkafka_p50'), 2)} | "
              f"{fmt3(res.get('latency', 'rdkafka_p99'), 2)} | "
              f"{fmt3(res.get('latency', 'rdkafka_p999'), 2)} | "
              f"{fmt3(res.get('latency', 'rdkafka_max'), 2)} |",
              f"| producer-perf-test --throughput (whole ms) | {fmt3(rate)} | "
              f"{fmt3(res.get('latency', 'tool_p50'))} | {fmt3(res.get('latency', 'tool_p99'))}"
              f" | {fmt3(res.get('latency', 'tool_p999'))} | |"]
    lines += ["", "The same librdkafka producer at lower fixed rates (fractions of the lower "
              "maximum above):", "",
              "| rate | offered records/s | p50 ms | p99 ms | p99.9 ms | max ms |",
              "| --- | ---: | ---: | ---: | ---: | ---: |"]
    for frac in LOWER_RATE_FRACTIONS:
        key = f"rdkafka_1/{frac}_"
        lines.append(f"| 1/{frac} | {fmt3(res.get('latency', key + 'achieved'))} | "
                     f"{fmt3(res.get('latency', key + 'p50'), 2)} | "
                     f"{fmt3(res.get('latency', key + 'p99'), 2)} | "
                     f"{fmt3(res.get('latency', key + 'p999'), 2)} | "
                     f"{fmt3(res.get('latency', key + 'max'), 2)} |")
    lines += ["", f"The highest fixed rate the same producer keeps up with (offers and has "
              f"delivered at least 97% of the rate asked, {args.latency_secs / 2:g} s per "
              f"probe; doubling from a sixteenth of the burst maximum, then three bisection "
              f"steps): {fmt3(res.get('latency', 'kept_rate'))} records/s. At half of it:", "",
              "| rate | offered records/s | p50 ms | p99 ms | p99.9 ms | max ms |",
              "| --- | ---: | ---: | ---: | ---: | ---: |",
              f"| half the kept-up maximum | "
              f"{fmt3(res.get('latency', 'rdkafka_kept_achieved'))} | "
              f"{fmt3(res.get('latency', 'rdkafka_kept_p50'), 2)} | "
              f"{fmt3(res.get('latency', 'rdkafka_kept_p99'), 2)} | "
              f"{fmt3(res.get('latency', 'rdkafka_kept_p999'), 2)} | "
              f"{fmt3(res.get('latency', 'rdkafka_kept_max'), 2)} |"]
    # Targets.
    best = ("produce", 1024, 1, "none", "1")
    best_p = ("produce", 1024, args.partitions, "none", "1")
    prod = max(ratios(res.get(best, "rdkafka"), ref_pc), ratios(res.get(best_p, "rdkafka"), ref_pc))
    cons_case = ("consume", 1024, 1, "none")
    cons = ratios(res.get(cons_case, "rdkafka"), ref_lo)
    p99 = statistics.median(res.get("latency", "rdkafka_p99"))
    p99_kept = statistics.median(res.get("latency", "rdkafka_kept_p99"))
    produce_cases = [k for k in keys if k[0] == "produce"]
    consume_cases = [k for k in keys if k[0] == "consume"]
    vc_prod = statistics.median(ratios(res.get(k, "tool"), res.get(k, "rdkafka"))
                                for k in produce_cases)
    vc_prod_min = min(ratios(res.get(k, "tool"), res.get(k, "rdkafka")) for k in produce_cases)
    vc_cons = statistics.median(ratios(res.get(k, "tool"), res.get(k, "rdkafka"))
                                for k in consume_cases)
    vc_cons_min = min(ratios(res.get(k, "tool"), res.get(k, "rdkafka")) for k in consume_cases)
    rss = statistics.median(res.get("broker", "idle_rss"))
    ready = statistics.median(res.get("broker", "ready_ms"))
    cpu_p = statistics.median(res.get(best, "rdkafka_cpu"))
    cpu_c = statistics.median(res.get(cons_case, "rdkafka_cpu"))

    def met(ok):
        return "met" if ok else "**not met**"

    lines += ["", "### Targets (issue 16)", "", "| target | measured | |",
              "| --- | ---: | --- |",
              f"| produce ≥ 0.5x page-cache write (1 KiB, acks=1, none, best of 1/"
              f"{args.partitions} partitions) | {prod:.2f}x | {met(prod >= 0.5)} |",
              f"| consume ≥ 0.5x loopback (1 KiB, 1 partition, none) | {cons:.2f}x | "
              f"{met(cons >= 0.5)} |",
              f"| p99 produce latency at half the sustained max rate ≤ 5 ms (acks=1, "
              f"librdkafka at a fixed rate) | {p99:.2f} ms | {met(p99 <= 5)} |",
              f"| the same, at half the highest fixed rate the producer keeps up with "
              f"(see above) | {p99_kept:.2f} ms | {met(p99_kept <= 5)} |",
              f"| vltava-client producer ≥ 1.0x rdkafka_performance (median over the cases; "
              f"lowest case) | {vc_prod:.2f}x; {vc_prod_min:.2f}x | {met(vc_prod_min >= 1.0)} |",
              f"| vltava-client consumer ≥ 1.0x rdkafka_performance (median over the cases; "
              f"lowest case) | {vc_cons:.2f}x; {vc_cons_min:.2f}x | {met(vc_cons_min >= 1.0)} |",
              f"| idle resident memory ≤ 30 MB | {rss:.1f} MiB ({rss * 1.048576:.1f} MB) | "
              f"{met(rss * 1.048576 <= 30)} |",
              f"| start to ready ≤ 100 ms (spawn to the first ApiVersions answer) | "
              f"{ready:.0f} ms | {met(ready <= 100)} |",
              f"| broker CPU per MB (reported; 1 KiB, 1 partition, none, librdkafka) | "
              f"produce {cpu_p * 1000:.2f} ms/MB, consume {cpu_c * 1000:.2f} ms/MB | |",
              "", "How the figures are taken (read them with this): rdkafka_performance's "
              "produce rate counts from its first progress line with deliveries (100 ms "
              "lines), so its start (connect, InitProducerId) is left out, while "
              "producer-perf-test's counts from after the producer is created, as Kafka's "
              "tool does; rdkafka_performance -C reads with `assign` and counts from its "
              "first message, consumer-perf-test joins a group and counts from the "
              "assignment (fetch.MB.sec). The fixed-rate latency is librdkafka driven by "
              "`scripts/rdkafka-latency.c`, which sleeps to each 1 ms tick and produces the "
              "records due by then, and charges each record from its due time (a producer "
              "that falls behind pays for it). rdkafka_performance's own `-r` limiter is not "
              "used: it polls without sleeping between records, so at these rates it keeps "
              "one of the two cores busy and the broker competes with it (earlier versions "
              "of this suite measured that: p99 168 ms at 139,452 records/s). Both include "
              "the client's own queueing on these two shared cores. Broker CPU is from "
              "clock ticks (10 ms) over one run.",
              "", END]
    return "\n".join(lines) + "\n"


def write_doc(path, section):
    text = open(path).read() if os.path.exists(path) else ""
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        tail = rest.split(END, 1)[1].lstrip("\n")
        text = head + section + ("\n" + tail if tail else "")
    else:
        text = text.rstrip("\n") + "\n\n" + section
    with open(path, "w") as f:
        f.write(text)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin", help="vltava binary (broker and perf tools); default: "
                    "target/release/vltava, built with --build")
    ap.add_argument("--build", action="store_true", help="cargo build --release first")
    ap.add_argument("--rdkafka-performance", help="path of librdkafka's rdkafka_performance")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--records-1k", type=int, default=300_000, help="records per 1 KiB case")
    ap.add_argument("--records-100", type=int, default=1_000_000, help="records per 100 B case")
    ap.add_argument("--partitions", type=int, default=12, help="the many-partition count")
    ap.add_argument("--latency-secs", type=float, default=5.0)
    ap.add_argument("--quick", action="store_true",
                    help="a short smoke run: 1 round, few records, no doc written")
    ap.add_argument("--doc", default=os.path.join(ROOT, "docs", "performance.md"))
    ap.add_argument("--no-doc", action="store_true", help="print the section, write nothing")
    args = ap.parse_args()
    cmdline = " ".join(["scripts/perf-suite.py"] + sys.argv[1:])
    if args.quick:
        args.rounds, args.records_1k, args.records_100 = 1, 5_000, 10_000
        args.partitions, args.latency_secs, args.no_doc = 3, 1.0, True
    if args.build or not args.bin:
        if args.build:
            subprocess.run(["cargo", "build", "--release", "--bin", "vltava"], cwd=ROOT,
                           check=True)
        args.bin = args.bin or os.path.join(ROOT, "target", "release", "vltava")
    args.bin = os.path.abspath(args.bin)
    rk = rdkafka_performance(args.rdkafka_performance)
    lat_tool = latency_tool(rk)
    started = datetime.datetime.now(datetime.timezone.utc)
    load_before = benchlib.load_average()
    print(f"load average {load_before:.2f}; broker and tools {args.bin}; {rk}", flush=True)
    res = Results()
    for rnd in range(args.rounds):
        measure_round(args, rk, lat_tool, args.bin, rnd, res)
    section = report(args, res, cmdline, load_before, benchlib.load_average(), started)
    print(section)
    if not args.no_doc:
        write_doc(args.doc, section)
        print(f"wrote {args.doc}")


if __name__ == "__main__":
    main()
