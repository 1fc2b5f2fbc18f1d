//! One log segment: a `.log` file of concatenated v2 batches plus its `.index` and
//! `.timeindex`, all named by the segment's base offset (20 digits, zero-padded).
//!
//! The segment knows its valid size, next offset and largest timestamp; it appends
//! batches and their sparse index entries, translates offsets and timestamps to file
//! positions, truncates, and recovers (checking every CRC) after a crash.
//!
//! Open files: the active segment holds its `.log` file open; an inactive one
//! borrows it from the process's [`HandleCache`] (opened on demand, bounded). The
//! indexes hold no file at all (see `index_file`), and the `.txnindex` exists only
//! once it has an entry.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use vltava_records::batch_header::{ATTRIBUTES_OFFSET, BATCH_HEADER_LEN, parse_header};
use vltava_records::{BatchHeader, MAGIC_V2};

use crate::config::LogConfig;
use crate::error::{Result, StorageError};
use crate::handle_cache::HandleCache;
use crate::io::{Storage, StorageFile, read_full_at};
use crate::offset_index::OffsetIndex;
use crate::slice::FileSlice;
use crate::time_index::TimeIndex;
use crate::txn_index::{AbortedTxn, TxnIndex};

/// Suffix of segment data files.
pub const LOG_SUFFIX: &str = ".log";
/// Suffix of offset index files.
pub const INDEX_SUFFIX: &str = ".index";
/// Suffix of time index files.
pub const TIME_INDEX_SUFFIX: &str = ".timeindex";
/// Suffix of aborted transaction index files.
pub const TXN_INDEX_SUFFIX: &str = ".txnindex";
/// Suffix of producer state snapshots.
pub const SNAPSHOT_SUFFIX: &str = ".snapshot";
/// Appended to files awaiting deletion.
pub const DELETED_SUFFIX: &str = ".deleted";
/// Appended to files the compactor is still writing.
pub const CLEANED_SUFFIX: &str = ".cleaned";
/// Appended to compacted files ready to replace the originals.
pub const SWAP_SUFFIX: &str = ".swap";

/// Bytes read at a time while recovering.
const RECOVERY_CHUNK: usize = 1024 * 1024;

/// `<20-digit offset><suffix>`.
pub fn file_name(offset: i64, suffix: &str) -> String {
    format!("{offset:020}{suffix}")
}

/// The offset of a file named `<20 digits><suffix>`, if the name has that form.
pub fn parse_file_name(name: &str, suffix: &str) -> Option<i64> {
    let digits = name.strip_suffix(suffix)?;
    if digits.len() != 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// Whether a header's offsets are non-negative and its next offset is
/// representable (checked before any offset arithmetic on untrusted headers).
pub fn offsets_in_range(h: &BatchHeader) -> bool {
    h.base_offset >= 0
        && h.last_offset_delta >= 0
        && h.base_offset
            .checked_add(i64::from(h.last_offset_delta) + 1)
            .is_some()
}

/// A log segment. Only the last segment of a log is written to.
#[derive(Debug)]
pub struct LogSegment {
    base_offset: i64,
    storage: Arc<dyn Storage>,
    log_path: PathBuf,
    /// The `.log` file while the segment is active; `None` once it is inactive
    /// (the file is then borrowed from `handles` under `handle_id`).
    log: Option<Arc<dyn StorageFile>>,
    handles: Arc<HandleCache>,
    handle_id: u64,
    size: u64,
    next_offset: i64,
    offset_index: OffsetIndex,
    time_index: TimeIndex,
    txn_index: TxnIndex,
    max_timestamp: i64,
    offset_of_max_timestamp: i64,
    bytes_since_last_index: u64,
    /// Max timestamp of the first batch: the reference for `segment.ms`.
    rolling_timestamp: Option<i64>,
    created_ms: i64,
    index_interval: u64,
    /// An index file was missing or failed its checks when opened.
    index_damaged: bool,
    /// The `.txnindex` failed its checks when opened: rebuild it from the log.
    txn_index_damaged: bool,
    /// [`INDEX_TICK`] at the last index lookup (for dropping the least recently
    /// used inactive indexes from memory).
    index_last_use: AtomicU64,
}

/// A process-wide clock of index lookups.
static INDEX_TICK: AtomicU64 = AtomicU64::new(1);

/// What recovering one segment found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecoveryOutcome {
    /// Bytes of valid batches kept.
    pub valid_bytes: u64,
    /// Bytes cut off the end (torn or corrupt tail).
    pub truncated_bytes: u64,
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> StorageError + '_ {
    move |e| StorageError::io(path, e)
}

/// A file to fsync: its path, and its handle when one is held (index files are
/// opened by path when fsynced).
pub type SyncTarget = (PathBuf, Option<Arc<dyn StorageFile>>);

