//! Transaction markers in compaction, against a model of what was written: a
//! marker whose transaction's records are all gone is stamped with a delete
//! horizon, then dropped after it together with its transaction's emptied headers
//! and `.txnindex` entry; markers with surviving data, and those producer state
//! needs, stay. After every step the log, reopened (trusted, recovered, and
//! replayed without producer snapshots), has the same producer state, last stable
//! offset and read_committed view.

#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;

use crate::common::*;
use vltava_records::{BatchBuilder, BatchBuilderConfig, BatchHeader, BatchIter, DecodeLimits};
use vltava_storage::{
    AbortedTxn, CleanupPolicy, FetchIsolation, Log, LogConfig, LogOpenOptions, ManualClock,
    MemStorage,
};

pub type Image = BTreeMap<PathBuf, Vec<u8>>;

/// `delete.retention.ms` of the tests.
pub const RETENTION: i64 = 1_000;

pub fn config() -> LogConfig {
    LogConfig {
        cleanup_policy: CleanupPolicy::COMPACT,
        delete_retention_ms: RETENTION,
        ..small_config()
    }
}

/// A log and the model of what was written to it.
pub struct Workload {
    pub s: MemStorage,
    pub c: ManualClock,
    pub log: Log,
    seq: HashMap<i64, i32>,
    /// Records of each producer's open transaction: (key, value, offset).
    open: HashMap<i64, Vec<(String, String, i64)>>,
    /// Latest committed (or plain) value per key, with its offset.
    pub latest: BTreeMap<String, (i64, String)>,
    /// Values of aborted transactions.
    pub aborted_values: BTreeSet<String>,
    /// Base offsets of each transaction's data batches and its marker, by
    /// (producer id, marker offset).
    pub txns: BTreeMap<(i64, i64), Vec<i64>>,
    data: HashMap<i64, Vec<i64>>,
}

impl Workload {
    pub fn new() -> Self {
        let (s, c, log) = new_log(config());
        Workload {
            s,
            c,
            log,
            seq: HashMap::new(),
            open: HashMap::new(),
            latest: BTreeMap::new(),
            aborted_values: BTreeSet::new(),
            txns: BTreeMap::new(),
            data: HashMap::new(),
        }
    }

    /// One transactional batch of `pid` with the given keys, values `<tag>-<key>`.
    pub fn txn(&mut self, pid: i64, keys: &[&str], tag: &str) {
        let seq = *self.seq.get(&pid).unwrap_or(&0);
        let mut b = BatchBuilder::new(BatchBuilderConfig {
            producer_id: pid,
            producer_epoch: 0,
            base_sequence: seq,
            transactional: true,
            ..BatchBuilderConfig::default()
        });
        for k in keys {
            let v = format!("{tag}-{k}");
            assert!(
                b.append(self.c.now(), Some(k.as_bytes()), Some(v.as_bytes()), &[])
                    .unwrap()
            );
        }
        let info = self
            .log
            .append_as_leader(&mut b.build().unwrap().to_vec(), 0)
            .unwrap();
        self.seq.insert(pid, seq + keys.len() as i32);
        self.data.entry(pid).or_default().push(info.first_offset);
        let open = self.open.entry(pid).or_default();
        for (i, k) in keys.iter().enumerate() {
            open.push((
                k.to_string(),
                format!("{tag}-{k}"),
                info.first_offset + i as i64,
            ));
        }
    }

    /// A COMMIT or ABORT marker for `pid`.
    pub fn end(&mut self, pid: i64, commit: bool) -> i64 {
        let m = self
            .log
            .append_control_marker(pid, 0, 0, commit, 0, self.c.now())
            .unwrap()
            .first_offset;
        for (k, v, o) in self.open.remove(&pid).unwrap_or_default() {
            if commit {
                self.latest.insert(k, (o, v));
            } else {
                self.aborted_values.insert(v);
            }
        }
        self.txns
            .insert((pid, m), self.data.remove(&pid).unwrap_or_default());
        m
    }

    /// A plain batch with the given keys, values `<tag>-<key>`.
    pub fn plain(&mut self, keys: &[&str], tag: &str) {
        let recs: Vec<(Vec<u8>, Option<Vec<u8>>)> = keys
            .iter()
            .map(|k| {
                (
                    k.as_bytes().to_vec(),
                    Some(format!("{tag}-{k}").into_bytes()),
                )
            })
            .collect();
        let info = self
            .log
            .append_as_leader(
                &mut keyed_batch(&recs, self.c.now(), vltava_records::Compression::None),
                0,
            )
            .unwrap();
        for (i, k) in keys.iter().enumerate() {
            self.latest.insert(
                k.to_string(),
                (info.first_offset + i as i64, format!("{tag}-{k}")),
            );
        }
    }

