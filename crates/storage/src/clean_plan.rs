//! The cleaner's view of a log, taken under the log's lock: how dirty it is
//! ([`DirtyStats`], for choosing which log to clean) and what to clean
//! ([`CleanPlan`]: the cleanable segments, their sizes and aborted transactions,
//! so the cleaning itself reads them without the lock).
//!
//! The cleanable part of a log runs from the log start to the first uncleanable
//! offset: the active segment, the last stable offset, the recovery point
//! (unflushed data) and the first segment with records newer than
//! `min.compaction.lag.ms` all bound it, by whole segments. Within it, the segments
//! below the cleaner checkpoint (`cleaner-offset-checkpoint`) are clean, those from
//! the one holding it on are dirty.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use crate::config::LogConfig;
use crate::error::Result;
use crate::io::Storage;
use crate::log::Log;
use crate::txn_index::AbortedTxn;

/// How dirty a compacted log is, as the cleaner sees it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DirtyStats {
    /// Where the dirty section starts (the cleaner checkpoint, within the log).
    pub first_dirty: i64,
    /// Where the cleanable part ends.
    pub first_uncleanable: i64,
    /// Bytes of cleanable segments below the dirty section.
    pub clean_bytes: u64,
    /// Bytes of cleanable segments in the dirty section.
    pub dirty_bytes: u64,
    /// A dirty record is older than `max.compaction.lag.ms`.
    pub max_lag_exceeded: bool,
    /// A tombstone kept by the last cleaning is now older than
    /// `delete.retention.ms`, or a transaction marker it stamped is past its delete
    /// horizon: cleaning again removes it.
    pub tombstones_due: bool,
}

impl DirtyStats {
    /// Dirty bytes over all cleanable bytes (0 when nothing is cleanable).
    pub fn ratio(&self) -> f64 {
        let total = self.clean_bytes + self.dirty_bytes;
        if total == 0 {
            0.0
        } else {
            self.dirty_bytes as f64 / total as f64
        }
    }

    /// Whether the cleaner should take the log now: something dirty, and the ratio
    /// reaches `min_ratio` or the maximum lag forces it; or tombstones are due.
    pub fn needs_cleaning(&self, min_ratio: f64) -> bool {
        (self.dirty_bytes > 0 && (self.ratio() >= min_ratio || self.max_lag_exceeded))
            || self.tombstones_due
    }
}

/// One segment to clean, as it was when planned.
#[derive(Debug)]
pub(crate) struct PlannedSegment {
    pub base: i64,
    pub next_offset: i64,
    pub size: u64,
    /// Aborted transactions overlapping the segment (read_committed's view).
    pub aborted: Vec<AbortedTxn>,
    /// The segment's own `.txnindex` entries (those whose marker it holds).
    pub own_aborted: Vec<AbortedTxn>,
}

/// The work of one cleaning, independent of the log: run it with
/// [`CleanPlan::clean`] without holding the log's lock.
#[derive(Debug)]
pub struct CleanPlan {
    pub(crate) storage: Arc<dyn Storage>,
    pub(crate) dir: PathBuf,
    pub(crate) config: LogConfig,
    pub(crate) segments: Vec<PlannedSegment>,
    pub(crate) first_dirty: i64,
    pub(crate) producer_last: HashMap<i64, i64>,
    pub(crate) truncations: u64,
    pub(crate) now_ms: i64,
}

impl CleanPlan {
    /// The segments' base offsets, ascending.
    pub fn segment_bases(&self) -> Vec<i64> {
        self.segments.iter().map(|s| s.base).collect()
    }
    /// Where the dirty section starts.
    pub fn first_dirty(&self) -> i64 {
        self.first_dirty
    }
}

impl Log {
    /// Where the cleaner's dirty section starts: the checkpoint, unless it is
    /// outside the log (then the log start).
    pub fn cleaner_offset(&self) -> i64 {
        let leo = self.log_end_offset();
        if self.cleaner_offset < self.log_start_offset || self.cleaner_offset > leo {
            self.log_start_offset
        } else {
            self.cleaner_offset
        }
    }

