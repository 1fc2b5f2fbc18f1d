//! The sparse offset index (`.index`): 8-byte entries mapping an offset (relative to
//! the segment's base offset, u32 big-endian) to the byte position (u32 big-endian)
//! of the batch holding it in the `.log` file. The file handling (preallocation,
//! pending writes, trim) is [`IndexFile`]'s; this module owns the entry format,
//! its validation and the lookups.

use std::ops::{Deref, DerefMut};
use std::path::Path;
use std::sync::Arc;

use crate::error::{Result, StorageError};
use crate::index_file::{IndexEntry, IndexFile, Validator};
use crate::io::Storage;

/// Size of one entry in bytes.
pub const ENTRY_SIZE: usize = 8;

/// (relative offset, position).
impl IndexEntry for (u32, u32) {
    const SIZE: usize = ENTRY_SIZE;
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.0.to_be_bytes());
        out.extend_from_slice(&self.1.to_be_bytes());
    }
    fn decode(b: &[u8]) -> Self {
        (
            u32::from_be_bytes([b[0], b[1], b[2], b[3]]),
            u32::from_be_bytes([b[4], b[5], b[6], b[7]]),
        )
    }
    fn is_zero(&self) -> bool {
        *self == (0, 0)
    }
}

/// One `.index` file and its entries: (relative offset, position), both strictly
/// increasing. The shared file operations are reached through `Deref`.
#[derive(Debug)]
pub struct OffsetIndex {
    file: IndexFile<(u32, u32)>,
    base_offset: i64,
}

impl Deref for OffsetIndex {
    type Target = IndexFile<(u32, u32)>;
    fn deref(&self) -> &Self::Target {
        &self.file
    }
}

impl DerefMut for OffsetIndex {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.file
    }
}

impl OffsetIndex {
    /// Creates (or empties) the index file; it holds at most `max_bytes` of entries.
    pub fn create(
        storage: &dyn Storage,
        path: &Path,
        base_offset: i64,
        max_bytes: u64,
    ) -> Result<Self> {
        Ok(OffsetIndex {
            file: IndexFile::create(storage, path, max_bytes)?,
            base_offset,
        })
    }

    /// The entry check of [`OffsetIndex::load`] for a log of `log_size` bytes.
    fn validator(log_size: u64) -> Validator<(u32, u32)> {
        Arc::new(move |last, &(rel, pos)| {
            let in_log = u64::from(pos) < log_size.max(1) && rel <= i32::MAX as u32;
            in_log && last.is_none_or(|&(lr, lp)| rel > lr && pos > lp)
        })
    }

    /// Opens an existing index reading only its last entry; the rest is read
    /// (and checked as by [`OffsetIndex::load`]) on first use. `Ok(None)`: rebuild.
    pub fn open_deferred(
        storage: &Arc<dyn Storage>,
        path: &Path,
        base_offset: i64,
        max_bytes: u64,
        log_size: u64,
    ) -> Result<Option<Self>> {
        let file =
            IndexFile::open_deferred(storage.clone(), path, max_bytes, Self::validator(log_size))?;
        Ok(file.map(|mut file| {
            if log_size == 0 {
                file.forget_entries();
            }
            OffsetIndex { file, base_offset }
        }))
    }

    /// Lets the entries be dropped and read back (an inactive segment of
    /// `log_size` bytes).
    pub fn make_deferred(&mut self, storage: &Arc<dyn Storage>, log_size: u64) {
        self.file
            .make_deferred(storage.clone(), Self::validator(log_size));
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
        let loaded = IndexFile::load(storage, path, max_bytes, |last, &(rel, pos)| {
            let in_log = u64::from(pos) < log_size.max(1) && rel <= i32::MAX as u32;
            in_log && last.is_none_or(|&(lr, lp)| rel > lr && pos > lp)
        })?;
        Ok(loaded.map(|mut file| {
            // An all-zero file whose only "entry" is (0, 0) in an empty log is empty.
            if log_size == 0 {
                file.forget_entries();
            }
            OffsetIndex { file, base_offset }
        }))
    }

    fn absolute(&self, &(r, p): &(u32, u32)) -> (i64, u32) {
        (self.base_offset.saturating_add(i64::from(r)), p)
    }