impl LogSegment {
    /// Creates a new empty segment at `base_offset` (replacing any files there).
    pub fn create(
        storage: &Arc<dyn Storage>,
        dir: &Path,
        base_offset: i64,
        config: &LogConfig,
        now_ms: i64,
    ) -> Result<Self> {
        Self::create_with_suffix(storage, dir, base_offset, config, now_ms, "")
    }

    /// Like [`LogSegment::create`] with an extra suffix after each file name (used by
    /// compaction to write `.cleaned` files).
    pub fn create_with_suffix(
        storage: &Arc<dyn Storage>,
        dir: &Path,
        base_offset: i64,
        config: &LogConfig,
        now_ms: i64,
        extra: &str,
    ) -> Result<Self> {
        let handles = HandleCache::global().clone();
        let st = storage.as_ref();
        let storage = storage.clone();
        let log_path = dir.join(format!("{}{extra}", file_name(base_offset, LOG_SUFFIX)));
        let log = st.open(&log_path, true).map_err(io_err(&log_path))?;
        log.set_len(0).map_err(io_err(&log_path))?;
        let offset_index = OffsetIndex::create(
            st,
            &dir.join(format!("{}{extra}", file_name(base_offset, INDEX_SUFFIX))),
            base_offset,
            config.segment_index_bytes,
        )?;
        let time_index = TimeIndex::create(
            st,
            &dir.join(format!(
                "{}{extra}",
                file_name(base_offset, TIME_INDEX_SUFFIX)
            )),
            base_offset,
            config.segment_index_bytes,
        )?;
        let txn_path = dir.join(format!(
            "{}{extra}",
            file_name(base_offset, TXN_INDEX_SUFFIX)
        ));
        // Every segment gets its (empty) `.txnindex`, so that a missing one shows
        // damage; compaction output keeps the original's instead.
        let txn_index = if extra.is_empty() {
            TxnIndex::create(st, txn_path, base_offset)?
        } else {
            TxnIndex::without_file(st, txn_path, base_offset)?
        };
        Ok(LogSegment {
            base_offset,
            storage,
            log_path,
            log: Some(log),
            handle_id: handles.new_id(),
            handles,
            size: 0,
            next_offset: base_offset,
            offset_index,
            time_index,
            txn_index,
            max_timestamp: -1,
            offset_of_max_timestamp: base_offset,
            bytes_since_last_index: 0,
            rolling_timestamp: None,
            created_ms: now_ms,
            index_interval: config.index_interval_bytes,
            index_damaged: false,
            txn_index_damaged: false,
            index_last_use: AtomicU64::new(0),
        })
    }

    /// Opens an existing segment without reading its data, as an inactive one
    /// (see [`LogSegment::on_become_active`]). Follow with
    /// [`LogSegment::recover`] (full check) or [`LogSegment::load_trusted`].
    pub fn open(
        storage: &Arc<dyn Storage>,
        dir: &Path,
        base_offset: i64,
        config: &LogConfig,
        now_ms: i64,
    ) -> Result<Self> {
        let handles = HandleCache::global().clone();
        let st = storage.as_ref();
        let log_path = dir.join(file_name(base_offset, LOG_SUFFIX));
        let log = st.open(&log_path, false).map_err(io_err(&log_path))?;
        let size = log.len().map_err(io_err(&log_path))?;
        let index_path = dir.join(file_name(base_offset, INDEX_SUFFIX));
        let time_path = dir.join(file_name(base_offset, TIME_INDEX_SUFFIX));
        let max = config.segment_index_bytes;
        let mut index_damaged = false;
        // Only the indexes' last entries are read now; the rest on first use.
        let offset_index =
            match OffsetIndex::open_deferred(storage, &index_path, base_offset, max, size)? {
                Some(i) => i,
                None => {
                    index_damaged = true;
                    OffsetIndex::create(st, &index_path, base_offset, max)?
                }
            };
        let time_index =
            match TimeIndex::open_deferred(storage, &time_path, base_offset, max, i64::MAX)? {
                Some(i) => i,
                None => {
                    index_damaged = true;
                    TimeIndex::create(st, &time_path, base_offset, max)?
                }
            };
        let txn_path = dir.join(file_name(base_offset, TXN_INDEX_SUFFIX));
        let (txn_index, txn_index_damaged) =
            match TxnIndex::load(st, txn_path.clone(), base_offset)? {
                Some(i) => (i, false),
                None => (TxnIndex::new(txn_path, base_offset), true),
            };
        // Opened as inactive: the file waits in the handle cache (bounded) until
        // the log makes its last segment active, so opening a log with many
        // segments never holds one descriptor per segment.
        let handle_id = handles.new_id();
        handles.insert(handle_id, log);
        Ok(LogSegment {
            base_offset,
            storage: storage.clone(),
            log_path,
            log: None,
            handle_id,
            handles,
            size,
            next_offset: base_offset,
            offset_index,
            time_index,
            txn_index,
            max_timestamp: -1,
            offset_of_max_timestamp: base_offset,
            bytes_since_last_index: 0,
            rolling_timestamp: None,
            created_ms: now_ms,
            index_interval: config.index_interval_bytes,
            index_damaged,
            txn_index_damaged,
            index_last_use: AtomicU64::new(0),
        })
    }

