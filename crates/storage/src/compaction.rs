//! Log compaction (`cleanup.policy=compact`): keep only the latest record per key
//! in the segments below the active one, with crash-safe replacement of segments.
//!
//! Rules:
//! - The active segment, anything at or past the last stable offset or the recovery
//!   point (unflushed data), and segments with records newer than
//!   `min.compaction.lag.ms` are never compacted.
//! - Offsets never change: a rewritten batch keeps its base offset and last offset
//!   delta (and so its producer sequence range); records simply disappear from it.
//! - A tombstone (record with a key and no value) is kept while it is the latest
//!   for its key and younger than `delete.retention.ms` (by its record timestamp).
//! - Records without a key and control batches (transaction markers) are kept.
//! - Transactional records of aborted transactions (found through the `.txnindex`)
//!   are removed; those of committed transactions are compacted like any record.
//!   A transactional batch is never dropped, only emptied (its header stays), so
//!   replaying the headers gives the same producer state and the same `.txnindex`
//!   entries as before cleaning. The last batch of each producer is kept (empty if
//!   every record went), so producer state survives compaction.
//!
//! Swapping: each cleaned segment is written as `<base>.log.cleaned` (+ indexes),
//! fsynced, renamed to `.swap`, the original renamed to `.deleted`, and the `.swap`
//! renamed into place. On open, a `.swap` file means the cleaned copy was complete:
//! the swap is finished; `.cleaned` files are incomplete and deleted.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use vltava_records::batch_header::{BATCH_HEADER_LEN, LOG_OVERHEAD, parse_header, update_crc};
use vltava_records::{BatchBuilder, BatchBuilderConfig, BatchHeader, BatchView, DecodeLimits};

use crate::config::LogConfig;
use crate::error::{Result, StorageError};
use crate::io::Storage;
use crate::log::Log;
use crate::segment::{
    CLEANED_SUFFIX, DELETED_SUFFIX, INDEX_SUFFIX, LOG_SUFFIX, LogSegment, SWAP_SUFFIX,
    TIME_INDEX_SUFFIX, file_name, parse_file_name,
};
use crate::txn_index::AbortedTxn;

/// Memory allowed for the key → latest offset map of one compaction pass (Kafka's
/// `log.cleaner.dedupe.buffer.size` default). Segments that do not fit wait for the
/// next pass.
pub const DEDUPE_BUFFER_BYTES: usize = 128 * 1024 * 1024;
/// Rough per-key overhead counted against [`DEDUPE_BUFFER_BYTES`].
const MAP_ENTRY_OVERHEAD: usize = 64;
/// Byte offset of the last-offset-delta field in a batch header.
const LAST_OFFSET_DELTA_AT: usize = 23;

/// What one compaction pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CompactionOutcome {
    pub segments_cleaned: usize,
    pub bytes_before: u64,
    pub bytes_after: u64,
    pub records_removed: u64,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> StorageError + '_ {
    move |e| StorageError::io(path, e)
}

fn with_suffix(p: &Path, suffix: &str) -> PathBuf {
    let mut s = p.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
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
        storage.sync_dir(dir).map_err(io(dir))?;
    }
    Ok(())
}

/// Whether `h` is a data batch of one of the `aborted` transactions: a
/// transactional batch of the producer between the transaction's first offset
/// and its ABORT marker.
fn in_aborted_txn(h: &BatchHeader, aborted: &[AbortedTxn]) -> bool {
    h.attributes.is_transactional()
        && !h.attributes.is_control()
        && aborted.iter().any(|t| {
            t.producer_id == h.producer_id
                && t.first_offset <= h.base_offset
                && h.base_offset < t.last_offset
        })
}

fn empty_batch_like(h: &BatchHeader) -> Bytes {
    let header = BatchHeader {
        batch_length: (BATCH_HEADER_LEN - LOG_OVERHEAD) as i32,
        record_count: 0,
        ..*h
    };
    let mut buf = [0u8; BATCH_HEADER_LEN];
    header.write_to(&mut buf);
    let mut v = buf.to_vec();
    update_crc(&mut v);
    Bytes::from(v)
}

