//! One entry point that recovers a log from arbitrary file contents: the
//! `storage_recover` fuzz target calls it, and so does the test that replays the
//! committed corpus. It must never panic; it asserts the log's invariants (every
//! batch served after a full recovery has a valid CRC and increasing offsets, and
//! the recovered log takes appends), so a broken invariant shows up as a crash.
//!
//! Input layout: one flags byte, then up to [`FILES`] chunks, each a big-endian
//! u16 length and that many bytes (a short final chunk takes what is left).
//! Chunks become, in order: segment 0's `.log`, `.index`, `.timeindex`, segment
//! 64's `.log`, producer snapshot `…064.snapshot`, `leader-epoch-checkpoint` and
//! segment 0's `.txnindex`. After a full recovery the aborted transactions must
//! lie inside the log and a new ABORT must be indexed.
//! Flags: bit 0 opens with the recovery point at the end (trusted path) instead of
//! 0; bit 1 uses `cleanup.policy=compact` and runs a compaction pass.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::clock::ManualClock;
use crate::config::{CleanupPolicy, LogConfig};
use crate::io::MemStorage;
use crate::log::{FetchIsolation, Log, LogOpenOptions};
use vltava_records::BatchIter;

/// Directory the files are placed in.
pub const DIR: &str = "/fuzz/t-0";
/// Files an input can fill, in order.
pub const FILES: [&str; 7] = [
    "00000000000000000000.log",
    "00000000000000000000.index",
    "00000000000000000000.timeindex",
    "00000000000000000064.log",
    "00000000000000000064.snapshot",
    "leader-epoch-checkpoint",
    "00000000000000000000.txnindex",
];

/// What a run saw (so tests can check inputs got deep).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct RecoverSummary {
    /// The log opened.
    pub opened: bool,
    /// Log end offset after recovery.
    pub log_end_offset: i64,
    /// Batches served by reads after recovery.
    pub batches_read: usize,
    /// Aborted transactions found after recovery.
    pub aborted_txns: usize,
}

/// Splits an input into its flags and files.
pub fn split_input(data: &[u8]) -> (u8, Vec<(PathBuf, Vec<u8>)>) {
    let Some((&flags, mut rest)) = data.split_first() else {
        return (0, Vec::new());
    };
    let mut files = Vec::new();
    for name in FILES {
        if rest.len() < 2 {
            break;
        }
        let len = usize::from(u16::from_be_bytes([rest[0], rest[1]]));
        rest = &rest[2..];
        let take = len.min(rest.len());
        files.push((Path::new(DIR).join(name), rest[..take].to_vec()));
        rest = &rest[take..];
    }
    (flags, files)
}

/// Builds an input from flags and file contents (the inverse of [`split_input`]).
pub fn join_input(flags: u8, files: &[&[u8]]) -> Vec<u8> {
    let mut out = vec![flags];
    for f in files.iter().take(FILES.len()) {
        let len = f.len().min(usize::from(u16::MAX));
        out.extend_from_slice(&(len as u16).to_be_bytes());
        out.extend_from_slice(&f[..len]);
    }
    out
}

/// Recovers a log from the files in `data` and exercises it.
pub fn recover_from_bytes(data: &[u8]) -> RecoverSummary {
    let (flags, files) = split_input(data);
    let storage = MemStorage::new();
    for (path, bytes) in files {
        if storage.put(&path, bytes).is_err() {
            return RecoverSummary::default();
        }
    }
    let trusted = flags & 1 != 0;
    let compact = flags & 2 != 0;
    let config = small_segments(compact);
    let clock = ManualClock::new(1_000_000);
    let opts = LogOpenOptions {
        recovery_point: if trusted { i64::MAX } else { 0 },
        ..LogOpenOptions::default()
    };
    let Ok(mut log) = Log::open(
        Arc::new(storage.clone()),
        Path::new(DIR),
        config,
        Arc::new(clock),
        opts,
    ) else {
        return RecoverSummary::default();
    };
    let mut summary = RecoverSummary {
        opened: true,
        log_end_offset: log.log_end_offset(),
        batches_read: 0,
        aborted_txns: 0,
    };
    assert!(log.log_start_offset() <= log.log_end_offset());
    summary.batches_read = read_all(&log, trusted);
    for t in [0, 1, 1000, i64::MAX] {
        let _ = log.offset_for_timestamp(t);
    }
    summary.aborted_txns = check_transactions(&mut log, trusted);
    let _ = log.end_offset_for_epoch(0);
    let leo = log.log_end_offset();
    append_at_end(&mut log, trusted);
    if compact {
        log.set_high_watermark(log.log_end_offset());
        let _ = log.flush();
        let _ = log.compact(2_000_000);
    }
    let _ = log.truncate_to(leo / 2);
    let _ = log.run_retention(10_000_000_000);
    summary
}

