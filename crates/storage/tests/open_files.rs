//! Open file descriptors held by logs on the real file system, counted in
//! `/proc/self/fd`. A binary of its own (not in `tests/it/`) with one test, so no
//! other test opens files in the same process while it counts.
#![allow(clippy::unwrap_used)]

#[path = "it/common/mod.rs"]
mod common;

use std::path::Path;
use std::sync::Arc;

use common::{batch, read_all};
use vltava_storage::{HandleCache, Log, LogConfig, LogOpenOptions, StdStorage, SystemClock};

/// Descriptors open in this process now (Linux only; `None` elsewhere).
fn open_fds() -> Option<usize> {
    Some(std::fs::read_dir("/proc/self/fd").ok()?.count())
}

fn open_log(dir: &Path, rp: i64) -> Log {
    Log::open(
        Arc::new(StdStorage),
        dir,
        LogConfig::default(),
        Arc::new(SystemClock),
        LogOpenOptions {
            recovery_point: rp,
            ..LogOpenOptions::default()
        },
    )
    .unwrap()
}

/// Sizes of the files in `dir` whose names end with `suffix`.
fn sizes(dir: &Path, suffix: &str) -> Vec<u64> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.file_name().to_string_lossy().ends_with(suffix))
        .map(|e| e.metadata().unwrap().len())
        .collect()
}

#[test]
fn logs_hold_one_descriptor_each_and_old_segments_none_beyond_the_cache() {
    let Some(base) = open_fds() else {
        return; // no /proc: nothing to count
    };
    let root = tempfile::tempdir().unwrap();
    const N: usize = 300;
    let dirs: Vec<_> = (0..N).map(|i| root.path().join(format!("t-{i}"))).collect();

    // N partitions with one segment and one record each.
    let mut logs: Vec<Log> = dirs.iter().map(|d| open_log(d, 0)).collect();
    for log in &mut logs {
        log.append_as_leader(&mut batch(&[b"v"], 1), 0).unwrap();
        log.flush().unwrap();
    }
    let held = open_fds().unwrap() - base;
    assert!(
        held * 10 <= N * 12,
        "{held} descriptors for {N} one-segment logs"
    );

    // Clean close: every index is exactly its entries (no preallocated tail) and
    // nothing stays open.
    let leos: Vec<i64> = logs.iter().map(Log::log_end_offset).collect();
    for log in logs.drain(..) {
        log.close().unwrap();
    }
    assert_eq!(open_fds().unwrap(), base, "close released every descriptor");
    for d in &dirs {
        assert_eq!(sizes(d, ".index"), vec![0], "no offset index entry yet");
        assert_eq!(sizes(d, ".timeindex"), vec![12], "the final time entry");
        assert_eq!(sizes(d, ".txnindex"), vec![0]);
    }

    // Reopen at the recovery point: the same data, the same descriptors.
    let logs: Vec<Log> = dirs
        .iter()
        .zip(&leos)
        .map(|(d, &rp)| open_log(d, rp))
        .collect();
    for log in &logs {
        assert_eq!(read_all(log, 0), vec![(0, Some(b"v".to_vec()))]);
    }
    let held = open_fds().unwrap() - base;
    assert!(held * 10 <= N * 12, "{held} descriptors after reopening");
    drop(logs);

    // One log with many segments: the rolled ones hold no descriptor beyond the
    // bounded handle cache, and reading them still works.
    let cache = HandleCache::global();
    let limit = 8;
    cache.set_limit(limit);
    let d = root.path().join("many-0");
    let mut log = open_log(&d, 0);
    for i in 0..60u8 {
        log.append_as_leader(&mut batch(&[&[i]], 1), 0).unwrap();
        log.roll().unwrap();
    }
    let held = open_fds().unwrap() - base;
    assert!(held <= 1 + limit, "{held} descriptors for 61 segments");
    let all = read_all(&log, 0);
    assert_eq!(all.len(), 60);
    assert!(
        all.iter()
            .enumerate()
            .all(|(i, r)| r.1 == Some(vec![i as u8]))
    );
    let held = open_fds().unwrap() - base;
    assert!(
        held <= 1 + limit,
        "{held} descriptors after reading every segment"
    );
    let leo = log.log_end_offset();
    log.close().unwrap();
    assert_eq!(open_fds().unwrap(), base);

    // Reopened (trusted, then fully recovered): still bounded.
    for rp in [leo, 0] {
        let log = open_log(&d, rp);
        let held = open_fds().unwrap() - base;
        assert!(held <= 1 + limit, "{held} descriptors reopening at {rp}");
        assert_eq!(read_all(&log, 0), all);
        drop(log);
    }
    assert_eq!(open_fds().unwrap(), base);
}