impl Log {
    /// One compaction pass over the cleanable segments (see the module docs).
    /// Does nothing unless `cleanup.policy` includes `compact`.
    pub fn compact(&mut self, now_ms: i64) -> Result<CompactionOutcome> {
        self.ensure_online()?;
        if !self.config.cleanup_policy.compact {
            return Ok(CompactionOutcome::default());
        }
        let r = self.compact_inner(now_ms);
        self.guard(r)
    }

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

    fn compact_inner(&mut self, now_ms: i64) -> Result<CompactionOutcome> {
        let limits = DecodeLimits::default();
        let candidates = self.cleanable_bases(now_ms);
        // Pass 1: latest offset per key, over as many segments as fit in memory.
        // Batches are read one at a time, so memory holds one batch plus the map.
        let mut latest: HashMap<Bytes, i64> = HashMap::new();
        let mut used = 0usize;
        let mut bases = Vec::new();
        let mut aborted_by_base: HashMap<i64, Vec<AbortedTxn>> = HashMap::new();
        for base in candidates {
            let Some(seg) = self.segments.get(&base) else {
                continue;
            };
            let aborted = self.aborted_transactions(base, seg.next_offset())?;
            let mut seg_map: Vec<(Bytes, i64)> = Vec::new();
            for (pos, h) in seg.headers()? {
                if h.attributes.is_control() || in_aborted_txn(&h, &aborted) {
                    continue;
                }
                let bytes = seg.read_bytes(pos, h.total_size() as u64)?;
                let view = BatchView::new(&bytes)?;
                for r in view.records(&limits)? {
                    if let Some(k) = r.key.clone() {
                        seg_map.push((k, r.offset(&h)));
                    }
                }
            }
            let extra: usize = seg_map
                .iter()
                .map(|(k, _)| k.len() + MAP_ENTRY_OVERHEAD)
                .sum();
            if used + extra > DEDUPE_BUFFER_BYTES {
                break;
            }
            used += extra;
            for (k, o) in seg_map {
                latest.insert(k, o);
            }
            bases.push(base);
            aborted_by_base.insert(base, aborted);
        }
        // Pass 2: rewrite each segment into a `.cleaned` copy, batch by batch.
        let mut outcome = CompactionOutcome::default();
        for base in bases {
            let Some(seg) = self.segments.get(&base) else {
                continue;
            };
            let headers = seg.headers()?;
            let size_before = seg.size();
            let st = self.storage.clone();
            let mut cleaned = LogSegment::create_with_suffix(
                &st,
                &self.dir,
                base,
                &self.config,
                now_ms,
                CLEANED_SUFFIX,
            )?;
            let mut removed = 0u64;
            let aborted = aborted_by_base.remove(&base).unwrap_or_default();
            for (pos, h) in headers {
                let bytes = seg.read_bytes(pos, h.total_size() as u64)?;
                let kept = if in_aborted_txn(&h, &aborted) {
                    removed += u64::try_from(h.record_count).unwrap_or(0);
                    Some(empty_batch_like(&h).to_vec())
                } else {
                    self.clean_batch(&bytes, &h, &latest, now_ms, &limits, &mut removed)?
                };
                if let Some(kept) = kept {
                    let kh = parse_header(&kept)?;
                    cleaned.append(&kept, &[(0, kh)])?;
                }
            }
            if removed == 0 {
                cleaned.remove_files()?;
                continue;
            }
            outcome.segments_cleaned += 1;
            outcome.bytes_before += size_before;
            outcome.bytes_after += cleaned.size();
            outcome.records_removed += removed;
            self.swap_in(base, cleaned, now_ms)?;
        }
        Ok(outcome)
    }

