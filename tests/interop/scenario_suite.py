"""One scenario program run against Vltava and against Apache Kafka (kafka_broker.py): the
program gets a bootstrap address and scenario names and prints one line per scenario,
`SCENARIO <name> PASS|FAIL <detail>`. Shared by the Java and Go client suites: start a broker
of each kind in turn, run the program, parse its lines, check one scenario, and list the
scenarios whose outcome differs between the brokers."""
import re

from conftest import Broker
from kafka_broker import KafkaBroker

BROKERS = {"vltava": Broker, "kafka": KafkaBroker}


def run_scenarios(kind, data_dir, run, extra=()):
    """Starts one broker of `kind` (`extra`: more key=value configs, which both kinds take),
    calls `run(bootstrap)` (the program, a CompletedProcess with text output), stops the
    broker. Returns (name -> (PASS|FAIL, detail), the CompletedProcess, the broker log's
    tail)."""
    b = BROKERS[kind](data_dir, extra=extra).start()
    try:
        r = run(b.bootstrap)
    finally:
        try:
            b.stop()
        finally:
            b.kill()
    results = {}
    for line in r.stdout.splitlines():
        m = re.match(r"SCENARIO (\S+) (PASS|FAIL) (.*)", line)
        if m:
            results[m.group(1)] = (m.group(2), m.group(3))
    return results, r, b.log()[-20000:]


def run_on_every_broker(tmp_path_factory, prefix, run, extra=()):
    """`run_scenarios` on each kind of broker, one after the other (never two brokers and a
    client at once), every broker with the configs `extra`."""
    return {kind: run_scenarios(kind, str(tmp_path_factory.mktemp(f"{prefix}-{kind}") / "data"),
                                run, extra)
            for kind in BROKERS}


def assert_passed(runs, kind, scenario):
    """`scenario` reported PASS on the broker of `kind`."""
    results, r, log = runs[kind]
    assert scenario in results, (
        f"{kind}: scenario {scenario} reported nothing (exit {r.returncode})\n"
        f"stdout: {r.stdout[-3000:]}\nstderr: {r.stderr[-6000:]}\nbroker log: {log[-4000:]}")
    status, detail = results[scenario]
    assert status == "PASS", f"{kind}: {scenario}: {detail}\nstderr: {r.stderr[-6000:]}"


def assert_same_outcome(runs, scenarios):
    """Every scenario has one outcome on every broker: one that differs is a difference to
    fix in Vltava (or, if Kafka fails it, a scenario to fix)."""
    differ = []
    for s in scenarios:
        outcome = {kind: runs[kind][0].get(s, ("MISSING", ""))[0] for kind in BROKERS}
        if len(set(outcome.values())) != 1:
            differ.append(f"{s}: " + ", ".join(f"{k} {v}" for k, v in outcome.items()))
    assert not differ, "scenarios whose outcome differs:\n" + "\n".join(differ)
