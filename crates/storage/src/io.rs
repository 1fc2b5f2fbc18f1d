//! File IO behind two small traits, so tests can inject faults and build crash images.
//!
//! [`StdStorage`] is the real implementation over `std::fs`; [`MemStorage`] keeps files
//! in memory, counts the bytes read and written, can fail writes or fsyncs on demand,
//! and can produce a "crash image": the files as a power cut would leave them.

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::fs::{File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};

/// One open file: positional reads and writes, no shared cursor.
pub trait StorageFile: Send + Sync + Debug {
    /// Reads up to `buf.len()` bytes at `pos`; returns how many were read (0 at the end).
    fn read_at(&self, buf: &mut [u8], pos: u64) -> io::Result<usize>;
    /// Writes all of `buf` at `pos`, extending the file if needed.
    fn write_at(&self, buf: &[u8], pos: u64) -> io::Result<()>;
    /// Writes all of `bufs`, one after the other, at `pos` (real files: `pwritev`,
    /// so parts held apart need not be copied together first).
    fn write_vectored_at(&self, bufs: &[&[u8]], mut pos: u64) -> io::Result<()> {
        for b in bufs {
            self.write_at(b, pos)?;
            pos += b.len() as u64;
        }
        Ok(())
    }
    /// Current length in bytes.
    fn len(&self) -> io::Result<u64>;
    /// Whether the file is empty.
    fn is_empty(&self) -> io::Result<bool> {
        Ok(self.len()? == 0)
    }
    /// Truncates or extends (with zeros) to `len` bytes.
    fn set_len(&self, len: u64) -> io::Result<()>;
    /// Makes everything written so far durable.
    fn sync(&self) -> io::Result<()>;
    /// The underlying OS file, for zero-copy sends (`sendfile`), when there is one.
    fn as_std_file(&self) -> Option<&File> {
        None
    }
}

/// Most slices one `pwritev` takes (Linux's `IOV_MAX`).
#[cfg(unix)]
const MAX_IOVECS: usize = 1024;

/// Writes every byte of `bufs` at `pos` with `pwritev`, resuming after short writes.
#[cfg(unix)]
fn write_all_vectored_at(file: &File, bufs: &[&[u8]], mut pos: u64) -> io::Result<()> {
    let mut rest: Vec<&[u8]> = bufs.iter().copied().filter(|b| !b.is_empty()).collect();
    let mut first = 0;
    while first < rest.len() {
        let end = rest.len().min(first + MAX_IOVECS);
        let slices: Vec<io::IoSlice<'_>> = rest[first..end]
            .iter()
            .map(|b| io::IoSlice::new(b))
            .collect();
        let mut n = match rustix::io::pwritev(file, &slices, pos) {
            Ok(n) => n,
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => return Err(e.into()),
        };
        if n == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
        pos += n as u64;
        // Drop what was written: whole slices, then the front of a partial one.
        while n > 0 && first < rest.len() {
            let len = rest[first].len();
            if n >= len {
                n -= len;
                first += 1;
            } else {
                rest[first] = &rest[first][n..];
                n = 0;
            }
        }
    }
    Ok(())
}

/// Reads as many bytes as are available at `pos`, up to `buf.len()`.
pub fn read_full_at(file: &dyn StorageFile, buf: &mut [u8], pos: u64) -> io::Result<usize> {
    let mut done = 0;
    while done < buf.len() {
        let n = file.read_at(&mut buf[done..], pos + done as u64)?;
        if n == 0 {
            break;
        }
        done += n;
    }
    Ok(done)
}

/// A directory tree of files.
pub trait Storage: Send + Sync + Debug {
    /// Opens a file for reading and writing; creates it (empty) if `create` is set.
    fn open(&self, path: &Path, create: bool) -> io::Result<Arc<dyn StorageFile>>;
    /// Renames atomically, replacing `to` if it exists.
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()>;
    /// Removes a file.
    fn remove(&self, path: &Path) -> io::Result<()>;
    /// The names (not paths) of the files in a directory.
    fn list_dir(&self, path: &Path) -> io::Result<Vec<String>>;
    /// Creates a directory and its parents.
    fn create_dir_all(&self, path: &Path) -> io::Result<()>;
    /// Whether a file exists.
    fn exists(&self, path: &Path) -> bool;
    /// Makes renames and removals in a directory durable.
    fn sync_dir(&self, path: &Path) -> io::Result<()>;
}

