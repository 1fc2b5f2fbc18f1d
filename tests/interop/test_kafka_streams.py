"""Kafka Streams 4.1.1 against the broker: a word count with
processing.guarantee=exactly_once_v2 (dev.vltava.interop.StreamsWordCount): groupBy through
the repartition topic, count into a persistent store backed by a compacted changelog topic,
count updates to an output topic. Streams drives transactions (InitProducerId fencing,
AddPartitionsToTxn, AddOffsetsToTxn, TxnOffsetCommit with the KIP-447 group metadata, EndTxn),
read_committed fetches, DeleteRecords on the repartition topic and CreateTopics with configs.

One run per broker, in two phases:
1. batch A (600 lines over 3 input partitions) is counted; the output's last committed value
   per word must equal the true counts.
2. batch B (1,500 lines) arrives while the app processes slowly and halts its JVM in the
   middle (Runtime.halt: no close, a transaction left open); a new JVM with the same state
   directory (so the same transactional.id) fences the old one, restores the store from the
   changelog and finishes. The counts must still be exact: nothing counted twice.

The same run goes against Apache Kafka 4.1.1 itself (kafka_broker.py), and the outcomes are
compared. About 65 s for both brokers (up to 90 s on the loaded 2-core machine)."""
import random
import time
import traceback
from collections import Counter

import pytest
from confluent_kafka import Producer

import streams_app as sa
from conftest import create_topic
from scenario_suite import BROKERS

APP = "wordcount-eos"
INPUT, OUTPUT = "wc-input", "wc-output"
IN_PARTS, OUT_PARTS = 3, 2
REPARTITION = f"{APP}-words-repartition"
CHANGELOG = f"{APP}-counts-changelog"
VOCAB = ("alpha bravo charlie delta echo foxtrot golf hotel india juliett kilo lima mike "
         "november oscar papa quebec romeo sierra tango").split()
# Compaction while the test runs: both brokers' cleaners wake every log.cleaner.backoff.ms
# (the changelog has segment.ms=1000 and min.cleanable.dirty.ratio=0.01, set by the app).
BROKER_SETTINGS = {"vltava": ["log.cleaner.backoff.ms=1000"],
                   "kafka": ["log.cleaner.backoff.ms=1000"]}


def batch(tag, n, seed):
    rng = random.Random(seed)
    return [(f"{tag}-{i}", " ".join(rng.choice(VOCAB) for _ in range(rng.randint(2, 7))))
            for i in range(n)]


A = batch("a", 600, 1)
B = batch("b", 1500, 2)
# The first JVM halts when its source has processed all of A and 40% of B.
HALT_AFTER = len(A) + len(B) * 2 // 5


def expected(*batches):
    c = Counter()
    for lines in batches:
        for _, line in lines:
            c.update(line.split())
    return dict(c)


def produce(bootstrap, lines):
    p = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True, "linger.ms": 5})
    for i, (k, v) in enumerate(lines):
        p.produce(INPUT, key=k.encode(), value=v.encode(), partition=i % IN_PARTS)
    assert p.flush(30) == 0, "input not delivered"


def wait_for_counts(bootstrap, app, want, timeout=60):
    """Waits until the output's last committed value per word equals `want`; fails at once
    when a count goes beyond it (counted twice) or the app stops or reports an error."""
    deadline = time.time() + timeout
    got = {}
    while time.time() < deadline:
        assert app.alive(), "the Streams app exited early\n" + app.describe()
        assert not app.errors(), app.describe()
        got, _ = sa.last_values(bootstrap, OUTPUT, OUT_PARTS)
        if got == want:
            return got
        over = {w: (n, want.get(w)) for w, n in got.items() if n > want.get(w, 0)}
        assert not over, f"words counted more than once (got, want): {over}"
        time.sleep(0.5)
    missing = {w: (got.get(w), n) for w, n in want.items() if got.get(w) != n}
    raise AssertionError(f"counts incomplete after {timeout} s (got, want): {missing}\n"
                         + app.describe())


def wait_for_compaction(bootstrap, updates, timeout=30):
    """Waits until the changelog holds fewer committed records than `updates`; returns
    (records, updates, seconds waited)."""
    t0 = time.time()
    while True:
        _, records = sa.values_per_key(bootstrap, CHANGELOG, IN_PARTS)
        if records < updates or time.time() - t0 > timeout:
            return records, updates, round(time.time() - t0, 1)
        time.sleep(0.5)


