//! Kafka's small text checkpoint files and crash-safe replacement of files.
//!
//! A checkpoint is: a version line (`0`), a count line, then `count` entry lines.
//! `recovery-point-offset-checkpoint`, `log-start-offset-checkpoint`,
//! `replication-offset-checkpoint` (high watermarks) and `cleaner-offset-checkpoint`
//! (the cleaner's first dirty offsets; one each per log directory) hold
//! `topic partition offset` entries; `leader-epoch-checkpoint` (one
//! per partition) holds `epoch startOffset` entries. Files are replaced by writing a
//! `.tmp` sibling, fsyncing it, renaming it over the old file and fsyncing the
//! directory, so a crash leaves either the old or the new file.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::error::{Result, StorageError};
use crate::io::{Storage, read_full_at};

/// Largest checkpoint file read (checkpoints hold one short line per partition).
pub const MAX_CHECKPOINT_BYTES: u64 = 64 * 1024 * 1024;

/// Writes `bytes` to `path` atomically (tmp file, fsync, rename, fsync dir).
pub fn write_atomic(storage: &dyn Storage, path: &Path, bytes: &[u8]) -> Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let f = storage
        .open(&tmp, true)
        .map_err(|e| StorageError::io(&tmp, e))?;
    f.set_len(0).map_err(|e| StorageError::io(&tmp, e))?;
    f.write_at(bytes, 0)
        .map_err(|e| StorageError::io(&tmp, e))?;
    f.sync().map_err(|e| StorageError::io(&tmp, e))?;
    storage
        .rename(&tmp, path)
        .map_err(|e| StorageError::io(path, e))?;
    if let Some(dir) = path.parent() {
        storage
            .sync_dir(dir)
            .map_err(|e| StorageError::io(dir, e))?;
    }
    Ok(())
}

/// Reads a whole (small) file; `Ok(None)` when it does not exist.
pub fn read_small_file(storage: &dyn Storage, path: &Path, limit: u64) -> Result<Option<Vec<u8>>> {
    let Ok(f) = storage.open(path, false) else {
        return Ok(None);
    };
    let len = f.len().map_err(|e| StorageError::io(path, e))?;
    if len > limit {
        return Err(StorageError::corrupt(
            path,
            format!("{len} bytes exceeds the {limit}-byte limit"),
        ));
    }
    let mut buf = vec![0u8; len as usize];
    let n = read_full_at(f.as_ref(), &mut buf, 0).map_err(|e| StorageError::io(path, e))?;
    buf.truncate(n);
    Ok(Some(buf))
}

/// Parses the version/count framing and returns the entry lines.
pub fn parse_lines<'a>(path: &Path, text: &'a str) -> Result<Vec<&'a str>> {
    let mut lines = text.lines();
    let version = lines.next().map(str::trim);
    if version != Some("0") {
        return Err(StorageError::corrupt(
            path,
            format!("unsupported checkpoint version {version:?}"),
        ));
    }
    let count: usize = lines
        .next()
        .and_then(|l| l.trim().parse().ok())
        .ok_or_else(|| StorageError::corrupt(path, "missing or bad entry count"))?;
    let entries: Vec<&str> = lines.filter(|l| !l.trim().is_empty()).collect();
    if entries.len() != count {
        return Err(StorageError::corrupt(
            path,
            format!("count says {count} entries, file has {}", entries.len()),
        ));
    }
    Ok(entries)
}

/// Formats entry lines with the version/count framing.
pub fn format_lines<I: IntoIterator<Item = String>>(entries: I) -> String {
    let entries: Vec<String> = entries.into_iter().collect();
    let mut out = format!("0\n{}\n", entries.len());
    for e in entries {
        out.push_str(&e);
        out.push('\n');
    }
    out
}