    /// The first offset this segment can hold.
    pub fn base_offset(&self) -> i64 {
        self.base_offset
    }
    /// Valid bytes in the `.log` file.
    pub fn size(&self) -> u64 {
        self.size
    }
    /// Offset after the last batch (the base offset when empty).
    pub fn next_offset(&self) -> i64 {
        self.next_offset
    }
    /// Largest batch timestamp, -1 when empty.
    pub fn max_timestamp(&self) -> i64 {
        self.max_timestamp
    }
    /// Offset of the batch holding the largest timestamp.
    pub fn offset_of_max_timestamp(&self) -> i64 {
        self.offset_of_max_timestamp
    }
    /// When the segment was created (or opened), in ms.
    pub fn created_ms(&self) -> i64 {
        self.created_ms
    }
    /// The `.log` file path.
    pub fn log_path(&self) -> &Path {
        &self.log_path
    }
    /// The `.log` file: the segment's own handle while it is active, else one
    /// from the handle cache (opened if the cache does not hold it).
    pub fn log_file(&self) -> Result<Arc<dyn StorageFile>> {
        if let Some(f) = &self.log {
            return Ok(f.clone());
        }
        self.handles
            .get_or_open(self.handle_id, || self.storage.open(&self.log_path, false))
            .map_err(io_err(&self.log_path))
    }
    /// Whether the segment holds its `.log` file open itself (it is active).
    pub fn holds_log_file(&self) -> bool {
        self.log.is_some()
    }
    /// Number of offset index entries.
    pub fn offset_index_entries(&self) -> usize {
        self.offset_index.len()
    }
    /// The offset index (for inspection).
    pub fn offset_index(&self) -> &OffsetIndex {
        &self.offset_index
    }
    /// The time index (for inspection).
    pub fn time_index(&self) -> &TimeIndex {
        &self.time_index
    }
    /// The aborted transactions whose ABORT marker is in this segment.
    pub fn aborted_txns(&self) -> &[AbortedTxn] {
        self.txn_index.entries()
    }
    /// The aborted transaction index.
    pub fn txn_index(&self) -> &TxnIndex {
        &self.txn_index
    }
    /// Whether the `.txnindex` must be rebuilt from the log: it failed its checks
    /// when opened, or names a marker past the segment's last batch.
    pub fn txn_index_needs_rebuild(&self) -> bool {
        self.txn_index_damaged
            || self
                .txn_index
                .last_offset()
                .is_some_and(|l| l >= self.next_offset)
    }
    /// Records an aborted transaction whose marker was just appended here.
    pub fn append_aborted_txn(&mut self, txn: AbortedTxn) -> Result<()> {
        self.txn_index.append(self.storage.as_ref(), txn)
    }
    /// Empties the `.txnindex` before it is rebuilt from the log.
    pub fn reset_txn_index(&mut self) -> Result<()> {
        self.txn_index_damaged = false;
        self.txn_index.reset(self.storage.as_ref())
    }

    /// Whether appending `bytes` bytes holding offsets up to `last_offset` with a
    /// largest timestamp `max_ts` should go to a new segment instead.
    pub fn should_roll(
        &self,
        config: &LogConfig,
        bytes: u64,
        max_ts: i64,
        last_offset: i64,
        now_ms: i64,
    ) -> bool {
        if last_offset - self.base_offset > i64::from(i32::MAX) {
            // Relative offsets must fit in the index's 32 bits, even for an empty
            // segment (a follower append far past its base).
            return true;
        }
        if self.size == 0 {
            return false;
        }
        let waited = match self.rolling_timestamp {
            Some(t) if t >= 0 && max_ts >= 0 => max_ts.saturating_sub(t),
            _ => now_ms.saturating_sub(self.created_ms),
        };
        self.size + bytes > config.segment_bytes
            || waited > config.max_segment_ms()
            || self.offset_index.is_full()
            || self.time_index.is_full()
            || last_offset - self.base_offset > i64::from(i32::MAX)
            || self.size + bytes > u64::from(u32::MAX)
    }

