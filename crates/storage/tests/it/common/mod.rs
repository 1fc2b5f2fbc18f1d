//! Helpers shared by the integration tests: batches built with `BatchBuilder`, and
//! logs over `MemStorage` with a manual clock.
#![allow(dead_code, clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use vltava_records::{BatchBuilder, BatchBuilderConfig, BatchIter, Compression, DecodeLimits};
use vltava_storage::{Log, LogConfig, LogOpenOptions, ManualClock, MemStorage};

/// (offset, value) of one record.
pub type Rec = (i64, Option<Vec<u8>>);

pub const DIR: &str = "/data/topic-0";

pub fn dir() -> PathBuf {
    PathBuf::from(DIR)
}

/// A small config so tests roll and index often.
pub fn small_config() -> LogConfig {
    LogConfig {
        segment_bytes: 2048,
        index_interval_bytes: 256,
        segment_index_bytes: 4096,
        file_delete_delay_ms: 0,
        ..LogConfig::default()
    }
}

/// One uncompressed batch of `values` with keys `k<i>` at timestamp `ts`.
pub fn batch(values: &[&[u8]], ts: i64) -> Vec<u8> {
    keyed_batch(
        &values
            .iter()
            .enumerate()
            .map(|(i, v)| (format!("k{i}").into_bytes(), Some(v.to_vec())))
            .collect::<Vec<_>>(),
        ts,
        Compression::None,
    )
}

/// A batch of (key, value) records (value `None`: tombstone).
pub fn keyed_batch(
    records: &[(Vec<u8>, Option<Vec<u8>>)],
    ts: i64,
    compression: Compression,
) -> Vec<u8> {
    let mut b = BatchBuilder::new(BatchBuilderConfig {
        compression,
        ..BatchBuilderConfig::default()
    });
    for (k, v) in records {
        assert!(b.append(ts, Some(k), v.as_deref(), &[]).unwrap());
    }
    b.build().unwrap().to_vec()
}

/// A key no other record of the test has (producer, epoch and sequence): compacted logs
/// refuse records without a key, and unique keys keep compaction from merging them.
fn unique_key(pid: i64, epoch: i16, seq: i32, i: usize) -> Vec<u8> {
    format!("k{pid}-{epoch}-{}", i64::from(seq) + i as i64).into_bytes()
}

/// A batch of `n` records from producer `pid` from sequence `seq` (transactional or
/// only idempotent), record `i` with unique key and value `value(i)`.
fn sequenced_batch(
    config: BatchBuilderConfig,
    n: usize,
    ts: i64,
    value: impl Fn(usize) -> String,
) -> Vec<u8> {
    let (pid, epoch, seq) = (
        config.producer_id,
        config.producer_epoch,
        config.base_sequence,
    );
    let mut b = BatchBuilder::new(config);
    for i in 0..n {
        assert!(
            b.append(
                ts,
                Some(&unique_key(pid, epoch, seq, i)),
                Some(value(i).as_bytes()),
                &[]
            )
            .unwrap()
        );
    }
    b.build().unwrap().to_vec()
}

/// An idempotent batch from producer `pid`.
pub fn producer_batch(pid: i64, epoch: i16, seq: i32, n: usize, ts: i64) -> Vec<u8> {
    let config = BatchBuilderConfig {
        producer_id: pid,
        producer_epoch: epoch,
        base_sequence: seq,
        ..BatchBuilderConfig::default()
    };
    sequenced_batch(config, n, ts, |i| format!("v{i}"))
}

pub fn open(
    storage: &MemStorage,
    clock: &ManualClock,
    config: LogConfig,
    opts: LogOpenOptions,
) -> Log {
    Log::open(
        Arc::new(storage.clone()),
        Path::new(DIR),
        config,
        Arc::new(clock.clone()),
        opts,
    )
    .unwrap()
}

pub fn new_log(config: LogConfig) -> (MemStorage, ManualClock, Log) {
    let s = MemStorage::new();
    let c = ManualClock::new(1_000_000);
    let log = open(&s, &c, config, LogOpenOptions::default());
    (s, c, log)
}

/// (offset, value) of every record in `bytes` (concatenated whole batches).
pub fn records_of(bytes: &[u8]) -> Vec<(i64, Option<Vec<u8>>)> {
    let mut out = Vec::new();
    for v in BatchIter::new(bytes) {
        let v = v.unwrap();
        v.validate_crc().unwrap();
        let h = *v.header();
        for r in v.records(&DecodeLimits::default()).unwrap() {
            out.push((r.offset(&h), r.value.map(|b| b.to_vec())));
        }
    }
    out
}

/// Every record from `from` to the log end, following reads across segments.
pub fn read_all(log: &Log, from: i64) -> Vec<(i64, Option<Vec<u8>>)> {
    let mut out = Vec::new();
    let mut next = from;
    while next < log.log_end_offset() {
        let bytes = log
            .read_bytes(next, 1 << 20, vltava_storage::FetchIsolation::LogEnd, true)
            .unwrap();
        if bytes.is_empty() {
            break;
        }
        let mut last = next;
        for v in BatchIter::new(&bytes) {
            last = v.unwrap().header().next_offset();
        }
        out.extend(records_of(&bytes).into_iter().filter(|(o, _)| *o >= next));
        next = last;
    }
    out
}

/// A transactional batch of `n` records from producer `pid`.
pub fn txn_batch(pid: i64, epoch: i16, seq: i32, n: usize, ts: i64) -> Vec<u8> {
    let config = BatchBuilderConfig {
        producer_id: pid,
        producer_epoch: epoch,
        base_sequence: seq,
        transactional: true,
        ..BatchBuilderConfig::default()
    };
    sequenced_batch(config, n, ts, |i| format!("t{pid}-{i}"))
}

/// A transactional batch or a marker, as a test remembers it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TxnEvent {
    /// A transactional batch of `pid` starting at `base`.
    Data { pid: i64, base: i64 },
    /// A COMMIT (`commit`) or ABORT marker of `pid` at `offset`.
    Marker { pid: i64, offset: i64, commit: bool },
}

impl TxnEvent {
    /// The batch's first offset.
    pub fn offset(&self) -> i64 {
        match *self {
            TxnEvent::Data { base, .. } => base,
            TxnEvent::Marker { offset, .. } => offset,
        }
    }
}

/// What `events` (in offset order) leave: the open transactions (producer id ->
/// first offset) and every aborted transaction that held data, with the last
/// stable offset as of its marker (Kafka's `.txnindex` entry).
pub fn expected_txns<'a>(
    events: impl IntoIterator<Item = &'a TxnEvent>,
) -> (
    std::collections::BTreeMap<i64, i64>,
    Vec<vltava_storage::AbortedTxn>,
) {
    let mut open = std::collections::BTreeMap::new();
    let mut aborted = Vec::new();
    for e in events {
        match *e {
            TxnEvent::Data { pid, base } => {
                open.entry(pid).or_insert(base);
            }
            TxnEvent::Marker {
                pid,
                offset,
                commit,
            } => {
                if let Some(first) = open.remove(&pid) {
                    if !commit {
                        aborted.push(vltava_storage::AbortedTxn {
                            producer_id: pid,
                            first_offset: first,
                            last_offset: offset,
                            last_stable_offset: open.values().copied().min().unwrap_or(offset + 1),
                        });
                    }
                }
            }
        }
    }
    (open, aborted)
}
