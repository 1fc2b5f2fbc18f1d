//! The per-record rules a leader applies to a producer's batch before appending it, as
//! Kafka's LogValidator does: a log whose `cleanup.policy` includes `compact` refuses records
//! without a key (compaction keeps the latest record per key, and a keyless one has none), and
//! a `CreateTime` log refuses record timestamps more than `message.timestamp.before.max.ms`
//! before or `message.timestamp.after.max.ms` after the broker's clock. Every record breaking
//! a rule is named with its index in the batch (KIP-467), the key rule checked first; the whole
//! batch is refused (INVALID_RECORD, or INVALID_TIMESTAMP when any timestamp is out of range),
//! and the producer fails only the named records with that error.

use std::fmt;

use vltava_records::{BatchView, DecodeLimits, TimestampType};

use crate::config::LogConfig;
use crate::error::{Result, StorageError};

/// Why a batch was refused: Kafka's two record-level errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RejectionKind {
    /// INVALID_RECORD (a key missing on a compacted log).
    InvalidRecord,
    /// INVALID_TIMESTAMP (a record timestamp out of the log's bounds).
    InvalidTimestamp,
}

/// One refused record: its index in the batch and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordError {
    pub batch_index: i32,
    pub message: String,
}

/// A batch refused record by record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RejectedRecords {
    pub kind: RejectionKind,
    /// Every refused record, in batch order.
    pub errors: Vec<RecordError>,
}

/// A record without a timestamp (never out of range).
const NO_TIMESTAMP: i64 = -1;

/// How many record errors the summary message lists (as Kafka's does).
const ERRORS_IN_SUMMARY: usize = 3;

impl fmt::Display for RejectedRecords {
    /// Kafka's summary message for the partition's error.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            RejectionKind::InvalidTimestamp => {
                f.write_str("One or more records have been rejected due to invalid timestamp")
            }
            RejectionKind::InvalidRecord => {
                write!(
                    f,
                    "One or more records have been rejected due to {} record errors in total, \
                     and only showing the first three errors at most: [",
                    self.errors.len()
                )?;
                for (i, e) in self.errors.iter().take(ERRORS_IN_SUMMARY).enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(
                        f,
                        "RecordError(batchIndex={}, message='{}')",
                        e.batch_index, e.message
                    )?;
                }
                f.write_str("]")
            }
        }
    }
}

/// The rules of one log at one moment.
#[derive(Debug, Clone, Copy)]
pub struct RecordRules<'a> {
    /// `topic-partition`, as Kafka names it in its messages.
    pub partition: &'a str,
    /// Records need keys (`cleanup.policy` includes `compact`).
    pub require_keys: bool,
    /// `(before, after)` bounds in ms around `now_ms`, for a `CreateTime` log.
    pub timestamp_bounds: Option<(i64, i64)>,
    pub now_ms: i64,
}

impl<'a> RecordRules<'a> {
    /// The rules `config` sets for the log named `partition`, at `now_ms`.
    pub fn of(config: &LogConfig, partition: &'a str, now_ms: i64) -> Self {
        RecordRules {
            partition,
            require_keys: config.cleanup_policy.compact,
            timestamp_bounds: (config.message_timestamp_type == TimestampType::CreateTime)
                .then_some((
                    config.message_timestamp_before_max_ms,
                    config.message_timestamp_after_max_ms,
                )),
            now_ms,
        }
    }

    /// Whether a batch needs its records read at all.
    fn any(&self) -> bool {
        self.require_keys || self.timestamp_bounds.is_some()
    }

    /// Why a record with this key presence and timestamp breaks the rules, if it does.
    fn check(&self, has_key: bool, timestamp: i64, offset: i64) -> Option<(RejectionKind, String)> {
        if self.require_keys && !has_key {
            return Some((
                RejectionKind::InvalidRecord,
                format!(
                    "Compacted topic cannot accept message without key in topic partition {}",
                    self.partition
                ),
            ));
        }
        let (before, after) = self.timestamp_bounds?;
        if timestamp == NO_TIMESTAMP {
            return None;
        }
        // As Kafka computes it (Java longs wrap): the distance from the clock, both ways.
        let behind = self.now_ms.wrapping_sub(timestamp);
        if behind > before || behind.wrapping_neg() > after {
            return Some((
                RejectionKind::InvalidTimestamp,
                format!(
                    "Timestamp {timestamp} of message with offset {offset} is out of range. \
                     The timestamp should be within [{}, {}]",
                    self.now_ms.wrapping_sub(before),
                    self.now_ms.wrapping_add(after)
                ),
            ));
        }
        None
    }
}

