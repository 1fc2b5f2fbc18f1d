//! Retention: deleting the oldest segments by time (`retention.ms`), by size
//! (`retention.bytes`) and below the log start offset, and removing files whose
//! `file.delete.delay.ms` has passed. The broker calls [`Log::run_retention`] on its
//! schedule (`log.retention.check.interval.ms`). Compaction is not done here but by
//! the cleaner (see `compaction`); `compact,delete` logs get both.
//!
//! Only whole segments go, oldest first, and only segments wholly below the high
//! watermark. If the active segment itself is due, a new empty one is rolled first.

use crate::error::{Result, StorageError};
use crate::log::Log;
use crate::segment::LogSegment;

/// What one retention run did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RetentionOutcome {
    /// Segments deleted by time, size or log start offset.
    pub segments_deleted: usize,
    /// Bytes in those segments.
    pub bytes_deleted: u64,
}

impl Log {
    /// Applies the cleanup policy as of `now_ms`: for `delete`, time and size
    /// retention; in every case, segments below the log start offset and due
    /// delayed file deletions. (Compaction is the cleaner's: [`Log::compact`].)
    pub fn run_retention(&mut self, now_ms: i64) -> Result<RetentionOutcome> {
        self.ensure_online()?;
        let r = self.retention_inner(now_ms);
        self.bound_index_memory();
        self.guard(r)
    }

    fn retention_inner(&mut self, now_ms: i64) -> Result<RetentionOutcome> {
        let mut outcome = RetentionOutcome::default();
        self.remove_due_files(now_ms)?;
        let n = self.deletable_prefix(now_ms);
        if n > 0 {
            let bases: Vec<i64> = self.segments.keys().take(n).copied().collect();
            if n == self.segments.len() {
                let leo = self.log_end_offset();
                self.roll_at(leo)?;
            }
            for b in bases {
                if let Some(seg) = self.segments.remove(&b) {
                    outcome.segments_deleted += 1;
                    outcome.bytes_deleted += seg.size();
                    self.delete_segment_files(seg, now_ms)?;
                }
            }
            self.after_log_start_moved()?;
        }
        Ok(outcome)
    }

    /// Removes the `.deleted` files whose `file.delete.delay.ms` has passed.
    pub(crate) fn remove_due_files(&mut self, now_ms: i64) -> Result<()> {
        let due: Vec<_> = self
            .pending_deletes
            .iter()
            .filter(|p| p.due_ms <= now_ms)
            .cloned()
            .collect();
        self.pending_deletes.retain(|p| p.due_ms > now_ms);
        for p in due {
            match self.storage.remove(&p.path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(StorageError::io(&p.path, e)),
            }
        }
        Ok(())
    }

    /// How many of the oldest segments may go now.
    fn deletable_prefix(&self, now_ms: i64) -> usize {
        let segs: Vec<&LogSegment> = self.segments.values().collect();
        let leo = self.log_end_offset();
        let delete_policy = self.config.cleanup_policy.delete;
        let mut size_excess = if delete_policy && self.config.retention_bytes >= 0 {
            self.size_in_bytes() as i64 - self.config.retention_bytes
        } else {
            0
        };
        let mut n = 0;
        for (i, seg) in segs.iter().enumerate() {
            let upper = segs.get(i + 1).map_or(leo, |s| s.base_offset());
            let is_active = i + 1 == segs.len();
            if upper > self.high_watermark || (is_active && seg.size() == 0) {
                break;
            }
            let below_start = !is_active && upper <= self.log_start_offset;
            let newest = if seg.max_timestamp() >= 0 {
                seg.max_timestamp()
            } else {
                seg.created_ms()
            };
            let by_time = delete_policy
                && self.config.retention_ms >= 0
                && now_ms.saturating_sub(newest) > self.config.retention_ms;
            let by_size = size_excess > 0 && size_excess - seg.size() as i64 >= 0;
            if !(below_start || by_time || by_size) {
                break;
            }
            size_excess -= seg.size() as i64;
            n += 1;
        }
        n
    }
}
