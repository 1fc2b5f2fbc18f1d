"""Runs librdkafka's own broker test suite (tests/test-runner of librdkafka 2.12.1, built by
scripts/librdkafka-env.sh) against a running broker and reads its result table.

The pieces test_librdkafka_suite.py puts together: where the built suite is
($VLTAVA_LIBRDKAFKA_TESTS), the exclusion list (librdkafka_exclusions.txt), a
KAFKA_PATH-shaped directory whose bin/*.sh run Kafka 4.1.1's tools from .tools/java (the
suite calls kafka-topics.sh, kafka-acls.sh, kafka-configs.sh and kafka-run-class.sh from
$KAFKA_PATH/bin), the suite's test.conf, and the summary table parser."""
import os
import re
import shlex
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import javatools

# The Kafka version Vltava answers as (its ApiVersions are Kafka 4.1.1's); the suite picks
# its per-version expectations from it.
KAFKA_VERSION = "4.1.1"
EXCLUSIONS = Path(__file__).with_name("librdkafka_exclusions.txt")
# How an exclusion's reason starts when the test runs on a three-node cluster instead.
CLUSTER_REASON = "needs a three-node cluster"

# What each script of the KAFKA_PATH directory runs (kafka-run-class.sh runs its arguments).
KAFKA_SCRIPTS = {
    "kafka-topics.sh": "org.apache.kafka.tools.TopicCommand",
    "kafka-acls.sh": "org.apache.kafka.tools.AclCommand",
    "kafka-configs.sh": "kafka.admin.ConfigCommand",
    "kafka-run-class.sh": None,
}

ANSI = re.compile(r"\x1b\[[0-9;]*m")
# One row of the suite's summary table: "| 0001_multiobj   |   PASSED |   1.060s | reason".
ROW = re.compile(r"^\|\s*(\S+)\s+\|\s+([A-Z]+)\s+\|\s+([0-9.]+)s\s*\|\s?(.*)$")


def suite_dir():
    """The suite's tests/ directory (holding test-runner); fails, never skips, without it."""
    d = os.environ.get("VLTAVA_LIBRDKAFKA_TESTS")
    assert d, ("VLTAVA_LIBRDKAFKA_TESTS is not set: run scripts/librdkafka-env.sh and export "
               "VLTAVA_LIBRDKAFKA_TESTS=$PWD/.tools/librdkafka/<version>/librdkafka/tests "
               "(./test.sh does both)")
    runner = Path(d) / "test-runner"
    assert os.access(runner, os.X_OK), f"{runner} is missing: run scripts/librdkafka-env.sh"
    return Path(d)


