//! The cleaning work of a [`CleanPlan`], done without the log: map the latest
//! offset of each key over as much of the dirty section as the offset map holds,
//! then write a `.cleaned` copy of every planned segment below the mapped end and
//! hand each one (fsynced) to a swap callback, oldest first. The callback takes
//! the log's lock only to swap (see `clean_swap`).
//!
//! Segments are opened by name, one at a time (a cleaning holds one descriptor),
//! and read up to their planned size: once rolled, a segment is never written again
//! (truncation can cut or replace it, which the swap then notices), so no lock is
//! needed to read it. A segment gone since the plan (retention) is skipped.

use bytes::Bytes;
use vltava_records::batch_header::{BATCH_HEADER_LEN, parse_header};
use vltava_records::{BatchHeader, BatchView, DecodeLimits};

use crate::clean_batch::{CleanTally, RetainRule, in_aborted_txn};
use crate::clean_plan::{CleanPlan, PlannedSegment};
use crate::clean_throttle::SharedThrottle;
use crate::clean_txn::{DroppedTxn, TxnCleaning};
use crate::error::{Result, StorageError};
use crate::io::{StorageFile, read_full_at};
use crate::offset_map::OffsetMap;
use crate::segment::{CLEANED_SUFFIX, LOG_SUFFIX, LogSegment, file_name, offsets_in_range};
use std::path::PathBuf;
use std::sync::Arc;

/// Memory for the key → offset map of the whole cleaner (Kafka's
/// `log.cleaner.dedupe.buffer.size` default); each cleaner thread gets its share.
pub const DEDUPE_BUFFER_BYTES: usize = 128 * 1024 * 1024;

/// How a cleaning runs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CleanOptions {
    /// Budget of the offset map (bytes).
    pub dedupe_buffer_bytes: usize,
    /// Bytes read plus written per second (`f64::INFINITY`: no limit).
    pub io_bytes_per_second: f64,
}

impl Default for CleanOptions {
    fn default() -> Self {
        CleanOptions {
            dedupe_buffer_bytes: DEDUPE_BUFFER_BYTES,
            io_bytes_per_second: f64::INFINITY,
        }
    }
}

/// What one cleaning did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CompactionOutcome {
    /// Segments replaced by their cleaned copies.
    pub segments_cleaned: usize,
    /// Segments not swapped in because the log changed under the cleaning (the
    /// copy thrown away, or the segment gone before it was read).
    pub segments_discarded: usize,
    pub bytes_before: u64,
    pub bytes_after: u64,
    pub records_removed: u64,
    /// The end of the mapped dirty section: the new cleaner checkpoint.
    pub map_end: i64,
    /// Keys in the offset map.
    pub keys_mapped: usize,
    /// The oldest timestamp of a tombstone kept in the cleaned part.
    pub oldest_kept_tombstone: Option<i64>,
    /// Transaction markers stamped with a delete horizon (their transaction's
    /// records all gone).
    pub markers_stamped: u64,
    /// Transaction markers dropped (past their delete horizon), with the emptied
    /// data headers of their transactions.
    pub markers_removed: u64,
    /// The earliest delete horizon of a stamped marker kept, still in the future.
    pub earliest_marker_horizon: Option<i64>,
    pub(crate) truncations: u64,
}

/// A fsynced `.cleaned` copy of one segment, waiting to be swapped in.
#[derive(Debug)]
pub struct CleanedSegment {
    pub(crate) base: i64,
    pub(crate) planned_size: u64,
    pub(crate) planned_next: i64,
    pub(crate) truncations: u64,
    pub(crate) segment: LogSegment,
    /// The copy has its own `.txnindex` (entries of dropped transactions gone).
    pub(crate) replaces_txn_index: bool,
    /// Transactions whose markers the copy drops.
    pub(crate) dropped_txns: Vec<DroppedTxn>,
}

impl CleanedSegment {
    /// The base offset of the segment it replaces.
    pub fn base_offset(&self) -> i64 {
        self.base
    }
    /// Throws the copy away (removes its files).
    pub fn discard(self) -> Result<()> {
        self.segment.remove_files()
    }
}

/// A planned segment's `.log`, opened for one read through it.
pub(crate) struct SegmentReader {
    file: Arc<dyn StorageFile>,
    path: PathBuf,
    /// The size when planned: the end of the read.
    size: u64,
}

impl CleanPlan {
    /// Opens a planned segment's `.log` by its name; `None` when it is gone
    /// (retention or truncation removed it since the plan).
    pub(crate) fn open_segment(&self, seg: &PlannedSegment) -> Result<Option<SegmentReader>> {
        let path = self.dir.join(file_name(seg.base, LOG_SUFFIX));
        match self.storage.open(&path, false) {
            Ok(file) => Ok(Some(SegmentReader {
                file,
                path,
                size: seg.size,
            })),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(StorageError::io(&path, e)),
        }
    }
}

