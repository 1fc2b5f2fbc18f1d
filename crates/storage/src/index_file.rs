//! The file half shared by the offset and time indexes: fixed-size big-endian
//! entries kept in memory and mirrored to a preallocated file. Entries are
//! appended in memory and written in one call (`write_pending`); truncation
//! zeroes the dropped tail on disk; a rolled or closed segment trims the file to
//! its entries. On load, a run of all-zero entries after the first one is the
//! unused preallocated tail, and anything non-zero after it rejects the file.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::error::{Result, StorageError};
use crate::io::{Storage, StorageFile, read_full_at};

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
    file: Arc<dyn StorageFile>,
    entries: Vec<E>,
    max_entries: usize,
    /// Entries already written to the file (the rest are written in one call by
    /// `write_pending`, at the end of each append).
    written: usize,
}

impl<E: IndexEntry> IndexFile<E> {
    fn max_entries(max_bytes: u64) -> usize {
        (max_bytes / E::SIZE as u64).max(1) as usize
    }

    /// Creates (or empties) the file and preallocates it to `max_bytes`.
    pub fn create(storage: &dyn Storage, path: &Path, max_bytes: u64) -> Result<Self> {
        let file = storage
            .open(path, true)
            .map_err(|e| StorageError::io(path, e))?;
        let max_entries = Self::max_entries(max_bytes);
        file.set_len((max_entries * E::SIZE) as u64)
            .map_err(|e| StorageError::io(path, e))?;
        Ok(IndexFile {
            path: path.to_path_buf(),
            file,
            entries: Vec::new(),
            max_entries,
            written: 0,
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
        let len = file.len().map_err(|e| StorageError::io(path, e))?;
        let max_entries = Self::max_entries(max_bytes);
        if len % E::SIZE as u64 != 0 || len > (max_entries * E::SIZE) as u64 {
            return Ok(None);
        }
        let mut buf = vec![0u8; len as usize];
        let n = read_full_at(file.as_ref(), &mut buf, 0).map_err(|e| StorageError::io(path, e))?;
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
            file,
            written: entries.len(),
            entries,
            max_entries,
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

    /// Writes the entries added since the last call to the file, in one write.
    pub fn write_pending(&mut self) -> Result<()> {
        if self.written >= self.entries.len() {
            return Ok(());
        }
        let mut buf = Vec::with_capacity((self.entries.len() - self.written) * E::SIZE);
        for entry in &self.entries[self.written..] {
            entry.encode(&mut buf);
        }
        self.file
            .write_at(&buf, (self.written * E::SIZE) as u64)
            .map_err(|e| StorageError::io(&self.path, e))?;
        self.written = self.entries.len();
        Ok(())
    }

    /// Keeps the first `keep` entries, zeroing any dropped ones already on disk.
    pub(crate) fn truncate_entries(&mut self, keep: usize) -> Result<()> {
        if keep < self.written {
            let zeros = vec![0u8; (self.written - keep) * E::SIZE];
            self.file
                .write_at(&zeros, (keep * E::SIZE) as u64)
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
            .and_then(|_| self.file.set_len((self.max_entries * E::SIZE) as u64))
            .map_err(|e| StorageError::io(&self.path, e))
    }

    /// Shrinks the file to exactly its entries (segment no longer active).
    pub fn trim(&mut self) -> Result<()> {
        self.write_pending()?;
        self.file
            .set_len((self.entries.len() * E::SIZE) as u64)
            .map_err(|e| StorageError::io(&self.path, e))
    }

    /// Grows the file back to its preallocated size (segment active again).
    pub fn preallocate(&self) -> Result<()> {
        self.file
            .set_len((self.max_entries * E::SIZE) as u64)
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
