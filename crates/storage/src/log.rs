//! `Log`: one partition's directory of segments, with Kafka's append, read,
//! offset-for-timestamp, roll, truncate, DeleteRecords and flush semantics.
//!
//! Opening and crash recovery live in `recovery.rs`, retention in `retention.rs`,
//! compaction in `compaction.rs`; they all extend this type.

use std::collections::{BTreeMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use vltava_records::batch_header::BATCH_HEADER_LEN;
use vltava_records::{BatchHeader, BatchIter, CheckedBatches, TimestampType};

use crate::clock::Clock;
use crate::config::LogConfig;
use crate::error::{Result, StorageError};
use crate::io::Storage;
use crate::leader_epoch::LeaderEpochCache;
use crate::producer_state::ProducerStateManager;
use crate::segment::LogSegment;
use crate::slice::FileSlice;

/// The headers a leader's append patched and wrote, as (position of the batch in
/// the appended bytes, header bytes).
type PatchedHeaders = Vec<(usize, [u8; BATCH_HEADER_LEN])>;

/// What the caller knows about a log from its per-directory checkpoints.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LogOpenOptions {
    /// From `recovery-point-offset-checkpoint`: everything below is durable, so
    /// recovery checks only the segments from the one holding this offset on.
    pub recovery_point: i64,
    /// From `log-start-offset-checkpoint` (DeleteRecords may have moved it inside
    /// the first segment).
    pub log_start_offset: i64,
    /// From the replication checkpoint; `None` sets it to the log end offset.
    pub high_watermark: Option<i64>,
}

/// Which offset bounds a read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FetchIsolation {
    /// Everything in the log (followers).
    LogEnd,
    /// Up to the high watermark (consumers, read_uncommitted).
    HighWatermark,
    /// Up to the last stable offset (consumers, read_committed).
    Committed,
}

/// The outcome of an append.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AppendInfo {
    /// Offset of the first record appended (or of the original, for a duplicate).
    pub first_offset: i64,
    /// Offset of the last record.
    pub last_offset: i64,
    /// Largest timestamp among the batches.
    pub max_timestamp: i64,
    /// Offset of the batch with the largest timestamp (its last offset).
    pub offset_of_max_timestamp: i64,
    /// The broker time stamped on the batches, or -1 under CreateTime.
    pub log_append_time: i64,
    /// Records appended.
    pub record_count: i64,
    /// True when the batch was a producer retry already in the log: nothing was
    /// written and the offsets are those of the original.
    pub duplicate: bool,
}

/// The outcome of a read.
#[derive(Debug, Clone)]
pub struct ReadInfo {
    /// Whole batches to send (empty when there is nothing to read).
    pub slice: Option<FileSlice>,
    pub high_watermark: i64,
    pub last_stable_offset: i64,
    pub log_start_offset: i64,
    pub log_end_offset: i64,
}

/// The answer to a ListOffsets query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimestampOffset {
    /// The timestamp found (-1 for the earliest/latest special queries).
    pub timestamp: i64,
    pub offset: i64,
    /// The leader epoch that wrote `offset`, if known.
    pub leader_epoch: Option<i32>,
}

/// ListOffsets special timestamp: the log end offset.
pub const LATEST_TIMESTAMP: i64 = -1;
/// ListOffsets special timestamp: the log start offset.
pub const EARLIEST_TIMESTAMP: i64 = -2;
/// ListOffsets special timestamp: the record with the largest timestamp.
pub const MAX_TIMESTAMP: i64 = -3;

/// Fsyncs that make a log durable up to an offset, runnable without the log.
#[derive(Debug)]
pub struct FlushJob {
    up_to: i64,
    /// Files to fsync: a handle, or a path to open (index files, which no one
    /// holds open).
    files: Vec<crate::segment::SyncTarget>,
    dir: PathBuf,
    storage: Arc<dyn Storage>,
}

impl FlushJob {
    /// Everything below this offset is durable once the job succeeds.
    pub fn up_to(&self) -> i64 {
        self.up_to
    }

    /// Fsyncs the files and the directory.
    /// A file named by path that is gone (its segment was deleted meanwhile)
    /// needs no fsync.
    pub fn run(&self) -> Result<()> {
        for (path, f) in &self.files {
            let file = match f {
                Some(f) => f.clone(),
                None => match self.storage.open(path, false) {
                    Ok(f) => f,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                    Err(e) => return Err(StorageError::io(path, e)),
                },
            };
            file.sync().map_err(|e| StorageError::io(path, e))?;
        }
        self.storage
            .sync_dir(&self.dir)
            .map_err(|e| StorageError::io(&self.dir, e))
    }
}