    /// The last entry as (absolute offset, position).
    pub fn last_entry(&self) -> Option<(i64, u32)> {
        self.file.last().map(|e| self.absolute(&e))
    }

    /// Every entry as (absolute offset, position).
    pub fn entries(&self) -> impl Iterator<Item = (i64, u32)> + '_ {
        self.file.raw_entries().iter().map(|e| self.absolute(e))
    }

    /// Adds an entry for `offset` at `position`. Entries that would not increase the
    /// offset and position, or a full index, are ignored (the index is sparse).
    pub fn append(&mut self, offset: i64, position: u32) -> Result<()> {
        let rel = u32::try_from(offset - self.base_offset).map_err(|_| {
            StorageError::IndexOffsetOverflow {
                offset,
                base: self.base_offset,
            }
        })?;
        if let Some((lr, lp)) = self.file.last() {
            if rel <= lr || position <= lp {
                return Ok(());
            }
        }
        self.file.push((rel, position));
        Ok(())
    }

    /// The entry with the largest offset at or below `target`, as (offset, position);
    /// `(base_offset, 0)` when there is none.
    pub fn lookup(&self, target: i64) -> (i64, u32) {
        let entries = self.file.raw_entries();
        let idx = entries
            .partition_point(|&(r, _)| self.base_offset.saturating_add(i64::from(r)) <= target);
        match idx.checked_sub(1) {
            Some(i) => self.absolute(&entries[i]),
            None => (self.base_offset, 0),
        }
    }

    /// Like [`OffsetIndex::lookup`] without loading a deferred index (a few
    /// single-entry reads instead).
    pub fn lookup_without_loading(&self, target: i64) -> (i64, u32) {
        let base = self.base_offset;
        self.file
            .floor_without_loading(|&(r, _)| base.saturating_add(i64::from(r)) <= target)
            .map_or((base, 0), |e| self.absolute(&e))
    }

    /// The entry with the largest position strictly below `position`, as
    /// (offset, position).
    pub fn floor_by_position(&self, position: u64) -> Option<(i64, u32)> {
        let entries = self.file.raw_entries();
        let idx = entries.partition_point(|&(_, p)| u64::from(p) < position);
        idx.checked_sub(1).map(|i| self.absolute(&entries[i]))
    }

    /// Removes every entry for an offset at or above `offset`.
    pub fn truncate_to_offset(&mut self, storage: &dyn Storage, offset: i64) -> Result<()> {
        let keep = self
            .file
            .raw_entries()
            .partition_point(|&(r, _)| self.base_offset.saturating_add(i64::from(r)) < offset);
        self.file.truncate_entries(storage, keep)
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
        idx.truncate_to_offset(&s, 120).unwrap();
        assert_eq!(idx.last_entry(), Some((110, 4000)));
    }

    #[test]
    fn load_round_trips_and_rejects_garbage() {
        let s = MemStorage::new();
        let p = Path::new("/t/0.index");
        let mut idx = OffsetIndex::create(&s, p, 0, 80).unwrap();
        idx.append(5, 100).unwrap();
        idx.append(9, 300).unwrap();
        // Nothing reaches the file until the pending entries are written; then
        // the file is exactly the entries (no preallocation).
        assert!(s.snapshot()[p].is_empty());
        idx.write_pending(&s).unwrap();
        assert_eq!(s.snapshot()[p].len(), 16);
        let loaded = OffsetIndex::load(&s, p, 0, 80, 1000).unwrap().unwrap();
        assert_eq!(loaded.last_entry(), Some((9, 300)));
        // A preallocated file (Kafka's, or an older version's): the zero tail ends
        // the entries, and trimming cuts it.
        let mut padded = s.snapshot()[p].clone();
        padded.resize(80, 0);
        s.put(p, padded).unwrap();
        let mut loaded = OffsetIndex::load(&s, p, 0, 80, 1000).unwrap().unwrap();
        assert_eq!(loaded.last_entry(), Some((9, 300)));
        assert_eq!(s.snapshot()[p].len(), 80);
        loaded.trim(&s).unwrap();
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