def exclusions():
    """{test number: (test name, reason)} from librdkafka_exclusions.txt."""
    out = {}
    for n, line in enumerate(EXCLUSIONS.read_text().splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split(None, 2)
        assert len(parts) == 3 and re.fullmatch(r"\d{4}", parts[0]) and \
            parts[1].startswith(parts[0] + "_"), \
            f"{EXCLUSIONS.name}:{n}: want '<number> <name> <reason>', got {line!r}"
        out[parts[0]] = (parts[1], parts[2])
    return out


def make_kafka_path(directory):
    """Writes a KAFKA_PATH directory: bin/<script>.sh running Kafka's tools on the JVM with
    the classpath scripts/java-env.sh resolved, libs/ with the kafka-clients jar (the
    suite's java/Makefile compiles its helper classes against it)."""
    bindir = Path(directory) / "bin"
    libs = Path(directory) / "libs"
    bindir.mkdir(parents=True)
    libs.mkdir()
    classpath = javatools.classpath()
    clients = [p for p in classpath.split(":") if re.search(r"/kafka-clients-[^/]*\.jar$", p)]
    assert clients, "kafka-clients jar not on the classpath scripts/java-env.sh resolved"
    (libs / Path(clients[0]).name).symlink_to(clients[0])
    for script, main_class in KAFKA_SCRIPTS.items():
        if main_class is None:
            # kafka-run-class.sh <class> <args>: the caller's $CLASSPATH goes first.
            cmd = javatools.java_cmd("MAIN")[:-1]
            i = cmd.index("-cp")
            java = shlex.join(cmd[:i])
            body = f'exec {java} -cp "${{CLASSPATH:+$CLASSPATH:}}"{shlex.quote(cmd[i + 1])} "$@"'
        else:
            body = f'exec {shlex.join(javatools.java_cmd(main_class))} "$@"'
        path = bindir / script
        path.write_text("#!/bin/sh\n# Written by tests/interop/librdkafka_suite.py.\n"
                        f"{body}\n")
        path.chmod(0o755)
    return Path(directory)


def write_test_conf(path, bootstrap, extra=None):
    """The suite's test.conf: as librdkafka's own test clusters write it (IPv4,
    timeouts doubled), plus `extra` client properties."""
    lines = [f"bootstrap.servers={bootstrap}", "broker.address.family=v4",
             "test.timeout.multiplier=2"]
    lines += [f"{k}={v}" for k, v in (extra or {}).items()]
    Path(path).write_text("\n".join(lines) + "\n")


@dataclass
class Row:
    name: str
    state: str
    seconds: float
    reason: str


def summary(output):
    """The rows of the last summary table in the runner's output (ANSI colours removed)."""
    text = ANSI.sub("", output)
    start = text.rfind(" SUMMARY\n")
    if start < 0:
        return None
    rows = []
    for line in text[start:].splitlines()[2:]:
        if line.startswith("#="):
            break
        m = ROW.match(line)
        if m:
            # A skip reason may run on into the runner's next log line: keep the reason only.
            reason = re.split(r"\s*\[<MAIN>", m.group(4))[0].strip()
            rows.append(Row(m.group(1), m.group(2), float(m.group(3)), reason))
    return rows


def passed_subtests(log, test):
    """The subtests of `test` the runner's output reports as passed."""
    text = ANSI.sub("", Path(log).read_text(errors="replace"))
    return re.findall(rf"^\[{re.escape(test)}\s*/[^]]*\] \[ (.*): PASS \(", text, re.M)


def table(rows):
    """The summary as text: one line per test the runner listed, then the counts."""
    lines = [f"{r.name:<40} {r.state:<8} {r.seconds:8.3f}s  {r.reason}".rstrip() for r in rows]
    counted = [r for r in rows if r.name != "<MAIN>"]
    counts = {s: sum(r.state == s for r in counted) for s in ("PASSED", "FAILED", "SKIPPED")}
    lines.append(", ".join(f"{n} {s.lower()}" for s, n in counts.items()))
    return "\n".join(lines)


@dataclass
class Result:
    returncode: int
    timed_out: bool
    seconds: float
    rows: list
    # "### Test ... failed at ..." lines of the output, each with the line after it.
    failures: list
    log: Path


def run(tests, conf_path, kafka_path, brokers, log, timeout, skip, quick=True, env_extra=None):
    """Runs `tests`/test-runner in quick mode (unless `quick` is false), broker tests only, no
    socket emulation, no known-issue tests; the test numbers `skip` in TESTS_SKIP. Its output
    goes to `log`; the run is killed after `timeout` seconds. It runs in a tree of its own
    beside `log` whose entries link to the build's (the runner and its helpers find files
    relative to its working directory: ../src/statistics_schema.json, java/, the Makefile
    and ../mklove for the Java helpers), so the files it writes (stats, offsets) stay out of
    the shared build."""
    base = Path(log).parent / "librdkafka"
    workdir = base / "tests"
    workdir.mkdir(parents=True)
    for entry in tests.parent.iterdir():
        if entry.name != "tests":
            (base / entry.name).symlink_to(entry)
    for entry in tests.iterdir():
        if not entry.name.startswith("stats_"):
            (workdir / entry.name).symlink_to(entry)
    env = dict(os.environ)
    env.update({
        "RDKAFKA_TEST_CONF": str(conf_path),
        "TEST_KAFKA_VERSION": KAFKA_VERSION,
        "KAFKA_PATH": str(kafka_path),
        "BROKERS": brokers,
        "LD_LIBRARY_PATH": f"{tests.parent / 'src'}:{tests.parent / 'src-cpp'}",
        "TESTS_SKIP": ",".join(skip),
    })
    env.update(env_extra or {})
    # -p4: four tests at a time (the suite's own default is 5, 3 when $CI is set).
    cmd = [str(tests / "test-runner"), *(["-Q"] if quick else []), "-E", "-L", "-K", "-p4"]
    # The summary table goes to stdout, which is block-buffered into a file and lost when the
    # runner aborts after a failed test (leaked librdkafka threads): line-buffer it.
    if shutil.which("stdbuf"):
        cmd = ["stdbuf", "-oL", *cmd]
    started = time.monotonic()
    with open(log, "w") as out:
        proc = subprocess.Popen(cmd, cwd=workdir, env=env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
        timed_out = False
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
            os.killpg(proc.pid, 9)
            proc.wait(10)
    output = Path(log).read_text(errors="replace")
    failures = re.findall(r"^### Test .* failed at .*\n.*$", ANSI.sub("", output), re.M)
    return Result(proc.returncode, timed_out, time.monotonic() - started,
                  summary(output) or [], failures, Path(log))
