//! The file half shared by the offset and time indexes: fixed-size big-endian
//! entries kept in memory and mirrored to a file that is opened only while it is
//! read or written, so an index holds no file descriptor. New entries stay in
//! memory until `write_pending` (the log calls it on flush, roll and close; after
//! a crash, recovery from the recovery point rebuilds what was not written, as in
//! Kafka). Files are never preallocated: a file is exactly its entries, so a
//! rolled or closed segment's index needs no trimming. Truncation shortens the
//! file at once. On load, a run of all-zero entries after the first one is an
//! unused preallocated tail (files written by Kafka or by older versions), and
//! anything non-zero after it rejects the file.

use std::path::{Path, PathBuf};

use crate::error::{Result, StorageError};
use crate::io::{Storage, read_full_at};

/// One fixed-size index entry and its on-disk form.
pub trait IndexEntry: Copy {
    /// Bytes per entry on disk.
    const SIZE: usize;
    /// Appends the entry's `SIZE` bytes.
    fn encode(&self, out: &mut Vec<u8>);
    /// Reads an entry from exactly `SIZE` bytes.
    fn decode(bytes: &[u8]) -> Self;
    /// Whether every byte of the entry is zero (preallocated, never written).
    fn is_zero(&self) -> bool;
}

/// An index file and its entries.
#[derive(Debug)]
pub struct IndexFile<E> {
    path: PathBuf,
    entries: Vec<E>,
    max_entries: usize,
    /// Entries already written to the file (the rest are written in one call by
    /// `write_pending`).
    written: usize,
    /// The file's length as last seen or set (a loaded preallocated file is longer
    /// than its entries until trimmed).
    file_len: u64,
    /// Written or resized since the last fsync.
    dirty: bool,
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> StorageError + '_ {
    move |e| StorageError::io(path, e)
}

impl<E: IndexEntry> IndexFile<E> {
    fn max_entries(max_bytes: u64) -> usize {
        (max_bytes / E::SIZE as u64).max(1) as usize
    }

    /// Creates (or empties) the file; `max_bytes` bounds the entries it may hold.
    pub fn create(storage: &dyn Storage, path: &Path, max_bytes: u64) -> Result<Self> {
        let file = storage.open(path, true).map_err(io_err(path))?;
        file.set_len(0).map_err(io_err(path))?;
        Ok(IndexFile {
            path: path.to_path_buf(),
            entries: Vec::new(),
            max_entries: Self::max_entries(max_bytes),
            written: 0,
            file_len: 0,
            dirty: true,
        })
    }

    /// Loads an existing file, passing each entry (with the one before it) to
    /// `valid`. `Ok(None)` when the file is missing, misaligned, larger than
    /// `max_bytes`, short, or any entry fails: the caller rebuilds it.
    pub fn load(
        storage: &dyn Storage,
        path: &Path,
        max_bytes: u64,
        mut valid: impl FnMut(Option<&E>, &E) -> bool,
    ) -> Result<Option<Self>> {
        let Ok(file) = storage.open(path, false) else {
            return Ok(None);
        };
        let len = file.len().map_err(io_err(path))?;
        let max_entries = Self::max_entries(max_bytes);
        if len % E::SIZE as u64 != 0 || len > (max_entries * E::SIZE) as u64 {
            return Ok(None);
        }
        let mut buf = vec![0u8; len as usize];
        let n = read_full_at(file.as_ref(), &mut buf, 0).map_err(io_err(path))?;
        drop(file);
        if n != buf.len() {
            return Ok(None);
        }
        let mut entries: Vec<E> = Vec::new();
        let mut zero_tail = false;
        for chunk in buf.chunks_exact(E::SIZE) {
            let entry = E::decode(chunk);
            if zero_tail {
                if !entry.is_zero() {
                    return Ok(None);
                }
                continue;
            }
            if !entries.is_empty() && entry.is_zero() {
                zero_tail = true;
                continue;
            }
            if !valid(entries.last(), &entry) {
                return Ok(None);
            }
            entries.push(entry);
        }
        Ok(Some(IndexFile {
            path: path.to_path_buf(),
            written: entries.len(),
            entries,
            max_entries,
            file_len: len,
            dirty: false,
        }))
    }

