//! Swapping a cleaned segment in, under the log's lock: the short end of a
//! cleaning. The copy is used only if the segment it was made from is still there
//! as planned (same size and end, no truncation since); otherwise it is discarded.
//!
//! The swap is atomic across crashes: `<base>.log.cleaned` (+ `.index.cleaned`,
//! `.timeindex.cleaned`, already fsynced) are renamed to `.swap`, the directory
//! fsynced, the originals renamed to `.deleted` and the `.swap` files renamed into
//! place; the `.deleted` files are removed after `file.delete.delay.ms` (by the
//! retention pass, or at the end of [`Log::compact`]). On open, a `.log.swap` means
//! the copy was complete: the swap is finished
//! (`compaction::complete_interrupted_swaps`); `.cleaned` and `.deleted` files are
//! removed. So a reopened log has either the old or the cleaned segment. Under the
//! lock a swap costs nine renames, one directory fsync and opening the new segment.
//!
//! A copy that drops transaction markers (`clean_txn`) also has its own
//! `.txnindex` when entries went with them; it is swapped like the other files
//! (renamed after the `.log`, so a `.log.swap` means it is complete too). Before
//! that, producer snapshots taken inside a dropped transaction are removed.

use std::path::{Path, PathBuf};

use crate::clean_run::{CleanedSegment, CompactionOutcome};
use crate::error::{Result, StorageError};
use crate::log::{Log, PendingDelete};
use crate::producer_state::ProducerStateManager;
use crate::segment::{
    CLEANED_SUFFIX, DELETED_SUFFIX, INDEX_SUFFIX, LOG_SUFFIX, LogSegment, SWAP_SUFFIX,
    TIME_INDEX_SUFFIX, TXN_INDEX_SUFFIX, file_name,
};

pub(crate) fn with_suffix(p: &Path, suffix: &str) -> PathBuf {
    let mut s = p.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> StorageError + '_ {
    move |e| StorageError::io(path, e)
}

impl Log {
    /// Whether the segment a copy was made from is still there as planned.
    fn still_as_planned(&self, c: &CleanedSegment) -> bool {
        let active = self.segments.keys().next_back().copied();
        !self.offline
            && !self.closed
            && c.truncations == self.truncations
            && Some(c.base) != active
            && self
                .segments
                .get(&c.base)
                .is_some_and(|s| s.size() == c.planned_size && s.next_offset() == c.planned_next)
    }

    /// Swaps a cleaned copy in for its segment (see the module docs); returns
    /// `false`, discarding the copy, when the log changed under the cleaning.
    pub fn swap_cleaned(&mut self, cleaned: CleanedSegment) -> Result<bool> {
        if !self.still_as_planned(&cleaned) {
            cleaned.discard()?;
            return Ok(false);
        }
        let r = self.swap_files(cleaned);
        self.guard(r).map(|()| true)
    }

    fn swap_files(&mut self, cleaned: CleanedSegment) -> Result<()> {
        let base = cleaned.base;
        drop(cleaned.segment);
        let st = self.storage.clone();
        let st = st.as_ref();
        let mut suffixes = vec![LOG_SUFFIX, INDEX_SUFFIX, TIME_INDEX_SUFFIX];
        if cleaned.replaces_txn_index {
            suffixes.push(TXN_INDEX_SUFFIX);
        }
        let finals: Vec<PathBuf> = suffixes
            .iter()
            .map(|s| self.dir.join(file_name(base, s)))
            .collect();
        // A producer snapshot taken inside a dropped transaction holds it open:
        // replaying from it would never meet its marker. Gone before the copy can
        // be installed (the directory fsync below makes the removals durable).
        for t in &cleaned.dropped_txns {
            ProducerStateManager::delete_snapshots(st, &self.dir, |o| {
                o > t.after && o <= t.marker
            })?;
        }
        // The `.log` first: its `.swap` is what marks the copy complete.
        for f in &finals {
            let from = with_suffix(f, CLEANED_SUFFIX);
            st.rename(&from, &with_suffix(f, SWAP_SUFFIX))
                .map_err(io(&from))?;
        }
        st.sync_dir(&self.dir).map_err(io(&self.dir))?;
        for f in &finals {
            if st.exists(f) {
                st.rename(f, &with_suffix(f, DELETED_SUFFIX))
                    .map_err(io(f))?;
            }
        }
        for f in finals.iter().rev() {
            let from = with_suffix(f, SWAP_SUFFIX);
            st.rename(&from, f).map_err(io(&from))?;
        }
        // No directory fsync here: until these renames are durable a crash leaves
        // the `.log.swap`, which the next open installs. The old files go after
        // `file.delete.delay.ms`, like those of deleted segments (readers may hold
        // them), and by then they are no longer needed for recovery.
        let now = self.clock.now_ms();
        let due_ms = now.saturating_add(self.config.file_delete_delay_ms);
        self.pending_deletes
            .extend(finals.iter().map(|f| PendingDelete {
                path: with_suffix(f, DELETED_SUFFIX),
                due_ms,
            }));
        let mut seg = LogSegment::open(&self.storage, &self.dir, base, &self.config, now)?;
        seg.load_trusted()?;
        self.segments.insert(base, seg);
        self.bound_index_memory();
        Ok(())
    }

    /// Ends a cleaning: moves the cleaner checkpoint to the mapped end, unless the
    /// log was truncated meanwhile, and notes when the oldest tombstone it kept or
    /// the earliest marker horizon it stamped or kept is due. Returns the checkpoint.
    pub fn finish_cleaning(&mut self, outcome: &CompactionOutcome) -> i64 {
        if outcome.truncations == self.truncations {
            self.cleaner_offset = self.cleaner_offset().max(outcome.map_end);
            let tombstone = outcome.oldest_kept_tombstone.map(|t| {
                t.saturating_add(self.config.delete_retention_ms)
                    .saturating_add(1)
            });
            self.tombstones_due_ms = match (tombstone, outcome.earliest_marker_horizon) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
        }
        self.cleaner_offset()
    }
}