/// A file queued for deletion once `file.delete.delay.ms` has passed.
#[derive(Debug, Clone)]
pub(crate) struct PendingDelete {
    pub path: PathBuf,
    pub due_ms: i64,
}

/// One partition's log. Writes take `&mut self`, reads `&self`: wrap it in a lock to
/// share it.
#[derive(Debug)]
pub struct Log {
    pub(crate) storage: Arc<dyn Storage>,
    pub(crate) dir: PathBuf,
    pub(crate) config: LogConfig,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) segments: BTreeMap<i64, LogSegment>,
    pub(crate) log_start_offset: i64,
    pub(crate) high_watermark: i64,
    pub(crate) recovery_point: i64,
    pub(crate) producers: ProducerStateManager,
    /// Ended transactions whose marker is not yet below the high watermark, as
    /// (first offset, marker offset) in marker order: until it is, they still hold
    /// the last stable offset back (as in Kafka).
    pub(crate) unreplicated_txns: VecDeque<(i64, i64)>,
    pub(crate) leader_epochs: LeaderEpochCache,
    pub(crate) unflushed_messages: i64,
    pub(crate) last_flush_ms: i64,
    pub(crate) offline: bool,
    /// Closed by [`Log::close_in_place`]: writes are refused.
    pub(crate) closed: bool,
    pub(crate) pending_deletes: Vec<PendingDelete>,
    /// Where the cleaner's dirty section starts (`cleaner-offset-checkpoint`);
    /// lowered by truncation.
    pub(crate) cleaner_offset: i64,
    /// Truncations so far: a cleaning planned before one is not swapped in.
    pub(crate) truncations: u64,
    /// When the oldest tombstone the last cleaning kept passes
    /// `delete.retention.ms` (the cleaner then cleans again).
    pub(crate) tombstones_due_ms: Option<i64>,
}

impl Log {
    /// The partition directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
    /// The configuration in force.
    pub fn config(&self) -> &LogConfig {
        &self.config
    }
    /// Replaces the configuration (takes effect from the next append/roll/retention).
    pub fn set_config(&mut self, config: LogConfig) {
        self.config = config;
    }
    /// The first offset a consumer can read.
    pub fn log_start_offset(&self) -> i64 {
        self.log_start_offset
    }
    /// The offset the next appended record gets.
    pub fn log_end_offset(&self) -> i64 {
        self.active()
            .map_or(self.log_start_offset, LogSegment::next_offset)
    }
    /// The high watermark (set by the caller).
    pub fn high_watermark(&self) -> i64 {
        self.high_watermark
    }
    /// Sets the high watermark, clamped to `[log start, log end]`.
    pub fn set_high_watermark(&mut self, hw: i64) {
        self.high_watermark = hw.min(self.log_end_offset()).max(self.log_start_offset);
        self.prune_unreplicated_txns();
    }
    /// The last stable offset: the high watermark, or the first offset of the
    /// oldest transaction that is open or whose marker is not yet below the high
    /// watermark, if that is lower (never below the log start offset).
    pub fn last_stable_offset(&self) -> i64 {
        let hw = self.high_watermark;
        let unreplicated = self
            .unreplicated_txns
            .iter()
            .filter(|(_, marker)| *marker >= hw)
            .map(|(first, _)| *first)
            .min();
        let unstable = match (self.producers.first_unstable_offset(), unreplicated) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        match unstable {
            Some(o) => o.min(hw).max(self.log_start_offset),
            None => hw,
        }
    }

