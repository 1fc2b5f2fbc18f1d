//! Operating-system resources the broker can run out of: the open-file limit
//! (raised from the soft to the hard limit at start, and a reserve of
//! descriptors kept free for connections and the metadata log when partition
//! logs are opened), and naming what ran out when a storage call fails.

use std::io;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
use vltava_storage::StorageError;

/// The open-file limits (soft, hard) after trying to raise the soft one to the
/// hard one. `None` for "unlimited".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileLimits {
    pub soft_before: Option<u64>,
    pub soft: Option<u64>,
    pub hard: Option<u64>,
}

/// Raises the soft `RLIMIT_NOFILE` to the hard limit (as Kafka's start scripts
/// ask operators to do by hand) and returns the limits.
pub fn raise_open_file_limit() -> io::Result<FileLimits> {
    let before = getrlimit(Resource::Nofile);
    if before.current != before.maximum {
        setrlimit(
            Resource::Nofile,
            Rlimit {
                current: before.maximum,
                maximum: before.maximum,
            },
        )
        .map_err(io::Error::from)?;
    }
    let after = getrlimit(Resource::Nofile);
    Ok(FileLimits {
        soft_before: before.current,
        soft: after.current,
        hard: after.maximum,
    })
}

/// Descriptors kept free for connections, the metadata log and checkpoints: a
/// quarter of the limit, at most 512.
pub fn reserved_descriptors(soft_limit: u64) -> u64 {
    (soft_limit / 4).min(512)
}

/// How many more files may be opened before the reserve is reached; `None` when
/// that cannot be known (no `/proc/self/fd`, or no limit).
pub fn descriptors_available() -> Option<u64> {
    let soft = getrlimit(Resource::Nofile).current?;
    let open = std::fs::read_dir("/proc/self/fd").ok()?.count() as u64;
    Some(
        soft.saturating_sub(reserved_descriptors(soft))
            .saturating_sub(open),
    )
}

/// What ran out or broke, for a storage error caused by the operating system:
/// descriptors (EMFILE, ENFILE), space (ENOSPC, EDQUOT) or the device (EIO).
pub fn exhausted_resource(e: &StorageError) -> Option<&'static str> {
    let StorageError::Io { source, .. } = e else {
        return None;
    };
    match source.raw_os_error()? {
        24 => Some("descriptors: the process's open-file limit (EMFILE); raise `ulimit -n`"),
        23 => Some("descriptors: the system's open-file table (ENFILE); raise fs.file-max"),
        28 => Some("disk space (ENOSPC)"),
        122 => Some("the disk quota (EDQUOT)"),
        5 => Some("a working device: an IO error (EIO)"),
        _ => None,
    }
}

/// At most one log line a second for a kind of event however many requests run into it,
/// counting the ones left out.
#[derive(Debug)]
pub struct LogLimiter {
    /// When a line was last logged (ms since the epoch).
    last_ms: AtomicI64,
    /// Events not logged since.
    left_out: AtomicU64,
}

impl LogLimiter {
    pub const fn new() -> Self {
        LogLimiter {
            last_ms: AtomicI64::new(0),
            left_out: AtomicU64::new(0),
        }
    }

    /// `Some(events left out since the last line)` when this one may be logged.
    pub fn admit(&self, now_ms: i64) -> Option<u64> {
        let last = self.last_ms.load(Ordering::Relaxed);
        if now_ms - last < 1000
            || self
                .last_ms
                .compare_exchange(last, now_ms, Ordering::Relaxed, Ordering::Relaxed)
                .is_err()
        {
            self.left_out.fetch_add(1, Ordering::Relaxed);
            return None;
        }
        Some(self.left_out.swap(0, Ordering::Relaxed))
    }
}

impl Default for LogLimiter {
    fn default() -> Self {
        Self::new()
    }
}

/// Storage errors requests ran into.
static STORAGE_ERRORS: LogLimiter = LogLimiter::new();

/// Logs a storage error a request ran into (rate-limited), naming the resource
/// that ran out if the operating system said which. The request itself is
/// answered with KAFKA_STORAGE_ERROR.
pub fn report_storage_error(topic: &str, partition: i32, e: &StorageError) {
    if !matches!(
        e,
        StorageError::Io { .. } | StorageError::LogOffline(_) | StorageError::Corrupt { .. }
    ) {
        return;
    }
    let Some(suppressed) = STORAGE_ERRORS.admit(vltava_records::clock::now_ms()) else {
        return;
    };
    match exhausted_resource(e) {
        Some(what) => tracing::error!(
            topic,
            partition,
            error = %e,
            suppressed,
            "storage failure: out of {what}; answering KAFKA_STORAGE_ERROR"
        ),
        None => tracing::error!(
            topic,
            partition,
            error = %e,
            suppressed,
            "storage failure; answering KAFKA_STORAGE_ERROR"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_log_limiter_admits_one_line_a_second_and_counts_the_rest() {
        let l = LogLimiter::new();
        assert_eq!(l.admit(10_000), Some(0));
        assert_eq!(l.admit(10_100), None);
        assert_eq!(l.admit(10_999), None);
        assert_eq!(l.admit(11_000), Some(2));
        assert_eq!(l.admit(11_001), None);
        assert_eq!(l.admit(13_000), Some(1));
    }

    #[test]
    fn raising_keeps_the_hard_limit_and_reaches_it() {
        let l = raise_open_file_limit().unwrap();
        assert_eq!(l.soft, l.hard);
        assert!(l.soft >= l.soft_before);
    }

    #[test]
    fn resources_are_named_from_the_os_error() {
        let io = |n| StorageError::io("/x", io::Error::from_raw_os_error(n));
        assert!(exhausted_resource(&io(24)).unwrap().contains("EMFILE"));
        assert!(exhausted_resource(&io(28)).unwrap().contains("ENOSPC"));
        assert_eq!(exhausted_resource(&io(2)), None);
        assert_eq!(
            exhausted_resource(&StorageError::LogOffline("/x".into())),
            None
        );
        assert_eq!(reserved_descriptors(1024), 256);
        assert_eq!(reserved_descriptors(1 << 20), 512);
    }
}