    fn index_batch(&mut self, position: u64, h: &BatchHeader) -> Result<()> {
        if h.max_timestamp > self.max_timestamp {
            self.max_timestamp = h.max_timestamp;
            self.offset_of_max_timestamp = h.last_offset();
        }
        if self.rolling_timestamp.is_none() {
            self.rolling_timestamp = Some(h.max_timestamp);
        }
        if self.bytes_since_last_index > self.index_interval {
            let pos = u32::try_from(position).map_err(|_| StorageError::IndexOffsetOverflow {
                offset: h.last_offset(),
                base: self.base_offset,
            })?;
            self.offset_index.append(h.last_offset(), pos)?;
            self.time_index
                .maybe_append(self.max_timestamp, self.offset_of_max_timestamp)?;
            self.bytes_since_last_index = 0;
        }
        self.bytes_since_last_index += h.total_size() as u64;
        self.next_offset = h.next_offset();
        Ok(())
    }

    /// Appends `bytes`, which hold the batches described by `batches` as (position
    /// within `bytes`, header), with offsets already assigned.
    /// New index entries stay in memory until the next flush, roll or close
    /// ([`LogSegment::write_pending_index_entries`]).
    /// A write that fails (a full disk, EIO) may have put part of `bytes` in the
    /// file: it is cut back to the last whole batch at once (best effort; the
    /// recovery at the next open cuts it otherwise), and nothing else changes.
    pub fn append(&mut self, bytes: &[u8], batches: &[(usize, BatchHeader)]) -> Result<()> {
        self.write_and_index(&[bytes], bytes.len() as u64, batches)
    }

    /// [`LogSegment::append`] for batches whose headers were patched apart from
    /// their bytes: `headers[i]` replaces the first [`BATCH_HEADER_LEN`] bytes of
    /// batch `i` in `bytes`. Header and records go to the file in one vectored
    /// write, so the records are never copied on the way (the write into the page
    /// cache is their only copy).
    pub fn append_patched(
        &mut self,
        bytes: &[u8],
        batches: &[(usize, BatchHeader)],
        headers: &[[u8; BATCH_HEADER_LEN]],
    ) -> Result<()> {
        if headers.len() != batches.len() {
            return Err(StorageError::InvalidRecord(
                "one patched header per batch".into(),
            ));
        }
        let mut parts: Vec<&[u8]> = Vec::with_capacity(2 * batches.len() + 1);
        let mut at = 0;
        for ((pos, h), head) in batches.iter().zip(headers) {
            let end = pos + h.total_size();
            let (Some(before), Some(records)) =
                (bytes.get(at..*pos), bytes.get(pos + BATCH_HEADER_LEN..end))
            else {
                return Err(StorageError::InvalidRecord(
                    "batch positions outside the appended bytes".into(),
                ));
            };
            parts.push(before);
            parts.push(head);
            parts.push(records);
            at = end;
        }
        parts.push(bytes.get(at..).unwrap_or_default());
        self.write_and_index(&parts, bytes.len() as u64, batches)
    }

    /// Writes `parts` (`len` bytes in all) at the segment's end, then indexes `batches`
    /// (positions relative to that end) and moves the end past them. A failed write
    /// truncates the file back to where it was.
    fn write_and_index(
        &mut self,
        parts: &[&[u8]],
        len: u64,
        batches: &[(usize, BatchHeader)],
    ) -> Result<()> {
        let file = self.log_file()?;
        if let Err(e) = file.write_vectored_at(parts, self.size) {
            // Shrinking needs no space, so this works on a full disk too.
            let _ = file.set_len(self.size);
            return Err(StorageError::io(&self.log_path, e));
        }
        let start = self.size;
        for (rel, h) in batches {
            self.index_batch(start + *rel as u64, h)?;
        }
        self.size += len;
        Ok(())
    }

    /// Writes new index entries to their files (one open and write per index
    /// that has any).
    pub fn write_pending_index_entries(&mut self) -> Result<()> {
        let st = self.storage.as_ref();
        self.offset_index.write_pending(st)?;
        self.time_index.write_pending(st)
    }

    /// Index entries in memory not yet written to the index files.
    pub fn pending_index_entries(&self) -> usize {
        self.offset_index.pending() + self.time_index.pending()
    }

    /// Reads the header of the batch at `pos`; `None` at or past the valid end.
    pub fn header_at(&self, pos: u64) -> Result<Option<BatchHeader>> {
        self.header_in(self.log_file()?.as_ref(), pos)
    }

    fn header_in(&self, file: &dyn StorageFile, pos: u64) -> Result<Option<BatchHeader>> {
        if pos >= self.size {
            return Ok(None);
        }
        let mut buf = [0u8; BATCH_HEADER_LEN];
        let n = read_full_at(file, &mut buf, pos).map_err(io_err(&self.log_path))?;
        let h = parse_header(&buf[..n]).map_err(|e| {
            StorageError::corrupt(&self.log_path, format!("bad batch at position {pos}: {e}"))
        })?;
        if !offsets_in_range(&h) {
            return Err(StorageError::corrupt(
                &self.log_path,
                format!("batch at position {pos} has impossible offsets"),
            ));
        }
        if pos + h.total_size() as u64 > self.size {
            return Err(StorageError::corrupt(
                &self.log_path,
                format!("batch at position {pos} runs past the segment end"),
            ));
        }
        Ok(Some(h))
    }

