//! Down-conversion: turning v2 batches into a legacy message set (magic 0 or 1)
//! for consumers on Fetch versions older than 4, as Kafka does.
//!
//! Per source batch: control batches and empty batches are dropped; headers
//! are dropped (legacy messages have none); the batch's codec is kept (one
//! compressed wrapper per batch), except zstd, which old formats cannot carry;
//! magic 0 drops timestamps. A torn batch at the end of the input (a fetch read
//! that ended mid-batch) ends the output there.

use bytes::Bytes;

use crate::batch_header::{BatchIter, Compression};
use crate::compression::codec_name;
use crate::error::RecordsError;
use crate::legacy::{LegacyEntry, MAGIC_V0, MAGIC_V1, encode_message_set};
use crate::limits::DecodeLimits;

/// Converts the concatenated v2 batches in `batches` to a magic `to_magic`
/// message set. Checks each batch's CRC.
pub fn down_convert(
    batches: &[u8],
    to_magic: i8,
    limits: &DecodeLimits,
) -> Result<Bytes, RecordsError> {
    if to_magic != MAGIC_V0 && to_magic != MAGIC_V1 {
        return Err(RecordsError::BadMagic(to_magic));
    }
    let mut out = Vec::with_capacity(batches.len());
    for view in BatchIter::new(batches) {
        let view = match view {
            Ok(v) => v,
            // BatchIter reports Truncated only for a partial batch at the very end:
            // stop there, as a fetch read would.
            Err(RecordsError::Truncated { .. }) => break,
            Err(e) => return Err(e),
        };
        view.validate_crc()?;
        let h = *view.header();
        if h.attributes.is_control() || h.record_count == 0 {
            continue;
        }
        let codec = h.attributes.codec()?;
        if codec == Compression::Zstd {
            return Err(RecordsError::UnsupportedCompression(codec_name(codec)));
        }
        let records = view.records(limits)?;
        let entries: Vec<LegacyEntry<'_>> = records
            .iter()
            .map(|r| LegacyEntry {
                offset: r.offset(&h),
                timestamp: r.timestamp(&h),
                key: r.key.as_deref(),
                value: r.value.as_deref(),
            })
            .collect();
        encode_message_set(
            &mut out,
            to_magic,
            codec,
            h.attributes.timestamp_type(),
            h.max_timestamp,
            &entries,
        )?;
    }
    Ok(Bytes::from(out))
}