    pub(crate) fn prune_unreplicated_txns(&mut self) {
        let hw = self.high_watermark;
        while self
            .unreplicated_txns
            .front()
            .is_some_and(|(_, marker)| *marker < hw)
        {
            self.unreplicated_txns.pop_front();
        }
    }
    /// Everything below this offset has been fsynced.
    pub fn recovery_point(&self) -> i64 {
        self.recovery_point
    }
    /// Whether the log refuses writes after a failed fsync or write.
    pub fn is_offline(&self) -> bool {
        self.offline
    }
    /// Total bytes in all segments.
    pub fn size_in_bytes(&self) -> u64 {
        self.segments.values().map(LogSegment::size).sum()
    }
    /// Base offsets of the segments, ascending.
    pub fn segment_base_offsets(&self) -> Vec<i64> {
        self.segments.keys().copied().collect()
    }
    /// The segments, ascending (for inspection).
    pub fn segments(&self) -> impl Iterator<Item = &LogSegment> {
        self.segments.values()
    }
    /// The log's `topic-partition` name (its directory's), as Kafka names a partition in
    /// its messages.
    pub fn partition_name(&self) -> String {
        self.dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    }
    /// Producer state (for the broker's idempotence and transaction checks).
    pub fn producer_state(&self) -> &ProducerStateManager {
        &self.producers
    }
    /// The leader epoch cache.
    pub fn leader_epoch_cache(&self) -> &LeaderEpochCache {
        &self.leader_epochs
    }
    /// Records that leader epoch `epoch` starts at `start_offset` (a new leader does this
    /// at its log end when it takes over, before any record of the epoch is written).
    /// Ignored unless `epoch` is newer than the latest recorded one.
    pub fn assign_leader_epoch(&mut self, epoch: i32, start_offset: i64) -> Result<()> {
        self.ensure_online()?;
        let r = self.leader_epochs.assign(epoch, start_offset);
        self.guard(r)
    }
    /// OffsetForLeaderEpoch: (largest epoch ≤ `epoch`, the offset where it ended).
    pub fn end_offset_for_epoch(&self, epoch: i32) -> (i32, i64) {
        self.leader_epochs
            .end_offset_for(epoch, self.log_end_offset())
    }

    pub(crate) fn active(&self) -> Option<&LogSegment> {
        self.segments.values().next_back()
    }

    pub(crate) fn ensure_online(&self) -> Result<()> {
        if self.offline {
            Err(StorageError::LogOffline(self.dir.clone()))
        } else if self.closed {
            Err(StorageError::LogClosed(self.dir.clone()))
        } else {
            Ok(())
        }
    }

    /// Runs a write-path step; an IO failure takes the log offline.
    pub(crate) fn guard<T>(&mut self, r: Result<T>) -> Result<T> {
        if let Err(StorageError::Io { .. }) = &r {
            self.offline = true;
        }
        r
    }

    /// Validates and parses the batches in `bytes`: whole v2 batches with good
    /// CRCs (unless `crc_checked`: checked where they came in), each within
    /// `max.message.bytes`.
    fn parse_batches(&self, bytes: &[u8], crc_checked: bool) -> Result<Vec<(usize, BatchHeader)>> {
        if bytes.is_empty() {
            return Err(StorageError::InvalidRecord("no batches to append".into()));
        }
        let mut out = Vec::new();
        let mut pos = 0;
        for view in BatchIter::new(bytes) {
            let view = view?;
            let size = view.bytes().len();
            if size > self.config.max_message_bytes {
                return Err(StorageError::BatchTooLarge {
                    size,
                    max: self.config.max_message_bytes,
                });
            }
            if !crc_checked {
                view.validate_crc()?;
            }
            let h = *view.header();
            if !crate::segment::offsets_in_range(&h) || h.record_count < 0 {
                return Err(StorageError::InvalidRecord(format!(
                    "negative last offset delta {} or record count {}",
                    h.last_offset_delta, h.record_count
                )));
            }
            out.push((pos, h));
            pos += size;
        }
        Ok(out)
    }

    /// Appends batches from a producer: checks them, assigns offsets from the log
    /// end (patching each base offset in place), stamps `leader_epoch` and, under
    /// `LogAppendTime`, broker time. A retried idempotent batch is answered with its
    /// original offsets and not written again. Control batches are refused (as
    /// Kafka refuses them from clients): markers go through
    /// [`Log::append_control_marker`].
    pub fn append_as_leader(
        &mut self,
        batches: &mut [u8],
        leader_epoch: i32,
    ) -> Result<AppendInfo> {
        let (info, headers) = self.append_leader_batches(batches, leader_epoch, false, false)?;
        for (pos, head) in headers {
            if let Some(b) = batches.get_mut(pos..pos + BATCH_HEADER_LEN) {
                b.copy_from_slice(&head);
            }
        }
        Ok(info)
    }

    /// [`Log::append_as_leader`] for batches held in a shared buffer (a produce
    /// request's) whose CRCs were checked where they came in: they are not checked
    /// again, and the buffer is left as it is. Each batch's patched header is
    /// written with its records in one vectored write, so the records' only copy is
    /// the write into the page cache.
    pub fn append_checked_as_leader(
        &mut self,
        batches: CheckedBatches<'_>,
        leader_epoch: i32,
    ) -> Result<AppendInfo> {
        self.append_leader_batches(batches.bytes(), leader_epoch, false, true)
            .map(|(info, _)| info)
    }