    /// Forgets the loaded entries (an all-zero file read as one zero entry).
    pub(crate) fn forget_entries(&mut self) {
        self.entries.clear();
        self.written = 0;
    }

    /// The entries, in order.
    pub(crate) fn raw_entries(&self) -> &[E] {
        &self.entries
    }

    /// Adds an entry in memory (the caller checks order); ignored when full.
    pub(crate) fn push(&mut self, entry: E) {
        if !self.is_full() {
            self.entries.push(entry);
        }
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

    /// Entries in memory not yet written to the file.
    pub fn pending(&self) -> usize {
        self.entries.len() - self.written
    }

    /// Writes the entries added since the last call to the file, in one write.
    pub fn write_pending(&mut self, storage: &dyn Storage) -> Result<()> {
        if self.written >= self.entries.len() {
            return Ok(());
        }
        let mut buf = Vec::with_capacity((self.entries.len() - self.written) * E::SIZE);
        for entry in &self.entries[self.written..] {
            entry.encode(&mut buf);
        }
        let at = (self.written * E::SIZE) as u64;
        let file = storage.open(&self.path, true).map_err(io_err(&self.path))?;
        file.write_at(&buf, at).map_err(io_err(&self.path))?;
        self.written = self.entries.len();
        self.file_len = self.file_len.max(at + buf.len() as u64);
        self.dirty = true;
        Ok(())
    }

    fn set_file_len(&mut self, storage: &dyn Storage, len: u64) -> Result<()> {
        let file = storage.open(&self.path, true).map_err(io_err(&self.path))?;
        file.set_len(len).map_err(io_err(&self.path))?;
        self.file_len = len;
        self.dirty = true;
        Ok(())
    }

    /// Keeps the first `keep` entries, cutting any dropped ones already on disk.
    pub(crate) fn truncate_entries(&mut self, storage: &dyn Storage, keep: usize) -> Result<()> {
        self.entries.truncate(keep);
        if keep < self.written {
            self.written = keep;
            self.set_file_len(storage, (keep * E::SIZE) as u64)?;
        }
        Ok(())
    }

    /// Drops all entries and empties the file (before a rebuild).
    pub fn reset(&mut self, storage: &dyn Storage) -> Result<()> {
        self.entries.clear();
        self.written = 0;
        self.set_file_len(storage, 0)
    }

    /// Writes pending entries and cuts the file to exactly its entries (a loaded
    /// preallocated file).
    pub fn trim(&mut self, storage: &dyn Storage) -> Result<()> {
        self.write_pending(storage)?;
        let want = (self.entries.len() * E::SIZE) as u64;
        if self.file_len != want {
            self.set_file_len(storage, want)?;
        }
        Ok(())
    }

    /// Writes pending entries and fsyncs the file if anything changed since the
    /// last fsync.
    pub fn sync(&mut self, storage: &dyn Storage) -> Result<()> {
        self.write_pending(storage)?;
        if self.dirty {
            let file = storage.open(&self.path, true).map_err(io_err(&self.path))?;
            file.sync().map_err(io_err(&self.path))?;
            self.dirty = false;
        }
        Ok(())
    }

    /// Whether the file changed since it was last fsynced (by [`IndexFile::sync`]
    /// or a flush job that reported back through [`IndexFile::mark_synced`]).
    pub fn is_dirty(&self) -> bool {
        self.dirty
    }

    /// Records that the file was fsynced elsewhere.
    pub fn mark_synced(&mut self) {
        self.dirty = false;
    }

    /// Points the index at a renamed file.
    pub fn set_path(&mut self, path: PathBuf) {
        self.path = path;
    }
}