    /// Rolls, flushes and moves the high watermark to the log end.
    pub fn settle(&mut self) {
        self.log.roll().unwrap();
        self.log.flush().unwrap();
        let leo = self.log.log_end_offset();
        self.log.set_high_watermark(leo);
    }
}

/// The workload of these tests (its segments roll inside transactions, so
/// producer snapshots fall inside them):
/// - producer 7: T1 aborted (two batches), then T2 committed (five batches whose
///   keys survive);
/// - producer 8: T3 committed, then T4 committed (five batches) superseding T3's
///   keys;
/// - producer 9: one aborted transaction, its last batch and marker;
/// - plain records between them.
pub fn standard() -> Workload {
    let mut w = Workload::new();
    w.plain(&["p0", "p1"], "plain");
    w.txn(7, &["a0", "a1"], "abort1");
    w.log.roll().unwrap();
    w.txn(7, &["a2"], "abort1");
    w.end(7, false);
    for i in 0..5 {
        w.txn(7, &[&format!("b{i}")], "commit2");
    }
    w.end(7, true);
    w.txn(8, &["c0", "c1"], "commit3");
    w.log.roll().unwrap();
    w.end(8, true);
    for i in 0..5 {
        w.txn(8, &["c0", "c1", &format!("c{}", i + 2)], "commit4");
    }
    w.end(8, true);
    w.txn(9, &["r0"], "abort5");
    w.end(9, false);
    w.plain(&["p0", "p2"], "plain2");
    w.settle();
    w
}

/// Every batch header of the log.
pub fn headers(log: &Log) -> Vec<BatchHeader> {
    log.segments()
        .flat_map(|s| s.headers().unwrap())
        .map(|(_, h)| h)
        .collect()
}

pub fn header_at(log: &Log, base: i64) -> Option<BatchHeader> {
    headers(log).into_iter().find(|h| h.base_offset == base)
}

/// What a read_committed consumer sees from offset 0: the latest value per key
/// (aborted transactions skipped with the aborted list, as Kafka's consumer
/// does), and every value it met. Panics if the read does not reach the last
/// stable offset.
pub fn read_committed(log: &Log) -> (BTreeMap<String, String>, Vec<String>) {
    let lso = log.last_stable_offset();
    let aborted = log.aborted_transactions(0, lso).unwrap();
    let mut latest = BTreeMap::new();
    let mut seen = Vec::new();
    let mut next = 0;
    while next < lso {
        let bytes = log
            .read_bytes(next, 1 << 20, FetchIsolation::Committed, true)
            .unwrap();
        assert!(
            !bytes.is_empty(),
            "read_committed stuck at {next} (lso {lso})"
        );
        for v in BatchIter::new(&bytes) {
            let v = v.unwrap();
            let h = *v.header();
            next = h.next_offset();
            let skipped = h.attributes.is_control()
                || (h.attributes.is_transactional()
                    && aborted.iter().any(|t| {
                        t.producer_id == h.producer_id
                            && t.first_offset <= h.base_offset
                            && h.base_offset <= t.last_offset
                    }));
            if skipped {
                continue;
            }
            for r in v.records(&DecodeLimits::default()).unwrap() {
                let k = String::from_utf8(r.key.unwrap().to_vec()).unwrap();
                let val = String::from_utf8(r.value.unwrap().to_vec()).unwrap();
                seen.push(val.clone());
                latest.insert(k, val);
            }
        }
    }
    (latest, seen)
}

/// One producer's state as a snapshot keeps it (a snapshot holds only the last
/// batch): epoch, last batch, coordinator epoch, open transaction, timestamp.
pub type Producer = (
    i16,
    Option<vltava_storage::producer_state::BatchMetadata>,
    i32,
    Option<i64>,
    i64,
);

/// The log's state as a reopen must reproduce it.
#[derive(Debug, PartialEq)]
pub struct State {
    pub producers: BTreeMap<i64, Producer>,
    pub lso: i64,
    pub leo: i64,
    /// (producer, first offset, marker) of every aborted transaction.
    pub aborted: Vec<(i64, i64, i64)>,
    pub committed: BTreeMap<String, String>,
}

pub fn state(log: &Log) -> State {
    let leo = log.log_end_offset();
    State {
        producers: log
            .producer_state()
            .producers()
            .map(|(id, e)| {
                let p = (
                    e.epoch,
                    e.batches.back().copied(),
                    e.coordinator_epoch,
                    e.current_txn_first_offset,
                    e.last_timestamp,
                );
                (id, p)
            })
            .collect(),
        lso: log.last_stable_offset(),
        leo,
        aborted: log
            .aborted_transactions(0, leo)
            .unwrap()
            .iter()
            .map(|t: &AbortedTxn| (t.producer_id, t.first_offset, t.last_offset))
            .collect(),
        committed: read_committed(log).0,
    }
}