    /// Sets the cleaner checkpoint (from `cleaner-offset-checkpoint` at start).
    pub fn set_cleaner_offset(&mut self, offset: i64) {
        self.cleaner_offset = offset;
    }

    /// Base offsets of the cleanable segments, ascending (see the module docs).
    fn cleanable_bases(&self, now_ms: i64) -> Vec<i64> {
        let active = self.segments.keys().next_back().copied();
        let upper = self.last_stable_offset();
        let lag_limit = now_ms.saturating_sub(self.config.min_compaction_lag_ms);
        let mut out = Vec::new();
        for (base, seg) in &self.segments {
            if Some(*base) == active
                || seg.next_offset() > upper
                || seg.next_offset() > self.recovery_point
                || (self.config.min_compaction_lag_ms > 0 && seg.max_timestamp() > lag_limit)
            {
                break;
            }
            out.push(*base);
        }
        out
    }

    /// How dirty the log is now; `None` unless its policy includes `compact`.
    pub fn dirty_stats(&self, now_ms: i64) -> Option<DirtyStats> {
        if !self.config.cleanup_policy.compact || self.offline || self.closed {
            return None;
        }
        let first_dirty = self.cleaner_offset();
        let bases = self.cleanable_bases(now_ms);
        let mut stats = DirtyStats {
            first_dirty,
            first_uncleanable: first_dirty,
            clean_bytes: 0,
            dirty_bytes: 0,
            max_lag_exceeded: false,
            tombstones_due: self.tombstones_due_ms.is_some_and(|t| t <= now_ms),
        };
        let mut first_dirty_seen = false;
        for base in bases {
            let Some(seg) = self.segments.get(&base) else {
                continue;
            };
            stats.first_uncleanable = seg.next_offset();
            if seg.next_offset() <= first_dirty {
                stats.clean_bytes += seg.size();
                continue;
            }
            stats.dirty_bytes += seg.size();
            if !first_dirty_seen && seg.size() > 0 {
                first_dirty_seen = true;
                let first_ts = match seg.header_at(0) {
                    Ok(Some(h)) if h.max_timestamp >= 0 => h.max_timestamp,
                    _ => seg.max_timestamp(),
                };
                stats.max_lag_exceeded = self.config.max_compaction_lag_ms < i64::MAX
                    && first_ts >= 0
                    && now_ms.saturating_sub(first_ts) > self.config.max_compaction_lag_ms;
            }
        }
        Some(stats)
    }

    /// What cleaning the log now would do: every cleanable segment as it is now. `None` when nothing is cleanable (or the policy does not
    /// include `compact`). With nothing dirty, the cleaning only drops tombstones
    /// that have become due.
    pub fn plan_cleaning(&self, now_ms: i64) -> Result<Option<CleanPlan>> {
        self.ensure_online()?;
        let Some(stats) = self.dirty_stats(now_ms) else {
            return Ok(None);
        };
        if stats.dirty_bytes + stats.clean_bytes == 0 {
            return Ok(None);
        }
        let mut segments = Vec::new();
        for base in self.cleanable_bases(now_ms) {
            let Some(seg) = self.segments.get(&base) else {
                continue;
            };
            segments.push(PlannedSegment {
                base,
                next_offset: seg.next_offset(),
                size: seg.size(),
                aborted: self.aborted_transactions(base, seg.next_offset())?,
                own_aborted: seg.aborted_txns().to_vec(),
            });
        }
        let producer_last = self
            .producers
            .producers()
            .filter_map(|(id, e)| e.batches.back().map(|b| (id, b.last_offset)))
            .collect();
        Ok(Some(CleanPlan {
            storage: self.storage.clone(),
            dir: self.dir.clone(),
            config: self.config.clone(),
            segments,
            first_dirty: stats.first_dirty,
            producer_last,
            truncations: self.truncations,
            now_ms,
        }))
    }
}
