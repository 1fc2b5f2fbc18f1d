//! The leader epoch cache: which leader epoch started at which offset, persisted in
//! the partition's `leader-epoch-checkpoint` text file (version `0`, entry count,
//! then `epoch startOffset` lines). It answers OffsetForLeaderEpoch and drives
//! follower truncation.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::checkpoint::{format_lines, parse_lines, read_small_file, write_atomic};
use crate::error::{Result, StorageError};
use crate::io::Storage;

/// File name inside the partition directory.
pub const LEADER_EPOCH_CHECKPOINT: &str = "leader-epoch-checkpoint";
/// Epoch value for "no such epoch".
pub const UNDEFINED_EPOCH: i32 = -1;
/// Offset value for "no such offset".
pub const UNDEFINED_EPOCH_OFFSET: i64 = -1;
const MAX_FILE_BYTES: u64 = 16 * 1024 * 1024;

/// One epoch and the first offset written in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EpochEntry {
    pub epoch: i32,
    pub start_offset: i64,
}

/// The in-memory cache, written through to its checkpoint file on every change.
#[derive(Debug)]
pub struct LeaderEpochCache {
    storage: Arc<dyn Storage>,
    path: PathBuf,
    entries: Vec<EpochEntry>,
}

impl LeaderEpochCache {
    /// Loads the checkpoint in `dir` (missing file: empty cache). Entries that do not
    /// strictly increase in both epoch and start offset make the file corrupt.
    pub fn load(storage: Arc<dyn Storage>, dir: &Path) -> Result<Self> {
        let path = dir.join(LEADER_EPOCH_CHECKPOINT);
        let mut entries = Vec::new();
        if let Some(bytes) = read_small_file(storage.as_ref(), &path, MAX_FILE_BYTES)? {
            let text = std::str::from_utf8(&bytes)
                .map_err(|_| StorageError::corrupt(&path, "not UTF-8 text"))?;
            for line in parse_lines(&path, text)? {
                let mut parts = line.split_whitespace();
                let parsed = match (parts.next(), parts.next(), parts.next()) {
                    (Some(e), Some(o), None) => e.parse::<i32>().ok().zip(o.parse::<i64>().ok()),
                    _ => None,
                };
                let (epoch, start_offset) = parsed
                    .ok_or_else(|| StorageError::corrupt(&path, format!("bad line {line:?}")))?;
                let entry = EpochEntry {
                    epoch,
                    start_offset,
                };
                if let Some(last) = entries.last() {
                    let last: &EpochEntry = last;
                    if epoch <= last.epoch || start_offset < last.start_offset {
                        return Err(StorageError::corrupt(&path, "entries out of order"));
                    }
                }
                entries.push(entry);
            }
        }
        Ok(LeaderEpochCache {
            storage,
            path,
            entries,
        })
    }

    /// An empty cache for `dir` (its checkpoint is written on the first change).
    pub fn empty(storage: Arc<dyn Storage>, dir: &Path) -> Self {
        LeaderEpochCache {
            storage,
            path: dir.join(LEADER_EPOCH_CHECKPOINT),
            entries: Vec::new(),
        }
    }

    /// All entries, oldest first.
    pub fn entries(&self) -> &[EpochEntry] {
        &self.entries
    }

    /// The newest entry.
    pub fn latest(&self) -> Option<EpochEntry> {
        self.entries.last().copied()
    }

    fn persist(&self) -> Result<()> {
        let text = format_lines(
            self.entries
                .iter()
                .map(|e| format!("{} {}", e.epoch, e.start_offset)),
        );
        write_atomic(self.storage.as_ref(), &self.path, text.as_bytes())
    }

    /// Records that `epoch` starts at `start_offset`. Ignored unless the epoch is
    /// newer than the latest (an older or equal epoch was already recorded). Entries
    /// whose start offset is at or past `start_offset` are replaced.
    pub fn assign(&mut self, epoch: i32, start_offset: i64) -> Result<()> {
        if epoch < 0 {
            return Ok(());
        }
        if let Some(last) = self.entries.last() {
            if epoch <= last.epoch {
                return Ok(());
            }
        }
        self.entries.retain(|e| e.start_offset < start_offset);
        self.entries.push(EpochEntry {
            epoch,
            start_offset,
        });
        self.persist()
    }

