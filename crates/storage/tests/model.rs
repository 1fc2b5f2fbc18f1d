//! Model-based property test: random sequences of append, read, roll, truncate,
//! retention, DeleteRecords, compaction, clean reopen and crash reopen, checked
//! after every step against an in-memory model of the partition.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use proptest::prelude::*;
use vltava_records::{BatchIter, Compression};
use vltava_storage::{
    CleanupPolicy, FetchIsolation, Log, LogConfig, LogOpenOptions, ManualClock, MemStorage,
};

#[derive(Debug, Clone)]
enum Op {
    /// Records as (key id, value length or tombstone), compressed or not.
    Append(Vec<(u8, Option<u8>)>, bool),
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