    /// The leader's append; returns the patched header of every batch written
    /// (none for a duplicate), as (position in `batches`, header bytes).
    pub(crate) fn append_leader_batches(
        &mut self,
        batches: &[u8],
        leader_epoch: i32,
        allow_control: bool,
        crc_checked: bool,
    ) -> Result<(AppendInfo, PatchedHeaders)> {
        self.ensure_online()?;
        let parsed = self.parse_batches(batches, crc_checked)?;
        // Only a producer's batches: a follower copies what its leader accepted.
        if !allow_control {
            // The directory's name, borrowed (not `partition_name`: no allocation per append).
            let name = self
                .dir
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default();
            let rules =
                crate::record_rules::RecordRules::of(&self.config, name, self.clock.now_ms());
            for view in BatchIter::new(batches) {
                crate::record_rules::check_batch(&view?, &rules)?;
            }
        }
        crate::leader_append::check_counts(&parsed, allow_control)?;
        // The offsets each batch will get.
        let planned =
            crate::leader_append::plan_offsets(&parsed, self.log_end_offset(), leader_epoch)?;
        // Producer checks, batch by batch against a scratch copy.
        let mut scratch = self
            .producers
            .scoped(planned.iter().map(|(_, h)| h.producer_id));
        for (_, h) in &planned {
            if let Some(dup) = scratch.check(h)? {
                let info = AppendInfo {
                    first_offset: dup.first_offset(),
                    last_offset: dup.last_offset,
                    max_timestamp: dup.timestamp,
                    offset_of_max_timestamp: dup.last_offset,
                    log_append_time: -1,
                    record_count: i64::from(dup.offset_delta) + 1,
                    duplicate: true,
                };
                return Ok((info, Vec::new()));
            }
            scratch.update(h);
        }
        let now = self.clock.now_ms();
        let log_append = self.config.message_timestamp_type == TimestampType::LogAppendTime;
        // Each batch's header, patched apart from the (shared) bytes: the records
        // are written from where they are.
        let (headers, patched) = crate::leader_append::patch_headers(
            batches,
            &planned,
            leader_epoch,
            log_append.then_some(now),
        )?;
        let info = self.write_batches(batches, &headers, Some(&patched), now)?;
        let info = AppendInfo {
            log_append_time: if log_append { now } else { -1 },
            ..info
        };
        if let Some((_, h)) = headers.first() {
            let r = self.leader_epochs.assign(leader_epoch, h.base_offset);
            self.guard(r)?;
        }
        let written = headers.iter().map(|(pos, _)| *pos).zip(patched).collect();
        Ok((info, written))
    }

    /// Appends batches replicated from a leader, keeping their offsets, which must
    /// start at or after the log end and increase.
    pub fn append_as_follower(&mut self, batches: &[u8]) -> Result<AppendInfo> {
        self.ensure_online()?;
        let parsed = self.parse_batches(batches, false)?;
        let mut expected = self.log_end_offset();
        for (_, h) in &parsed {
            if h.base_offset < expected {
                return Err(StorageError::OffsetsOutOfOrder {
                    base: h.base_offset,
                    log_end: expected,
                });
            }
            expected = h.next_offset();
        }
        let now = self.clock.now_ms();
        let info = self.write_batches(batches, &parsed, None, now)?;
        for (_, h) in &parsed {
            let r = self
                .leader_epochs
                .assign(h.partition_leader_epoch, h.base_offset);
            self.guard(r)?;
        }
        Ok(info)
    }

    /// Writes `bytes` (the batches `headers` describe) to the active segment;
    /// `patched`, when given, holds each batch's header to write instead of the
    /// one in `bytes`.
    fn write_batches(
        &mut self,
        bytes: &[u8],
        headers: &[(usize, BatchHeader)],
        patched: Option<&[[u8; BATCH_HEADER_LEN]]>,
        now: i64,
    ) -> Result<AppendInfo> {
        let (Some((_, first)), Some((_, last))) = (headers.first(), headers.last()) else {
            return Err(StorageError::InvalidRecord("no batches to append".into()));
        };
        let (first, last) = (*first, *last);
        let mut max_ts = -1;
        let mut offset_of_max = first.last_offset();
        let mut records = 0i64;
        for (_, h) in headers {
            if h.max_timestamp > max_ts {
                max_ts = h.max_timestamp;
                offset_of_max = h.last_offset();
            }
            records += i64::from(h.record_count);
        }
        let r = self.maybe_roll(
            bytes.len() as u64,
            max_ts,
            first.base_offset,
            last.last_offset(),
            now,
        );
        self.guard(r)?;
        let r = match self.segments.values_mut().next_back() {
            Some(seg) => match patched {
                Some(p) => seg.append_patched(bytes, headers, p),
                None => seg.append(bytes, headers),
            },
            None => Err(StorageError::InvalidRecord("log has no segment".into())),
        };
        self.guard(r)?;
        self.apply_appended(bytes, headers)?;
        self.unflushed_messages += records;
        if self.unflushed_messages >= self.config.flush_messages
            || now.saturating_sub(self.last_flush_ms) >= self.config.flush_ms
        {
            self.flush()?;
        }
        Ok(AppendInfo {
            first_offset: first.base_offset,
            last_offset: last.last_offset(),
            max_timestamp: max_ts,
            offset_of_max_timestamp: offset_of_max,
            log_append_time: -1,
            record_count: records,
            duplicate: false,
        })
    }