def word_count_run(kind, base):
    """Runs both phases against one broker of `kind`; returns what was observed (with
    "error" holding the traceback if the run stopped early)."""
    obs = {}
    b = BROKERS[kind](str(base / "data"), BROKER_SETTINGS[kind]).start()
    state = sa.state_dir(str(base))
    apps = []
    try:
        bs = b.bootstrap
        create_topic(bs, INPUT, IN_PARTS)
        create_topic(bs, OUTPUT, OUT_PARTS)
        produce(bs, A)
        a_end = sa.end_offsets(bs, INPUT, IN_PARTS)

        # Phase 1: A counted exactly; the input's offsets committed to its end.
        app = sa.StreamsApp(bs, APP, INPUT, OUTPUT, state, str(base / "app1.log"),
                            halt_after=HALT_AFTER, delay_ms=2)
        apps.append(app)
        t0 = time.time()
        obs["phase1_counts"] = wait_for_counts(bs, app, expected(A), timeout=90)
        obs["phase1_seconds"] = round(time.time() - t0, 1)
        obs["phase1_committed"] = sa.committed_offsets(bs, APP, INPUT, IN_PARTS, True)
        obs["a_end"] = a_end

        # Phase 2: B arrives; the JVM halts in the middle of it.
        produce(bs, B)
        ab_end = sa.end_offsets(bs, INPUT, IN_PARTS)
        obs["ab_end"] = ab_end
        obs["halt_exit"] = app.wait(90)
        obs["halt_line"] = next((x for x in app.lines if x.startswith("HALT")), None)
        app.kill()
        # The halted JVM's last transaction is still open: records above the last stable
        # offset, which the restart must abort.
        obs["open_txn_records"] = {
            t: sum(sa.end_offsets(bs, t, n).values()) - sum(sa.stable_offsets(bs, t, n).values())
            for t, n in ((REPARTITION, IN_PARTS), (CHANGELOG, IN_PARTS), (OUTPUT, OUT_PARTS))}
        obs["after_halt_committed"] = sa.committed_offsets(bs, APP, INPUT, IN_PARTS, False)
        after_halt, _ = sa.last_values(bs, OUTPUT, OUT_PARTS)
        want_a, want_ab = expected(A), expected(A, B)
        obs["after_halt_counts_bounded"] = all(
            want_a.get(w, 0) <= after_halt.get(w, 0) <= want_ab[w] for w in want_ab)
        # Each committed increment wrote one changelog record; once the broker has compacted
        # the changelog fewer remain, and the restart restores the store from them.
        obs["changelog_compacted"] = wait_for_compaction(bs, sum(after_halt.values()))

        # The restart: the same state directory, so the same transactional.id.
        app = sa.StreamsApp(bs, APP, INPUT, OUTPUT, state, str(base / "app2.log"))
        apps.append(app)
        t0 = time.time()
        # Well under the transaction timeout (120 s): the restarted producer must abort the
        # halted one's open transaction itself.
        wait_for_counts(bs, app, want_ab, timeout=60)
        obs["restart_seconds"] = round(time.time() - t0, 1)
        obs["close_exit"] = app.stop()

        # What the app left behind, read after a clean close.
        updates, obs["output_committed_records"] = sa.values_per_key(bs, OUTPUT, OUT_PARTS)
        obs["final_counts"] = {w: v[-1] for w, v in updates.items()}
        obs["updates_not_one_by_one"] = {
            w: v for w, v in updates.items() if v != list(range(1, len(v) + 1))}
        obs["input_committed"] = sa.committed_offsets(bs, APP, INPUT, IN_PARTS, True)
        obs["internal_topics"] = {t: n for t, n in sa.topics(bs).items() if t.startswith(APP)}
        obs["changelog_config"] = sa.topic_configs(bs, CHANGELOG)
        obs["repartition_config"] = sa.topic_configs(bs, REPARTITION)
        obs["changelog_counts"], _ = sa.last_values(bs, CHANGELOG, IN_PARTS)
        obs["repartition_start"] = sa.start_offsets(bs, REPARTITION, IN_PARTS)
        obs["repartition_end"] = sa.end_offsets(bs, REPARTITION, IN_PARTS)
        obs["repartition_committed"] = sa.committed_offsets(bs, APP, REPARTITION, IN_PARTS, True)
    except BaseException:
        obs["error"] = traceback.format_exc() + "\n" + "\n".join(a.describe() for a in apps)
    finally:
        for a in apps:
            a.kill()
        sa.forget(b.bootstrap)
        try:
            b.stop()
        finally:
            b.kill()
    obs["broker_log"] = b.log()[-6000:]
    return obs


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Both brokers, one after the other (never two brokers at once)."""
    return {kind: word_count_run(kind, tmp_path_factory.mktemp(f"streams-{kind}"))
            for kind in BROKERS}


def observed(runs, kind, *keys):
    obs = runs[kind]
    missing = [k for k in keys if k not in obs]
    assert not missing, (f"{kind}: the run stopped before {missing}:\n{obs.get('error')}\n"
                         f"broker log (tail):\n{obs['broker_log']}")
    return [obs[k] for k in keys]


@pytest.mark.parametrize("kind", list(BROKERS))
def test_first_batch_counted_exactly(runs, kind):
    counts, committed, a_end = observed(runs, kind, "phase1_counts", "phase1_committed", "a_end")
    assert counts == expected(A)
    assert committed == a_end, "the group's committed offsets are not at the input's end"


@pytest.mark.parametrize("kind", list(BROKERS))
def test_halt_mid_stream_then_restart_counts_exactly(runs, kind):
    (halt_exit, halt_line, after_halt, a_end, ab_end, bounded, open_txn, close_exit,
     final) = observed(runs, kind, "halt_exit", "halt_line", "after_halt_committed", "a_end",
                       "ab_end", "after_halt_counts_bounded", "open_txn_records", "close_exit",
                       "final_counts")
    assert halt_exit == 3 and halt_line == f"HALT {HALT_AFTER}", (halt_exit, halt_line)
    # The crash was mid-stream: some of B committed, not all of it.
    assert sum(a_end.values()) < sum(after_halt.values()) < sum(ab_end.values()), (
        a_end, after_halt, ab_end)
    assert bounded, "read_committed output after the crash is outside [counts(A), counts(A+B)]"
    # The halted JVM's open transaction held repartition records (the restart aborts them;
    # counted, they would show as double counts).
    assert open_txn[REPARTITION] > 0, open_txn
    assert close_exit == 0
    assert final == expected(A, B)


@pytest.mark.parametrize("kind", list(BROKERS))
def test_each_update_committed_once(runs, kind):
    """With no record cache every increment is an output record: read_committed, each
    word's updates read 1, 2, 3, ... to its count, none lost, none repeated (the aborted
    transaction of the halted JVM hidden, its input processed again exactly once)."""
    bad, records = observed(runs, kind, "updates_not_one_by_one", "output_committed_records")
    assert not bad, {w: v[:50] for w, v in bad.items()}
    assert records == sum(expected(A, B).values())


@pytest.mark.parametrize("kind", list(BROKERS))
def test_changelog_compacted_and_restored(runs, kind):
    """The broker compacted the transactional changelog (aborted records removed, markers
    kept) before the restart restored the store from it; the final counts (checked above)
    and the changelog's own values must stay exact."""
    (records, updates, _), changelog = observed(runs, kind, "changelog_compacted",
                                                "changelog_counts")
    assert records < updates, f"no compaction within 30 s: {records} of {updates} records left"
    assert changelog == expected(A, B)


