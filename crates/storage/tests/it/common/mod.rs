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

/// An idempotent batch from producer `pid`.
pub fn producer_batch(pid: i64, epoch: i16, seq: i32, n: usize, ts: i64) -> Vec<u8> {
    let mut b = BatchBuilder::new(BatchBuilderConfig {
        producer_id: pid,
        producer_epoch: epoch,
        base_sequence: seq,
        ..BatchBuilderConfig::default()
    });
    for i in 0..n {
        assert!(
            b.append(ts, None, Some(format!("v{i}").as_bytes()), &[])
                .unwrap()
        );
    }
    b.build().unwrap().to_vec()
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
    let mut b = BatchBuilder::new(BatchBuilderConfig {
        producer_id: pid,
        producer_epoch: epoch,
        base_sequence: seq,
        transactional: true,
        ..BatchBuilderConfig::default()
    });
    for i in 0..n {
        assert!(
            b.append(ts, None, Some(format!("t{pid}-{i}").as_bytes()), &[])
                .unwrap()
        );
    }
    b.build().unwrap().to_vec()
}