    fn maybe_roll(
        &mut self,
        bytes: u64,
        max_ts: i64,
        first_offset: i64,
        last_offset: i64,
        now: i64,
    ) -> Result<()> {
        let roll = match self.active() {
            Some(seg) => seg.should_roll(&self.config, bytes, max_ts, last_offset, now),
            None => true,
        };
        if roll {
            // Roll at the log end, so segments follow each other without offset
            // gaps; only a gap too large for 32-bit relative offsets starts the new
            // segment at the incoming offset.
            let leo = self.log_end_offset();
            let base = if last_offset - leo > i64::from(i32::MAX) {
                first_offset.max(leo)
            } else {
                leo
            };
            self.roll_at(base)?;
        }
        Ok(())
    }

    /// Closes the active segment and starts a new one at the log end offset.
    pub fn roll(&mut self) -> Result<()> {
        self.ensure_online()?;
        let leo = self.log_end_offset();
        let r = self.roll_at(leo);
        self.guard(r)
    }

    pub(crate) fn roll_at(&mut self, new_base: i64) -> Result<()> {
        let now = self.clock.now_ms();
        let leo = self.log_end_offset();
        if let Some(active) = self.segments.values_mut().next_back() {
            if active.size() == 0 {
                if active.base_offset() == new_base {
                    return Ok(());
                }
                // An empty active segment is replaced rather than kept.
                let base = active.base_offset();
                if let Some(seg) = self.segments.remove(&base) {
                    seg.remove_files()?;
                }
            } else {
                active.on_become_inactive()?;
            }
        }
        self.producers.set_map_end_offset(leo);
        self.producers
            .write_snapshot(self.storage.as_ref(), &self.dir)?;
        let seg = LogSegment::create(&self.storage, &self.dir, new_base, &self.config, now)?;
        self.segments.insert(new_base, seg);
        // If an empty first segment was replaced, the log now starts later.
        if let Some(&first) = self.segments.keys().next() {
            self.log_start_offset = self.log_start_offset.max(first);
            self.high_watermark = self.high_watermark.max(self.log_start_offset);
        }
        self.bound_index_memory();
        // Like Kafka, the finished segments are flushed after the roll, but not on
        // the append path: the caller runs `rolled_flush_job` when it suits it.
        Ok(())
    }

    /// Fsyncs everything appended and advances the recovery point to the log end.
    pub fn flush(&mut self) -> Result<()> {
        self.ensure_online()?;
        let leo = self.log_end_offset();
        self.flush_up_to(leo)
    }

    /// The fsyncs that would make every rolled (no longer active) segment durable,
    /// as a job that needs no access to the log: run it outside the log's lock,
    /// then report the result with [`Log::complete_flush`]. `None` when every
    /// rolled segment is already below the recovery point.
    pub fn rolled_flush_job(&self) -> Option<FlushJob> {
        let active_base = self.active()?.base_offset();
        if self.recovery_point >= active_base {
            return None;
        }
        let mut files = Vec::new();
        for seg in self
            .segments
            .values()
            .filter(|s| s.base_offset() < active_base && s.next_offset() > self.recovery_point)
        {
            match seg.sync_targets() {
                Ok(t) => files.extend(t),
                // The `.log` file cannot be opened now: the job names it by path
                // and reports the failure when it runs.
                Err(_) => files.push((seg.log_path().to_path_buf(), None)),
            }
        }
        Some(FlushJob {
            up_to: active_base,
            files,
            dir: self.dir.clone(),
            storage: self.storage.clone(),
        })
    }