@pytest.mark.parametrize("kind", list(BROKERS))
def test_offsets_at_the_input_end(runs, kind):
    committed, ab_end = observed(runs, kind, "input_committed", "ab_end")
    assert committed == ab_end


@pytest.mark.parametrize("kind", list(BROKERS))
def test_internal_topics_and_configs(runs, kind):
    topics, changelog, repartition = observed(
        runs, kind, "internal_topics", "changelog_config", "repartition_config")
    assert topics == {REPARTITION: IN_PARTS, CHANGELOG: IN_PARTS}
    assert changelog["cleanup.policy"] == "compact"
    assert repartition["cleanup.policy"] == "delete"
    assert repartition["retention.ms"] == "-1"


@pytest.mark.parametrize("kind", list(BROKERS))
def test_repartition_topic_purged(runs, kind):
    """Streams deletes consumed repartition records (DeleteRecords up to its committed
    offsets, every repartition.purge.interval.ms = 500 ms here)."""
    start, end, committed = observed(
        runs, kind, "repartition_start", "repartition_end", "repartition_committed")
    assert sum(start.values()) > 0, f"nothing purged: start {start}, end {end}"
    for p in range(IN_PARTS):
        assert start[p] <= committed[p] <= end[p], (p, start, committed, end)


COMPARED = ["phase1_counts", "phase1_committed", "halt_exit", "after_halt_counts_bounded",
            "close_exit", "final_counts", "updates_not_one_by_one", "output_committed_records",
            "input_committed", "internal_topics", "changelog_counts"]
CONFIGS = ["cleanup.policy", "retention.ms", "segment.bytes", "message.timestamp.type"]


def test_same_outcome_on_vltava_and_kafka(runs):
    """The differential view: what the app observed must not depend on the broker."""
    differ = []
    for key in COMPARED:
        v, k = runs["vltava"].get(key, "MISSING"), runs["kafka"].get(key, "MISSING")
        if v != k:
            differ.append(f"{key}: vltava {v!r} kafka {k!r}")
    for topic in ("changelog_config", "repartition_config"):
        for c in CONFIGS:
            v = runs["vltava"].get(topic, {}).get(c, "MISSING")
            k = runs["kafka"].get(topic, {}).get(c, "MISSING")
            if v != k:
                differ.append(f"{topic} {c}: vltava {v!r} kafka {k!r}")
    assert not differ, "outcomes that differ:\n" + "\n".join(differ)