/// The real file system.
#[derive(Debug, Default, Clone, Copy)]
pub struct StdStorage;

#[derive(Debug)]
struct StdFile(File);

impl StorageFile for StdFile {
    #[cfg(unix)]
    fn read_at(&self, buf: &mut [u8], pos: u64) -> io::Result<usize> {
        std::os::unix::fs::FileExt::read_at(&self.0, buf, pos)
    }
    #[cfg(windows)]
    fn read_at(&self, buf: &mut [u8], pos: u64) -> io::Result<usize> {
        std::os::windows::fs::FileExt::seek_read(&self.0, buf, pos)
    }
    #[cfg(unix)]
    fn write_at(&self, buf: &[u8], pos: u64) -> io::Result<()> {
        std::os::unix::fs::FileExt::write_all_at(&self.0, buf, pos)
    }
    #[cfg(unix)]
    fn write_vectored_at(&self, bufs: &[&[u8]], pos: u64) -> io::Result<()> {
        write_all_vectored_at(&self.0, bufs, pos)
    }
    #[cfg(windows)]
    fn write_at(&self, mut buf: &[u8], mut pos: u64) -> io::Result<()> {
        while !buf.is_empty() {
            let n = std::os::windows::fs::FileExt::seek_write(&self.0, buf, pos)?;
            if n == 0 {
                return Err(io::ErrorKind::WriteZero.into());
            }
            buf = &buf[n..];
            pos += n as u64;
        }
        Ok(())
    }
    fn len(&self) -> io::Result<u64> {
        Ok(self.0.metadata()?.len())
    }
    fn set_len(&self, len: u64) -> io::Result<()> {
        self.0.set_len(len)
    }
    fn sync(&self) -> io::Result<()> {
        self.0.sync_data()
    }
    fn as_std_file(&self) -> Option<&File> {
        Some(&self.0)
    }
}

impl Storage for StdStorage {
    fn open(&self, path: &Path, create: bool) -> io::Result<Arc<dyn StorageFile>> {
        let f = OpenOptions::new()
            .read(true)
            .write(true)
            .create(create)
            .truncate(false)
            .open(path)?;
        Ok(Arc::new(StdFile(f)))
    }
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        std::fs::rename(from, to)
    }
    fn remove(&self, path: &Path) -> io::Result<()> {
        std::fs::remove_file(path)
    }
    fn list_dir(&self, path: &Path) -> io::Result<Vec<String>> {
        let mut out = Vec::new();
        for entry in std::fs::read_dir(path)? {
            let entry = entry?;
            if entry.file_type()?.is_file() {
                if let Some(name) = entry.file_name().to_str() {
                    out.push(name.to_string());
                }
            }
        }
        out.sort();
        Ok(out)
    }
    fn create_dir_all(&self, path: &Path) -> io::Result<()> {
        std::fs::create_dir_all(path)
    }
    fn exists(&self, path: &Path) -> bool {
        path.exists()
    }
    fn sync_dir(&self, path: &Path) -> io::Result<()> {
        #[cfg(unix)]
        {
            File::open(path)?.sync_all()
        }
        #[cfg(not(unix))]
        {
            let _ = path;
            Ok(())
        }
    }
}

/// Counters and switches shared by every file of a [`MemStorage`].
#[derive(Debug, Default)]
pub struct MemStats {
    /// Bytes returned by `read_at` calls.
    pub bytes_read: AtomicU64,
    /// Bytes passed to `write_at` calls.
    pub bytes_written: AtomicU64,
    /// Number of `sync` calls that succeeded.
    pub syncs: AtomicU64,
    /// When set, every `sync` fails with an IO error.
    pub fail_sync: AtomicBool,
    /// When set, every `write_at` fails with an IO error.
    pub fail_write: AtomicBool,
    /// When set, writes may add at most `space_left` more bytes in total: a
    /// write that does not fit is done in part (as a full disk does) and then
    /// fails with ENOSPC.
    pub space_limited: AtomicBool,
    /// Bytes writes may still add while `space_limited` is set.
    pub space_left: AtomicU64,
    /// Renames, removals and directory fsyncs attempted.
    pub dir_ops: AtomicU64,
    /// When set, only `dir_ops_left` more renames, removals or directory fsyncs
    /// succeed; the next one "kills the process": it and every later write, fsync
    /// or directory operation fail, so the files stay as they were at that step.
    pub dir_ops_limited: AtomicBool,
    /// Directory operations still allowed while `dir_ops_limited` is set.
    pub dir_ops_left: AtomicU64,
}