    /// Records the outcome of a [`FlushJob`]: success moves the recovery point up to
    /// the job's offset; failure takes the log offline.
    pub fn complete_flush(&mut self, job: &FlushJob, result: Result<()>) -> Result<()> {
        match result {
            Ok(()) => {
                let leo = self.log_end_offset();
                self.recovery_point = self.recovery_point.max(job.up_to.min(leo));
                Ok(())
            }
            Err(e) => {
                self.offline = true;
                Err(e)
            }
        }
    }

    /// For the broker's periodic flusher: flushes if `flush.ms` has passed since the
    /// last flush and there is unflushed data. Returns whether it flushed.
    pub fn flush_if_due(&mut self, now_ms: i64) -> Result<bool> {
        self.ensure_online()?;
        let due = now_ms.saturating_sub(self.last_flush_ms) >= self.config.flush_ms;
        if due && self.recovery_point < self.log_end_offset() {
            self.flush()?;
            return Ok(true);
        }
        Ok(false)
    }

    pub(crate) fn flush_up_to(&mut self, offset: i64) -> Result<()> {
        let rp = self.recovery_point;
        let mut result = Ok(());
        for seg in self.segments.values_mut() {
            if seg.next_offset() <= rp && seg.base_offset() < rp {
                continue;
            }
            if seg.base_offset() > offset {
                break;
            }
            result = seg.flush();
            if result.is_err() {
                break;
            }
        }
        if result.is_ok() {
            result = self
                .storage
                .sync_dir(&self.dir)
                .map_err(|e| StorageError::io(&self.dir, e));
        }
        if let Err(e) = result {
            self.offline = true;
            return Err(e);
        }
        if offset > self.recovery_point {
            self.recovery_point = offset.min(self.log_end_offset());
        }
        if offset >= self.log_end_offset() {
            self.unflushed_messages = 0;
        }
        self.last_flush_ms = self.clock.now_ms();
        Ok(())
    }

    fn upper_bound(&self, isolation: FetchIsolation) -> i64 {
        match isolation {
            FetchIsolation::LogEnd => self.log_end_offset(),
            FetchIsolation::HighWatermark => self.high_watermark,
            FetchIsolation::Committed => self.last_stable_offset(),
        }
    }

    /// Reads whole batches from the one holding `offset`, up to `max_bytes` (but at
    /// least one batch when `min_one_message`), never past the isolation bound.
    /// The result is a file range to send as is.
    pub fn read(
        &self,
        offset: i64,
        max_bytes: u64,
        isolation: FetchIsolation,
        min_one_message: bool,
    ) -> Result<ReadInfo> {
        let leo = self.log_end_offset();
        if offset < self.log_start_offset || offset > leo {
            return Err(StorageError::OffsetOutOfRange {
                offset,
                log_start: self.log_start_offset,
                log_end: leo,
            });
        }
        let upper = self.upper_bound(isolation);
        let mut slice = None;
        if offset < upper {
            let first = self
                .segments
                .range(..=offset)
                .next_back()
                .map_or(i64::MIN, |(b, _)| *b);
            for seg in self.segments.range(first..).map(|(_, s)| s) {
                if seg.base_offset() >= upper {
                    break;
                }
                if let Some(s) = seg.read(
                    offset.max(seg.base_offset()),
                    max_bytes,
                    upper,
                    min_one_message,
                )? {
                    slice = Some(s);
                    break;
                }
            }
        }
        Ok(ReadInfo {
            slice: slice.filter(|s| s.len > 0),
            high_watermark: self.high_watermark,
            last_stable_offset: self.last_stable_offset(),
            log_start_offset: self.log_start_offset,
            log_end_offset: leo,
        })
    }

    /// Like [`Log::read`], copying the batches into memory.
    pub fn read_bytes(
        &self,
        offset: i64,
        max_bytes: u64,
        isolation: FetchIsolation,
        min_one_message: bool,
    ) -> Result<Bytes> {
        match self
            .read(offset, max_bytes, isolation, min_one_message)?
            .slice
        {
            Some(s) => s.to_bytes(),
            None => Ok(Bytes::new()),
        }
    }