impl SegmentReader {
    /// The header of the batch at `pos`, or `None` at the planned end.
    pub(crate) fn header_at(&self, pos: u64) -> Result<Option<BatchHeader>> {
        if pos >= self.size {
            return Ok(None);
        }
        let path = &self.path;
        let file: &dyn StorageFile = self.file.as_ref();
        let mut head = [0u8; BATCH_HEADER_LEN];
        let n = read_full_at(file, &mut head, pos).map_err(|e| StorageError::io(path, e))?;
        let h = parse_header(&head[..n])
            .map_err(|e| StorageError::corrupt(path, format!("cleaner: batch at {pos}: {e}")))?;
        let total = h.total_size() as u64;
        if !offsets_in_range(&h) || total < BATCH_HEADER_LEN as u64 || pos + total > self.size {
            return Err(StorageError::corrupt(
                path,
                format!("cleaner: batch at {pos} does not fit the segment"),
            ));
        }
        Ok(Some(h))
    }

    /// The batch at `pos`: its header and bytes, or `None` at the planned end.
    fn batch_at(&self, pos: u64) -> Result<Option<(BatchHeader, Bytes)>> {
        let Some(h) = self.header_at(pos)? else {
            return Ok(None);
        };
        let path = &self.path;
        let file: &dyn StorageFile = self.file.as_ref();
        let total = h.total_size() as u64;
        let len = usize::try_from(total)
            .map_err(|_| StorageError::corrupt(path, "cleaner: batch too large"))?;
        let mut buf = vec![0u8; len];
        let n = read_full_at(file, &mut buf, pos).map_err(|e| StorageError::io(path, e))?;
        if n != len {
            return Err(StorageError::corrupt(
                path,
                format!("cleaner: segment cut under batch at {pos}"),
            ));
        }
        Ok(Some((h, Bytes::from(buf))))
    }
}

fn account(throttle: &SharedThrottle, bytes: u64) {
    throttle.account(bytes);
}

/// Takes the entries of the dropped aborted transactions out of the copy's
/// `.txnindex`; whether it had any (the copy's index then replaces the segment's).
fn drop_from_txn_index(
    cleaned: &mut LogSegment,
    seg: &PlannedSegment,
    dropped_txns: &[DroppedTxn],
) -> Result<bool> {
    let gone = |e: &crate::txn_index::AbortedTxn| {
        dropped_txns
            .iter()
            .any(|t| t.producer_id == e.producer_id && t.marker == e.last_offset)
    };
    if !seg.own_aborted.iter().any(gone) {
        return Ok(false);
    }
    cleaned.reset_txn_index()?;
    for e in seg.own_aborted.iter().filter(|e| !gone(e)) {
        cleaned.append_aborted_txn(*e)?;
    }
    Ok(true)
}

/// Keeps the earlier of `kept` and `seen`.
fn keep_earliest(kept: &mut Option<i64>, seen: Option<i64>) {
    if let Some(t) = seen {
        *kept = Some(kept.map_or(t, |o| o.min(t)));
    }
}

impl CleanPlan {
    /// Fills `map` from the dirty section; returns the offset it mapped up to.
    fn build_map(&self, map: &mut OffsetMap, throttle: &SharedThrottle) -> Result<i64> {
        let limits = DecodeLimits::default();
        let mut map_end = self.first_dirty;
        for seg in self
            .segments
            .iter()
            .filter(|s| s.next_offset > self.first_dirty)
        {
            // A segment gone since the plan holds nothing to map (and the swap
            // discards whatever a truncation made stale).
            let Some(reader) = self.open_segment(seg)? else {
                continue;
            };
            let mut pos = 0;
            while let Some((h, bytes)) = reader.batch_at(pos)? {
                pos += bytes.len() as u64;
                account(throttle, bytes.len() as u64);
                if h.last_offset() < self.first_dirty {
                    continue;
                }
                if !h.attributes.is_control() && !in_aborted_txn(&h, &seg.aborted) {
                    let view = BatchView::new(&bytes)?;
                    let records = view.records(&limits)?;
                    let keys = records.iter().filter_map(|r| r.key.as_deref());
                    // At least one batch is mapped, so every pass moves on.
                    if !map.is_empty() && !map.fits(keys) {
                        return Ok(map_end);
                    }
                    for r in &records {
                        if let Some(k) = &r.key {
                            map.put(k, r.offset(&h));
                        }
                    }
                }
                map_end = h.last_offset() + 1;
            }
            map_end = map_end.max(seg.next_offset);
        }
        Ok(map_end)
    }

