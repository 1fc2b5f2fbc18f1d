//! The sparse offset index (`.index`): 8-byte entries mapping an offset (relative to
//! the segment's base offset, u32 big-endian) to the byte position (u32 big-endian)
//! of the batch holding it in the `.log` file.
//!
//! Entries live in memory for lookups and are written to the file in one write at
//! the end of each append (`write_pending`); the file is
//! preallocated to `segment.index.bytes` while the segment is active and trimmed to
//! its entries when the segment is rolled or closed.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::error::{Result, StorageError};
use crate::io::{Storage, StorageFile, read_full_at};

/// Size of one entry in bytes.
pub const ENTRY_SIZE: usize = 8;

/// One `.index` file and its entries.
#[derive(Debug)]
pub struct OffsetIndex {
    path: PathBuf,
    file: Arc<dyn StorageFile>,
    base_offset: i64,
    /// (relative offset, position), both strictly increasing.
    entries: Vec<(u32, u32)>,
    max_entries: usize,
    /// Entries already written to the file (the rest are written in one call by
    /// `write_pending`, at the end of each append).
    written: usize,
}

impl OffsetIndex {
    /// Creates (or empties) the index file and preallocates it to `max_bytes`.
    pub fn create(
        storage: &dyn Storage,
        path: &Path,
        base_offset: i64,
        max_bytes: u64,
    ) -> Result<Self> {
        let file = storage
            .open(path, true)
            .map_err(|e| StorageError::io(path, e))?;
        let max_entries = (max_bytes / ENTRY_SIZE as u64).max(1) as usize;
        file.set_len((max_entries * ENTRY_SIZE) as u64)
            .map_err(|e| StorageError::io(path, e))?;
        Ok(OffsetIndex {
            path: path.to_path_buf(),
            file,
            base_offset,
            entries: Vec::new(),
            max_entries,
            written: 0,
        })
    }

    /// Loads an existing index, checking every entry: offsets and positions must
    /// increase and positions must lie inside a log of `log_size` bytes; a zero tail
    /// (preallocated space) ends the entries. Returns `Ok(None)` when the file is
    /// missing or fails a check, so the caller rebuilds it from the log.
    pub fn load(
        storage: &dyn Storage,
        path: &Path,
        base_offset: i64,
        max_bytes: u64,
        log_size: u64,
    ) -> Result<Option<Self>> {
        let Ok(file) = storage.open(path, false) else {
            return Ok(None);
        };
        let len = file.len().map_err(|e| StorageError::io(path, e))?;
        let max_entries = (max_bytes / ENTRY_SIZE as u64).max(1) as usize;
        if len % ENTRY_SIZE as u64 != 0 || len > (max_entries * ENTRY_SIZE) as u64 {
            return Ok(None);
        }
        let mut buf = vec![0u8; len as usize];
        let n = read_full_at(file.as_ref(), &mut buf, 0).map_err(|e| StorageError::io(path, e))?;
        if n != buf.len() {
            return Ok(None);
        }
        let mut entries: Vec<(u32, u32)> = Vec::new();
        let mut zero_tail = false;
        for chunk in buf.chunks_exact(ENTRY_SIZE) {
            let rel = u32::from_be_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
            let pos = u32::from_be_bytes([chunk[4], chunk[5], chunk[6], chunk[7]]);
            if zero_tail {
                if rel != 0 || pos != 0 {
                    return Ok(None);
                }
                continue;
            }
            if !entries.is_empty() && rel == 0 && pos == 0 {
                zero_tail = true;
                continue;
            }
            if u64::from(pos) >= log_size.max(1) || rel > i32::MAX as u32 {
                return Ok(None);
            }
            if let Some(&(lr, lp)) = entries.last() {
                if rel <= lr || pos <= lp {
                    return Ok(None);
                }
            }
            entries.push((rel, pos));
        }
        // An all-zero file whose only "entry" is (0, 0) in an empty log is empty.
        if log_size == 0 {
            entries.clear();
        }
        Ok(Some(OffsetIndex {
            path: path.to_path_buf(),
            file,
            base_offset,
            written: entries.len(),
            entries,
            max_entries,
        }))
    }

