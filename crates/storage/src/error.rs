//! Typed errors for every storage operation.

use std::path::PathBuf;

use vltava_records::RecordsError;

/// What can go wrong while opening, appending to, reading or maintaining a log.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// An IO call failed.
    #[error("io error on {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// An fsync failed earlier: the log refuses writes until it is reopened.
    #[error("log {0} is offline after a failed fsync; reopen it to recover")]
    LogOffline(PathBuf),
    /// The log was closed (the broker is shutting down): it refuses writes.
    #[error("log {0} is closed")]
    LogClosed(PathBuf),
    /// A batch handed to append is malformed.
    #[error("invalid record batch: {0}")]
    InvalidBatch(#[from] RecordsError),
    /// A batch is well-formed but breaks a rule of the log (e.g. empty append,
    /// inconsistent record count).
    #[error("invalid record batch: {0}")]
    InvalidRecord(String),
    /// Records of a producer's batch break the log's record rules (`record_rules`).
    #[error("{0}")]
    RecordsRejected(crate::record_rules::RejectedRecords),
    /// A batch (or the whole append) is larger than `max.message.bytes`.
    #[error("record batch of {size} bytes exceeds max.message.bytes {max}")]
    BatchTooLarge { size: usize, max: usize },
    /// A follower append's offsets do not follow the log end.
    #[error("append offsets out of order: batch starts at {base}, log end is {log_end}")]
    OffsetsOutOfOrder { base: i64, log_end: i64 },
    /// The requested offset is outside the log's range.
    #[error("offset {offset} out of range [{log_start}, {log_end}]")]
    OffsetOutOfRange {
        offset: i64,
        log_start: i64,
        log_end: i64,
    },
    /// A producer sent a batch whose sequence does not follow the last one.
    #[error(
        "out of order sequence for producer {producer_id}: expected {expected}, got {received}"
    )]
    OutOfOrderSequence {
        producer_id: i64,
        expected: i32,
        received: i32,
    },
    /// A producer with an older epoch than the current one (a zombie) tried to write.
    #[error("producer {producer_id} fenced: epoch {received} is older than {current}")]
    InvalidProducerEpoch {
        producer_id: i64,
        current: i16,
        received: i16,
    },
    /// A producer with an open transaction sent a non-transactional batch (Kafka's
    /// INVALID_TXN_STATE).
    #[error(
        "producer {producer_id} has an open transaction: only transactional batches may follow"
    )]
    InvalidTxnState { producer_id: i64 },
    /// A transaction marker came from a coordinator older than the one that wrote
    /// the producer's last marker (Kafka's TRANSACTION_COORDINATOR_FENCED).
    #[error(
        "marker for producer {producer_id} has coordinator epoch {received}, older than {current}"
    )]
    TransactionCoordinatorFenced {
        producer_id: i64,
        current: i32,
        received: i32,
    },
    /// A file's contents are not what its format requires.
    #[error("corrupt file {path}: {reason}")]
    Corrupt { path: PathBuf, reason: String },
    /// A configuration value is missing, unknown or out of range.
    #[error("invalid config {key}={value}: {reason}")]
    Config {
        key: String,
        value: String,
        reason: String,
    },
    /// The offset cannot be stored as a 32-bit offset relative to the segment base.
    #[error("offset {offset} does not fit in segment based at {base}")]
    IndexOffsetOverflow { offset: i64, base: i64 },
}

/// Shorthand result type.
pub type Result<T, E = StorageError> = std::result::Result<T, E>;

impl StorageError {
    /// Wraps an IO error with the path it concerns.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        StorageError::Io {
            path: path.into(),
            source,
        }
    }

    /// A corruption report for `path`.
    pub fn corrupt(path: impl Into<PathBuf>, reason: impl Into<String>) -> Self {
        StorageError::Corrupt {
            path: path.into(),
            reason: reason.into(),
        }
    }
}
