//! `LogConfig`: the topic-level settings a partition log obeys, with Kafka's names
//! and defaults, parsed from `key=value` text.

use vltava_records::{Compression, TimestampType};

use crate::error::{Result, StorageError};

/// What happens to old data: deleted by retention, compacted by key, or both.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CleanupPolicy {
    /// `delete`: segments past `retention.ms` / `retention.bytes` are removed.
    pub delete: bool,
    /// `compact`: only the latest value per key is kept.
    pub compact: bool,
}

impl CleanupPolicy {
    /// `cleanup.policy=delete` (Kafka's default).
    pub const DELETE: CleanupPolicy = CleanupPolicy {
        delete: true,
        compact: false,
    };
    /// `cleanup.policy=compact`.
    pub const COMPACT: CleanupPolicy = CleanupPolicy {
        delete: false,
        compact: true,
    };
}

/// The per-log configuration. Field names follow Kafka's topic configs.
#[derive(Debug, Clone, PartialEq)]
pub struct LogConfig {
    /// `segment.bytes`: roll the active segment when it would grow past this.
    pub segment_bytes: u64,
    /// `segment.ms`: roll the active segment when it is older than this.
    pub segment_ms: i64,
    /// `segment.index.bytes`: size each index file is preallocated to.
    pub segment_index_bytes: u64,
    /// `index.interval.bytes`: log bytes between two offset-index entries.
    pub index_interval_bytes: u64,
    /// `retention.ms`: delete segments whose newest timestamp is older (-1: never).
    pub retention_ms: i64,
    /// `retention.bytes`: delete oldest segments while the log is larger (-1: never).
    pub retention_bytes: i64,
    /// `cleanup.policy`.
    pub cleanup_policy: CleanupPolicy,
    /// `delete.retention.ms`: how long tombstones survive compaction.
    pub delete_retention_ms: i64,
    /// `min.compaction.lag.ms`: records younger than this are not compacted.
    pub min_compaction_lag_ms: i64,
    /// `max.compaction.lag.ms`: a record stays uncompacted at most this long (the
    /// cleaner then cleans the log whatever its dirty ratio, and the active segment
    /// rolls after this long).
    pub max_compaction_lag_ms: i64,
    /// `min.cleanable.dirty.ratio`: the cleaner takes a log once its dirty bytes are
    /// at least this share of its cleanable bytes.
    pub min_cleanable_dirty_ratio: f64,
    /// `flush.messages`: fsync after this many appended records (`i64::MAX`: never).
    pub flush_messages: i64,
    /// `flush.ms`: fsync when the last flush is older than this (`i64::MAX`: never).
    pub flush_ms: i64,
    /// `message.timestamp.type`: `CreateTime` keeps producer timestamps,
    /// `LogAppendTime` stamps batches with broker time.
    pub message_timestamp_type: TimestampType,
    /// `message.timestamp.before.max.ms`: how far behind the broker's clock a `CreateTime`
    /// record's timestamp may be.
    pub message_timestamp_before_max_ms: i64,
    /// `message.timestamp.after.max.ms`: how far ahead of the broker's clock a `CreateTime`
    /// record's timestamp may be.
    pub message_timestamp_after_max_ms: i64,
    /// `compression.type`: the codec batches are stored with (`None`: `producer`, the
    /// producer's own codec; `Some(Compression::None)`: `uncompressed`). The leader
    /// recompresses a producer's batch before the append when they differ.
    pub compression_type: Option<Compression>,
    /// `max.message.bytes`: the largest batch accepted.
    pub max_message_bytes: usize,
    /// `file.delete.delay.ms`: how long a deleted segment's files linger as `.deleted`.
    pub file_delete_delay_ms: i64,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            segment_bytes: 1024 * 1024 * 1024,
            segment_ms: 7 * 24 * 60 * 60 * 1000,
            segment_index_bytes: 10 * 1024 * 1024,
            index_interval_bytes: 4096,
            retention_ms: 7 * 24 * 60 * 60 * 1000,
            retention_bytes: -1,
            cleanup_policy: CleanupPolicy::DELETE,
            delete_retention_ms: 24 * 60 * 60 * 1000,
            min_compaction_lag_ms: 0,
            max_compaction_lag_ms: i64::MAX,
            min_cleanable_dirty_ratio: 0.5,
            flush_messages: i64::MAX,
            flush_ms: i64::MAX,
            message_timestamp_type: TimestampType::CreateTime,
            // Kafka 4's defaults: no lower bound, one hour ahead.
            message_timestamp_before_max_ms: i64::MAX,
            message_timestamp_after_max_ms: 3_600_000,
            compression_type: None,
            max_message_bytes: 1024 * 1024 + 12,
            file_delete_delay_ms: 60_000,
        }
    }
}

