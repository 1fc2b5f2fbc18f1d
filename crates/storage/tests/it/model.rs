//! Model-based property test: random sequences of append, transactional append,
//! COMMIT/ABORT markers, read, roll, truncate, retention, DeleteRecords,
//! compaction, clean reopen and crash reopen, checked after every step against an
//! in-memory model of the partition (records, log start and end, last stable
//! offset and the aborted transactions a read_committed fetch gets).
#![allow(clippy::unwrap_used)]

use crate::common::*;
use proptest::prelude::*;
use std::collections::BTreeMap;
use vltava_records::{BatchBuilder, BatchBuilderConfig, BatchIter, Compression};
use vltava_storage::{
    AbortedTxn, CleanupPolicy, FetchIsolation, Log, LogConfig, LogOpenOptions, ManualClock,
    MemStorage, StorageError,
};

/// Producer ids of the transactional producers.
const TXN_PIDS: [i64; 3] = [1001, 1002, 1003];

#[derive(Debug, Clone)]
enum Op {
    /// Records as (key id, value length or tombstone), compressed or not.
    Append(Vec<(u8, Option<u8>)>, bool),
    /// An idempotent producer's next batch (false) or a retry of its last (true).
    Produce(bool),
    /// A batch replicated from a leader: offsets already set to the log end.
    Replicate(u8),
    Read(u16, u16),
    Roll,
    Truncate(u16),
    RetainBytes(u16),
    DeleteRecords(u16),
    Compact,
    Reopen,
    CrashReopen,
    /// A batch of `n` records from transactional producer `p`: transactional, or
    /// (false) idempotent, which an open transaction refuses.
    TxnProduce(u8, u8, bool),
    /// A COMMIT (true) or ABORT marker for transactional producer `p`.
    Marker(u8, bool),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (prop::collection::vec((0u8..6, prop::option::weighted(0.9, 0u8..60)), 1..6), any::<bool>())
            .prop_map(|(r, c)| Op::Append(r, c)),
        2 => any::<bool>().prop_map(Op::Produce),
        1 => (1u8..4).prop_map(Op::Replicate),
        3 => (any::<u16>(), 1u16..2000).prop_map(|(a, b)| Op::Read(a, b)),
        1 => Just(Op::Roll),
        1 => any::<u16>().prop_map(Op::Truncate),
        1 => (0u16..6000).prop_map(Op::RetainBytes),
        1 => any::<u16>().prop_map(Op::DeleteRecords),
        1 => Just(Op::Compact),
        1 => Just(Op::Reopen),
        1 => Just(Op::CrashReopen),
        4 => (0u8..3, 1u8..4, prop::bool::weighted(0.85)).prop_map(|(p, n, t)| Op::TxnProduce(p, n, t)),
        2 => (0u8..3, any::<bool>()).prop_map(|(p, c)| Op::Marker(p, c)),
    ]
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Plain,
    /// A transactional batch of this producer.
    Txn(i64),
    /// A marker (commit?) of this producer.
    Marker(i64, bool),
}

#[derive(Debug, Clone)]
struct Batch {
    base: i64,
    last: i64,
    records: Vec<(i64, Vec<u8>, Option<Vec<u8>>)>,
    /// Compaction keeps transactional and control batches as they are.
    kind: Kind,
}

#[derive(Debug, Default)]
struct Model {
    /// Next sequence of the test producer, and where its last batch went.
    next_seq: i32,
    last_produced: Option<(i64, i64)>,
    batches: Vec<Batch>,
    log_start: i64,
    leo: i64,
    /// Every transactional batch and marker as (base, last, kind), in offset
    /// order: retention and DeleteRecords do not make a log forget them, only
    /// truncation does.
    txn_events: Vec<(i64, i64, Kind)>,
}

impl Model {
    fn visible(&self) -> Vec<Rec> {
        self.batches
            .iter()
            .flat_map(|b| b.records.iter())
            .filter(|(o, _, _)| *o >= self.log_start)
            .map(|(o, _, v)| (*o, v.clone()))
            .collect()
    }

