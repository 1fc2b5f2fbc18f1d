//! Opening a log directory: finishing or discarding interrupted file operations,
//! loading segments, recovering (re-checking every batch of) the segments at and
//! after the recovery point, and restoring producer state and leader epochs.
//!
//! Segments wholly below the recovery point are trusted: their index files are
//! checked structurally and only the few batch headers after the last index entry
//! are read. Everything from the segment holding the recovery point on is read in
//! full, every CRC checked, indexes rebuilt, and the first torn or corrupt batch and
//! everything after it (including later segments) removed.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;

use crate::clock::{Clock, SystemClock};
use crate::config::LogConfig;
use crate::error::{Result, StorageError};
use crate::io::{StdStorage, Storage};
use crate::leader_epoch::LeaderEpochCache;
use crate::log::{Log, LogOpenOptions};
use crate::producer_state::ProducerStateManager;
use crate::segment::{
    CLEANED_SUFFIX, DELETED_SUFFIX, INDEX_SUFFIX, LOG_SUFFIX, LogSegment, SWAP_SUFFIX,
    TIME_INDEX_SUFFIX, TXN_INDEX_SUFFIX, parse_file_name,
};

impl Log {
    /// Opens (creating if needed) the log in `dir` on the real file system with the
    /// system clock, recovering every segment (no recovery point known).
    pub fn open_path(dir: impl AsRef<Path>, config: LogConfig) -> Result<Log> {
        Log::open(
            Arc::new(StdStorage),
            dir.as_ref(),
            config,
            Arc::new(SystemClock),
            LogOpenOptions::default(),
        )
    }

    /// Opens (creating if needed) the log in `dir`, recovering from
    /// `opts.recovery_point`: leftovers of interrupted operations removed
    /// ([`clean_dir`]), segments loaded and checked ([`load_segments`]), then
    /// offsets, leader epochs and producer state settled ([`Log::settle_after_open`]).
    pub fn open(
        storage: Arc<dyn Storage>,
        dir: &Path,
        config: LogConfig,
        clock: Arc<dyn Clock>,
        opts: LogOpenOptions,
    ) -> Result<Log> {
        let st = storage.as_ref();
        st.create_dir_all(dir)
            .map_err(|e| StorageError::io(dir, e))?;
        let now = clock.now_ms();
        crate::compaction::complete_interrupted_swaps(st, dir, &config, now)?;
        let bases = clean_dir(st, dir)?;

        // A damaged checkpoint is rebuilt from the batches' leader epochs below.
        let (mut leader_epochs, rebuild_epochs) = match LeaderEpochCache::load(storage.clone(), dir)
        {
            Ok(c) => (c, false),
            Err(StorageError::Corrupt { .. }) => {
                (LeaderEpochCache::empty(storage.clone(), dir), true)
            }
            Err(e) => return Err(e),
        };
        let rp = opts.recovery_point;
        let loaded = load_segments(&storage, dir, &config, now, &bases, rp, &mut leader_epochs)?;
        let mut log = Log {
            storage: storage.clone(),
            dir: dir.to_path_buf(),
            config,
            clock,
            segments: loaded.segments,
            log_start_offset: opts.log_start_offset.max(0),
            high_watermark: 0,
            recovery_point: rp.max(0),
            producers: ProducerStateManager::new(),
            unreplicated_txns: std::collections::VecDeque::new(),
            leader_epochs,
            unflushed_messages: 0,
            last_flush_ms: now,
            offline: false,
            closed: false,
            pending_deletes: Vec::new(),
            cleaner_offset: 0,
            truncations: 0,
            tombstones_due_ms: None,
        };
        log.settle_after_open(
            &opts,
            now,
            rebuild_epochs,
            loaded.recovered_any,
            loaded.rebuild_txn,
        )?;
        Ok(log)
    }

    /// The rest of [`Log::open`] once the segments are loaded: an empty log gets
    /// its first segment, the last segment becomes the active one, the start
    /// offset, leader epochs and producer snapshots are brought within the log,
    /// the high watermark is capped at the log end, producer state is replayed,
    /// and recovered data is flushed (moving the recovery point).
    fn settle_after_open(
        &mut self,
        opts: &LogOpenOptions,
        now: i64,
        rebuild_epochs: bool,
        recovered_any: bool,
        mut rebuild_txn: BTreeSet<i64>,
    ) -> Result<()> {
        let st = self.storage.clone();
        let st = st.as_ref();
        if self.segments.is_empty() {
            let start = self.log_start_offset;
            let seg = LogSegment::create(&self.storage, &self.dir, start, &self.config, now)?;
            self.segments.insert(start, seg);
        }
        let last_base = self.segments.keys().next_back().copied().unwrap_or(0);
        for (base, seg) in self.segments.iter_mut() {
            if *base == last_base {
                seg.on_become_active()?;
            } else {
                seg.on_become_inactive()?;
            }
        }
        let first_base = self.segments.keys().next().copied().unwrap_or(0);
        self.log_start_offset = self.log_start_offset.max(first_base);
        let leo = self.log_end_offset();
        if self.log_start_offset > leo {
            let start = self.log_start_offset;
            self.truncate_fully_and_start_at(start)?;
        }
        let leo = self.log_end_offset();
        if rebuild_epochs {
            self.leader_epochs.clear()?;
            for seg in self.segments.values() {
                for (_, h) in seg.headers().unwrap_or_default() {
                    self.leader_epochs
                        .assign(h.partition_leader_epoch, h.base_offset)?;
                }
            }
        }
        self.leader_epochs.truncate_from_end(leo)?;
        self.leader_epochs
            .truncate_from_start(self.log_start_offset)?;
        ProducerStateManager::delete_snapshots(st, &self.dir, |o| o > leo)?;
        for (base, seg) in &self.segments {
            if seg.txn_index_needs_rebuild() {
                rebuild_txn.insert(*base);
            }
        }
        self.high_watermark = opts
            .high_watermark
            .unwrap_or(leo)
            .min(leo)
            .max(self.log_start_offset);
        self.replay_producer_state(&rebuild_txn)?;
        if recovered_any {
            // Recovered data is now checked; make it durable so the next open
            // need not check it again.
            self.recovery_point = self.recovery_point.min(leo);
            self.flush()?;
        } else {
            self.recovery_point = leo;
        }
        Ok(())
    }