/// Opens `img` recovering from `rp`; `without_snapshots` first removes every
/// producer snapshot, so producer state is replayed from the headers alone.
pub fn reopen(img: &Image, c: &ManualClock, rp: i64, without_snapshots: bool) -> (MemStorage, Log) {
    let img: Image = img
        .iter()
        .filter(|(p, _)| !(without_snapshots && p.to_string_lossy().ends_with(".snapshot")))
        .map(|(p, b)| (p.clone(), b.clone()))
        .collect();
    let s = MemStorage::from_image(img);
    let log = open(
        &s,
        c,
        config(),
        LogOpenOptions {
            recovery_point: rp,
            ..Default::default()
        },
    );
    (s, log)
}

/// Ways to reopen a log: trusting every segment, recovering from each segment's
/// base (producer state replayed from the snapshot at or below it), and
/// replaying from the start without any snapshot.
pub fn reopen_points(log: &Log) -> Vec<(i64, bool)> {
    let mut out = vec![(log.log_end_offset(), false), (0, true)];
    out.extend(log.segment_base_offsets().into_iter().map(|b| (b, false)));
    out
}

/// Checks that every way of reopening the log's current files gives `expected`
/// (the high watermark set to the log end).
fn reopens_the_same(w: &Workload, expected: &State, what: &str) {
    let img = w.s.snapshot();
    for (rp, bare) in reopen_points(&w.log) {
        let (_s, mut log) = reopen(&img, &w.c, rp, bare);
        log.set_high_watermark(log.log_end_offset());
        assert_eq!(
            &state(&log),
            expected,
            "{what}: reopened (rp {rp}, no snapshots {bare})"
        );
    }
}

/// The model's view: latest committed value per key.
pub fn model_committed(w: &Workload) -> BTreeMap<String, String> {
    w.latest
        .iter()
        .map(|(k, (_, v))| (k.clone(), v.clone()))
        .collect()
}

