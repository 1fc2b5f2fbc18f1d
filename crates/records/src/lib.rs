//! Kafka's record format: RecordBatch v2 (magic 2) headers and batches, CRC-32C,
//! and (as the crate grows) records, compression and legacy message sets.
//!
//! The broker's hot path uses [`BatchView`] and the `set_*` patch functions, which
//! never decompress records.

pub mod batch_header;
pub mod error;

pub use batch_header::{
    Attributes, BATCH_HEADER_LEN, BatchHeader, BatchIter, BatchView, Compression, MAGIC_V2,
    TimestampType,
};
pub use error::RecordsError;
