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
}
