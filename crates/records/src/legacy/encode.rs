//! Encoding legacy message sets (for down-conversion to old Fetch versions).

use super::{MAGIC_V0, MAGIC_V1, TIMESTAMP_TYPE_BIT, crc32};
use crate::batch_header::{Compression, TimestampType};
use crate::compression::{Lz4Framing, codec_name, compress, compress_lz4};
use crate::error::RecordsError;

/// One record to write into a legacy message set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LegacyEntry<'a> {
    /// Absolute offset.
    pub offset: i64,
    /// Ignored for magic 0.
    pub timestamp: i64,
    pub key: Option<&'a [u8]>,
    pub value: Option<&'a [u8]>,
}

/// Appends a message set holding `entries` in format `magic` (0 or 1) to `out`.
///
/// Uncompressed, each entry becomes one message. Compressed (gzip, snappy, lz4;
/// zstd has no legacy form), all entries go into one wrapper message whose offset
/// is the last entry's; in magic 1 the inner offsets are relative to the first
/// entry's offset and the wrapper's timestamp is the largest one (or, with
/// log-append time, `max_timestamp`, which the wrapper then carries).
pub fn encode_message_set(
    out: &mut Vec<u8>,
    magic: i8,
    compression: Compression,
    timestamp_type: TimestampType,
    max_timestamp: i64,
    entries: &[LegacyEntry<'_>],
) -> Result<(), RecordsError> {
    if magic != MAGIC_V0 && magic != MAGIC_V1 {
        return Err(RecordsError::BadMagic(magic));
    }
    let ts_attr = if magic == MAGIC_V1 && timestamp_type == TimestampType::LogAppendTime {
        TIMESTAMP_TYPE_BIT
    } else {
        0
    };
    let (Some(first), Some(last)) = (entries.first(), entries.last()) else {
        return Ok(());
    };
    if compression == Compression::None {
        for e in entries {
            let ts = if ts_attr != 0 {
                max_timestamp
            } else {
                e.timestamp
            };
            write_message(out, magic, e.offset, ts_attr, ts, e.key, e.value)?;
        }
        return Ok(());
    }
    let mut inner = Vec::new();
    for e in entries {
        let offset = if magic == MAGIC_V1 {
            e.offset
                .checked_sub(first.offset)
                .ok_or(RecordsError::InvalidArgument("offsets out of range"))?
        } else {
            e.offset
        };
        write_message(&mut inner, magic, offset, 0, e.timestamp, e.key, e.value)?;
    }
    let payload = match compression {
        Compression::Zstd | Compression::None => {
            return Err(RecordsError::UnsupportedCompression(codec_name(
                compression,
            )));
        }
        Compression::Lz4 if magic == MAGIC_V0 => compress_lz4(&inner, Lz4Framing::KafkaV0)?,
        codec => compress(codec, &inner)?,
    };
    let wrapper_ts = if ts_attr != 0 {
        max_timestamp
    } else {
        entries.iter().map(|e| e.timestamp).max().unwrap_or(-1)
    };
    let attrs = compression.id() as i8 | ts_attr;
    write_message(
        out,
        magic,
        last.offset,
        attrs,
        wrapper_ts,
        None,
        Some(&payload),
    )
}

fn write_message(
    out: &mut Vec<u8>,
    magic: i8,
    offset: i64,
    attributes: i8,
    timestamp: i64,
    key: Option<&[u8]>,
    value: Option<&[u8]>,
) -> Result<(), RecordsError> {
    let len_of = |b: Option<&[u8]>| -> Result<i32, RecordsError> {
        b.map_or(Ok(-1), |b| {
            i32::try_from(b.len()).map_err(|_| RecordsError::Oversized {
                what: "legacy message field",
                limit: i32::MAX as usize,
            })
        })
    };
    let (klen, vlen) = (len_of(key)?, len_of(value)?);
    let ts_len = if magic == MAGIC_V1 { 8 } else { 0 };
    let size = 4 + 1 + 1 + ts_len + 8 + key.map_or(0, <[u8]>::len) + value.map_or(0, <[u8]>::len);
    let size = i32::try_from(size).map_err(|_| RecordsError::Oversized {
        what: "legacy message",
        limit: i32::MAX as usize,
    })?;
    out.extend_from_slice(&offset.to_be_bytes());
    out.extend_from_slice(&size.to_be_bytes());
    let crc_at = out.len();
    out.extend_from_slice(&[0; 4]);
    out.push(magic as u8);
    out.push(attributes as u8);
    if magic == MAGIC_V1 {
        out.extend_from_slice(&timestamp.to_be_bytes());
    }
    out.extend_from_slice(&klen.to_be_bytes());
    out.extend_from_slice(key.unwrap_or_default());
    out.extend_from_slice(&vlen.to_be_bytes());
    out.extend_from_slice(value.unwrap_or_default());
    let crc = crc32(&out[crc_at + 4..]);
    out[crc_at..crc_at + 4].copy_from_slice(&crc.to_be_bytes());
    Ok(())
}