    /// The first batch whose last offset is at or above `target`, with its position.
    pub fn translate_offset(&self, target: i64) -> Result<Option<(u64, BatchHeader)>> {
        self.translate_in(self.log_file()?.as_ref(), target)
    }

    fn translate_in(
        &self,
        file: &dyn StorageFile,
        target: i64,
    ) -> Result<Option<(u64, BatchHeader)>> {
        self.touch_indexes();
        let hint = self.offset_index.lookup(target);
        self.translate_from(file, target, hint)
    }

    /// [`LogSegment::translate_offset`] from an index entry (offset, position)
    /// at or below `target`, checked before it is used.
    fn translate_from(
        &self,
        file: &dyn StorageFile,
        target: i64,
        (idx_offset, idx_pos): (i64, u32),
    ) -> Result<Option<(u64, BatchHeader)>> {
        let mut pos = u64::from(idx_pos);
        if idx_offset != self.base_offset || idx_pos != 0 {
            // Trust the index entry only if it points at the batch it names.
            match self.header_in(file, pos) {
                Ok(Some(h)) if h.last_offset() == idx_offset => {}
                _ => pos = 0,
            }
        }
        while let Some(h) = self.header_in(file, pos)? {
            if h.last_offset() >= target {
                return Ok(Some((pos, h)));
            }
            pos += h.total_size() as u64;
        }
        Ok(None)
    }

    /// Whole batches from the one holding `start_offset`, up to `max_bytes` (at
    /// least one batch when `min_one`), stopping before any batch whose last offset
    /// is at or past `max_offset`. `None` when the segment has nothing at or after
    /// `start_offset`.
    pub fn read(
        &self,
        start_offset: i64,
        max_bytes: u64,
        max_offset: i64,
        min_one: bool,
    ) -> Result<Option<FileSlice>> {
        let file = self.log_file()?;
        let f = file.as_ref();
        let Some((start, first)) = self.translate_in(f, start_offset)? else {
            return Ok(None);
        };
        let empty = FileSlice {
            file: file.clone(),
            position: start,
            len: 0,
            end_offset: first.base_offset,
        };
        if first.last_offset() >= max_offset {
            return Ok(Some(empty));
        }
        let first_end = start + first.total_size() as u64;
        if first_end - start > max_bytes {
            return Ok(Some(if min_one {
                FileSlice {
                    len: first_end - start,
                    end_offset: first.next_offset(),
                    ..empty
                }
            } else {
                empty
            }));
        }
        // Where the batches that may be served end: the batch holding `max_offset`
        // (found through the index) or the segment end.
        let bound = if max_offset < self.next_offset {
            self.translate_in(f, max_offset)?
                .map_or(self.size, |(p, _)| p)
        } else {
            self.size
        };
        let limit = bound.min(start.saturating_add(max_bytes));
        // Jump to the last indexed batch starting before the limit (checked: its
        // header must name the entry's offset), then walk the few headers after it.
        let mut pos = first_end;
        let mut end_offset = first.next_offset();
        self.touch_indexes();
        if let Some((off, ipos)) = self.offset_index.floor_by_position(limit) {
            let ipos = u64::from(ipos);
            if ipos > pos {
                if let Ok(Some(h)) = self.header_in(f, ipos) {
                    if h.last_offset() == off {
                        // The batch before `ipos` ends where this one starts.
                        pos = ipos;
                        end_offset = h.base_offset;
                    }
                }
            }
        }
        while pos < limit {
            match self.header_in(f, pos)? {
                Some(h) if pos + h.total_size() as u64 <= limit => {
                    pos += h.total_size() as u64;
                    end_offset = h.next_offset();
                }
                _ => break,
            }
        }
        Ok(Some(FileSlice {
            len: pos - start,
            end_offset,
            ..empty
        }))
    }

    /// Copies `len` bytes at `position` out of the `.log` file.
    pub fn read_bytes(&self, position: u64, len: u64) -> Result<Bytes> {
        FileSlice {
            file: self.log_file()?,
            position,
            len,
            // Not known here, and not needed to copy.
            end_offset: -1,
        }
        .to_bytes()
    }

