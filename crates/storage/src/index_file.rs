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
//!
//! Deferred loading: an index opened with [`IndexFile::open_deferred`] (the
//! indexes of a trusted segment) reads only its last entry; the entries are read
//! and checked on first use, and [`IndexFile::unload`] drops them again once
//! they are all on disk, so an inactive segment costs no index IO at open and no
//! index memory until it is read. A deferred load that finds the file invalid
//! (or cannot read it) leaves the index empty: lookups then start at the
//! segment's first batch. An invalid file is emptied, and the next open of the
//! segment rebuilds it.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

use crate::error::{Result, StorageError};
use crate::io::{Storage, read_full_at};

/// Checks an entry given the one before it.
pub type Validator<E> = Arc<dyn Fn(Option<&E>, &E) -> bool + Send + Sync>;

/// How a deferred index reads its entries.
struct Deferred<E> {
    storage: Arc<dyn Storage>,
    valid: Validator<E>,
}

impl<E> std::fmt::Debug for Deferred<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Deferred")
    }
}

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
    /// The entries; unset while a deferred index is not loaded.
    entries: OnceLock<Vec<E>>,
    max_entries: usize,
    /// Entries already written to the file (the rest are written in one call by
    /// `write_pending`). For an unloaded index: the entries in the file.
    written: usize,
    /// The file's length as last seen or set (a loaded preallocated file is longer
    /// than its entries until trimmed).
    file_len: u64,
    /// Written or resized since the last fsync.
    dirty: bool,
    /// Set for an index that may be unloaded: how to read it back.
    deferred: Option<Deferred<E>>,
    /// The file's last entry, kept while the entries are not loaded.
    last: Option<E>,
    /// A deferred load found the file invalid or unreadable.
    load_failed: AtomicBool,
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
            entries: OnceLock::from(Vec::new()),
            max_entries: Self::max_entries(max_bytes),
            written: 0,
            file_len: 0,
            dirty: true,
            deferred: None,
            last: None,
            load_failed: AtomicBool::new(false),
        })
    }

    /// Opens an existing file reading only its last entry (checked alone with
    /// `valid`); the entries are read and checked on first use. A file that may
    /// hold a preallocated zero tail is loaded at once instead ([`IndexFile::load`]).
    /// `Ok(None)` as for `load`: missing, misaligned, too large, or a bad last entry.
    pub fn open_deferred(
        storage: Arc<dyn Storage>,
        path: &Path,
        max_bytes: u64,
        valid: Validator<E>,
    ) -> Result<Option<Self>> {
        let Ok(file) = storage.open(path, false) else {
            return Ok(None);
        };
        let len = file.len().map_err(io_err(path))?;
        let max_entries = Self::max_entries(max_bytes);
        if len % E::SIZE as u64 != 0 || len > (max_entries * E::SIZE) as u64 {
            return Ok(None);
        }
        let last = if len == 0 {
            None
        } else {
            let mut buf = vec![0u8; E::SIZE];
            let n = read_full_at(file.as_ref(), &mut buf, len - E::SIZE as u64)
                .map_err(io_err(path))?;
            if n != E::SIZE {
                return Ok(None);
            }
            Some(E::decode(&buf))
        };
        drop(file);
        let last = match last {
            Some(e) if e.is_zero() => {
                // Possibly a preallocated tail (Kafka's files): read it all now.
                let v = valid.clone();
                let loaded = Self::load(storage.as_ref(), path, max_bytes, |a, b| v(a, b))?;
                return Ok(loaded.map(|mut f| {
                    f.deferred = Some(Deferred { storage, valid });
                    f
                }));
            }
            Some(e) if !valid(None, &e) => return Ok(None),
            other => other,
        };
        let count = (len / E::SIZE as u64) as usize;
        Ok(Some(IndexFile {
            path: path.to_path_buf(),
            entries: if count == 0 {
                OnceLock::from(Vec::new())
            } else {
                OnceLock::new()
            },
            max_entries,
            written: count,
            file_len: len,
            dirty: false,
            deferred: Some(Deferred { storage, valid }),
            last,
            load_failed: AtomicBool::new(false),
        }))
    }

    /// Lets the entries be dropped by [`IndexFile::unload`] and read back from
    /// the file on first use, checked with `valid`.
    pub fn make_deferred(&mut self, storage: Arc<dyn Storage>, valid: Validator<E>) {
        self.deferred = Some(Deferred { storage, valid });
    }

    /// Drops the entries from memory if they are all in the file (exactly) and
    /// the index can read them back; returns whether it did. (A pending fsync
    /// stays pending: `dirty` is kept.)
    pub fn unload(&mut self) -> bool {
        let Some(entries) = self.entries.get() else {
            return false;
        };
        if self.deferred.is_none()
            || self.written != entries.len()
            || self.file_len != (entries.len() * E::SIZE) as u64
            || entries.is_empty()
        {
            return false;
        }
        self.last = entries.last().copied();
        self.entries = OnceLock::new();
        true
    }

    /// Whether the entries are in memory.
    pub fn is_loaded(&self) -> bool {
        self.entries.get().is_some()
    }

    /// Reads and checks the file's entries (a deferred index's first use).
    fn read_deferred(&self) -> Vec<E> {
        let Some(d) = &self.deferred else {
            return Vec::new();
        };
        let max_bytes = (self.max_entries * E::SIZE) as u64;
        let valid = d.valid.clone();
        match Self::load(d.storage.as_ref(), &self.path, max_bytes, |a, b| {
            valid(a, b)
        }) {
            Ok(Some(f)) if f.len() == self.written => f.entries.into_inner().unwrap_or_default(),
            Ok(_) => {
                // Damaged: emptied, so the next open does not trust it again (the
                // segment's trusted load rebuilds an empty index that should
                // have entries).
                if let Ok(f) = d.storage.open(&self.path, true) {
                    let _ = f.set_len(0);
                }
                self.load_failed.store(true, Ordering::Relaxed);
                Vec::new()
            }
            Err(_) => {
                self.load_failed.store(true, Ordering::Relaxed);
                Vec::new()
            }
        }
    }

    /// The entries, read on first use for a deferred index.
    fn loaded(&self) -> &[E] {
        self.entries.get_or_init(|| self.read_deferred())
    }

    /// The entries for changing them: loaded if needed; from now on what is in
    /// memory is the index (a failed load counts as empty).
    fn loaded_mut(&mut self) -> &mut Vec<E> {
        if self.entries.get().is_none() {
            let v = self.read_deferred();
            self.entries = OnceLock::from(v);
        }
        let n = self.entries.get().map_or(0, Vec::len);
        if self.load_failed.swap(false, Ordering::Relaxed) || n < self.written {
            // The file holds entries memory does not: overwritten or cut by the
            // next write or trim.
            self.written = n;
        }
        self.last = None;
        match self.entries.get_mut() {
            Some(v) => v,
            None => unreachable!("entries were loaded above"),
        }
    }

    /// The last entry for which `at_or_below` holds (entries are ordered, so
    /// it holds for a prefix), without loading a deferred index: a binary
    /// search reading single entries from the file. `None` when no entry
    /// qualifies or the file cannot be read.
    pub fn floor_without_loading(&self, at_or_below: impl Fn(&E) -> bool) -> Option<E> {
        if let Some(v) = self.entries.get() {
            let i = v.partition_point(|e| at_or_below(e));
            return i.checked_sub(1).map(|i| v[i]);
        }
        let d = self.deferred.as_ref()?;
        let file = d.storage.open(&self.path, false).ok()?;
        let mut buf = vec![0u8; E::SIZE];
        let mut read = |i: usize| -> Option<E> {
            let n = read_full_at(file.as_ref(), &mut buf, (i * E::SIZE) as u64).ok()?;
            (n == E::SIZE).then(|| E::decode(&buf))
        };
        let (mut lo, mut hi) = (0usize, self.written);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if at_or_below(&read(mid)?) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        lo.checked_sub(1).and_then(read)
    }

    /// The last entry (without loading a deferred index).
    pub fn last(&self) -> Option<E> {
        match self.entries.get() {
            Some(v) => v.last().copied(),
            None => self.last,
        }
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
            entries: OnceLock::from(entries),
            max_entries,
            file_len: len,
            dirty: false,
            deferred: None,
            last: None,
            load_failed: AtomicBool::new(false),
        }))
    }

    /// Forgets the loaded entries (an all-zero file read as one zero entry).
    pub(crate) fn forget_entries(&mut self) {
        self.loaded_mut().clear();
        self.written = 0;
    }

    /// The entries, in order.
    pub(crate) fn raw_entries(&self) -> &[E] {
        self.loaded()
    }

    /// Adds an entry in memory (the caller checks order); ignored when full.
    pub(crate) fn push(&mut self, entry: E) {
        if !self.is_full() {
            self.loaded_mut().push(entry);
        }
    }

    /// Path of the index file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        match self.entries.get() {
            Some(v) => v.len(),
            None => self.written,
        }
    }

    /// Whether there are no entries.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether no more entries fit.
    pub fn is_full(&self) -> bool {
        self.len() >= self.max_entries
    }

    /// Entries in memory not yet written to the file.
    pub fn pending(&self) -> usize {
        self.entries
            .get()
            .map_or(0, |v| v.len().saturating_sub(self.written))
    }

    /// Writes the entries added since the last call to the file, in one write.
    pub fn write_pending(&mut self, storage: &dyn Storage) -> Result<()> {
        if self.pending() == 0 {
            return Ok(());
        }
        self.loaded_mut();
        let written = self.written;
        let entries = self.loaded();
        let total = entries.len();
        let mut buf = Vec::new();
        for entry in &entries[written.min(total)..] {
            entry.encode(&mut buf);
        }
        let at = (self.written * E::SIZE) as u64;
        let file = storage.open(&self.path, true).map_err(io_err(&self.path))?;
        file.write_at(&buf, at).map_err(io_err(&self.path))?;
        self.written = total;
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
        self.loaded_mut().truncate(keep);
        if keep < self.written {
            self.written = keep;
            self.set_file_len(storage, (keep * E::SIZE) as u64)?;
        }
        Ok(())
    }

    /// Drops all entries and empties the file (before a rebuild).
    pub fn reset(&mut self, storage: &dyn Storage) -> Result<()> {
        self.entries = OnceLock::from(Vec::new());
        self.load_failed.store(false, Ordering::Relaxed);
        self.last = None;
        self.written = 0;
        self.set_file_len(storage, 0)
    }

    /// Writes pending entries and cuts the file to exactly its entries (a loaded
    /// preallocated file).
    pub fn trim(&mut self, storage: &dyn Storage) -> Result<()> {
        self.write_pending(storage)?;
        if !self.is_loaded() && self.file_len == (self.written * E::SIZE) as u64 {
            // Not loaded: the file is exactly its entries already.
            return Ok(());
        }
        let want = (self.loaded_mut().len() * E::SIZE) as u64;
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
