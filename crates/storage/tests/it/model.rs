//! Model-based property test: random sequences of append, read, roll, truncate,
//! retention, DeleteRecords, compaction, clean reopen and crash reopen, checked
//! after every step against an in-memory model of the partition.
#![allow(clippy::unwrap_used)]

use crate::common::*;
use proptest::prelude::*;
use vltava_records::{BatchBuilder, BatchBuilderConfig, BatchIter, Compression};
use vltava_storage::{
    CleanupPolicy, FetchIsolation, Log, LogConfig, LogOpenOptions, ManualClock, MemStorage,
};

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
    ]
}

#[derive(Debug, Clone)]
struct Batch {
    base: i64,
    last: i64,
    records: Vec<(i64, Vec<u8>, Option<Vec<u8>>)>,
}

#[derive(Debug, Default)]
struct Model {
    /// Next sequence of the test producer, and where its last batch went.
    next_seq: i32,
    last_produced: Option<(i64, i64)>,
    batches: Vec<Batch>,
    log_start: i64,
    leo: i64,
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
                    assert!(!got.is_empty() || want_first.is_none());
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
                    if t <= first_seg || t < m.log_start {
                        m.log_start = t;
                        m.batches.clear();
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
                let active = *log.segment_base_offsets().last().unwrap();
                log.compact(now).unwrap();
                log.set_config(config());
                let mut latest = std::collections::HashMap::new();
                for b in m.batches.iter().filter(|b| b.base < active) {
                    for (o, k, _) in &b.records {
                        latest.insert(k.clone(), *o);
                    }
                }
                for b in m.batches.iter_mut().filter(|b| b.base < active) {
                    b.records.retain(|(o, k, _)| latest[k] == *o);
                }
                m.batches.retain(|b| !b.records.is_empty());
            }
            Op::Reopen => log = reopen(&s, &c, log, true, &m),
            Op::CrashReopen => log = reopen(&s, &c, log, false, &m),
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
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]
    #[test]
    fn log_matches_model(ops in prop::collection::vec(op(), 1..60)) {
        run(ops);
    }
}