    /// The first batch whose max timestamp is at or above `timestamp`.
    pub fn find_by_timestamp(&self, timestamp: i64) -> Result<Option<(u64, BatchHeader)>> {
        if self.max_timestamp < timestamp {
            return Ok(None);
        }
        let file = self.log_file()?;
        let f = file.as_ref();
        self.touch_indexes();
        let (hint_ts, hint_offset) = self.time_index.lookup(timestamp);
        // Start at the batch the entry names, if it really is the batch whose max
        // timestamp the entry records; otherwise (no entry, or a damaged index)
        // scan from the segment start.
        let mut pos = if hint_ts < 0 {
            0
        } else {
            match self.translate_in(f, hint_offset)? {
                Some((p, h)) if h.last_offset() == hint_offset && h.max_timestamp == hint_ts => p,
                _ => 0,
            }
        };
        while let Some(h) = self.header_in(f, pos)? {
            if h.max_timestamp >= timestamp {
                return Ok(Some((pos, h)));
            }
            pos += h.total_size() as u64;
        }
        Ok(None)
    }

    /// Every batch header with its position, in order (header reads only).
    pub fn headers(&self) -> Result<Vec<(u64, BatchHeader)>> {
        self.headers_from(0)
    }

    /// Batch headers starting at byte `pos`.
    pub fn headers_from(&self, mut pos: u64) -> Result<Vec<(u64, BatchHeader)>> {
        let file = self.log_file()?;
        let mut out = Vec::new();
        while let Some(h) = self.header_in(file.as_ref(), pos)? {
            out.push((pos, h));
            pos += h.total_size() as u64;
        }
        Ok(out)
    }

    fn reset_state(&mut self) -> Result<()> {
        let st = self.storage.as_ref();
        self.offset_index.reset(st)?;
        self.time_index.reset(st)?;
        self.next_offset = self.base_offset;
        self.max_timestamp = -1;
        self.offset_of_max_timestamp = self.base_offset;
        self.bytes_since_last_index = 0;
        self.rolling_timestamp = None;
        Ok(())
    }

    /// Rebuilds the indexes and in-memory state from the batch headers (no CRC
    /// check: for data already known to be good).
    pub fn rebuild_from_headers(&mut self) -> Result<()> {
        let headers = self.headers()?;
        self.reset_state()?;
        for (pos, h) in headers {
            self.index_batch(pos, &h)?;
        }
        self.write_pending_index_entries()
    }

    /// Loads a segment whose data is known to be durable (below the recovery point)
    /// without reading its batches: trusts checked index files and walks only the
    /// headers after the last index entry. Falls back to rebuilding the indexes
    /// from the headers when they do not match the log.
    pub fn load_trusted(&mut self) -> Result<()> {
        if self.index_damaged || (self.size > 0 && self.time_index.is_empty()) {
            // A missing or damaged index (or a time index without its final entry)
            // would misstate the segment's largest timestamp: rebuild both.
            self.index_damaged = false;
            return self.rebuild_from_headers();
        }
        let from = match self.offset_index.last_entry() {
            Some((off, pos)) => match self.header_at(u64::from(pos)) {
                Ok(Some(h)) if h.last_offset() == off => Some(u64::from(pos)),
                _ => None,
            },
            None => Some(0),
        };
        let tail = match from {
            Some(pos) => self.headers_from(pos).ok(),
            None => None,
        };
        let Some(tail) = tail else {
            return self.rebuild_from_headers();
        };
        let (time_max, time_off) = self
            .time_index
            .last_entry()
            .unwrap_or((-1, self.base_offset));
        let first = self.header_at(0)?;
        // The last time-index entry gives the segment's largest timestamp (which
        // time retention acts on): check it against the batch it names. That
        // batch is usually among the headers already read (the first batch or
        // the tail); otherwise it is found without loading a deferred offset
        // index (a binary search reading single entries).
        if time_max >= 0 {
            let tail_start = tail.first().map_or(i64::MAX, |(_, h)| h.base_offset);
            let named = if time_off >= tail_start {
                tail.iter()
                    .find(|(_, h)| h.last_offset() >= time_off)
                    .map(|(_, h)| *h)
            } else if let Some(h) = first.filter(|h| h.last_offset() >= time_off) {
                Some(h)
            } else {
                let file = self.log_file()?;
                let hint = self.offset_index.lookup_without_loading(time_off);
                self.translate_from(file.as_ref(), time_off, hint)
                    .ok()
                    .flatten()
                    .map(|(_, h)| h)
            };
            match named {
                Some(h) if h.last_offset() == time_off && h.max_timestamp == time_max => {}
                _ => return self.rebuild_from_headers(),
            }
        }
        self.max_timestamp = time_max;
        self.offset_of_max_timestamp = time_off;
        self.next_offset = self.base_offset;
        let mut since = 0;
        for (_, h) in &tail {
            if h.max_timestamp > self.max_timestamp {
                self.max_timestamp = h.max_timestamp;
                self.offset_of_max_timestamp = h.last_offset();
            }
            self.next_offset = h.next_offset();
            since += h.total_size() as u64;
        }
        if let Some(first) = first {
            self.rolling_timestamp = Some(first.max_timestamp);
        }
        // An index entry is written at the first batch that follows more than
        // `index.interval.bytes`: an empty offset index with more than that
        // before the last batch was lost (or emptied as damaged).
        let before_last = since - tail.last().map_or(0, |(_, h)| h.total_size() as u64);
        if self.offset_index.is_empty() && before_last > self.index_interval {
            return self.rebuild_from_headers();
        }
        if time_off >= self.next_offset || self.next_offset < self.base_offset {
            return self.rebuild_from_headers();
        }
        self.bytes_since_last_index = since;
        Ok(())
    }