    /// Reloads producer state from the newest snapshot at or below the log end and
    /// replays the batch headers after it.
    pub(crate) fn rebuild_producer_state(&mut self) -> Result<()> {
        self.replay_producer_state(&BTreeSet::new())
    }
}

/// Removes what interrupted operations left in `dir` (`.deleted`, `.cleaned`,
/// `.swap` and `.tmp` files, index files without their `.log`) and returns the
/// base offsets of the segments there, in order.
fn clean_dir(st: &dyn Storage, dir: &Path) -> Result<Vec<i64>> {
    let names = st.list_dir(dir).map_err(|e| StorageError::io(dir, e))?;
    let mut bases = Vec::new();
    for name in &names {
        let path = dir.join(name);
        if name.ends_with(DELETED_SUFFIX)
            || name.ends_with(CLEANED_SUFFIX)
            || name.ends_with(SWAP_SUFFIX)
            || name.ends_with(".tmp")
        {
            st.remove(&path).map_err(|e| StorageError::io(&path, e))?;
        } else if let Some(b) = parse_file_name(name, LOG_SUFFIX) {
            bases.push(b);
        }
    }
    // Index files without a log file are leftovers.
    for name in &names {
        for suffix in [INDEX_SUFFIX, TIME_INDEX_SUFFIX, TXN_INDEX_SUFFIX] {
            if let Some(b) = parse_file_name(name, suffix) {
                if !bases.contains(&b) {
                    let path = dir.join(name);
                    st.remove(&path).map_err(|e| StorageError::io(&path, e))?;
                }
            }
        }
    }
    bases.sort_unstable();
    Ok(bases)
}

/// The segments [`load_segments`] opened, and what recovery found.
struct LoadedSegments {
    segments: BTreeMap<i64, LogSegment>,
    /// Whether any segment was recovered (read in full and checked).
    recovered_any: bool,
    /// Segments whose `.txnindex` is rebuilt from their markers.
    rebuild_txn: BTreeSet<i64>,
}

/// Opens the segments at `bases`: those wholly below the recovery point `rp`
/// are trusted, the rest recovered (their batches' leader epochs assigned to
/// `leader_epochs`); after the first torn or corrupt batch every later segment
/// is removed.
fn load_segments(
    storage: &Arc<dyn Storage>,
    dir: &Path,
    config: &LogConfig,
    now: i64,
    bases: &[i64],
    rp: i64,
    leader_epochs: &mut LeaderEpochCache,
) -> Result<LoadedSegments> {
    let st = storage.as_ref();
    // The segment holding the recovery point is the first that may need recovery.
    let first_unsafe = bases.iter().rposition(|&b| b <= rp).unwrap_or(0);
    let mut loaded = LoadedSegments {
        segments: BTreeMap::new(),
        recovered_any: false,
        rebuild_txn: BTreeSet::new(),
    };
    let mut cut_rest = false;
    for (i, &base) in bases.iter().enumerate() {
        if cut_rest {
            for p in LogSegment::open(storage, dir, base, config, now)?.file_paths() {
                if st.exists(&p) {
                    st.remove(&p).map_err(|e| StorageError::io(&p, e))?;
                }
            }
            continue;
        }
        let mut seg = LogSegment::open(storage, dir, base, config, now)?;
        let trusted = if i < first_unsafe {
            // Durable by the recovery point: trust it, fixing its indexes from
            // the headers if they do not match; recover it only if even the
            // headers are broken.
            seg.load_trusted().is_ok() || seg.rebuild_from_headers().is_ok()
        } else if i == first_unsafe {
            // Holds the recovery point: no check needed if nothing in it is
            // past the recovery point.
            seg.load_trusted().is_ok() && seg.next_offset() <= rp
        } else {
            false
        };
        if !trusted {
            loaded.recovered_any = true;
            loaded.rebuild_txn.insert(base);
            let outcome = seg
                .recover(&mut |h| leader_epochs.assign(h.partition_leader_epoch, h.base_offset))?;
            if outcome.truncated_bytes > 0 {
                cut_rest = true;
            }
        }
        loaded.segments.insert(base, seg);
    }
    Ok(loaded)
}