fn bad(key: &str, value: &str, reason: &str) -> StorageError {
    StorageError::Config {
        key: key.to_string(),
        value: value.to_string(),
        reason: reason.to_string(),
    }
}

fn int(key: &str, value: &str, min: i64) -> Result<i64> {
    let v: i64 = value
        .trim()
        .parse()
        .map_err(|_| bad(key, value, "not an integer"))?;
    if v < min {
        return Err(bad(key, value, &format!("must be at least {min}")));
    }
    Ok(v)
}

/// A `compression.type` value: `Some(None)` for `producer` (keep the producer's codec),
/// `Some(Some(codec))` for a codec (`uncompressed` is [`Compression::None`]), `None` for
/// a value Kafka does not know.
pub fn parse_compression_type(value: &str) -> Option<Option<Compression>> {
    Some(match value.trim() {
        "producer" => None,
        "uncompressed" => Some(Compression::None),
        "gzip" => Some(Compression::Gzip),
        "snappy" => Some(Compression::Snappy),
        "lz4" => Some(Compression::Lz4),
        "zstd" => Some(Compression::Zstd),
        _ => return None,
    })
}

impl LogConfig {
    /// Sets one setting from its Kafka name and text value.
    pub fn set(&mut self, key: &str, value: &str) -> Result<()> {
        match key {
            "segment.bytes" => self.segment_bytes = int(key, value, 14)? as u64,
            "segment.ms" => self.segment_ms = int(key, value, 1)?,
            "segment.index.bytes" => self.segment_index_bytes = int(key, value, 8)? as u64,
            "index.interval.bytes" => self.index_interval_bytes = int(key, value, 0)? as u64,
            "retention.ms" => self.retention_ms = int(key, value, -1)?,
            "retention.bytes" => self.retention_bytes = int(key, value, -1)?,
            "delete.retention.ms" => self.delete_retention_ms = int(key, value, 0)?,
            "min.compaction.lag.ms" => self.min_compaction_lag_ms = int(key, value, 0)?,
            "max.compaction.lag.ms" => self.max_compaction_lag_ms = int(key, value, 1)?,
            "min.cleanable.dirty.ratio" => {
                let v: f64 = value
                    .trim()
                    .parse()
                    .map_err(|_| bad(key, value, "not a number"))?;
                if !(0.0..=1.0).contains(&v) {
                    return Err(bad(key, value, "must be between 0 and 1"));
                }
                self.min_cleanable_dirty_ratio = v;
            }
            "flush.messages" => self.flush_messages = int(key, value, 1)?,
            "flush.ms" => self.flush_ms = int(key, value, 0)?,
            "file.delete.delay.ms" => self.file_delete_delay_ms = int(key, value, 0)?,
            "compression.type" => {
                self.compression_type = parse_compression_type(value).ok_or_else(|| {
                    bad(
                        key,
                        value,
                        "expected uncompressed, zstd, lz4, snappy, gzip or producer",
                    )
                })?
            }
            "message.timestamp.before.max.ms" => {
                self.message_timestamp_before_max_ms = int(key, value, 0)?
            }
            "message.timestamp.after.max.ms" => {
                self.message_timestamp_after_max_ms = int(key, value, 0)?
            }
            "max.message.bytes" => {
                let v = int(key, value, 0)?;
                self.max_message_bytes =
                    usize::try_from(v).map_err(|_| bad(key, value, "too large"))?;
            }
            "cleanup.policy" => {
                let mut p = CleanupPolicy {
                    delete: false,
                    compact: false,
                };
                for part in value.split(',').map(str::trim) {
                    match part {
                        "delete" => p.delete = true,
                        "compact" => p.compact = true,
                        _ => return Err(bad(key, value, "expected delete and/or compact")),
                    }
                }
                self.cleanup_policy = p;
            }
            "message.timestamp.type" => {
                self.message_timestamp_type = match value.trim() {
                    "CreateTime" => TimestampType::CreateTime,
                    "LogAppendTime" => TimestampType::LogAppendTime,
                    _ => return Err(bad(key, value, "expected CreateTime or LogAppendTime")),
                }
            }
            _ => return Err(bad(key, value, "not a log config")),
        }
        Ok(())
    }