    /// The bytes to keep of one batch: the batch as is, a rebuilt batch holding the
    /// records to keep (same base and last offset), an empty batch (the producer's
    /// last), or nothing.
    fn clean_batch(
        &self,
        bytes: &[u8],
        h: &BatchHeader,
        latest: &HashMap<Bytes, i64>,
        now_ms: i64,
        limits: &DecodeLimits,
        removed: &mut u64,
    ) -> Result<Option<Vec<u8>>> {
        if h.attributes.is_control() {
            return Ok(Some(bytes.to_vec()));
        }
        let view = BatchView::new(bytes)?;
        let records = view.records(limits)?;
        let keep: Vec<bool> = records
            .iter()
            .map(|r| match &r.key {
                None => true,
                Some(k) => {
                    let newest = latest.get(k).is_none_or(|&o| o == r.offset(h));
                    let expired_tombstone = r.value.is_none()
                        && now_ms.saturating_sub(r.timestamp(h)) > self.config.delete_retention_ms;
                    newest && !expired_tombstone
                }
            })
            .collect();
        let kept = keep.iter().filter(|k| **k).count();
        *removed += (records.len() - kept) as u64;
        if kept == records.len() {
            return Ok(Some(bytes.to_vec()));
        }
        let last_of_producer = h.producer_id >= 0
            && self
                .producers
                .get(h.producer_id)
                .and_then(|e| e.batches.back())
                .is_some_and(|b| b.last_offset == h.last_offset());
        if kept == 0 {
            let keep_header = last_of_producer || h.attributes.is_transactional();
            return Ok(keep_header.then(|| empty_batch_like(h).to_vec()));
        }
        let mut b = BatchBuilder::new(BatchBuilderConfig {
            compression: h
                .attributes
                .compression()
                .unwrap_or(vltava_records::Compression::None),
            base_offset: h.base_offset,
            partition_leader_epoch: h.partition_leader_epoch,
            producer_id: h.producer_id,
            producer_epoch: h.producer_epoch,
            base_sequence: h.base_sequence,
            transactional: h.attributes.is_transactional(),
            control: false,
            timestamp_type: h.attributes.timestamp_type(),
            max_batch_bytes: usize::MAX,
        });
        for (r, _) in records.iter().zip(&keep).filter(|(_, k)| **k) {
            b.append_with_offset(
                r.offset(h),
                r.timestamp(h),
                r.key.as_deref(),
                r.value.as_deref(),
                &r.headers,
            )?;
        }
        let mut built = b.build()?.to_vec();
        // Keep the original last offset so offsets and sequences stay put.
        if built.len() >= BATCH_HEADER_LEN {
            built[LAST_OFFSET_DELTA_AT..LAST_OFFSET_DELTA_AT + 4]
                .copy_from_slice(&h.last_offset_delta.to_be_bytes());
            update_crc(&mut built);
        }
        Ok(Some(built))
    }

    /// Replaces segment `base` with the finished `.cleaned` segment using the
    /// `.cleaned` → `.swap` → final rename sequence.
    fn swap_in(&mut self, base: i64, mut cleaned: LogSegment, now_ms: i64) -> Result<()> {
        let st = self.storage.clone();
        let st = st.as_ref();
        cleaned.on_become_inactive()?;
        cleaned.flush()?;
        drop(cleaned);
        let finals: Vec<PathBuf> = [LOG_SUFFIX, INDEX_SUFFIX, TIME_INDEX_SUFFIX]
            .iter()
            .map(|s| self.dir.join(file_name(base, s)))
            .collect();
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
        for f in &finals {
            let from = with_suffix(f, SWAP_SUFFIX);
            st.rename(&from, f).map_err(io(&from))?;
        }
        st.sync_dir(&self.dir).map_err(io(&self.dir))?;
        for f in &finals {
            let _ = st.remove(&with_suffix(f, DELETED_SUFFIX));
        }
        let mut seg = LogSegment::open(&self.storage, &self.dir, base, &self.config, now_ms)?;
        seg.load_trusted()?;
        self.segments.insert(base, seg);
        Ok(())
    }
}
