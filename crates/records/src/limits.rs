//! Bounds that every decoder in this crate takes, so hostile input cannot make it
//! allocate or inflate without limit.

/// Limits applied when decoding records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodeLimits {
    /// Largest decompressed size of one batch's records (or one legacy wrapper's
    /// inner message set). Exceeding it is [`crate::RecordsError::Oversized`].
    pub max_decompressed_bytes: usize,
    /// Largest record count accepted in one batch, on top of the check that the
    /// count fits in the bytes present.
    pub max_records_per_batch: usize,
}

/// 64 MiB: comfortably above Kafka's default `message.max.bytes` (1 MiB) and
/// `max.request.size`, while still a hard stop for a zip bomb.
pub const DEFAULT_MAX_DECOMPRESSED_BYTES: usize = 64 * 1024 * 1024;

impl Default for DecodeLimits {
    fn default() -> Self {
        DecodeLimits {
            max_decompressed_bytes: DEFAULT_MAX_DECOMPRESSED_BYTES,
            max_records_per_batch: i32::MAX as usize,
        }
    }
}
