//! A bounded set of open `.log` files of inactive (rolled) segments, least
//! recently used first out.
//!
//! Only the active segment of a log keeps its `.log` file open for the log's
//! life. A rolled segment is read rarely (consumers catching up, retention,
//! compaction), so its file is opened on demand and kept here; past the limit the
//! least recently used handle is dropped. A handle still borrowed by a reader
//! (a [`FileSlice`](crate::FileSlice) being sent) stays open until the reader lets
//! go; the cache only stops holding it. Entries are keyed by a per-segment id, not
//! by path, so renames (deletion, compaction swaps) never serve a stale file.

use std::collections::{BTreeMap, HashMap};
use std::io;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use crate::io::StorageFile;

/// Default for [`HandleCache::limit`]: open `.log` files of inactive segments
/// kept per process (the broker's `log.inactive.segment.open.files.max`).
pub const DEFAULT_INACTIVE_SEGMENT_OPEN_FILES: usize = 1000;

/// The cache: segment id → open file, bounded by a limit.
#[derive(Debug)]
pub struct HandleCache {
    limit: AtomicUsize,
    next_id: AtomicU64,
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    /// id → (file, last use tick).
    files: HashMap<u64, (Arc<dyn StorageFile>, u64)>,
    /// last use tick → id (oldest first).
    by_use: BTreeMap<u64, u64>,
    tick: u64,
}

impl Inner {
    fn touch(&mut self, id: u64) -> Option<Arc<dyn StorageFile>> {
        self.tick += 1;
        let tick = self.tick;
        let (file, used) = self.files.get_mut(&id)?;
        self.by_use.remove(used);
        *used = tick;
        self.by_use.insert(tick, id);
        Some(file.clone())
    }

    fn remove(&mut self, id: u64) {
        if let Some((_, used)) = self.files.remove(&id) {
            self.by_use.remove(&used);
        }
    }

    fn evict_to(&mut self, limit: usize) {
        while self.files.len() > limit {
            let Some((_, id)) = self.by_use.pop_first() else {
                break;
            };
            self.files.remove(&id);
        }
    }
}

impl HandleCache {
    /// A cache holding at most `limit` files (at least one).
    pub fn new(limit: usize) -> Self {
        HandleCache {
            limit: AtomicUsize::new(limit.max(1)),
            next_id: AtomicU64::new(1),
            inner: Mutex::new(Inner::default()),
        }
    }

    /// The process-wide cache every [`Log`](crate::Log) uses, created with
    /// [`DEFAULT_INACTIVE_SEGMENT_OPEN_FILES`].
    pub fn global() -> &'static Arc<HandleCache> {
        static GLOBAL: OnceLock<Arc<HandleCache>> = OnceLock::new();
        GLOBAL.get_or_init(|| Arc::new(HandleCache::new(DEFAULT_INACTIVE_SEGMENT_OPEN_FILES)))
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // The map is consistent after every statement, so a panic elsewhere
        // cannot have left it half-changed.
        match self.inner.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }

    /// The most files kept open.
    pub fn limit(&self) -> usize {
        self.limit.load(Ordering::Relaxed)
    }

    /// Changes the limit (at least one), dropping the oldest handles past it.
    pub fn set_limit(&self, limit: usize) {
        let limit = limit.max(1);
        self.limit.store(limit, Ordering::Relaxed);
        self.lock().evict_to(limit);
    }

    /// Files held now.
    pub fn len(&self) -> usize {
        self.lock().files.len()
    }

    /// Whether no file is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A fresh id for one segment's file.
    pub fn new_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    /// Keeps `file` as the handle for `id` (the most recently used).
    pub fn insert(&self, id: u64, file: Arc<dyn StorageFile>) {
        let limit = self.limit();
        let mut inner = self.lock();
        inner.remove(id);
        inner.tick += 1;
        let tick = inner.tick;
        inner.files.insert(id, (file, tick));
        inner.by_use.insert(tick, id);
        inner.evict_to(limit);
    }

    /// The handle for `id`, opened with `open` (outside the cache's lock) when the
    /// cache does not hold it.
    pub fn get_or_open(
        &self,
        id: u64,
        open: impl FnOnce() -> io::Result<Arc<dyn StorageFile>>,
    ) -> io::Result<Arc<dyn StorageFile>> {
        if let Some(f) = self.lock().touch(id) {
            return Ok(f);
        }
        let file = open()?;
        let mut inner = self.lock();
        if let Some(f) = inner.touch(id) {
            // Another reader opened it meanwhile: keep one handle.
            return Ok(f);
        }
        drop(inner);
        self.insert(id, file.clone());
        Ok(file)
    }

    /// Takes the handle for `id` out of the cache, if held.
    pub fn take(&self, id: u64) -> Option<Arc<dyn StorageFile>> {
        let mut inner = self.lock();
        let file = inner.files.get(&id).map(|(f, _)| f.clone());
        inner.remove(id);
        file
    }

    /// Forgets `id` (its segment is gone).
    pub fn remove(&self, id: u64) {
        self.lock().remove(id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io::{MemStorage, Storage};
    use std::path::Path;

    fn file(s: &MemStorage, name: &str) -> Arc<dyn StorageFile> {
        s.open(Path::new(name), true).unwrap()
    }

    #[test]
    fn least_recently_used_goes_first() {
        let s = MemStorage::new();
        let c = HandleCache::new(2);
        let (a, b, d) = (c.new_id(), c.new_id(), c.new_id());
        c.insert(a, file(&s, "/a"));
        c.insert(b, file(&s, "/b"));
        // Using `a` makes `b` the oldest.
        let mut opened = 0;
        c.get_or_open(a, || {
            opened += 1;
            Ok(file(&s, "/a"))
        })
        .unwrap();
        assert_eq!(opened, 0, "a was cached");
        c.insert(d, file(&s, "/d"));
        assert_eq!(c.len(), 2);
        c.get_or_open(b, || {
            opened += 1;
            Ok(file(&s, "/b"))
        })
        .unwrap();
        assert_eq!(opened, 1, "b was evicted and reopened");
        // Reopening b evicted a (older than d).
        assert!(c.take(a).is_none());
        assert!(c.take(d).is_some());
        assert_eq!(c.len(), 1);
    }

    #[test]
    fn open_errors_pass_through_and_limit_shrinks() {
        let c = HandleCache::new(3);
        let id = c.new_id();
        let e = c
            .get_or_open(id, || Err(io::Error::from_raw_os_error(24)))
            .unwrap_err();
        assert_eq!(e.raw_os_error(), Some(24));
        assert!(c.is_empty());
        let s = MemStorage::new();
        for n in 0..3 {
            c.insert(c.new_id(), file(&s, &format!("/{n}")));
        }
        c.set_limit(1);
        assert_eq!(c.len(), 1);
        assert_eq!(c.limit(), 1);
        c.remove(id);
    }
}
