"""Differential tests against Apache Kafka (issue 13): `vltava-differential`
(crates/differential) sends the same request sequences to Kafka 4.x (KRaft combined mode,
kafka_broker.py) and to Vltava, at the API versions both support, and writes each broker's
normalised transcript (ids, addresses, throttle times and error message texts left out).

Every scenario's unified diff (Kafka's transcript against Vltava's) must equal the one
committed in tests/interop/differential/<scenario>.diff, whose every hunk is explained in
docs/compatibility.md ("Differential tests"): a new difference, or an explained one that
went away, fails the test. `VLTAVA_DIFF_UPDATE=1` rewrites the committed diffs (then
explain each new hunk in docs/compatibility.md). The ApiVersions ranges are compared the
same way (api_versions.diff).
"""
import difflib
import os
import subprocess

import pytest

from conftest import ROOT, Broker
from kafka_broker import KafkaBroker

EXPECTED = ROOT / "tests" / "interop" / "differential"
SCENARIOS = ["api_versions", "topics", "produce_fetch", "offsets", "group", "idempotence",
             "transactions", "recorded_clients", "every_api", "validation"]


def differential_bin():
    subprocess.run(["cargo", "build", "--quiet", "-p", "vltava-differential"], cwd=ROOT,
                   check=True, timeout=900)
    return str(ROOT / "target" / "debug" / "vltava-differential")


@pytest.fixture(scope="module")
def transcripts(tmp_path_factory):
    binary = differential_bin()
    out = tmp_path_factory.mktemp("differential")
    kafka = KafkaBroker(str(tmp_path_factory.mktemp("diff-kafka") / "data")).start()
    try:
        vltava = Broker(str(tmp_path_factory.mktemp("diff-vltava") / "data")).start()
        try:
            r = subprocess.run([binary, "--kafka", kafka.bootstrap, "--vltava", vltava.bootstrap,
                                "--out", str(out), "--captures",
                                str(ROOT / "testdata" / "captures")],
                               capture_output=True, text=True, timeout=600)
            assert r.returncode == 0, f"vltava-differential failed:\n{r.stdout}\n{r.stderr}"
        finally:
            vltava.stop()
    finally:
        kafka.stop()
    return out


def unified(out, scenario):
    kafka = (out / "kafka" / f"{scenario}.txt").read_text().splitlines(keepends=True)
    vltava = (out / "vltava" / f"{scenario}.txt").read_text().splitlines(keepends=True)
    return "".join(difflib.unified_diff(kafka, vltava, "kafka", "vltava", n=6))


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_differences_from_kafka_are_the_explained_ones(transcripts, scenario):
    got = unified(transcripts, scenario)
    for broker in ("kafka", "vltava"):
        text = (transcripts / broker / f"{scenario}.txt").read_text()
        assert "scenario ended early" not in text, f"{broker}: {scenario}:\n{text[-3000:]}"
    path = EXPECTED / f"{scenario}.diff"
    if os.environ.get("VLTAVA_DIFF_UPDATE"):
        EXPECTED.mkdir(parents=True, exist_ok=True)
        path.write_text(got)
    want = path.read_text() if path.exists() else ""
    assert got == want, (
        f"{scenario}: the differences from Kafka changed (VLTAVA_DIFF_UPDATE=1 rewrites "
        f"{path.relative_to(ROOT)}; explain new ones in docs/compatibility.md):\n{got}")
