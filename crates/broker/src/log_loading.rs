//! Opening and closing many partition logs at once: a bounded set of threads
//! (`num.recovery.threads.per.data.dir`) over a list of jobs, and Kafka's
//! clean-shutdown marker (`.kafka_cleanshutdown` in the log dir), written once
//! every log is closed and its checkpoints are on disk, and removed once the
//! logs are open again. A start that finds it trusts every segment (no recovery
//! scan); a start that does not recovers each log from its checkpointed
//! recovery point.

use std::io;
use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The marker's file name (Kafka's).
pub const CLEAN_SHUTDOWN_FILE: &str = ".kafka_cleanshutdown";

/// Runs `f` on every item on up to `threads` threads (the caller's among them);
/// the results come back in the items' order.
pub fn par_map<T: Sync, R: Send>(
    items: &[T],
    threads: usize,
    f: impl Fn(&T) -> R + Sync,
) -> Vec<R> {
    let threads = threads.clamp(1, items.len().max(1));
    if threads == 1 {
        return items.iter().map(f).collect();
    }
    let next = AtomicUsize::new(0);
    let out: Mutex<Vec<Option<R>>> = Mutex::new((0..items.len()).map(|_| None).collect());
    let work = || {
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            let Some(item) = items.get(i) else { return };
            let r = f(item);
            match out.lock() {
                Ok(mut g) => g[i] = Some(r),
                Err(p) => p.into_inner()[i] = Some(r),
            }
        }
    };
    std::thread::scope(|s| {
        for _ in 1..threads {
            s.spawn(work);
        }
        work();
    });
    let out = match out.into_inner() {
        Ok(v) => v,
        Err(p) => p.into_inner(),
    };
    // Every index below `items.len()` was taken by exactly one thread, and the
    // scope joined them all, so every slot is filled.
    out.into_iter().flatten().collect()
}

/// Whether the last stop left the marker in `dir`.
pub fn had_clean_shutdown(dir: &Path) -> bool {
    dir.join(CLEAN_SHUTDOWN_FILE).exists()
}

/// Writes the marker and makes it durable (file and directory fsynced).
pub fn write_clean_shutdown(dir: &Path) -> io::Result<()> {
    let path = dir.join(CLEAN_SHUTDOWN_FILE);
    std::fs::File::create(&path)?.sync_all()?;
    std::fs::File::open(dir)?.sync_all()
}

/// Removes the marker (before anything is written again) durably.
pub fn remove_clean_shutdown(dir: &Path) -> io::Result<()> {
    match std::fs::remove_file(dir.join(CLEAN_SHUTDOWN_FILE)) {
        Ok(()) => std::fs::File::open(dir)?.sync_all(),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn par_map_keeps_order_and_runs_everything_once() {
        let items: Vec<u32> = (0..1000).collect();
        let calls = AtomicUsize::new(0);
        for threads in [1, 2, 7] {
            calls.store(0, Ordering::Relaxed);
            let out = par_map(&items, threads, |x| {
                calls.fetch_add(1, Ordering::Relaxed);
                x * 2
            });
            assert_eq!(out, items.iter().map(|x| x * 2).collect::<Vec<_>>());
            assert_eq!(calls.load(Ordering::Relaxed), 1000);
        }
        assert!(par_map(&[] as &[u32], 4, |x| *x).is_empty());
    }

    #[test]
    fn marker_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        assert!(!had_clean_shutdown(dir.path()));
        write_clean_shutdown(dir.path()).unwrap();
        assert!(had_clean_shutdown(dir.path()));
        remove_clean_shutdown(dir.path()).unwrap();
        assert!(!had_clean_shutdown(dir.path()));
        remove_clean_shutdown(dir.path()).unwrap();
    }
}