/// A per-log-directory `topic partition offset` checkpoint, such as
/// `recovery-point-offset-checkpoint` or `log-start-offset-checkpoint`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OffsetCheckpoint {
    /// Offset per (topic, partition).
    pub offsets: BTreeMap<(String, i32), i64>,
}

/// The file name of the recovery point checkpoint in a log directory.
pub const RECOVERY_POINT_CHECKPOINT: &str = "recovery-point-offset-checkpoint";
/// The file name of the log start offset checkpoint in a log directory.
pub const LOG_START_OFFSET_CHECKPOINT: &str = "log-start-offset-checkpoint";
/// The file name of the high watermark checkpoint in a log directory (Kafka's
/// `replica.high.watermark.checkpoint.interval.ms` writes it).
pub const REPLICATION_OFFSET_CHECKPOINT: &str = "replication-offset-checkpoint";
/// The log cleaner's progress: where each compacted log's dirty section starts.
pub const CLEANER_OFFSET_CHECKPOINT: &str = "cleaner-offset-checkpoint";

impl OffsetCheckpoint {
    /// Reads a checkpoint; a missing file is an empty checkpoint.
    pub fn read(storage: &dyn Storage, path: &Path) -> Result<Self> {
        let Some(bytes) = read_small_file(storage, path, MAX_CHECKPOINT_BYTES)? else {
            return Ok(Self::default());
        };
        let text = std::str::from_utf8(&bytes)
            .map_err(|_| StorageError::corrupt(path, "not UTF-8 text"))?;
        let mut offsets = BTreeMap::new();
        for line in parse_lines(path, text)? {
            let mut parts = line.split_whitespace();
            let (Some(topic), Some(p), Some(o), None) =
                (parts.next(), parts.next(), parts.next(), parts.next())
            else {
                return Err(StorageError::corrupt(path, format!("bad line {line:?}")));
            };
            let partition: i32 = p
                .parse()
                .map_err(|_| StorageError::corrupt(path, format!("bad partition in {line:?}")))?;
            let offset: i64 = o
                .parse()
                .map_err(|_| StorageError::corrupt(path, format!("bad offset in {line:?}")))?;
            offsets.insert((topic.to_string(), partition), offset);
        }
        Ok(OffsetCheckpoint { offsets })
    }

    /// Replaces the file atomically with these entries.
    pub fn write(&self, storage: &dyn Storage, path: &Path) -> Result<()> {
        let text = format_lines(
            self.offsets
                .iter()
                .map(|((t, p), o)| format!("{t} {p} {o}")),
        );
        write_atomic(storage, path, text.as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io::MemStorage;

    #[test]
    fn offset_checkpoint_round_trips_in_kafka_format() {
        let s = MemStorage::new();
        let p = Path::new("/data/recovery-point-offset-checkpoint");
        let mut c = OffsetCheckpoint::default();
        c.offsets.insert(("orders".into(), 0), 42);
        c.offsets.insert(("orders".into(), 3), 7);
        c.write(&s, p).unwrap();
        assert_eq!(s.snapshot()[p], b"0\n2\norders 0 42\norders 3 7\n");
        assert_eq!(OffsetCheckpoint::read(&s, p).unwrap(), c);
        assert!(!s.exists(Path::new("/data/recovery-point-offset-checkpoint.tmp")));
    }

    #[test]
    fn bad_checkpoints_are_typed_errors() {
        let s = MemStorage::new();
        let p = Path::new("/c");
        for bad in [
            &b"1\n0\n"[..],
            b"0\n2\nt 0 1\n",
            b"0\nx\n",
            b"0\n1\nt zero 1\n",
            b"\xff\xfe",
        ] {
            s.put(p, bad.to_vec()).unwrap();
            assert!(matches!(
                OffsetCheckpoint::read(&s, p),
                Err(StorageError::Corrupt { .. })
            ));
        }
        assert!(
            OffsetCheckpoint::read(&s, Path::new("/missing"))
                .unwrap()
                .offsets
                .is_empty()
        );
    }
}
