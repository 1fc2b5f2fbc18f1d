"""Runs JVM programs for the Java interop suites: the client scenarios compiled by
scripts/java-env.sh and Kafka's own command-line tools, with the classpath it resolved.

The directory comes from $VLTAVA_JAVA_TOOLS (./test.sh runs scripts/java-env.sh and sets
it); every Java test fails, never skips, when it is missing."""
import os
import subprocess
from pathlib import Path

# A JVM with a small heap starts faster and leaves the shared cores alone.
JVM_OPTS = ["-Xms64m", "-Xmx512m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
            "-Xshare:auto"]


def tools_dir():
    d = os.environ.get("VLTAVA_JAVA_TOOLS")
    assert d, ("VLTAVA_JAVA_TOOLS is not set: run scripts/java-env.sh and export "
               "VLTAVA_JAVA_TOOLS=$PWD/.tools/java (./test.sh does both)")
    cp = Path(d) / "classpath.txt"
    assert cp.is_file(), f"{cp} is missing: run scripts/java-env.sh"
    return Path(d)


def classpath():
    d = tools_dir()
    return str(d / "target" / "classes") + ":" + (d / "classpath.txt").read_text().strip()


# Kafka's own JVM settings (kafka-server-start.sh's heap, kafka-run-class.sh's performance
# options), for measuring Apache Kafka as its users run it.
KAFKA_SERVER_JVM_OPTS = ["-Xmx1G", "-Xms1G", "-server", "-XX:+UseG1GC",
                         "-XX:MaxGCPauseMillis=20", "-XX:InitiatingHeapOccupancyPercent=35",
                         "-XX:+ExplicitGCInvokesConcurrent", "-XX:MaxInlineLevel=15",
                         "-Djava.awt.headless=true"]


def java_cmd(main_class, *args, jvm_opts=(), base_opts=None):
    """The command running main_class; `base_opts` replaces the small-heap test options."""
    d = tools_dir()
    return ["java", *(JVM_OPTS if base_opts is None else base_opts), *jvm_opts,
            f"-Dlog4j2.configurationFile={d / 'log4j2.properties'}",
            "-cp", classpath(), main_class, *map(str, args)]


def run_java(main_class, *args, input=None, timeout=120, check=True, jvm_opts=()):
    """Runs main_class to completion; returns the CompletedProcess (text mode)."""
    cmd = java_cmd(main_class, *args, jvm_opts=jvm_opts)
    r = subprocess.run(cmd, input=input, capture_output=True, text=True, timeout=timeout)
    if check:
        assert r.returncode == 0, (
            f"{main_class} {' '.join(map(str, args))} exited {r.returncode}\n"
            f"stdout: {r.stdout[-4000:]}\nstderr: {r.stderr[-6000:]}")
    return r