    /// The transactions open now (producer -> first offset) and every aborted
    /// transaction with the last stable offset as of its marker.
    fn transactions(&self) -> (BTreeMap<i64, i64>, Vec<AbortedTxn>) {
        let events: Vec<TxnEvent> = self
            .txn_events
            .iter()
            .filter_map(|(base, _, kind)| match *kind {
                Kind::Txn(pid) => Some(TxnEvent::Data { pid, base: *base }),
                Kind::Marker(pid, commit) => Some(TxnEvent::Marker {
                    pid,
                    offset: *base,
                    commit,
                }),
                Kind::Plain => None,
            })
            .collect();
        expected_txns(&events)
    }

    /// The last stable offset with the high watermark at the log end.
    fn last_stable_offset(&self) -> i64 {
        let (open, _) = self.transactions();
        open.values()
            .copied()
            .min()
            .unwrap_or(self.leo)
            .min(self.leo)
            .max(self.log_start)
    }

    /// What a fetch of `[fetch, upper)` gets as aborted transactions.
    fn aborted_in(&self, fetch: i64, upper: i64) -> Vec<AbortedTxn> {
        let (_, aborted) = self.transactions();
        if upper <= fetch {
            return Vec::new();
        }
        aborted
            .into_iter()
            .filter(|t| t.last_offset >= fetch && t.first_offset < upper)
            .collect()
    }
}

fn config() -> LogConfig {
    LogConfig {
        segment_bytes: 1024,
        index_interval_bytes: 128,
        segment_index_bytes: 1024,
        retention_ms: -1,
        delete_retention_ms: i64::MAX / 4,
        file_delete_delay_ms: 0,
        ..LogConfig::default()
    }
}

fn reopen(s: &MemStorage, c: &ManualClock, log: Log, clean: bool, model: &Model) -> Log {
    let hw = log.high_watermark();
    let rp = if clean {
        log.close().unwrap();
        model.leo
    } else {
        let rp = log.recovery_point();
        drop(log);
        rp
    };
    open(
        s,
        c,
        config(),
        LogOpenOptions {
            recovery_point: rp,
            log_start_offset: model.log_start,
            high_watermark: Some(hw),
        },
    )
}