impl MemStats {
    /// Counts a directory operation; fails it once the allowance is spent.
    fn dir_op(&self) -> io::Result<()> {
        self.dir_ops.fetch_add(1, Ordering::Relaxed);
        if !self.dir_ops_limited.load(Ordering::Relaxed) {
            return Ok(());
        }
        let left = self.dir_ops_left.load(Ordering::Relaxed);
        if left == 0 {
            self.fail_write.store(true, Ordering::Relaxed);
            self.fail_sync.store(true, Ordering::Relaxed);
            return Err(io::Error::other(
                "injected crash before a directory operation",
            ));
        }
        self.dir_ops_left.store(left - 1, Ordering::Relaxed);
        Ok(())
    }
}

#[derive(Debug, Default)]
struct MemFileData {
    /// What a reader sees now (the page cache).
    current: Vec<u8>,
    /// What survives a power cut (as of the last successful sync).
    synced: Vec<u8>,
}

#[derive(Debug)]
struct MemFile {
    data: RwLock<MemFileData>,
    stats: Arc<MemStats>,
}

fn poisoned() -> io::Error {
    io::Error::other("lock poisoned")
}

impl StorageFile for MemFile {
    fn read_at(&self, buf: &mut [u8], pos: u64) -> io::Result<usize> {
        let d = self.data.read().map_err(|_| poisoned())?;
        let len = d.current.len() as u64;
        if pos >= len {
            return Ok(0);
        }
        let start = pos as usize;
        let n = buf.len().min(d.current.len() - start);
        buf[..n].copy_from_slice(&d.current[start..start + n]);
        self.stats.bytes_read.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
    fn write_at(&self, buf: &[u8], pos: u64) -> io::Result<()> {
        if self.stats.fail_write.load(Ordering::Relaxed) {
            return Err(io::Error::other("injected write failure"));
        }
        let mut d = self.data.write().map_err(|_| poisoned())?;
        let full = self.stats.space_limited.load(Ordering::Relaxed);
        let fits = if full {
            let left = self.stats.space_left.load(Ordering::Relaxed);
            let n = usize::try_from(left).unwrap_or(usize::MAX).min(buf.len());
            self.stats.space_left.fetch_sub(n as u64, Ordering::Relaxed);
            n
        } else {
            buf.len()
        };
        let buf_all = buf;
        let buf = &buf_all[..fits];
        let end = usize::try_from(pos)
            .ok()
            .and_then(|p| p.checked_add(buf.len()))
            .ok_or_else(|| io::Error::from(io::ErrorKind::InvalidInput))?;
        if d.current.len() < end {
            d.current.resize(end, 0);
        }
        let start = end - buf.len();
        d.current[start..end].copy_from_slice(buf);
        self.stats
            .bytes_written
            .fetch_add(buf.len() as u64, Ordering::Relaxed);
        if fits < buf_all.len() {
            // ENOSPC: what a full disk answers once the write has been cut short.
            return Err(io::Error::from_raw_os_error(28));
        }
        Ok(())
    }
    fn len(&self) -> io::Result<u64> {
        Ok(self.data.read().map_err(|_| poisoned())?.current.len() as u64)
    }
    fn set_len(&self, len: u64) -> io::Result<()> {
        let len = usize::try_from(len).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
        self.data
            .write()
            .map_err(|_| poisoned())?
            .current
            .resize(len, 0);
        Ok(())
    }
    fn sync(&self) -> io::Result<()> {
        if self.stats.fail_sync.load(Ordering::Relaxed) {
            return Err(io::Error::other("injected fsync failure"));
        }
        let mut d = self.data.write().map_err(|_| poisoned())?;
        d.synced = d.current.clone();
        self.stats.syncs.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
}

/// An in-memory file tree for tests: counts IO, injects faults, makes crash images.
///
/// Directories are implicit: a directory exists when `create_dir_all` named it.
/// Renames and removals are treated as durable at once (the log syncs its
/// directory after each, so a power cut cannot undo them).
#[derive(Debug, Clone, Default)]
pub struct MemStorage {
    inner: Arc<MemInner>,
}

#[derive(Debug, Default)]
struct MemInner {
    files: Mutex<BTreeMap<PathBuf, Arc<MemFile>>>,
    dirs: Mutex<Vec<PathBuf>>,
    stats: Arc<MemStats>,
}

impl MemStorage {
    /// An empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// The shared counters and fault switches.
    pub fn stats(&self) -> &MemStats {
        &self.inner.stats
    }

    fn files(&self) -> io::Result<MutexGuard<'_, BTreeMap<PathBuf, Arc<MemFile>>>> {
        self.inner.files.lock().map_err(|_| poisoned())
    }

    /// Every file path and its current contents.
    pub fn snapshot(&self) -> BTreeMap<PathBuf, Vec<u8>> {
        self.image(false)
    }

    /// Every file path and the contents a power cut would leave: only what was synced.
    pub fn power_cut_image(&self) -> BTreeMap<PathBuf, Vec<u8>> {
        self.image(true)
    }

    fn image(&self, synced_only: bool) -> BTreeMap<PathBuf, Vec<u8>> {
        let mut out = BTreeMap::new();
        if let Ok(files) = self.files() {
            for (p, f) in files.iter() {
                if let Ok(d) = f.data.read() {
                    let bytes = if synced_only { &d.synced } else { &d.current };
                    out.insert(p.clone(), bytes.clone());
                }
            }
        }
        out
    }

    /// A fresh tree holding exactly `files` (all contents counted as synced).
    pub fn from_image(files: BTreeMap<PathBuf, Vec<u8>>) -> Self {
        let s = MemStorage::new();
        if let Ok(mut map) = s.files() {
            for (p, bytes) in files {
                if let Some(parent) = p.parent() {
                    if let Ok(mut dirs) = s.inner.dirs.lock() {
                        dirs.push(parent.to_path_buf());
                    }
                }
                map.insert(
                    p,
                    Arc::new(MemFile {
                        data: RwLock::new(MemFileData {
                            current: bytes.clone(),
                            synced: bytes,
                        }),
                        stats: s.inner.stats.clone(),
                    }),
                );
            }
        }
        s
    }

    /// Replaces one file's contents (both current and synced).
    pub fn put(&self, path: &Path, bytes: Vec<u8>) -> io::Result<()> {
        let f = self.open(path, true)?;
        f.set_len(0)?;
        f.write_at(&bytes, 0)?;
        f.sync()
    }
}

impl Storage for MemStorage {
    fn open(&self, path: &Path, create: bool) -> io::Result<Arc<dyn StorageFile>> {
        let mut files = self.files()?;
        if let Some(f) = files.get(path) {
            return Ok(f.clone());
        }
        if !create {
            return Err(io::ErrorKind::NotFound.into());
        }
        let f = Arc::new(MemFile {
            data: RwLock::new(MemFileData::default()),
            stats: self.inner.stats.clone(),
        });
        files.insert(path.to_path_buf(), f.clone());
        Ok(f)
    }
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        self.inner.stats.dir_op()?;
        let mut files = self.files()?;
        let f = files.remove(from).ok_or(io::ErrorKind::NotFound)?;
        files.insert(to.to_path_buf(), f);
        Ok(())
    }
    fn remove(&self, path: &Path) -> io::Result<()> {
        self.inner.stats.dir_op()?;
        self.files()?
            .remove(path)
            .map(|_| ())
            .ok_or_else(|| io::ErrorKind::NotFound.into())
    }
    fn list_dir(&self, path: &Path) -> io::Result<Vec<String>> {
        let files = self.files()?;
        let known_dir = self
            .inner
            .dirs
            .lock()
            .map_err(|_| poisoned())?
            .iter()
            .any(|d| d == path);
        let names: Vec<String> = files
            .keys()
            .filter(|p| p.parent() == Some(path))
            .filter_map(|p| p.file_name().and_then(|n| n.to_str()).map(str::to_string))
            .collect();
        if names.is_empty() && !known_dir {
            return Err(io::ErrorKind::NotFound.into());
        }
        Ok(names)
    }
    fn create_dir_all(&self, path: &Path) -> io::Result<()> {
        self.inner
            .dirs
            .lock()
            .map_err(|_| poisoned())?
            .push(path.to_path_buf());
        Ok(())
    }
    fn exists(&self, path: &Path) -> bool {
        self.files().map(|f| f.contains_key(path)).unwrap_or(false)
    }
    fn sync_dir(&self, _path: &Path) -> io::Result<()> {
        self.inner.stats.dir_op()?;
        if self.inner.stats.fail_sync.load(Ordering::Relaxed) {
            return Err(io::Error::other("injected fsync failure"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mem_file_tracks_synced_contents_separately() {
        let s = MemStorage::new();
        let p = Path::new("/d/a");
        let f = s.open(p, true).unwrap();
        f.write_at(b"hello", 0).unwrap();
        f.sync().unwrap();
        f.write_at(b" world", 5).unwrap();
        assert_eq!(s.snapshot()[p], b"hello world");
        assert_eq!(s.power_cut_image()[p], b"hello");
        let mut buf = [0u8; 16];
        assert_eq!(read_full_at(f.as_ref(), &mut buf, 6).unwrap(), 5);
        assert_eq!(&buf[..5], b"world");
        assert_eq!(s.stats().bytes_read.load(Ordering::Relaxed), 5);
    }

    #[test]
    fn injected_faults_surface_as_errors() {
        let s = MemStorage::new();
        let f = s.open(Path::new("/x"), true).unwrap();
        s.stats().fail_sync.store(true, Ordering::Relaxed);
        assert!(f.sync().is_err());
        s.stats().fail_write.store(true, Ordering::Relaxed);
        assert!(f.write_at(b"a", 0).is_err());
    }

    #[test]
    fn std_storage_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let s = StdStorage;
        let p = dir.path().join("f");
        let f = s.open(&p, true).unwrap();
        f.write_at(b"abc", 2).unwrap();
        assert_eq!(f.len().unwrap(), 5);
        let mut buf = [9u8; 5];
        assert_eq!(read_full_at(f.as_ref(), &mut buf, 0).unwrap(), 5);
        assert_eq!(&buf, b"\0\0abc");
        s.rename(&p, &dir.path().join("g")).unwrap();
        assert_eq!(s.list_dir(dir.path()).unwrap(), vec!["g".to_string()]);
        assert!(f.as_std_file().is_some());
    }

    #[test]
    fn vectored_writes_equal_the_concatenation() {
        // More slices than one pwritev takes, some empty, at an offset.
        let parts: Vec<Vec<u8>> = (0..2500u32)
            .map(|i| vec![(i % 251) as u8; (i % 7) as usize])
            .collect();
        let slices: Vec<&[u8]> = parts.iter().map(Vec::as_slice).collect();
        let whole = parts.concat();
        let dir = tempfile::tempdir().unwrap();
        let mem = MemStorage::default();
        for (s, p) in [
            (&StdStorage as &dyn Storage, dir.path().join("f")),
            (&mem as &dyn Storage, PathBuf::from("/m/f")),
        ] {
            if p.starts_with("/m") {
                s.create_dir_all(Path::new("/m")).unwrap();
            }
            let f = s.open(&p, true).unwrap();
            f.write_at(b"xy", 0).unwrap();
            f.write_vectored_at(&slices, 2).unwrap();
            let mut buf = vec![0u8; whole.len() + 2];
            assert_eq!(read_full_at(f.as_ref(), &mut buf, 0).unwrap(), buf.len());
            assert_eq!(&buf[..2], b"xy");
            assert_eq!(&buf[2..], &whole[..]);
        }
    }
}
