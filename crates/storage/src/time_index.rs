//! The sparse time index (`.timeindex`): 12-byte entries of a timestamp (i64
//! big-endian) and the offset (relative to the segment base, u32 big-endian) of the
//! batch where that timestamp became the segment's largest so far.
//!
//! Timestamps strictly increase from entry to entry. Like the offset index the file
//! is preallocated while active and trimmed on roll/close.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::error::{Result, StorageError};
use crate::io::{Storage, StorageFile, read_full_at};

/// Size of one entry in bytes.
pub const ENTRY_SIZE: usize = 12;

/// One `.timeindex` file and its entries.
#[derive(Debug)]
pub struct TimeIndex {
    path: PathBuf,
    file: Arc<dyn StorageFile>,
    base_offset: i64,
    /// (timestamp, relative offset), timestamps strictly increasing.
    entries: Vec<(i64, u32)>,
    max_entries: usize,
    /// Entries already written to the file (the rest are written in one call by
    /// `write_pending`, at the end of each append).
    written: usize,
}

impl TimeIndex {
    /// Creates (or empties) the file and preallocates it to `max_bytes`.
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
        Ok(TimeIndex {
            path: path.to_path_buf(),
            file,
            base_offset,
            entries: Vec::new(),
            max_entries,
            written: 0,
        })
    }

    /// Loads and checks an existing file (timestamps increase, offsets do not
    /// decrease and stay below `next_offset`; a zero tail ends the entries).
    /// `Ok(None)` means missing or invalid: rebuild it.
    pub fn load(
        storage: &dyn Storage,
        path: &Path,
        base_offset: i64,
        max_bytes: u64,
        next_offset: i64,
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
        let mut entries: Vec<(i64, u32)> = Vec::new();
        let mut zero_tail = false;
        for chunk in buf.chunks_exact(ENTRY_SIZE) {
            let mut t = [0u8; 8];
            t.copy_from_slice(&chunk[..8]);
            let ts = i64::from_be_bytes(t);
            let rel = u32::from_be_bytes([chunk[8], chunk[9], chunk[10], chunk[11]]);
            if zero_tail {
                if ts != 0 || rel != 0 {
                    return Ok(None);
                }
                continue;
            }
            if !entries.is_empty() && ts == 0 && rel == 0 {
                zero_tail = true;
                continue;
            }
            if base_offset.saturating_add(i64::from(rel))
                >= next_offset.max(base_offset.saturating_add(1))
            {
                return Ok(None);
            }
            if let Some(&(lt, lr)) = entries.last() {
                if ts <= lt || rel < lr {
                    return Ok(None);
                }
            }
            entries.push((ts, rel));
        }
        if next_offset <= base_offset {
            entries.clear();
        }
        Ok(Some(TimeIndex {
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

    /// The last entry as (timestamp, absolute offset).
    pub fn last_entry(&self) -> Option<(i64, i64)> {
        self.entries
            .last()
            .map(|&(t, r)| (t, self.base_offset.saturating_add(i64::from(r))))
    }

    /// Adds `(timestamp, offset)` if the index has room and the timestamp is larger
    /// than the last entry's.
    pub fn maybe_append(&mut self, timestamp: i64, offset: i64) -> Result<()> {
        let rel = u32::try_from(offset - self.base_offset).map_err(|_| {
            StorageError::IndexOffsetOverflow {
                offset,
                base: self.base_offset,
            }
        })?;
        if self.is_full() {
            return Ok(());
        }
        if let Some(&(lt, lr)) = self.entries.last() {
            if timestamp <= lt || rel < lr {
                return Ok(());
            }
        }
        self.entries.push((timestamp, rel));
        Ok(())
    }

    /// The entry with the largest timestamp at or below `target`, as (timestamp,
    /// offset); `(-1, base_offset)` when there is none.
    pub fn lookup(&self, target: i64) -> (i64, i64) {
        let idx = self.entries.partition_point(|&(t, _)| t <= target);
        if idx == 0 {
            (-1, self.base_offset)
        } else {
            let (t, r) = self.entries[idx - 1];
            (t, self.base_offset.saturating_add(i64::from(r)))
        }
    }

    /// Writes the entries added since the last call to the file, in one write.
    pub fn write_pending(&mut self) -> Result<()> {
        if self.written >= self.entries.len() {
            return Ok(());
        }
        let mut buf = Vec::with_capacity((self.entries.len() - self.written) * ENTRY_SIZE);
        for &(ts, rel) in &self.entries[self.written..] {
            buf.extend_from_slice(&ts.to_be_bytes());
            buf.extend_from_slice(&rel.to_be_bytes());
        }
        self.file
            .write_at(&buf, (self.written * ENTRY_SIZE) as u64)
            .map_err(|e| StorageError::io(&self.path, e))?;
        self.written = self.entries.len();
        Ok(())
    }

    /// Removes every entry for an offset at or above `offset`.
    pub fn truncate_to_offset(&mut self, offset: i64) -> Result<()> {
        let keep = self
            .entries
            .partition_point(|&(_, r)| self.base_offset.saturating_add(i64::from(r)) < offset);
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

    /// Shrinks the file to exactly its entries.
    pub fn trim(&mut self) -> Result<()> {
        self.write_pending()?;
        self.file
            .set_len((self.entries.len() * ENTRY_SIZE) as u64)
            .map_err(|e| StorageError::io(&self.path, e))
    }

    /// Grows the file back to its preallocated size.
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
    fn append_only_on_increasing_timestamps_and_lookup() {
        let s = MemStorage::new();
        let p = Path::new("/t/0.timeindex");
        let mut t = TimeIndex::create(&s, p, 50, 120).unwrap();
        assert_eq!(t.lookup(10), (-1, 50));
        t.maybe_append(1000, 55).unwrap();
        t.maybe_append(900, 60).unwrap(); // ignored
        t.maybe_append(2000, 70).unwrap();
        assert_eq!(t.len(), 2);
        assert_eq!(t.lookup(999), (-1, 50));
        assert_eq!(t.lookup(1500), (1000, 55));
        assert_eq!(t.lookup(5000), (2000, 70));
        t.write_pending().unwrap();
        let loaded = TimeIndex::load(&s, p, 50, 120, 71).unwrap().unwrap();
        assert_eq!(loaded.last_entry(), Some((2000, 70)));
        // An entry at or past the segment's next offset is invalid.
        assert!(TimeIndex::load(&s, p, 50, 120, 70).unwrap().is_none());
        t.truncate_to_offset(70).unwrap();
        assert_eq!(t.last_entry(), Some((1000, 55)));
    }
}