    /// ListOffsets: the first offset whose batch has a timestamp at or after
    /// `timestamp`, or one of the special queries ([`LATEST_TIMESTAMP`],
    /// [`EARLIEST_TIMESTAMP`], [`MAX_TIMESTAMP`]). `None` when no record is that new.
    pub fn offset_for_timestamp(&self, timestamp: i64) -> Result<Option<TimestampOffset>> {
        let epoch_of = |o: i64| self.leader_epochs.epoch_for_offset(o);
        match timestamp {
            LATEST_TIMESTAMP => {
                let o = self.log_end_offset();
                return Ok(Some(TimestampOffset {
                    timestamp: -1,
                    offset: o,
                    leader_epoch: self.leader_epochs.latest().map(|e| e.epoch),
                }));
            }
            EARLIEST_TIMESTAMP => {
                let o = self.log_start_offset;
                return Ok(Some(TimestampOffset {
                    timestamp: -1,
                    offset: o,
                    leader_epoch: epoch_of(o),
                }));
            }
            MAX_TIMESTAMP => {
                let best = self
                    .segments
                    .values()
                    .filter(|s| s.next_offset() > self.log_start_offset && s.max_timestamp() >= 0)
                    .fold(None::<&LogSegment>, |acc, s| match acc {
                        Some(a) if a.max_timestamp() >= s.max_timestamp() => Some(a),
                        _ => Some(s),
                    });
                let Some(s) = best else { return Ok(None) };
                // Kafka answers with the record holding the max timestamp (the first
                // such record of the first batch with it), not the batch's last offset.
                let (ts, off) = match s.find_by_timestamp(s.max_timestamp())? {
                    Some((pos, h)) => crate::timestamp_lookup::first_record_at_or_after(
                        s,
                        pos,
                        &h,
                        s.max_timestamp(),
                    )?,
                    None => (s.max_timestamp(), s.offset_of_max_timestamp()),
                };
                let o = off.max(self.log_start_offset);
                return Ok(Some(TimestampOffset {
                    timestamp: ts,
                    offset: o,
                    leader_epoch: epoch_of(o),
                }));
            }
            t if t < 0 => {
                return Err(StorageError::InvalidRecord(format!(
                    "unsupported ListOffsets timestamp {t}"
                )));
            }
            _ => {}
        }
        for seg in self.segments.values() {
            if seg.next_offset() <= self.log_start_offset || seg.max_timestamp() < timestamp {
                continue;
            }
            if let Some((pos, h)) = seg.find_by_timestamp(timestamp)? {
                let (ts, off) =
                    crate::timestamp_lookup::first_record_at_or_after(seg, pos, &h, timestamp)?;
                let o = off.max(self.log_start_offset);
                return Ok(Some(TimestampOffset {
                    timestamp: ts,
                    offset: o,
                    leader_epoch: epoch_of(o),
                }));
            }
        }
        Ok(None)
    }

    /// Removes everything at and after `offset` (follower truncation). A batch
    /// holding `offset` is removed whole.
    pub fn truncate_to(&mut self, offset: i64) -> Result<()> {
        self.ensure_online()?;
        let r = self.truncate_inner(offset);
        self.guard(r)
    }

    fn truncate_inner(&mut self, offset: i64) -> Result<()> {
        if offset >= self.log_end_offset() {
            // No records go, but epochs that would start at or after `offset` do (a
            // follower cutting at its log end forgets a leader epoch it never wrote in).
            return self.leader_epochs.truncate_from_end(offset);
        }
        let first_base = self.segments.keys().next().copied().unwrap_or(offset);
        if offset < self.log_start_offset || offset <= first_base {
            return self.truncate_fully_and_start_at(offset.max(0));
        }
        self.truncations += 1;
        self.cleaner_offset = self.cleaner_offset.min(offset);
        let doomed: Vec<i64> = self.segments.range(offset..).map(|(b, _)| *b).collect();
        let now = self.clock.now_ms();
        for b in doomed {
            if let Some(seg) = self.segments.remove(&b) {
                self.delete_segment_files(seg, now)?;
            }
        }
        if let Some(seg) = self.segments.values_mut().next_back() {
            seg.truncate_to(offset)?;
            seg.on_become_active()?;
        }
        if self.log_end_offset() < self.log_start_offset {
            // The batch holding the log start offset went: nothing visible is
            // left, so restart the log at its start offset.
            let start = self.log_start_offset;
            return self.truncate_fully_and_start_at(start);
        }
        self.after_truncation()
    }

    /// Deletes every segment and starts an empty log at `offset`.
    pub fn truncate_fully_and_start_at(&mut self, offset: i64) -> Result<()> {
        self.ensure_online()?;
        self.truncations += 1;
        self.cleaner_offset = offset;
        let now = self.clock.now_ms();
        let all: Vec<i64> = self.segments.keys().copied().collect();
        for b in all {
            if let Some(seg) = self.segments.remove(&b) {
                let r = self.delete_segment_files(seg, now);
                self.guard(r)?;
            }
        }
        let r = LogSegment::create(&self.storage, &self.dir, offset, &self.config, now);
        let seg = self.guard(r)?;
        self.segments.insert(offset, seg);
        self.log_start_offset = offset;
        self.recovery_point = offset;
        self.high_watermark = offset;
        let r = self.leader_epochs.clear();
        self.guard(r)?;
        let r = ProducerStateManager::delete_snapshots(self.storage.as_ref(), &self.dir, |_| true);
        self.guard(r)?;
        self.producers.reset(offset);
        self.unreplicated_txns.clear();
        Ok(())
    }