    /// Recovers the segment: reads every batch, checks its header, offsets and CRC,
    /// rebuilds both indexes, and cuts the file at the first bad or torn batch.
    /// `on_batch` sees each valid batch header in order.
    pub fn recover(
        &mut self,
        on_batch: &mut dyn FnMut(&BatchHeader) -> Result<()>,
    ) -> Result<RecoveryOutcome> {
        self.reset_state()?;
        let file = self.log_file()?;
        let file_len = file.len().map_err(io_err(&self.log_path))?;
        let mut pos = 0u64;
        let mut chunk = vec![0u8; RECOVERY_CHUNK];
        while let Some(h) = self.check_batch_at(file.as_ref(), pos, file_len, &mut chunk)? {
            self.index_batch(pos, &h)?;
            on_batch(&h)?;
            pos += h.total_size() as u64;
        }
        if pos < file_len {
            file.set_len(pos).map_err(io_err(&self.log_path))?;
        }
        self.size = pos;
        self.write_pending_index_entries()?;
        Ok(RecoveryOutcome {
            valid_bytes: pos,
            truncated_bytes: file_len - pos,
        })
    }

    /// The header of the batch at `pos` if the whole batch is present and valid.
    fn check_batch_at(
        &self,
        file: &dyn StorageFile,
        pos: u64,
        file_len: u64,
        chunk: &mut [u8],
    ) -> Result<Option<BatchHeader>> {
        if pos + BATCH_HEADER_LEN as u64 > file_len {
            return Ok(None);
        }
        let mut head = [0u8; BATCH_HEADER_LEN];
        let n = read_full_at(file, &mut head, pos).map_err(io_err(&self.log_path))?;
        let Ok(h) = parse_header(&head[..n]) else {
            return Ok(None);
        };
        let total = h.total_size() as u64;
        let min_base = self.next_offset.max(self.base_offset);
        if h.magic != MAGIC_V2
            || !offsets_in_range(&h)
            || pos + total > file_len
            || h.base_offset < min_base
            || h.last_offset_delta < 0
            || h.last_offset() - self.base_offset > i64::from(i32::MAX)
            || h.record_count < 0
        {
            return Ok(None);
        }
        let mut crc = crc32c::crc32c(&head[ATTRIBUTES_OFFSET..]);
        let mut at = pos + BATCH_HEADER_LEN as u64;
        let end = pos + total;
        while at < end {
            let want = ((end - at) as usize).min(chunk.len());
            let n = read_full_at(file, &mut chunk[..want], at).map_err(io_err(&self.log_path))?;
            if n != want {
                return Ok(None);
            }
            crc = crc32c::crc32c_append(crc, &chunk[..n]);
            at += n as u64;
        }
        if crc != h.crc {
            return Ok(None);
        }
        Ok(Some(h))
    }

    /// Removes every batch whose last offset is at or above `offset`; returns the
    /// bytes removed.
    pub fn truncate_to(&mut self, offset: i64) -> Result<u64> {
        let Some((pos, _)) = self.translate_offset(offset)? else {
            return Ok(0);
        };
        let removed = self.size - pos;
        self.log_file()?
            .set_len(pos)
            .map_err(io_err(&self.log_path))?;
        self.size = pos;
        self.rebuild_from_headers()?;
        self.txn_index.truncate_to(self.storage.as_ref(), offset)?;
        Ok(removed)
    }

    /// Called when the segment stops being the active one: records a final time
    /// index entry, writes both index files out (exactly their entries) and hands
    /// the `.log` file to the handle cache.
    pub fn on_become_inactive(&mut self) -> Result<()> {
        if self.max_timestamp >= 0 {
            self.time_index
                .maybe_append(self.max_timestamp, self.offset_of_max_timestamp)?;
        }
        let st = self.storage.as_ref();
        self.offset_index.trim(st)?;
        self.time_index.trim(st)?;
        // From now on the entries may be dropped ([`LogSegment::unload_indexes`])
        // and read back on use.
        self.offset_index.make_deferred(&self.storage, self.size);
        self.time_index
            .make_deferred(&self.storage, self.next_offset);
        if let Some(f) = self.log.take() {
            self.handles.insert(self.handle_id, f);
        }
        Ok(())
    }