#[test]
fn markers_are_stamped_then_dropped_with_their_transactions_after_the_horizon() {
    let mut w = standard();
    let before = state(&w.log);
    assert_eq!(before.committed, model_committed(&w));
    assert_eq!(before.lso, before.leo);
    let txns = w.txns.clone();
    let t1 = *txns.keys().find(|(p, _)| *p == 7).unwrap();
    let t2 = *txns.keys().filter(|(p, _)| *p == 7).nth(1).unwrap();
    let t3 = *txns.keys().find(|(p, _)| *p == 8).unwrap();
    let t4 = *txns.keys().filter(|(p, _)| *p == 8).nth(1).unwrap();
    let t5 = *txns.keys().find(|(p, _)| *p == 9).unwrap();
    let snapshots_before =
        vltava_storage::producer_state::ProducerStateManager::list_snapshots(&w.s, &dir()).unwrap();
    // Snapshots inside T1 and T3 (rolled between their data and markers).
    let inside = |(pid, m): (i64, i64)| {
        let first = txns[&(pid, m)][0];
        snapshots_before.iter().any(|&o| o > first && o <= m)
    };
    assert!(inside(t1) && inside(t3), "{snapshots_before:?}");

    // 1. Aborted records and superseded committed ones go; the markers of T1, T3
    //    and T5 (no record left) are stamped; T2's and T4's are not.
    let t0 = w.c.now();
    let out = w.log.compact(t0).unwrap();
    assert_eq!(out.markers_stamped, 3, "{out:?}");
    assert_eq!(out.markers_removed, 0);
    assert_eq!(out.earliest_marker_horizon, Some(t0 + RETENTION));
    for t in [t1, t3, t5] {
        let h = header_at(&w.log, t.1).unwrap();
        assert!(h.attributes.has_delete_horizon() && h.attributes.is_control());
        assert_eq!(h.base_timestamp, t0 + RETENTION);
        for d in &txns[&t] {
            assert_eq!(header_at(&w.log, *d).unwrap().record_count, 0, "{t:?} {d}");
        }
    }
    for t in [t2, t4] {
        assert!(
            !header_at(&w.log, t.1)
                .unwrap()
                .attributes
                .has_delete_horizon()
        );
    }
    let after1 = state(&w.log);
    assert_eq!(after1.producers, before.producers);
    assert_eq!(after1.lso, before.lso);
    assert_eq!(after1.aborted, before.aborted);
    assert_eq!(after1.committed, model_committed(&w));
    let (_, seen) = read_committed(&w.log);
    assert!(
        seen.iter().all(|v| !w.aborted_values.contains(v)),
        "{seen:?}"
    );
    reopens_the_same(&w, &after1, "stamped");

    // 2. Before the horizon nothing more goes, and the log is not due.
    assert!(
        !w.log
            .dirty_stats(t0 + RETENTION - 1)
            .unwrap()
            .tombstones_due
    );
    let out = w.log.compact(t0 + RETENTION - 1).unwrap();
    assert_eq!(
        (out.markers_stamped, out.markers_removed),
        (0, 0),
        "{out:?}"
    );
    assert_eq!(state(&w.log), after1);

    // 3. At the horizon the log is due; T1 and T3 go whole (markers, emptied
    //    headers, T1's `.txnindex` entry, the snapshots inside them). T5 stays:
    //    its marker and batch are producer 9's last.
    assert!(w.log.dirty_stats(t0 + RETENTION).unwrap().tombstones_due);
    let out = w.log.compact(t0 + RETENTION).unwrap();
    assert_eq!(out.markers_removed, 2, "{out:?}");
    assert_eq!(out.earliest_marker_horizon, None, "{out:?}");
    for t in [t1, t3] {
        assert!(header_at(&w.log, t.1).is_none(), "{t:?}");
        for d in &txns[&t] {
            assert!(header_at(&w.log, *d).is_none(), "{t:?} {d}");
        }
    }
    for t in [t2, t4, t5] {
        assert!(header_at(&w.log, t.1).is_some(), "{t:?}");
        for d in &txns[&t] {
            assert!(header_at(&w.log, *d).is_some(), "{t:?} {d}");
        }
    }
    let snapshots =
        vltava_storage::producer_state::ProducerStateManager::list_snapshots(&w.s, &dir()).unwrap();
    assert!(!snapshots.is_empty());
    for t in [t1, t3] {
        let first = txns[&t][0];
        assert!(
            !snapshots.iter().any(|&o| o > first && o <= t.1),
            "{snapshots:?}"
        );
    }
    let after3 = state(&w.log);
    assert_eq!(after3.producers, before.producers);
    assert_eq!(after3.lso, before.lso);
    assert_eq!(after3.aborted, vec![(9, txns[&t5][0], t5.1)]);
    assert_eq!(after3.committed, model_committed(&w));
    reopens_the_same(&w, &after3, "dropped");
    // Nothing is left to do: the kept last marker is not due again.
    assert!(
        !w.log
            .dirty_stats(t0 + 10 * RETENTION)
            .unwrap()
            .tombstones_due
    );
    let out = w.log.compact(t0 + 10 * RETENTION).unwrap();
    assert_eq!(
        (out.markers_stamped, out.markers_removed),
        (0, 0),
        "{out:?}"
    );

    // 4. The log goes on: a new transaction of producer 9 lets its old one go
    //    (already past its horizon: at once).
    w.txn(9, &["r1"], "commit6");
    w.end(9, true);
    w.plain(&["p3"], "plain3");
    w.settle();
    let out = w.log.compact(t0 + 10 * RETENTION).unwrap();
    assert_eq!(
        (out.markers_stamped, out.markers_removed),
        (0, 1),
        "{out:?}"
    );
    assert!(header_at(&w.log, t5.1).is_none());
    let last = state(&w.log);
    assert!(last.aborted.is_empty());
    assert_eq!(last.committed, model_committed(&w));
    reopens_the_same(&w, &last, "producer 9 moved on");
}

#[test]
fn a_transaction_with_surviving_records_keeps_its_marker() {
    let mut w = Workload::new();
    w.txn(7, &["a", "b"], "t1");
    w.end(7, true);
    // Only "a" is superseded: "b" survives, so T1's marker stays unstamped.
    w.txn(7, &["a"], "t2");
    w.end(7, true);
    for i in 0..6 {
        w.plain(&[&format!("f{i}")], "fill");
    }
    w.settle();
    let (_, m1) = *w.txns.keys().next().unwrap();
    let t0 = w.c.now();
    for now in [t0, t0 + RETENTION, t0 + 2 * RETENTION] {
        let out = w.log.compact(now).unwrap();
        assert_eq!(
            (out.markers_stamped, out.markers_removed),
            (0, 0),
            "{out:?}"
        );
        let h = header_at(&w.log, m1).unwrap();
        assert!(!h.attributes.has_delete_horizon());
    }
    assert_eq!(read_committed(&w.log).0, model_committed(&w));
}

#[test]
fn a_marker_without_any_data_is_stamped_and_dropped_like_the_others() {
    let mut w = Workload::new();
    // An ABORT for a producer with nothing open (a coordinator retry), then a
    // committed transaction of the same producer.
    let lone = w.end(7, false);
    w.txn(7, &["a"], "t");
    w.end(7, true);
    w.plain(&["p"], "plain");
    w.settle();
    let t0 = w.c.now();
    assert_eq!(w.log.compact(t0).unwrap().markers_stamped, 1);
    let before = state(&w.log);
    assert_eq!(w.log.compact(t0 + RETENTION).unwrap().markers_removed, 1);
    assert!(header_at(&w.log, lone).is_none());
    assert_eq!(state(&w.log), before);
    reopens_the_same(&w, &before, "lone marker");
}