    fn after_truncation(&mut self) -> Result<()> {
        let leo = self.log_end_offset();
        self.high_watermark = self.high_watermark.min(leo);
        self.recovery_point = self.recovery_point.min(leo);
        self.leader_epochs.truncate_from_end(leo)?;
        ProducerStateManager::delete_snapshots(self.storage.as_ref(), &self.dir, |o| o > leo)?;
        self.rebuild_producer_state()
    }

    /// DeleteRecords: moves the log start offset up to `offset` (at most the high
    /// watermark) and deletes the segments wholly below it. Returns the new log
    /// start offset.
    pub fn delete_records_before(&mut self, offset: i64) -> Result<i64> {
        self.ensure_online()?;
        if offset > self.high_watermark || offset < 0 {
            return Err(StorageError::OffsetOutOfRange {
                offset,
                log_start: self.log_start_offset,
                log_end: self.high_watermark,
            });
        }
        if offset > self.log_start_offset {
            self.log_start_offset = offset;
            let r = self.delete_segments_below_log_start();
            self.guard(r)?;
        }
        Ok(self.log_start_offset)
    }

    pub(crate) fn delete_segments_below_log_start(&mut self) -> Result<()> {
        let bases: Vec<i64> = self.segments.keys().copied().collect();
        let now = self.clock.now_ms();
        for w in bases.windows(2) {
            if w[1] <= self.log_start_offset {
                if let Some(seg) = self.segments.remove(&w[0]) {
                    self.delete_segment_files(seg, now)?;
                }
            } else {
                break;
            }
        }
        self.after_log_start_moved()
    }

    pub(crate) fn after_log_start_moved(&mut self) -> Result<()> {
        if let Some(first) = self.segments.keys().next().copied() {
            self.log_start_offset = self.log_start_offset.max(first);
        }
        self.high_watermark = self.high_watermark.max(self.log_start_offset);
        self.leader_epochs
            .truncate_from_start(self.log_start_offset)?;
        let first = self.segments.keys().next().copied().unwrap_or(0);
        ProducerStateManager::delete_snapshots(self.storage.as_ref(), &self.dir, |o| o < first)
    }

    /// Renames a segment's files to `.deleted` and removes them now or, with
    /// `file.delete.delay.ms`, at a later retention run.
    pub(crate) fn delete_segment_files(&mut self, mut seg: LogSegment, now: i64) -> Result<()> {
        let paths = seg.rename_with_suffix(crate::segment::DELETED_SUFFIX)?;
        if self.config.file_delete_delay_ms <= 0 {
            for p in paths {
                self.storage
                    .remove(&p)
                    .map_err(|e| StorageError::io(&p, e))?;
            }
        } else {
            let due_ms = now.saturating_add(self.config.file_delete_delay_ms);
            self.pending_deletes
                .extend(paths.into_iter().map(|path| PendingDelete { path, due_ms }));
        }
        Ok(())
    }

    /// Flushes, trims the active segment's indexes, snapshots producer state and
    /// closes the log.
    pub fn close(mut self) -> Result<()> {
        self.close_in_place()
    }

    /// [`Log::close`] for a log others may still hold (behind a lock): after it
    /// the log refuses writes ([`StorageError::LogClosed`]) but still serves
    /// reads, and its files are as a clean close leaves them (indexes exactly their
    /// entries, a producer snapshot at the log end, everything fsynced) and none
    /// is held open, so the next open needs no recovery.
    pub fn close_in_place(&mut self) -> Result<()> {
        self.ensure_online()?;
        self.flush()?;
        let leo = self.log_end_offset();
        if let Some(seg) = self.segments.values_mut().next_back() {
            seg.on_become_inactive()?;
            seg.flush()?;
        }
        self.producers.set_map_end_offset(leo);
        self.producers
            .write_snapshot(self.storage.as_ref(), &self.dir)?;
        for p in std::mem::take(&mut self.pending_deletes) {
            let _ = self.storage.remove(&p.path);
        }
        for seg in self.segments.values() {
            seg.release_file();
        }
        self.closed = true;
        Ok(())
    }
}