    /// Drops the index entries of an inactive segment from memory when they are
    /// all in their files (read back on the next lookup); returns whether any
    /// were dropped.
    pub fn unload_indexes(&mut self) -> bool {
        if self.log.is_some() {
            return false;
        }
        let a = self.offset_index.unload();
        let b = self.time_index.unload();
        a || b
    }

    /// Whether any index entries of this segment are in memory.
    pub fn indexes_loaded(&self) -> bool {
        self.offset_index.is_loaded() || self.time_index.is_loaded()
    }

    /// When the indexes were last used for a lookup (a process-wide tick).
    pub fn index_last_use(&self) -> u64 {
        self.index_last_use.load(Ordering::Relaxed)
    }

    fn touch_indexes(&self) {
        self.index_last_use.store(
            INDEX_TICK.fetch_add(1, Ordering::Relaxed),
            Ordering::Relaxed,
        );
    }

    /// Called when the segment becomes the active one again (after truncation or
    /// on open): it holds its `.log` file open itself from now on.
    pub fn on_become_active(&mut self) -> Result<()> {
        if self.log.is_none() {
            self.log = Some(self.log_file()?);
            self.handles.remove(self.handle_id);
        }
        Ok(())
    }

    /// Lets the handle cache drop this inactive segment's `.log` file (a closed
    /// log keeps no file open; a later read opens it again).
    pub fn release_file(&self) {
        if self.log.is_none() {
            self.handles.remove(self.handle_id);
        }
    }

    /// Fsyncs the log and its indexes (index files only if they changed).
    pub fn flush(&mut self) -> Result<()> {
        self.log_file()?.sync().map_err(io_err(&self.log_path))?;
        let st = self.storage.as_ref();
        self.offset_index.sync(st)?;
        self.time_index.sync(st)?;
        self.txn_index.sync(st)
    }

    /// What must be fsynced to make the segment durable, for fsyncing elsewhere:
    /// the `.log` file's handle, and the paths of index files changed since their
    /// last fsync (opened by the job).
    pub fn sync_targets(&self) -> Result<Vec<SyncTarget>> {
        let mut out = vec![(self.log_path.clone(), Some(self.log_file()?))];
        if self.offset_index.is_dirty() {
            out.push((self.offset_index.path().to_path_buf(), None));
        }
        if self.time_index.is_dirty() {
            out.push((self.time_index.path().to_path_buf(), None));
        }
        if self.txn_index.is_dirty() {
            out.push((self.txn_index.path().to_path_buf(), None));
        }
        Ok(out)
    }

    /// Records that a flush job fsynced everything [`LogSegment::sync_targets`]
    /// named.
    pub fn mark_synced(&mut self) {
        self.offset_index.mark_synced();
        self.time_index.mark_synced();
        self.txn_index.mark_synced();
    }

    /// The paths of the segment's files (the `.txnindex` may not exist).
    pub fn file_paths(&self) -> [PathBuf; 4] {
        [
            self.log_path.clone(),
            self.offset_index.path().to_path_buf(),
            self.time_index.path().to_path_buf(),
            self.txn_index.path().to_path_buf(),
        ]
    }

    /// Removes the segment's files (whatever their names are).
    pub fn remove_files(&self) -> Result<()> {
        for p in self.file_paths() {
            match self.storage.remove(&p) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(StorageError::io(&p, e)),
            }
        }
        Ok(())
    }

    /// Renames the files by appending `suffix` to their names (e.g.
    /// `.deleted`); returns the new paths. The segment then refers to them.
    pub fn rename_with_suffix(&mut self, suffix: &str) -> Result<Vec<PathBuf>> {
        let mut out = Vec::new();
        let with_suffix = |p: &Path| {
            let mut to = p.as_os_str().to_owned();
            to.push(suffix);
            PathBuf::from(to)
        };
        for p in self.file_paths() {
            let to = with_suffix(&p);
            match self.storage.rename(&p, &to) {
                Ok(()) => out.push(to),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(StorageError::io(&p, e)),
            }
        }
        self.log_path = with_suffix(&self.log_path);
        let index = with_suffix(self.offset_index.path());
        self.offset_index.set_path(index);
        let time = with_suffix(self.time_index.path());
        self.time_index.set_path(time);
        let txn = with_suffix(self.txn_index.path());
        self.txn_index.set_path(txn);
        Ok(out)
    }
}

impl Drop for LogSegment {
    fn drop(&mut self) {
        self.handles.remove(self.handle_id);
    }
}
