//! The sparse time index (`.timeindex`): 12-byte entries of a timestamp (i64
//! big-endian) and the offset (relative to the segment base, u32 big-endian) of the
//! batch where that timestamp became the segment's largest so far. Timestamps
//! strictly increase from entry to entry. The file handling is [`IndexFile`]'s;
//! this module owns the entry format, its validation and the lookups.

use std::ops::{Deref, DerefMut};
use std::path::Path;
use std::sync::Arc;

use crate::error::{Result, StorageError};
use crate::index_file::{IndexEntry, IndexFile, Validator};
use crate::io::Storage;

/// Size of one entry in bytes.
pub const ENTRY_SIZE: usize = 12;

/// (timestamp, relative offset).
impl IndexEntry for (i64, u32) {
    const SIZE: usize = ENTRY_SIZE;
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.0.to_be_bytes());
        out.extend_from_slice(&self.1.to_be_bytes());
    }
    fn decode(b: &[u8]) -> Self {
        let mut t = [0u8; 8];
        t.copy_from_slice(&b[..8]);
        (
            i64::from_be_bytes(t),
            u32::from_be_bytes([b[8], b[9], b[10], b[11]]),
        )
    }
    fn is_zero(&self) -> bool {
        *self == (0, 0)
    }
}

/// One `.timeindex` file and its entries: (timestamp, relative offset),
/// timestamps strictly increasing. The shared file operations are reached
/// through `Deref`.
#[derive(Debug)]
pub struct TimeIndex {
    file: IndexFile<(i64, u32)>,
    base_offset: i64,
}

impl Deref for TimeIndex {
    type Target = IndexFile<(i64, u32)>;
    fn deref(&self) -> &Self::Target {
        &self.file
    }
}

impl DerefMut for TimeIndex {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.file
    }
}

impl TimeIndex {
    /// Creates (or empties) the file; it holds at most `max_bytes` of entries.
    pub fn create(
        storage: &dyn Storage,
        path: &Path,
        base_offset: i64,
        max_bytes: u64,
    ) -> Result<Self> {
        Ok(TimeIndex {
            file: IndexFile::create(storage, path, max_bytes)?,
            base_offset,
        })
    }

    /// The entry check of [`TimeIndex::load`].
    fn validator(base_offset: i64, next_offset: i64) -> Validator<(i64, u32)> {
        let limit = next_offset.max(base_offset.saturating_add(1));
        Arc::new(move |last, &(ts, rel)| {
            base_offset.saturating_add(i64::from(rel)) < limit
                && last.is_none_or(|&(lt, lr)| ts > lt && rel >= lr)
        })
    }

    /// Opens an existing file reading only its last entry; the rest is read (and
    /// checked as by [`TimeIndex::load`]) on first use. `Ok(None)`: rebuild.
    pub fn open_deferred(
        storage: &Arc<dyn Storage>,
        path: &Path,
        base_offset: i64,
        max_bytes: u64,
        next_offset: i64,
    ) -> Result<Option<Self>> {
        let valid = Self::validator(base_offset, next_offset);
        let file = IndexFile::open_deferred(storage.clone(), path, max_bytes, valid)?;
        Ok(file.map(|mut file| {
            if next_offset <= base_offset {
                file.forget_entries();
            }
            TimeIndex { file, base_offset }
        }))
    }

    /// Lets the entries be dropped and read back (an inactive segment ending
    /// before `next_offset`).
    pub fn make_deferred(&mut self, storage: &Arc<dyn Storage>, next_offset: i64) {
        let valid = Self::validator(self.base_offset, next_offset);
        self.file.make_deferred(storage.clone(), valid);
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
        let limit = next_offset.max(base_offset.saturating_add(1));
        let loaded = IndexFile::load(storage, path, max_bytes, |last, &(ts, rel)| {
            base_offset.saturating_add(i64::from(rel)) < limit
                && last.is_none_or(|&(lt, lr)| ts > lt && rel >= lr)
        })?;
        Ok(loaded.map(|mut file| {
            if next_offset <= base_offset {
                file.forget_entries();
            }
            TimeIndex { file, base_offset }
        }))
    }

    fn absolute(&self, &(t, r): &(i64, u32)) -> (i64, i64) {
        (t, self.base_offset.saturating_add(i64::from(r)))
    }

    /// The last entry as (timestamp, absolute offset).
    pub fn last_entry(&self) -> Option<(i64, i64)> {
        self.file.last().map(|e| self.absolute(&e))
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
        if let Some((lt, lr)) = self.file.last() {
            if timestamp <= lt || rel < lr {
                return Ok(());
            }
        }
        self.file.push((timestamp, rel));
        Ok(())
    }

    /// The entry with the largest timestamp at or below `target`, as (timestamp,
    /// offset); `(-1, base_offset)` when there is none.
    pub fn lookup(&self, target: i64) -> (i64, i64) {
        let entries = self.file.raw_entries();
        let idx = entries.partition_point(|&(t, _)| t <= target);
        match idx.checked_sub(1) {
            Some(i) => self.absolute(&entries[i]),
            None => (-1, self.base_offset),
        }
    }

    /// Removes every entry for an offset at or above `offset`.
    pub fn truncate_to_offset(&mut self, storage: &dyn Storage, offset: i64) -> Result<()> {
        let keep = self
            .file
            .raw_entries()
            .partition_point(|&(_, r)| self.base_offset.saturating_add(i64::from(r)) < offset);
        self.file.truncate_entries(storage, keep)
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
        t.write_pending(&s).unwrap();
        let loaded = TimeIndex::load(&s, p, 50, 120, 71).unwrap().unwrap();
        assert_eq!(loaded.last_entry(), Some((2000, 70)));
        // An entry at or past the segment's next offset is invalid.
        assert!(TimeIndex::load(&s, p, 50, 120, 70).unwrap().is_none());
        t.truncate_to_offset(&s, 70).unwrap();
        assert_eq!(t.last_entry(), Some((1000, 55)));
    }
}
