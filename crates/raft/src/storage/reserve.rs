//! The metadata log's space reserve: a file of [`RESERVE_BYTES`] real bytes
//! kept beside the raft log. When a metadata write finds the disk full (the
//! data partitions on the same disk filled it) the reserve is deleted and the
//! write tried once more, so the controller goes on committing metadata while
//! the partitions' writes are refused. Once space is back the reserve is made
//! again (tried at most every [`RESTORE_INTERVAL`]).
//!
//! Kafka halts the process when its metadata log dir fails; this keeps the
//! controller alive through the common case, a shared disk filled by data.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// File name inside the metadata dir.
pub const RESERVE_FILE: &str = "space-reserve";
/// Bytes held back for metadata writes.
pub const RESERVE_BYTES: usize = 2 << 20;
/// How often a missing reserve is tried again.
pub const RESTORE_INTERVAL: Duration = Duration::from_secs(5);

/// Whether an IO error means the disk (or the quota) is full.
pub fn is_out_of_space(e: &std::io::Error) -> bool {
    matches!(e.raw_os_error(), Some(28) | Some(122))
}

/// The reserve file and whether it holds its bytes.
#[derive(Debug)]
pub struct SpaceReserve {
    path: PathBuf,
    held: bool,
    last_try: Option<Instant>,
}

impl SpaceReserve {
    /// Makes (or keeps) the reserve in `dir`; a disk too full for it leaves it
    /// missing, to be made later.
    pub fn open(dir: &Path) -> SpaceReserve {
        let mut r = SpaceReserve {
            path: dir.join(RESERVE_FILE),
            held: false,
            last_try: None,
        };
        r.restore();
        r
    }

    /// Whether the reserve holds its bytes now.
    pub fn is_held(&self) -> bool {
        self.held
    }

    /// Deletes the reserve to give its space to a metadata write; false when
    /// there was none to give.
    pub fn release(&mut self) -> bool {
        if !self.held {
            return false;
        }
        self.held = false;
        self.last_try = Some(Instant::now());
        match std::fs::remove_file(&self.path) {
            Ok(()) => {
                tracing::warn!(path = %self.path.display(), bytes = RESERVE_BYTES,
                    "metadata log: out of disk space (ENOSPC); released the space reserve");
                true
            }
            Err(e) => {
                tracing::error!(path = %self.path.display(), error = %e, "metadata log: cannot release the space reserve");
                false
            }
        }
    }

    /// Makes the reserve again if it is missing and the last try is old enough.
    pub fn maybe_restore(&mut self) {
        if self.held
            || self
                .last_try
                .is_some_and(|t| t.elapsed() < RESTORE_INTERVAL)
        {
            return;
        }
        self.restore();
        if self.held {
            tracing::info!(path = %self.path.display(), "metadata log: space reserve made again");
        }
    }

    fn restore(&mut self) {
        self.last_try = Some(Instant::now());
        if std::fs::metadata(&self.path).is_ok_and(|m| m.len() == RESERVE_BYTES as u64) {
            self.held = true;
            return;
        }
        let made = (|| {
            let mut f = std::fs::File::create(&self.path)?;
            // Real bytes, not a hole: the space must be taken now.
            f.write_all(&vec![0u8; RESERVE_BYTES])?;
            f.sync_all()
        })();
        match made {
            Ok(()) => self.held = true,
            Err(_) => {
                let _ = std::fs::remove_file(&self.path);
                self.held = false;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn made_released_and_made_again() {
        let dir = std::env::temp_dir().join(format!("vltava-reserve-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut r = SpaceReserve::open(&dir);
        assert!(r.is_held());
        assert_eq!(
            std::fs::metadata(dir.join(RESERVE_FILE)).unwrap().len(),
            RESERVE_BYTES as u64
        );
        assert!(r.release());
        assert!(!dir.join(RESERVE_FILE).exists());
        assert!(!r.release(), "nothing left to give");
        r.maybe_restore();
        assert!(!r.is_held(), "not before the interval");
        r.last_try = None;
        r.maybe_restore();
        assert!(r.is_held());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn out_of_space_errors() {
        assert!(is_out_of_space(&std::io::Error::from_raw_os_error(28)));
        assert!(!is_out_of_space(&std::io::Error::from_raw_os_error(5)));
    }
}
