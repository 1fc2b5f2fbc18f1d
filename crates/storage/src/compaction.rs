//! Log compaction (`cleanup.policy=compact`, or `compact,delete` with retention as
//! well): keep only the latest record per key, Kafka's log cleaner. The work is
//! split so that it runs beside appends:
//!
//! - `clean_plan`: under the log's lock, how dirty the log is and what to clean
//!   (the cleanable segments, with their own file handles);
//! - `clean_run`: without the lock, the offset map of the dirty section (bounded by
//!   `log.cleaner.dedupe.buffer.size`: a larger dirty section is cleaned in passes)
//!   and the `.cleaned` copies, throttled by `log.cleaner.io.max.bytes.per.second`;
//! - `clean_swap`: under the lock again, each copy swapped in (crash-safe) if its
//!   segment is still as planned, and the cleaner checkpoint moved.
//!
//! Rules:
//! - The active segment, anything at or past the last stable offset or the recovery
//!   point (unflushed data), and segments with records newer than
//!   `min.compaction.lag.ms` are never compacted.
//! - Offsets never change: a rewritten batch keeps its base offset and last offset
//!   delta (and so its producer sequence range); records simply disappear from it.
//! - A record goes when a later record with its key is in the offset map.
//! - A tombstone (record with a key and no value) in the mapped part goes once it is
//!   older than `delete.retention.ms` (by its record timestamp).
//! - Records without a key are kept.
//! - Transactional records of aborted transactions (found through the `.txnindex`)
//!   are removed; those of committed transactions are compacted like any record.
//!   A transactional batch is only emptied (its header stays) while its
//!   transaction's marker is there, so replaying the headers gives the same
//!   producer state and the same `.txnindex` entries as before cleaning. The last
//!   batch of each producer is kept (empty if every record went), so producer state
//!   survives compaction.
//! - Transaction markers (`clean_txn`, Kafka's KIP-534): a marker whose
//!   transaction holds no record any more is stamped with a delete horizon
//!   (`now + delete.retention.ms`); a cleaning at or after it drops the marker, the
//!   emptied headers of its transaction and its `.txnindex` entry together (and the
//!   producer snapshots inside it), unless one of those batches is its producer's
//!   last data batch or the marker its producer's last marker in the cleanable part.
//!   So no transactional batch is ever left without its marker: replay after a
//!   restart finds no open transaction, and the last stable offset does not move.
//! - Tombstones are judged by their record timestamp, markers by their stamped
//!   horizon (a marker's removability starts when its data goes, not when written).
//!
//! [`Log::compact`] does all three steps at once (holding `&mut Log` throughout), for
//! callers without a cleaner thread and for tests.

use std::path::Path;

use crate::clean_run::{CleanOptions, CompactionOutcome};
use crate::clean_swap::with_suffix;
use crate::config::LogConfig;
use crate::error::{Result, StorageError};
use crate::io::Storage;
use crate::log::Log;
use crate::segment::{
    CLEANED_SUFFIX, INDEX_SUFFIX, LOG_SUFFIX, SWAP_SUFFIX, TIME_INDEX_SUFFIX, TXN_INDEX_SUFFIX,
    file_name, parse_file_name,
};

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> StorageError + '_ {
    move |e| StorageError::io(path, e)
}

/// Finishes swaps a crash interrupted: for every `<base>.log.swap`, removes the
/// original files of that segment and renames the swap files into place.
pub(crate) fn complete_interrupted_swaps(
    storage: &dyn Storage,
    dir: &Path,
    _config: &LogConfig,
    _now: i64,
) -> Result<()> {
    let names = match storage.list_dir(dir) {
        Ok(n) => n,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(StorageError::io(dir, e)),
    };
    for name in &names {
        let Some(stem) = name.strip_suffix(SWAP_SUFFIX) else {
            continue;
        };
        let Some(base) = parse_file_name(stem, LOG_SUFFIX) else {
            continue;
        };
        for suffix in [LOG_SUFFIX, INDEX_SUFFIX, TIME_INDEX_SUFFIX] {
            let target = dir.join(file_name(base, suffix));
            let swap = with_suffix(&target, SWAP_SUFFIX);
            if storage.exists(&target) {
                storage.remove(&target).map_err(io(&target))?;
            }
            if storage.exists(&swap) {
                if suffix == LOG_SUFFIX {
                    storage.rename(&swap, &target).map_err(io(&swap))?;
                } else {
                    // Indexes are rebuilt from the swapped-in log.
                    storage.remove(&swap).map_err(io(&swap))?;
                }
            }
        }
        // A copy's own `.txnindex` (entries of dropped transactions gone) is
        // complete once the `.log.swap` exists: install it, whether it was renamed
        // to `.swap` yet or not. Without one, the segment keeps its `.txnindex`.
        let target = dir.join(file_name(base, TXN_INDEX_SUFFIX));
        for suffix in [SWAP_SUFFIX, CLEANED_SUFFIX] {
            let from = with_suffix(&target, suffix);
            if storage.exists(&from) {
                if storage.exists(&target) {
                    storage.remove(&target).map_err(io(&target))?;
                }
                storage.rename(&from, &target).map_err(io(&from))?;
                break;
            }
        }
        storage.sync_dir(dir).map_err(io(dir))?;
    }
    Ok(())
}

impl Log {
    /// One cleaning of the log now, whatever its dirty ratio, with the default
    /// options (see the module docs). Does nothing unless `cleanup.policy` includes
    /// `compact`.
    pub fn compact(&mut self, now_ms: i64) -> Result<CompactionOutcome> {
        self.compact_with(now_ms, &CleanOptions::default())
    }

    /// [`Log::compact`] with the given options.
    pub fn compact_with(&mut self, now_ms: i64, opts: &CleanOptions) -> Result<CompactionOutcome> {
        self.ensure_online()?;
        let Some(plan) = self.plan_cleaning(now_ms)? else {
            return Ok(CompactionOutcome::default());
        };
        let outcome = plan.clean(opts, &mut |c| self.swap_cleaned(c))?;
        self.finish_cleaning(&outcome);
        let r = self.remove_due_files(now_ms);
        self.guard(r)?;
        Ok(outcome)
    }
}
