//! Kafka's record format: RecordBatch v2 (magic 2) headers, records and control
//! records, CRC-32C, the four compression codecs, and legacy message sets
//! (magic 0 and 1) with down-conversion.
//!
//! The broker's hot path uses [`BatchView`] and the `set_*` patch functions, which
//! never decompress records. Producers use [`BatchBuilder`]; consumers and the log
//! cleaner use [`BatchView::records`], [`RecordIter`] and [`RecordsReader`].

pub mod batch_header;
pub mod builder;
pub mod checked;
pub mod clock;
pub mod compression;
pub mod control;
pub mod down_convert;
pub mod error;
pub mod fuzz_support;
pub mod legacy;
pub mod limits;
pub mod reader;
pub mod recompress;
pub mod record;
pub mod varint;

pub use batch_header::{
    Attributes, BATCH_HEADER_LEN, BatchHeader, BatchIter, BatchView, Compression, MAGIC_V2,
    TimestampType,
};
pub use builder::{BatchBuilder, BatchBuilderConfig, empty_batch};
pub use checked::CheckedBatches;
pub use control::ControlRecordType;
pub use down_convert::down_convert;
pub use error::RecordsError;
pub use limits::DecodeLimits;
pub use reader::{RecordIter, RecordsReader};
pub use record::{Header, Record, RecordMeta};

/// The README's example, compiled and run as a doc test.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