/// The fuzzed log's settings: small segments and a dense index, so a few kilobytes of
/// input span several segments.
fn small_segments(compact: bool) -> LogConfig {
    LogConfig {
        segment_bytes: 4096,
        index_interval_bytes: 64,
        segment_index_bytes: 1024,
        file_delete_delay_ms: 0,
        cleanup_policy: if compact {
            CleanupPolicy::COMPACT
        } else {
            CleanupPolicy::DELETE
        },
        ..LogConfig::default()
    }
}

/// Reads everything and returns how many batches were served; after a full recovery
/// every batch must be intact.
fn read_all(log: &Log, trusted: bool) -> usize {
    let mut batches_read = 0;
    let mut next = log.log_start_offset();
    let mut guard = 0;
    while next < log.log_end_offset() && guard < 10_000 {
        guard += 1;
        let bytes = match log.read_bytes(next, 64 * 1024, FetchIsolation::LogEnd, true) {
            Ok(b) => b,
            Err(e) => {
                assert!(trusted, "read after full recovery failed: {e}");
                break;
            }
        };
        if bytes.is_empty() {
            break;
        }
        let mut last = next;
        for view in BatchIter::new(&bytes) {
            let Ok(view) = view else {
                assert!(trusted, "served a torn batch after full recovery");
                break;
            };
            if !trusted {
                assert!(view.validate_crc().is_ok(), "served a corrupt batch");
                assert!(view.header().next_offset() > last || batches_read == 0);
            }
            last = last.max(view.header().next_offset());
            batches_read += 1;
        }
        if last <= next {
            break;
        }
        next = last;
    }
    batches_read
}

/// The recovered log must take an append at its end.
fn append_at_end(log: &mut Log, trusted: bool) {
    let leo = log.log_end_offset();
    if let Some(mut batch) = one_record_batch() {
        match log.append_as_leader(&mut batch, 1) {
            Ok(info) => assert_eq!(info.first_offset, leo),
            Err(e) => assert!(
                trusted || matches!(e, crate::StorageError::OutOfOrderSequence { .. }),
                "append after recovery failed: {e}"
            ),
        }
    }
}

/// Aborted transactions lie inside the log, oldest first, and the last stable
/// offset is within bounds; a new transaction aborted at the end is indexed.
/// Returns how many aborted transactions the recovered log had.
fn check_transactions(log: &mut Log, trusted: bool) -> usize {
    let (start, leo) = (log.log_start_offset(), log.log_end_offset());
    log.set_high_watermark(leo);
    let lso = log.last_stable_offset();
    assert!(
        start <= lso && lso <= leo,
        "lso {lso} outside [{start}, {leo}]"
    );
    let Ok(aborted) = log.aborted_transactions(start, leo) else {
        return 0;
    };
    if !trusted {
        for w in aborted.windows(2) {
            assert!(w[0].last_offset < w[1].last_offset, "{aborted:?}");
        }
        for t in &aborted {
            assert!(
                t.first_offset <= t.last_offset && t.last_offset < leo,
                "{t:?}"
            );
        }
    }
    let pid = i64::MAX - 1;
    let mut b = vltava_records::BatchBuilder::new(vltava_records::BatchBuilderConfig {
        producer_id: pid,
        producer_epoch: i16::MAX,
        base_sequence: 0,
        transactional: true,
        ..vltava_records::BatchBuilderConfig::default()
    });
    let found = aborted.len();
    if b.append(1_000, Some(b"t"), Some(b"t"), &[]).is_err() {
        return found;
    }
    let Ok(built) = b.build() else {
        return found;
    };
    let Ok(data) = log.append_as_leader(&mut built.to_vec(), 1) else {
        return found;
    };
    let Ok(marker) = log.append_control_marker(pid, i16::MAX, i32::MAX, false, 1, 1_000) else {
        return found;
    };
    let end = log.log_end_offset();
    log.set_high_watermark(end);
    let now = log.aborted_transactions(data.first_offset, end);
    assert!(
        now.is_ok_and(|f| f.iter().any(|t| t.producer_id == pid
            && t.first_offset == data.first_offset
            && t.last_offset == marker.first_offset)),
        "new abort not indexed"
    );
    found
}

fn one_record_batch() -> Option<Vec<u8>> {
    let mut b = vltava_records::BatchBuilder::new(vltava_records::BatchBuilderConfig::default());
    b.append(1_000, Some(b"k"), Some(b"v"), &[]).ok()?;
    b.build().ok().map(|b| b.to_vec())
}
