//! Decoding legacy message sets: one entry at a time ([`LegacyMessageIter`]) or
//! a whole set with compressed wrappers expanded ([`decode_message_set`]).

use bytes::Bytes;

use super::{
    COMPRESSION_MASK, LEGACY_LOG_OVERHEAD, LegacyRecord, MAGIC_V0, MAGIC_V1, TIMESTAMP_TYPE_BIT,
    crc32, min_message_len,
};
use crate::batch_header::{Compression, MAGIC_OFFSET, TimestampType};
use crate::compression::{Lz4Framing, codec_name, decompress, decompress_lz4};
use crate::error::RecordsError;
use crate::limits::DecodeLimits;

/// One outer entry of a legacy message set, CRC checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LegacyMessage {
    pub offset: i64,
    pub magic: i8,
    pub attributes: i8,
    /// Present for magic 1.
    pub timestamp: Option<i64>,
    pub key: Option<Bytes>,
    pub value: Option<Bytes>,
}

impl LegacyMessage {
    /// The codec id in the attributes (0 = none).
    pub fn compression_id(&self) -> u8 {
        (self.attributes & COMPRESSION_MASK) as u8
    }

    pub fn timestamp_type(&self) -> TimestampType {
        if self.magic >= MAGIC_V1 && self.attributes & TIMESTAMP_TYPE_BIT != 0 {
            TimestampType::LogAppendTime
        } else {
            TimestampType::CreateTime
        }
    }
}

/// Iterates the outer entries of a legacy message set (no decompression). A torn
/// entry at the end is reported once as `Truncated`, then iteration stops.
#[derive(Debug, Clone)]
pub struct LegacyMessageIter {
    buf: Bytes,
    pos: usize,
    done: bool,
}

impl LegacyMessageIter {
    pub fn new(buf: Bytes) -> Self {
        LegacyMessageIter {
            buf,
            pos: 0,
            done: false,
        }
    }

    /// Bytes consumed so far (the start of the entry `next` would read).
    pub fn position(&self) -> usize {
        self.pos
    }

    fn read_one(&mut self) -> Result<LegacyMessage, RecordsError> {
        let rest = &self.buf[self.pos..];
        let Some(prefix) = rest.first_chunk::<LEGACY_LOG_OVERHEAD>() else {
            return Err(RecordsError::Truncated {
                needed: LEGACY_LOG_OVERHEAD,
                available: rest.len(),
            });
        };
        let (offset_bytes, size_bytes) = prefix.split_at(8);
        let mut o = [0u8; 8];
        o.copy_from_slice(offset_bytes);
        let offset = i64::from_be_bytes(o);
        let size = i32::from_be_bytes([size_bytes[0], size_bytes[1], size_bytes[2], size_bytes[3]]);
        if let Some(&m) = rest.get(MAGIC_OFFSET) {
            let magic = m as i8;
            if magic != MAGIC_V0 && magic != MAGIC_V1 {
                return Err(RecordsError::BadMagic(magic));
            }
        }
        let size = usize::try_from(size).map_err(|_| RecordsError::InvalidLength(size.into()))?;
        let total = LEGACY_LOG_OVERHEAD + size;
        if rest.len() < total {
            return Err(RecordsError::Truncated {
                needed: total,
                available: rest.len(),
            });
        }
        let start = self.pos + LEGACY_LOG_OVERHEAD;
        let msg = self.buf.slice(start..start + size);
        self.pos += total;
        parse_message(offset, &msg)
    }
}

impl Iterator for LegacyMessageIter {
    type Item = Result<LegacyMessage, RecordsError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done || self.pos >= self.buf.len() {
            return None;
        }
        let r = self.read_one();
        if r.is_err() {
            self.done = true;
        }
        Some(r)
    }
}

/// Parses one message body (from the CRC on) and checks its CRC.
fn parse_message(offset: i64, msg: &Bytes) -> Result<LegacyMessage, RecordsError> {
    if msg.len() < 6 {
        return Err(RecordsError::InvalidLength(msg.len() as i64));
    }
    let magic = msg[4] as i8;
    if magic != MAGIC_V0 && magic != MAGIC_V1 {
        return Err(RecordsError::BadMagic(magic));
    }
    if msg.len() < min_message_len(magic) {
        return Err(RecordsError::InvalidLength(msg.len() as i64));
    }
    let stored = u32::from_be_bytes([msg[0], msg[1], msg[2], msg[3]]);
    let computed = crc32(&msg[4..]);
    if stored != computed {
        return Err(RecordsError::CorruptCrc { stored, computed });
    }
    let attributes = msg[5] as i8;
    let mut p = 6;
    let timestamp = if magic == MAGIC_V1 {
        let mut b = [0u8; 8];
        b.copy_from_slice(&msg[6..14]);
        p = 14;
        Some(i64::from_be_bytes(b))
    } else {
        None
    };
    let key = read_bytes(msg, &mut p)?;
    let value = read_bytes(msg, &mut p)?;
    if p != msg.len() {
        return Err(RecordsError::Malformed(
            "legacy message size disagrees with its fields",
        ));
    }
    Ok(LegacyMessage {
        offset,
        magic,
        attributes,
        timestamp,
        key,
        value,
    })
}

