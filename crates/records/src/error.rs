//! Typed errors for everything that reads or writes record batches.

/// What can go wrong when reading, validating or building record batches.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RecordsError {
    /// The buffer ends before the structure it should hold.
    #[error("truncated record data: need {needed} bytes, have {available}")]
    Truncated { needed: usize, available: usize },
    /// The batch's magic byte is not one this code path understands.
    #[error("unsupported record batch magic {0}")]
    BadMagic(i8),
    /// The stored CRC does not match the bytes.
    #[error("corrupt record batch: stored crc {stored:#010x}, computed {computed:#010x}")]
    CorruptCrc { stored: u32, computed: u32 },
    /// The batch length field is impossible (too small, or larger than the limit).
    #[error("invalid record batch length {0}")]
    InvalidLength(i64),
    /// The attributes name a compression codec Kafka does not define.
    #[error("unknown compression codec id {0}")]
    UnknownCompression(u8),
    /// The codec is known but not allowed here (e.g. zstd in a legacy message set).
    #[error("compression codec {0} is not supported in this format")]
    UnsupportedCompression(&'static str),
    /// Compressed data could not be decoded by its codec.
    #[error("corrupt {codec} data: {reason}")]
    BadCompression { codec: &'static str, reason: String },
    /// Compressing failed (only possible for codec-internal errors).
    #[error("{codec} compression failed: {reason}")]
    CompressFailed { codec: &'static str, reason: String },
    /// Data would grow past a configured bound (decompression or a size limit).
    #[error("{what} exceeds the limit of {limit} bytes")]
    Oversized { what: &'static str, limit: usize },
    /// Bytes that parse but break the format's rules.
    #[error("malformed record data: {0}")]
    Malformed(&'static str),
    /// The record count in the header disagrees with the records present.
    #[error("record count mismatch: header says {header}, found {found}")]
    CountMismatch { header: i32, found: i64 },
    /// A value does not fit the field the format gives it (e.g. an offset delta
    /// beyond i32, offsets out of order in a builder).
    #[error("invalid argument: {0}")]
    InvalidArgument(&'static str),
}