    /// Writes the `.cleaned` copy of one segment; `None` when nothing would go.
    fn clean_segment(
        &self,
        seg: &PlannedSegment,
        rule: &RetainRule<'_>,
        txns: &mut TxnCleaning,
        throttle: &SharedThrottle,
        outcome: &mut CompactionOutcome,
    ) -> Result<Option<CleanedSegment>> {
        let Some(reader) = self.open_segment(seg)? else {
            // Gone since the plan: nothing to swap in for it.
            outcome.segments_discarded += 1;
            return Ok(None);
        };
        let mut cleaned = LogSegment::create_with_suffix(
            &self.storage,
            &self.dir,
            seg.base,
            &self.config,
            self.now_ms,
            CLEANED_SUFFIX,
        )?;
        let mut tally = CleanTally::default();
        let mut dropped_txns = Vec::new();
        let mut replaces_txn_index = false;
        let mut pos = 0;
        let r = (|| {
            while let Some((h, bytes)) = reader.batch_at(pos)? {
                pos += bytes.len() as u64;
                account(throttle, bytes.len() as u64);
                let kept = txns.clean(&bytes, &h, rule, &seg.aborted, &mut tally)?;
                if let Some(kept) = kept {
                    let kh = parse_header(&kept)?;
                    cleaned.append(&kept, &[(0, kh)])?;
                    account(throttle, kept.len() as u64);
                } else if let Some(t) = txns.drops.markers.get(&h.base_offset) {
                    dropped_txns.push(*t);
                }
            }
            replaces_txn_index = drop_from_txn_index(&mut cleaned, seg, &dropped_txns)?;
            cleaned.on_become_inactive()?;
            cleaned.flush()
        })();
        if let Err(e) = r {
            let _ = cleaned.remove_files();
            return Err(e);
        }
        keep_earliest(
            &mut outcome.oldest_kept_tombstone,
            tally.oldest_kept_tombstone,
        );
        keep_earliest(&mut outcome.earliest_marker_horizon, tally.marker_horizon);
        let removed = tally.removed;
        if removed == 0 && !tally.changed {
            cleaned.remove_files()?;
            return Ok(None);
        }
        outcome.bytes_before += seg.size;
        outcome.bytes_after += cleaned.size();
        outcome.records_removed += removed;
        outcome.markers_stamped += tally.markers_stamped;
        outcome.markers_removed += tally.markers_removed;
        Ok(Some(CleanedSegment {
            base: seg.base,
            planned_size: seg.size,
            planned_next: seg.next_offset,
            truncations: self.truncations,
            segment: cleaned,
            replaces_txn_index,
            dropped_txns,
        }))
    }

    /// Cleans the planned segments (see the module docs), handing each cleaned
    /// copy to `swap`, which answers whether it was swapped in (`false`: the log
    /// changed and the copy was discarded). Finish with [`crate::Log::finish_cleaning`].
    pub fn clean(
        self,
        opts: &CleanOptions,
        swap: &mut dyn FnMut(CleanedSegment) -> Result<bool>,
    ) -> Result<CompactionOutcome> {
        let throttle = SharedThrottle::new(opts.io_bytes_per_second);
        self.clean_sharing(opts, &throttle, swap)
    }

    /// [`CleanPlan::clean`] under `throttle`, shared with other cleanings (the
    /// `io_bytes_per_second` of `opts` is not used: the throttle's rate is).
    pub fn clean_sharing(
        self,
        opts: &CleanOptions,
        throttle: &SharedThrottle,
        swap: &mut dyn FnMut(CleanedSegment) -> Result<bool>,
    ) -> Result<CompactionOutcome> {
        let mut map = OffsetMap::new(opts.dedupe_buffer_bytes);
        let map_end = self.build_map(&mut map, throttle)?;
        let mut outcome = CompactionOutcome {
            map_end,
            keys_mapped: map.len(),
            truncations: self.truncations,
            ..CompactionOutcome::default()
        };
        let rule = RetainRule {
            map: &map,
            map_end,
            now_ms: self.now_ms,
            delete_retention_ms: self.config.delete_retention_ms,
            producer_last: &self.producer_last,
        };
        let drops = self.scan_txn_drops(map_end, throttle)?;
        let mut txns = TxnCleaning::new(drops, self.now_ms, self.config.delete_retention_ms);
        for seg in self.segments.iter().filter(|s| s.base < map_end) {
            let Some(cleaned) =
                self.clean_segment(seg, &rule, &mut txns, throttle, &mut outcome)?
            else {
                continue;
            };
            if swap(cleaned)? {
                outcome.segments_cleaned += 1;
            } else {
                outcome.segments_discarded += 1;
            }
        }
        Ok(outcome)
    }
}