    /// For OffsetForLeaderEpoch: the largest epoch at or below `requested` and the
    /// offset where it ended (the start of the next epoch, or `log_end_offset` for
    /// the latest). `(UNDEFINED_EPOCH, UNDEFINED_EPOCH_OFFSET)` when `requested` is
    /// older than every entry or the cache is empty.
    pub fn end_offset_for(&self, requested: i32, log_end_offset: i64) -> (i32, i64) {
        let Some(latest) = self.latest() else {
            return (UNDEFINED_EPOCH, UNDEFINED_EPOCH_OFFSET);
        };
        if requested == latest.epoch {
            return (latest.epoch, log_end_offset);
        }
        // First entry with a newer epoch than requested.
        let higher = self.entries.partition_point(|e| e.epoch <= requested);
        if higher == 0 {
            return (UNDEFINED_EPOCH, UNDEFINED_EPOCH_OFFSET);
        }
        let floor = self.entries[higher - 1];
        match self.entries.get(higher) {
            Some(next) => (floor.epoch, next.start_offset),
            None => (floor.epoch, log_end_offset),
        }
    }

    /// The epoch that wrote `offset`, if known.
    pub fn epoch_for_offset(&self, offset: i64) -> Option<i32> {
        let i = self.entries.partition_point(|e| e.start_offset <= offset);
        (i > 0).then(|| self.entries[i - 1].epoch)
    }

    /// Drops entries starting at or after `end_offset` (log truncated to it).
    pub fn truncate_from_end(&mut self, end_offset: i64) -> Result<()> {
        let before = self.entries.len();
        self.entries.retain(|e| e.start_offset < end_offset);
        if self.entries.len() != before {
            self.persist()?;
        }
        Ok(())
    }

    /// Drops entries wholly before `start_offset` (log start advanced); the entry
    /// covering `start_offset` is kept and moved up to start there.
    pub fn truncate_from_start(&mut self, start_offset: i64) -> Result<()> {
        let covering = self
            .entries
            .partition_point(|e| e.start_offset <= start_offset);
        if covering == 0 {
            return Ok(());
        }
        let mut changed = covering > 1;
        self.entries.drain(..covering - 1);
        if self.entries[0].start_offset < start_offset {
            self.entries[0].start_offset = start_offset;
            changed = true;
        }
        if changed {
            self.persist()?;
        }
        Ok(())
    }

    /// Removes every entry.
    pub fn clear(&mut self) -> Result<()> {
        self.entries.clear();
        self.persist()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io::MemStorage;

    fn cache() -> (MemStorage, LeaderEpochCache) {
        let s = MemStorage::new();
        let c = LeaderEpochCache::load(Arc::new(s.clone()), Path::new("/p")).unwrap();
        (s, c)
    }

    #[test]
    fn assign_persists_kafka_text_format() {
        let (s, mut c) = cache();
        c.assign(1, 0).unwrap();
        c.assign(1, 5).unwrap(); // same epoch: ignored
        c.assign(3, 10).unwrap();
        assert_eq!(
            s.snapshot()[Path::new("/p/leader-epoch-checkpoint")],
            b"0\n2\n1 0\n3 10\n"
        );
        let reloaded = LeaderEpochCache::load(Arc::new(s), Path::new("/p")).unwrap();
        assert_eq!(reloaded.entries(), c.entries());
    }

    #[test]
    fn end_offset_lookups_follow_offset_for_leader_epoch() {
        let (_s, mut c) = cache();
        assert_eq!(c.end_offset_for(0, 10), (-1, -1));
        c.assign(2, 0).unwrap();
        c.assign(4, 30).unwrap();
        c.assign(7, 55).unwrap();
        assert_eq!(c.end_offset_for(7, 80), (7, 80));
        assert_eq!(c.end_offset_for(2, 80), (2, 30));
        assert_eq!(c.end_offset_for(3, 80), (2, 30));
        assert_eq!(c.end_offset_for(5, 80), (4, 55));
        assert_eq!(c.end_offset_for(9, 80), (7, 80));
        assert_eq!(c.end_offset_for(1, 80), (-1, -1));
        assert_eq!(c.epoch_for_offset(31), Some(4));
        assert_eq!(c.epoch_for_offset(-5), None);
    }

    #[test]
    fn truncation_from_both_ends() {
        let (_s, mut c) = cache();
        c.assign(1, 0).unwrap();
        c.assign(2, 10).unwrap();
        c.assign(3, 20).unwrap();
        c.truncate_from_end(20).unwrap();
        assert_eq!(
            c.latest(),
            Some(EpochEntry {
                epoch: 2,
                start_offset: 10
            })
        );
        c.truncate_from_start(15).unwrap();
        assert_eq!(
            c.entries(),
            &[EpochEntry {
                epoch: 2,
                start_offset: 15
            }]
        );
    }

    #[test]
    fn corrupt_checkpoint_is_an_error() {
        let s = MemStorage::new();
        let p = Path::new("/p/leader-epoch-checkpoint");
        for bad in [&b"0\n2\n3 0\n1 5\n"[..], b"0\n1\n1\n", b"7\n0\n"] {
            s.put(p, bad.to_vec()).unwrap();
            assert!(LeaderEpochCache::load(Arc::new(s.clone()), Path::new("/p")).is_err());
        }
    }
}