fn read_bytes(msg: &Bytes, p: &mut usize) -> Result<Option<Bytes>, RecordsError> {
    let Some(len) = msg.get(*p..*p + 4) else {
        return Err(RecordsError::Malformed(
            "legacy message ends inside a length",
        ));
    };
    let len = i32::from_be_bytes([len[0], len[1], len[2], len[3]]);
    *p += 4;
    if len == -1 {
        return Ok(None);
    }
    let len = usize::try_from(len).map_err(|_| RecordsError::Malformed("negative field length"))?;
    let end = p
        .checked_add(len)
        .filter(|&e| e <= msg.len())
        .ok_or(RecordsError::Malformed(
            "legacy field runs past its message",
        ))?;
    let out = msg.slice(*p..end);
    *p = end;
    Ok(Some(out))
}

/// Decodes a whole legacy message set, expanding compressed wrappers, checking
/// every CRC. Any error (a torn tail included) fails the whole set.
pub fn decode_message_set(
    buf: &Bytes,
    limits: &DecodeLimits,
) -> Result<Vec<LegacyRecord>, RecordsError> {
    let mut out = Vec::new();
    for msg in LegacyMessageIter::new(buf.clone()) {
        let msg = msg?;
        if msg.compression_id() == 0 {
            push_plain(&mut out, msg, Compression::None, None)?;
        } else {
            expand_wrapper(&mut out, msg, limits)?;
        }
    }
    Ok(out)
}

fn push_plain(
    out: &mut Vec<LegacyRecord>,
    msg: LegacyMessage,
    compression: Compression,
    override_ts: Option<(i64, TimestampType)>,
) -> Result<(), RecordsError> {
    let (timestamp, timestamp_type) = match override_ts {
        Some((ts, t)) => (Some(ts), t),
        None => (msg.timestamp, msg.timestamp_type()),
    };
    out.push(LegacyRecord {
        offset: msg.offset,
        magic: msg.magic,
        timestamp,
        timestamp_type,
        compression,
        key: msg.key,
        value: msg.value,
    });
    Ok(())
}

fn expand_wrapper(
    out: &mut Vec<LegacyRecord>,
    wrapper: LegacyMessage,
    limits: &DecodeLimits,
) -> Result<(), RecordsError> {
    let id = wrapper.compression_id();
    let codec = Compression::from_id(id).ok_or(RecordsError::UnknownCompression(id))?;
    let inflated = match codec {
        Compression::Zstd | Compression::None => {
            return Err(RecordsError::UnsupportedCompression(codec_name(codec)));
        }
        Compression::Lz4 if wrapper.magic == MAGIC_V0 => decompress_lz4(
            value_of(&wrapper)?,
            limits.max_decompressed_bytes,
            Lz4Framing::KafkaV0,
        )?,
        _ => decompress(codec, value_of(&wrapper)?, limits.max_decompressed_bytes)?,
    };
    let inner: Vec<LegacyMessage> =
        LegacyMessageIter::new(Bytes::from(inflated)).collect::<Result<_, _>>()?;
    let Some(last) = inner.last() else {
        return Err(RecordsError::Malformed(
            "compressed wrapper holds no messages",
        ));
    };
    let last_inner = last.offset;
    let log_append = (wrapper.magic == MAGIC_V1
        && wrapper.timestamp_type() == TimestampType::LogAppendTime)
        .then(|| {
            (
                wrapper.timestamp.unwrap_or(-1),
                TimestampType::LogAppendTime,
            )
        });
    for mut msg in inner {
        if msg.magic != wrapper.magic {
            return Err(RecordsError::Malformed(
                "inner message magic differs from its wrapper",
            ));
        }
        if msg.compression_id() != 0 {
            return Err(RecordsError::Malformed("nested compressed message"));
        }
        if wrapper.magic == MAGIC_V1 {
            // Relative inner offsets: the wrapper holds the last one's absolute offset.
            msg.offset = wrapper
                .offset
                .checked_sub(last_inner)
                .and_then(|base| base.checked_add(msg.offset))
                .ok_or(RecordsError::Malformed("inner offset out of range"))?;
        }
        push_plain(out, msg, codec, log_append)?;
    }
    Ok(())
}

fn value_of(wrapper: &LegacyMessage) -> Result<&[u8], RecordsError> {
    wrapper.value.as_deref().ok_or(RecordsError::Malformed(
        "compressed wrapper has a null value",
    ))
}