    /// The age after which the active segment rolls: `segment.ms`, or
    /// `max.compaction.lag.ms` if lower on a compacted log (its records must
    /// become cleanable within that lag).
    pub fn max_segment_ms(&self) -> i64 {
        if self.cleanup_policy.compact {
            self.segment_ms.min(self.max_compaction_lag_ms)
        } else {
            self.segment_ms
        }
    }

    /// Parses `key=value` lines over the defaults. Blank lines and `#` comments are
    /// skipped; a line without `=` or an unknown key is an error.
    pub fn parse(text: &str) -> Result<Self> {
        let mut c = LogConfig::default();
        for line in text.lines().map(str::trim) {
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (k, v) = line
                .split_once('=')
                .ok_or_else(|| bad(line, "", "expected key=value"))?;
            c.set(k.trim(), v.trim())?;
        }
        Ok(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_kafka() {
        let c = LogConfig::default();
        assert_eq!(c.segment_bytes, 1 << 30);
        assert_eq!(c.segment_index_bytes, 10 << 20);
        assert_eq!(c.index_interval_bytes, 4096);
        assert_eq!(c.retention_ms, 604_800_000);
        assert_eq!(c.retention_bytes, -1);
        assert_eq!(c.cleanup_policy, CleanupPolicy::DELETE);
        assert_eq!(c.max_message_bytes, 1_048_588);
        assert_eq!(c.max_compaction_lag_ms, i64::MAX);
        assert_eq!(c.min_cleanable_dirty_ratio, 0.5);
    }

    #[test]
    fn max_compaction_lag_shortens_rolls_of_compacted_logs_only() {
        let mut c = LogConfig::parse("segment.ms=1000\nmax.compaction.lag.ms=10\n").unwrap();
        assert_eq!(c.max_segment_ms(), 1000);
        c.set("cleanup.policy", "compact").unwrap();
        assert_eq!(c.max_segment_ms(), 10);
        c.set("min.cleanable.dirty.ratio", "0.01").unwrap();
        assert_eq!(c.min_cleanable_dirty_ratio, 0.01);
    }

    #[test]
    fn parses_key_value_text() {
        let c = LogConfig::parse(
            "# comment\nsegment.bytes=1024\ncleanup.policy = compact,delete\n\
             message.timestamp.type=LogAppendTime\nretention.ms=-1\n",
        )
        .unwrap();
        assert_eq!(c.segment_bytes, 1024);
        assert!(c.cleanup_policy.compact && c.cleanup_policy.delete);
        assert_eq!(c.message_timestamp_type, TimestampType::LogAppendTime);
        assert_eq!(c.retention_ms, -1);
    }

    #[test]
    fn rejects_bad_values_with_typed_errors() {
        for text in [
            "segment.bytes=abc",
            "segment.bytes=1",
            "cleanup.policy=shred",
            "no.such.key=1",
            "missing-equals",
            "retention.ms=-2",
            "min.cleanable.dirty.ratio=1.5",
            "min.cleanable.dirty.ratio=x",
            "max.compaction.lag.ms=0",
        ] {
            assert!(
                matches!(LogConfig::parse(text), Err(StorageError::Config { .. })),
                "{text}"
            );
        }
    }
}