    /// Path of the index file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are no entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Whether no more entries fit.
    pub fn is_full(&self) -> bool {
        self.entries.len() >= self.max_entries
    }

    /// The last entry as (absolute offset, position).
    pub fn last_entry(&self) -> Option<(i64, u32)> {
        self.entries
            .last()
            .map(|&(r, p)| (self.base_offset.saturating_add(i64::from(r)), p))
    }

    /// Every entry as (absolute offset, position).
    pub fn entries(&self) -> impl Iterator<Item = (i64, u32)> + '_ {
        self.entries
            .iter()
            .map(|&(r, p)| (self.base_offset.saturating_add(i64::from(r)), p))
    }

    /// Adds an entry for `offset` at `position`. Entries that would not increase the
    /// offset and position, or a full index, are ignored (the index is sparse).
    pub fn append(&mut self, offset: i64, position: u32) -> Result<()> {
        let rel = offset - self.base_offset;
        let rel = u32::try_from(rel).map_err(|_| StorageError::IndexOffsetOverflow {
            offset,
            base: self.base_offset,
        })?;
        if self.is_full() {
            return Ok(());
        }
        if let Some(&(lr, lp)) = self.entries.last() {
            if rel <= lr || position <= lp {
                return Ok(());
            }
        }
        self.entries.push((rel, position));
        Ok(())
    }

    /// The entry with the largest offset at or below `target`, as (offset, position);
    /// `(base_offset, 0)` when there is none.
    pub fn lookup(&self, target: i64) -> (i64, u32) {
        let idx = self
            .entries
            .partition_point(|&(r, _)| self.base_offset.saturating_add(i64::from(r)) <= target);
        if idx == 0 {
            (self.base_offset, 0)
        } else {
            let (r, p) = self.entries[idx - 1];
            (self.base_offset.saturating_add(i64::from(r)), p)
        }
    }

    /// Writes the entries added since the last call to the file, in one write.
    pub fn write_pending(&mut self) -> Result<()> {
        if self.written >= self.entries.len() {
            return Ok(());
        }
        let mut buf = Vec::with_capacity((self.entries.len() - self.written) * ENTRY_SIZE);
        for &(rel, pos) in &self.entries[self.written..] {
            buf.extend_from_slice(&rel.to_be_bytes());
            buf.extend_from_slice(&pos.to_be_bytes());
        }
        self.file
            .write_at(&buf, (self.written * ENTRY_SIZE) as u64)
            .map_err(|e| StorageError::io(&self.path, e))?;
        self.written = self.entries.len();
        Ok(())
    }

    /// The entry with the largest position strictly below `position`, as
    /// (offset, position).
    pub fn floor_by_position(&self, position: u64) -> Option<(i64, u32)> {
        let idx = self
            .entries
            .partition_point(|&(_, p)| u64::from(p) < position);
        (idx > 0).then(|| {
            let (r, p) = self.entries[idx - 1];
            (self.base_offset.saturating_add(i64::from(r)), p)
        })
    }

    /// Removes every entry for an offset at or above `offset`.
    pub fn truncate_to_offset(&mut self, offset: i64) -> Result<()> {
        let keep = self
            .entries
            .partition_point(|&(r, _)| self.base_offset.saturating_add(i64::from(r)) < offset);
        self.truncate_entries(keep)
    }

    fn truncate_entries(&mut self, keep: usize) -> Result<()> {
        if keep < self.written {
            let zeros = vec![0u8; (self.written - keep) * ENTRY_SIZE];
            self.file
                .write_at(&zeros, (keep * ENTRY_SIZE) as u64)
                .map_err(|e| StorageError::io(&self.path, e))?;
            self.written = keep;
        }
        self.entries.truncate(keep);
        Ok(())
    }

    /// Drops all entries (before a rebuild).
    pub fn reset(&mut self) -> Result<()> {
        self.entries.clear();
        self.written = 0;
        self.file
            .set_len(0)
            .and_then(|_| self.file.set_len((self.max_entries * ENTRY_SIZE) as u64))
            .map_err(|e| StorageError::io(&self.path, e))
    }

    /// Shrinks the file to exactly its entries (segment no longer active).
    pub fn trim(&mut self) -> Result<()> {
        self.write_pending()?;
        self.file
            .set_len((self.entries.len() * ENTRY_SIZE) as u64)
            .map_err(|e| StorageError::io(&self.path, e))
    }

    /// Grows the file back to its preallocated size (segment active again).
    pub fn preallocate(&self) -> Result<()> {
        self.file
            .set_len((self.max_entries * ENTRY_SIZE) as u64)
            .map_err(|e| StorageError::io(&self.path, e))
    }

    /// Fsyncs the file.
    pub fn sync(&mut self) -> Result<()> {
        self.write_pending()?;
        self.file
            .sync()
            .map_err(|e| StorageError::io(&self.path, e))
    }

    /// The open file (to fsync it outside the log's lock).
    pub fn file(&self) -> &Arc<dyn StorageFile> {
        &self.file
    }

    /// Points the index at a renamed file.
    pub fn set_path(&mut self, path: PathBuf) {
        self.path = path;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io::MemStorage;

    #[test]
    fn lookup_finds_floor_entry() {
        let s = MemStorage::new();
        let p = Path::new("/t/0.index");
        let mut idx = OffsetIndex::create(&s, p, 100, 80).unwrap();
        assert_eq!(idx.lookup(150), (100, 0));
        idx.append(110, 4000).unwrap();
        idx.append(120, 8000).unwrap();
        idx.append(115, 9000).unwrap(); // ignored: not increasing
        assert_eq!(idx.len(), 2);
        assert_eq!(idx.lookup(109), (100, 0));
        assert_eq!(idx.lookup(110), (110, 4000));
        assert_eq!(idx.lookup(119), (110, 4000));
        assert_eq!(idx.lookup(500), (120, 8000));
        idx.truncate_to_offset(120).unwrap();
        assert_eq!(idx.last_entry(), Some((110, 4000)));
    }

    #[test]
    fn load_round_trips_and_rejects_garbage() {
        let s = MemStorage::new();
        let p = Path::new("/t/0.index");
        let mut idx = OffsetIndex::create(&s, p, 0, 80).unwrap();
        idx.append(5, 100).unwrap();
        idx.append(9, 300).unwrap();
        // Nothing reaches the file until the pending entries are written.
        assert_eq!(s.snapshot()[p][..8], [0u8; 8]);
        idx.write_pending().unwrap();
        // Preallocated (untrimmed) file: the zero tail ends the entries.
        let loaded = OffsetIndex::load(&s, p, 0, 80, 1000).unwrap().unwrap();
        assert_eq!(loaded.last_entry(), Some((9, 300)));
        idx.trim().unwrap();
        assert_eq!(s.snapshot()[p].len(), 16);
        // A position beyond the log is rejected.
        assert!(OffsetIndex::load(&s, p, 0, 80, 200).unwrap().is_none());
        // Non-increasing entries are rejected.
        s.put(p, vec![0, 0, 0, 5, 0, 0, 0, 9, 0, 0, 0, 4, 0, 0, 0, 10])
            .unwrap();
        assert!(OffsetIndex::load(&s, p, 0, 80, 1000).unwrap().is_none());
        // A length that is not a whole number of entries is rejected.
        s.put(p, vec![1, 2, 3]).unwrap();
        assert!(OffsetIndex::load(&s, p, 0, 80, 1000).unwrap().is_none());
    }

    #[test]
    fn full_index_reports_full() {
        let s = MemStorage::new();
        let mut idx = OffsetIndex::create(&s, Path::new("/i"), 0, 16).unwrap();
        idx.append(1, 1).unwrap();
        assert!(!idx.is_full());
        idx.append(2, 2).unwrap();
        assert!(idx.is_full());
    }
}
