//! The crate's error type: failures of the offsets log and of record decoding.

use thiserror::Error;

/// Errors of the group coordinator and of the `__consumer_offsets` log under it.
#[derive(Debug, Error)]
pub enum CoordinatorError {
    /// The offsets log could not append or read records.
    #[error("offsets log: {0}")]
    Log(String),
    /// The log refused the append with a Kafka error code (for example
    /// INVALID_PRODUCER_EPOCH for a transactional batch of a fenced producer).
    #[error("offsets log refused the append: error code {code}: {message}")]
    Refused {
        /// The Kafka error code.
        code: i16,
        /// What happened.
        message: String,
    },
    /// A record in `__consumer_offsets` could not be decoded.
    #[error("bad __consumer_offsets record: {0}")]
    BadRecord(String),
    /// A record could not be encoded (a value out of the schema's range).
    #[error("cannot encode __consumer_offsets record: {0}")]
    Encode(String),
    /// A configuration value is invalid.
    #[error("group coordinator config: {0}")]
    Config(String),
    /// The coordinator task has stopped.
    #[error("group coordinator is not running")]
    Stopped,
}