fn run(ops: Vec<Op>) {
    let (s, c, mut log) = new_log(config());
    let mut m = Model::default();
    let now = c.now();
    for op in ops {
        match op {
            Op::Append(recs, compress) => {
                let records: Vec<(Vec<u8>, Option<Vec<u8>>)> = recs
                    .iter()
                    .map(|(k, v)| (vec![b'k', *k], v.map(|n| vec![b'a' + *k; n as usize])))
                    .collect();
                let codec = if compress {
                    Compression::Zstd
                } else {
                    Compression::None
                };
                let info = log
                    .append_as_leader(&mut keyed_batch(&records, now, codec), 0)
                    .unwrap();
                assert_eq!(info.first_offset, m.leo);
                m.batches.push(Batch {
                    base: info.first_offset,
                    last: info.last_offset,
                    records: records
                        .into_iter()
                        .enumerate()
                        .map(|(i, (k, v))| (info.first_offset + i as i64, k, v))
                        .collect(),
                    kind: Kind::Plain,
                });
                m.leo = info.last_offset + 1;
            }
            Op::Produce(retry) => {
                let (seq, n) = if retry && m.last_produced.is_some() {
                    (m.next_seq - 2, 2)
                } else {
                    (m.next_seq, 2)
                };
                let mut b = BatchBuilder::new(BatchBuilderConfig {
                    producer_id: 77,
                    producer_epoch: 0,
                    base_sequence: seq,
                    ..BatchBuilderConfig::default()
                });
                for i in 0..n {
                    let k = vec![b'p', (seq + i) as u8 % 3];
                    b.append(now, Some(&k), Some(&k), &[]).unwrap();
                }
                let bytes = b.build().unwrap().to_vec();
                let info = log.append_as_leader(&mut bytes.clone(), 0);
                match (retry, m.last_produced, info) {
                    (true, Some((first, last)), Ok(info)) => {
                        // A retry of the batch the log remembers: answered with
                        // the original offsets, nothing written.
                        assert!(info.duplicate, "retry appended again");
                        assert_eq!((info.first_offset, info.last_offset), (first, last));
                    }
                    (_, _, Ok(info)) => {
                        assert!(!info.duplicate);
                        assert_eq!(info.first_offset, m.leo);
                        let recs = records_of(
                            &log.read_bytes(
                                info.first_offset,
                                1 << 16,
                                FetchIsolation::LogEnd,
                                true,
                            )
                            .unwrap(),
                        );
                        m.batches.push(Batch {
                            base: info.first_offset,
                            last: info.last_offset,
                            records: recs
                                .iter()
                                .filter(|(o, _)| *o >= info.first_offset && *o <= info.last_offset)
                                .map(|(o, v)| (*o, v.clone().unwrap(), v.clone()))
                                .collect(),
                            kind: Kind::Plain,
                        });
                        m.leo = info.last_offset + 1;
                        m.last_produced = Some((info.first_offset, info.last_offset));
                        m.next_seq = seq + n;
                    }
                    (_, _, Err(e)) => panic!("produce failed: {e}"),
                }
            }
            Op::Replicate(n) => {
                let mut b = BatchBuilder::new(BatchBuilderConfig {
                    base_offset: m.leo,
                    partition_leader_epoch: 0,
                    ..BatchBuilderConfig::default()
                });
                let mut recs = Vec::new();
                for i in 0..i64::from(n) {
                    let k = vec![b'r', (i % 2) as u8];
                    let v = format!("rep-{}", m.leo + i).into_bytes();
                    b.append(now, Some(&k), Some(&v), &[]).unwrap();
                    recs.push((m.leo + i, k, Some(v)));
                }
                let info = log.append_as_follower(&b.build().unwrap()).unwrap();
                assert_eq!(info.first_offset, m.leo);
                m.batches.push(Batch {
                    base: m.leo,
                    last: info.last_offset,
                    records: recs,
                    kind: Kind::Plain,
                });
                m.leo = info.last_offset + 1;
            }
            Op::Read(sel, max) => {
                if m.leo > m.log_start {
                    let offset = m.log_start + i64::from(sel) % (m.leo - m.log_start);
                    let bytes = log
                        .read_bytes(offset, u64::from(max), FetchIsolation::LogEnd, true)
                        .unwrap();
                    let vis = m.visible();
                    let want_first = vis.iter().find(|(o, _)| *o >= offset).map(|r| r.0);
                    let mut first = true;
                    for v in BatchIter::new(&bytes) {
                        let v = v.unwrap();
                        v.validate_crc().unwrap();
                        let h = *v.header();
                        if first {
                            // The first batch is the one whose offset range
                            // reaches the offset asked for (compaction may have
                            // emptied that range of records).
                            assert!(h.last_offset() >= offset, "{h:?} vs {offset}");
                            first = false;
                        }
                    }
                    let got = records_of(&bytes);
                    for r in got.iter().filter(|r| r.0 >= m.log_start) {
                        assert!(vis.contains(r), "read {r:?} not in model");
                    }
                    // Records come back, unless the batches served were emptied
                    // by compaction (a reader moves past them, as past Kafka's).
                    let all_empty = !bytes.is_empty()
                        && BatchIter::new(&bytes).all(|v| v.unwrap().header().record_count == 0);
                    assert!(!got.is_empty() || want_first.is_none() || all_empty);
                    log.set_high_watermark(m.leo);
                    let lso = log.last_stable_offset();
                    assert_eq!(
                        log.aborted_transactions(offset, lso).unwrap(),
                        m.aborted_in(offset, lso),
                        "aborted transactions from {offset} to {lso}"
                    );
                    // A read_committed read never passes the last stable offset.
                    let committed = log
                        .read_bytes(offset, u64::from(max), FetchIsolation::Committed, true)
                        .unwrap();
                    for v in BatchIter::new(&committed) {
                        assert!(v.unwrap().header().last_offset() < lso);
                    }
                }
            }
            Op::Roll => log.roll().unwrap(),
            Op::Truncate(sel) => {
                if !m.batches.is_empty() {
                    let b = &m.batches[sel as usize % m.batches.len()];
                    let t = b.base.max(m.log_start);
                    let first_seg = log.segment_base_offsets()[0];
                    log.truncate_to(t).unwrap();
                    m.batches.retain(|b| b.last < t);
                    m.txn_events.retain(|e| e.1 < t);
                    let reset = t <= first_seg || t < m.log_start;
                    if reset {
                        m.log_start = t;
                        m.batches.clear();
                    }
                    if reset || log.segment_base_offsets()[0] != first_seg {
                        // The log started over (producer state included).
                        m.txn_events.clear();
                    }
                    let leo = log.log_end_offset();
                    assert!(leo <= t);
                    assert!(leo >= m.batches.last().map_or(m.log_start, |b| b.last + 1));
                    m.leo = leo;
                }
            }
            Op::RetainBytes(n) => {
                log.set_config(LogConfig {
                    retention_bytes: i64::from(n),
                    cleanup_policy: CleanupPolicy::DELETE,
                    ..config()
                });
                log.set_high_watermark(m.leo);
                let before = log.size_in_bytes();
                let out = log.run_retention(now).unwrap();
                assert!(
                    before - out.bytes_deleted <= i64::from(n) as u64 + 1024
                        || log.segment_base_offsets().len() == 1
                );
                log.set_config(config());
                let first = log.segment_base_offsets()[0];
                m.batches.retain(|b| b.base >= first);
                m.log_start = m.log_start.max(first);
                assert_eq!(log.log_start_offset(), m.log_start);
            }
            Op::DeleteRecords(sel) => {
                log.set_high_watermark(m.leo);
                let target = m.log_start + i64::from(sel) % (m.leo - m.log_start + 1);
                log.delete_records_before(target).unwrap();
                m.log_start = m.log_start.max(target);
                let first = log.segment_base_offsets()[0];
                m.batches.retain(|b| b.base >= first);
                assert_eq!(log.log_start_offset(), m.log_start);
            }
            Op::Compact => {
                log.set_config(LogConfig {
                    cleanup_policy: CleanupPolicy::COMPACT,
                    ..config()
                });
                log.set_high_watermark(m.leo);
                log.flush().unwrap();
                // Segments are cleaned up to the first that is active or reaches
                // past the last stable offset.
                let lso = log.last_stable_offset();
                let segs: Vec<(i64, i64)> = log
                    .segments()
                    .map(|s| (s.base_offset(), s.next_offset()))
                    .collect();
                let bound = segs
                    .iter()
                    .enumerate()
                    .find(|(i, (_, next))| i + 1 == segs.len() || *next > lso)
                    .map_or(0, |(_, (base, _))| *base);
                log.compact(now).unwrap();
                log.set_config(config());
                // Aborted transactional records go; committed ones are compacted
                // like plain ones; markers stay.
                let (_, aborted) = m.transactions();
                let in_aborted = |b: &Batch| match b.kind {
                    Kind::Txn(pid) => aborted.iter().any(|t| {
                        t.producer_id == pid && t.first_offset <= b.base && b.base < t.last_offset
                    }),
                    _ => false,
                };
                for b in m
                    .batches
                    .iter_mut()
                    .filter(|b| b.base < bound && in_aborted(b))
                {
                    b.records.clear();
                }
                let cleaned = |b: &Batch| b.base < bound && !matches!(b.kind, Kind::Marker(..));
                let mut latest = std::collections::HashMap::new();
                for b in m.batches.iter().filter(|b| cleaned(b)) {
                    for (o, k, _) in &b.records {
                        latest.insert(k.clone(), *o);
                    }
                }
                for b in m.batches.iter_mut().filter(|b| cleaned(b)) {
                    b.records.retain(|(o, k, _)| latest[k] == *o);
                }
                m.batches.retain(|b| !b.records.is_empty());
            }
            Op::Reopen => log = reopen(&s, &c, log, true, &m),
            Op::CrashReopen => log = reopen(&s, &c, log, false, &m),
            Op::TxnProduce(p, n, transactional) => {
                let pid = TXN_PIDS[p as usize];
                let seq = log
                    .producer_state()
                    .get(pid)
                    .and_then(|e| e.batches.back())
                    .map_or(0, |b| b.last_seq + 1);
                let bytes = if transactional {
                    txn_batch(pid, 0, seq, n as usize, now)
                } else {
                    producer_batch(pid, 0, seq, n as usize, now)
                };
                let open = m.transactions().0.contains_key(&pid);
                match log.append_as_leader(&mut bytes.clone(), 0) {
                    Err(StorageError::InvalidTxnState { producer_id }) => {
                        assert!(open && !transactional && producer_id == pid);
                    }
                    Err(e) => panic!("transactional produce failed: {e}"),
                    Ok(info) => {
                        assert!(
                            transactional || !open,
                            "idempotent batch inside a transaction"
                        );
                        assert!(!info.duplicate);
                        assert_eq!(info.first_offset, m.leo);
                        let recs = records_of(
                            &log.read_bytes(
                                info.first_offset,
                                1 << 16,
                                FetchIsolation::LogEnd,
                                true,
                            )
                            .unwrap(),
                        );
                        let kind = if transactional {
                            Kind::Txn(pid)
                        } else {
                            Kind::Plain
                        };
                        m.batches.push(Batch {
                            base: info.first_offset,
                            last: info.last_offset,
                            records: recs
                                .iter()
                                .filter(|(o, _)| *o >= info.first_offset && *o <= info.last_offset)
                                // No key: compaction keeps the record, as it
                                // would under a key of its own.
                                .map(|(o, v)| (*o, format!("nokey{o}").into_bytes(), v.clone()))
                                .collect(),
                            kind,
                        });
                        if transactional {
                            m.txn_events
                                .push((info.first_offset, info.last_offset, kind));
                        }
                        m.leo = info.last_offset + 1;
                    }
                }
            }
            Op::Marker(p, commit) => {
                let pid = TXN_PIDS[p as usize];
                let info = log
                    .append_control_marker(pid, 0, 0, commit, 0, now)
                    .unwrap();
                assert_eq!((info.first_offset, info.last_offset), (m.leo, m.leo));
                let recs = records_of(
                    &log.read_bytes(info.first_offset, 1 << 16, FetchIsolation::LogEnd, true)
                        .unwrap(),
                );
                assert_eq!(recs.len(), 1, "one control record");
                m.batches.push(Batch {
                    base: m.leo,
                    last: m.leo,
                    records: vec![(m.leo, Vec::new(), recs[0].1.clone())],
                    kind: Kind::Marker(pid, commit),
                });
                m.txn_events.push((m.leo, m.leo, Kind::Marker(pid, commit)));
                m.leo += 1;
            }
        }
        // Follow the producer's sequence as the log knows it (truncation, for one,
        // forgets batches; a real producer would then see OutOfOrderSequence).
        if let Some(last) = log.producer_state().get(77).and_then(|e| e.batches.back()) {
            m.next_seq = last.last_seq + 1;
            m.last_produced = Some((last.first_offset(), last.last_offset));
        } else {
            m.last_produced = None;
        }
        assert_eq!(log.log_end_offset(), m.leo);
        assert_eq!(log.log_start_offset(), m.log_start);
        assert_eq!(read_all(&log, m.log_start), m.visible());
        log.set_high_watermark(m.leo);
        let lso = m.last_stable_offset();
        assert_eq!(log.last_stable_offset(), lso, "last stable offset");
        assert_eq!(
            log.aborted_transactions(m.log_start, m.leo).unwrap(),
            m.aborted_in(m.log_start, m.leo),
            "aborted transactions up to the log end"
        );
        assert_eq!(
            log.aborted_transactions(m.log_start, lso).unwrap(),
            m.aborted_in(m.log_start, lso),
            "aborted transactions up to the last stable offset"
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]
    #[test]
    fn log_matches_model(ops in prop::collection::vec(op(), 1..60)) {
        run(ops);
    }
}
