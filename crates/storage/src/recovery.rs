//! Opening a log directory: finishing or discarding interrupted file operations,
//! loading segments, recovering (re-checking every batch of) the segments at and
//! after the recovery point, and restoring producer state and leader epochs.
//!
//! Segments wholly below the recovery point are trusted: their index files are
//! checked structurally and only the few batch headers after the last index entry
//! are read. Everything from the segment holding the recovery point on is read in
//! full, every CRC checked, indexes rebuilt, and the first torn or corrupt batch and
//! everything after it (including later segments) removed.

use std::collections::BTreeSet;
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
    /// `opts.recovery_point`.
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
        // The segment holding the recovery point is the first that may need recovery.
        let first_unsafe = bases.iter().rposition(|&b| b <= rp).unwrap_or(0);
        let mut segments = std::collections::BTreeMap::new();
        let mut recovered_any = false;
        // Segments whose `.txnindex` is rebuilt from their markers.
        let mut rebuild_txn = BTreeSet::new();
        let mut cut_rest = false;
        for (i, &base) in bases.iter().enumerate() {
            if cut_rest {
                for p in LogSegment::open(&storage, dir, base, &config, now)?.file_paths() {
                    if st.exists(&p) {
                        st.remove(&p).map_err(|e| StorageError::io(&p, e))?;
                    }
                }
                continue;
            }
            let mut seg = LogSegment::open(&storage, dir, base, &config, now)?;
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
                recovered_any = true;
                rebuild_txn.insert(base);
                let outcome = seg.recover(&mut |h| {
                    leader_epochs.assign(h.partition_leader_epoch, h.base_offset)
                })?;
                if outcome.truncated_bytes > 0 {
                    cut_rest = true;
                }
            }
            segments.insert(base, seg);
        }
        let mut log = Log {
            storage: storage.clone(),
            dir: dir.to_path_buf(),
            config,
            clock,
            segments,
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
        if log.segments.is_empty() {
            let start = log.log_start_offset;
            let seg = LogSegment::create(&storage, dir, start, &log.config, now)?;
            log.segments.insert(start, seg);
        }
        let last_base = log.segments.keys().next_back().copied().unwrap_or(0);
        for (base, seg) in log.segments.iter_mut() {
            if *base == last_base {
                seg.on_become_active()?;
            } else {
                seg.on_become_inactive()?;
            }
        }
        let first_base = log.segments.keys().next().copied().unwrap_or(0);
        log.log_start_offset = log.log_start_offset.max(first_base);
        let leo = log.log_end_offset();
        if log.log_start_offset > leo {
            let start = log.log_start_offset;
            log.truncate_fully_and_start_at(start)?;
        }
        let leo = log.log_end_offset();
        if rebuild_epochs {
            log.leader_epochs.clear()?;
            for seg in log.segments.values() {
                for (_, h) in seg.headers().unwrap_or_default() {
                    log.leader_epochs
                        .assign(h.partition_leader_epoch, h.base_offset)?;
                }
            }
        }
        log.leader_epochs.truncate_from_end(leo)?;
        log.leader_epochs
            .truncate_from_start(log.log_start_offset)?;
        ProducerStateManager::delete_snapshots(st, dir, |o| o > leo)?;
        for (base, seg) in &log.segments {
            if seg.txn_index_needs_rebuild() {
                rebuild_txn.insert(*base);
            }
        }
        log.high_watermark = opts
            .high_watermark
            .unwrap_or(leo)
            .min(leo)
            .max(log.log_start_offset);
        log.replay_producer_state(&rebuild_txn)?;
        if recovered_any {
            // Recovered data is now checked; make it durable so the next open
            // need not check it again.
            log.recovery_point = log.recovery_point.min(leo);
            log.flush()?;
        } else {
            log.recovery_point = leo;
        }
        Ok(log)
    }

    /// Reloads producer state from the newest snapshot at or below the log end and
    /// replays the batch headers after it.
    pub(crate) fn rebuild_producer_state(&mut self) -> Result<()> {
        self.replay_producer_state(&BTreeSet::new())
    }
}