/// Checks every record of a producer's (non-control) batch against `rules`, decompressing it
/// if needed; a refusal names every record that breaks a rule.
pub fn check_batch(view: &BatchView<'_>, rules: &RecordRules<'_>) -> Result<()> {
    let header = view.header();
    if header.attributes.is_control() || !rules.any() {
        return Ok(());
    }
    let mut errors = Vec::new();
    let mut kind = RejectionKind::InvalidRecord;
    // The records are read where they are (decompressed if need be), not copied.
    view.scan_records(&DecodeLimits::default(), |i, record| {
        let refused = rules.check(
            record.has_key,
            record.timestamp(header),
            record.offset(header),
        );
        if let Some((k, message)) = refused {
            if k == RejectionKind::InvalidTimestamp {
                kind = k;
            }
            errors.push(RecordError {
                batch_index: i32::try_from(i).unwrap_or(i32::MAX),
                message,
            });
        }
    })?;
    if errors.is_empty() {
        Ok(())
    } else {
        Err(StorageError::RecordsRejected(RejectedRecords {
            kind,
            errors,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vltava_records::{BatchBuilder, BatchBuilderConfig, Compression};

    const NOW: i64 = 1_800_000_000_000;

    fn batch(records: &[(Option<&str>, i64)], compression: Compression) -> Vec<u8> {
        let mut b = BatchBuilder::new(BatchBuilderConfig {
            compression,
            ..Default::default()
        });
        for (key, ts) in records {
            b.append(*ts, key.map(str::as_bytes), Some(b"v"), &[])
                .unwrap();
        }
        b.build().unwrap().to_vec()
    }

    fn rules(require_keys: bool, bounds: Option<(i64, i64)>) -> RecordRules<'static> {
        RecordRules {
            partition: "t-0",
            require_keys,
            timestamp_bounds: bounds,
            now_ms: NOW,
        }
    }

    fn rejected(bytes: &[u8], rules: &RecordRules<'_>) -> Option<RejectedRecords> {
        match check_batch(&BatchView::new(bytes).unwrap(), rules) {
            Ok(()) => None,
            Err(StorageError::RecordsRejected(r)) => Some(r),
            Err(e) => panic!("unexpected {e}"),
        }
    }

    #[test]
    fn keyless_records_are_named_one_by_one_compressed_or_not() {
        for codec in [Compression::None, Compression::Lz4] {
            let b = batch(
                &[(Some("a"), NOW), (None, NOW), (Some("b"), NOW), (None, NOW)],
                codec,
            );
            let r = rejected(&b, &rules(true, None)).unwrap();
            assert_eq!(r.kind, RejectionKind::InvalidRecord);
            assert_eq!(
                r.errors.iter().map(|e| e.batch_index).collect::<Vec<_>>(),
                [1, 3]
            );
            assert_eq!(
                r.errors[0].message,
                "Compacted topic cannot accept message without key in topic partition t-0"
            );
            assert!(r.to_string().starts_with(
                "One or more records have been rejected due to 2 record errors in total"
            ));
            assert!(rejected(&b, &rules(false, None)).is_none());
        }
    }

    #[test]
    fn timestamps_outside_either_bound_are_refused_with_kafkas_message() {
        let hour = 3_600_000;
        let b = batch(
            &[
                (Some("a"), NOW - 2 * hour),
                (Some("b"), NOW),
                (Some("c"), NOW + 2 * hour),
            ],
            Compression::None,
        );
        let r = rejected(&b, &rules(false, Some((hour, hour)))).unwrap();
        assert_eq!(r.kind, RejectionKind::InvalidTimestamp);
        assert_eq!(
            r.errors.iter().map(|e| e.batch_index).collect::<Vec<_>>(),
            [0, 2]
        );
        assert_eq!(
            r.errors[0].message,
            format!(
                "Timestamp {} of message with offset 0 is out of range. The timestamp should be within [{}, {}]",
                NOW - 2 * hour,
                NOW - hour,
                NOW + hour
            )
        );
        assert_eq!(
            r.to_string(),
            "One or more records have been rejected due to invalid timestamp"
        );
        // Kafka's defaults: no lower bound (its message shows now - Long.MAX_VALUE).
        let old = batch(&[(Some("a"), 0)], Compression::None);
        assert!(rejected(&old, &rules(false, Some((i64::MAX, hour)))).is_none());
        // No bounds at all (LogAppendTime logs): anything goes.
        assert!(rejected(&b, &rules(false, None)).is_none());
    }

    #[test]
    fn a_timestamp_error_makes_the_batch_invalid_timestamp_and_keys_are_checked_first() {
        let hour = 3_600_000;
        let b = batch(&[(None, 0), (Some("b"), 0)], Compression::None);
        let r = rejected(&b, &rules(true, Some((hour, hour)))).unwrap();
        assert_eq!(r.kind, RejectionKind::InvalidTimestamp);
        assert!(r.errors[0].message.starts_with("Compacted topic"));
        assert!(
            r.errors[1]
                .message
                .starts_with("Timestamp 0 of message with offset 1 ")
        );
    }
}
