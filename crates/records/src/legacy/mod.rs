//! Legacy message sets (magic 0 and 1, before Kafka 0.11): entries of
//! `offset: i64, size: i32, crc: u32, magic: i8, attributes: i8,
//! [timestamp: i64 (magic 1)], key: bytes, value: bytes`, where the CRC is the
//! CRC-32 (IEEE) of everything from the magic byte on.
//!
//! Compression wraps a whole inner message set as the value of one outer
//! message. Inner offsets are absolute in magic 0; in magic 1 they are relative,
//! and the wrapper carries the absolute offset of the last inner message.

mod decode;
mod encode;

use bytes::Bytes;

use crate::batch_header::{Compression, TimestampType};

pub use decode::{LegacyMessage, LegacyMessageIter, decode_message_set};
pub use encode::{LegacyEntry, encode_message_set};

pub const MAGIC_V0: i8 = 0;
pub const MAGIC_V1: i8 = 1;

/// Bytes before a message: offset and size.
pub const LEGACY_LOG_OVERHEAD: usize = 12;
/// Smallest magic-0 message after the size field: crc, magic, attributes and
/// two null lengths.
pub const MIN_MESSAGE_V0: usize = 4 + 1 + 1 + 4 + 4;
/// Smallest magic-1 message: the magic-0 one plus a timestamp.
pub const MIN_MESSAGE_V1: usize = MIN_MESSAGE_V0 + 8;

const COMPRESSION_MASK: i8 = 0x07;
const TIMESTAMP_TYPE_BIT: i8 = 0x08;

/// One record read from a legacy message set, wrappers already expanded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LegacyRecord {
    /// Absolute offset.
    pub offset: i64,
    pub magic: i8,
    /// `None` for magic 0, which has no timestamps.
    pub timestamp: Option<i64>,
    pub timestamp_type: TimestampType,
    /// The codec of the wrapper this record came from (`None` when unwrapped).
    pub compression: Compression,
    pub key: Option<Bytes>,
    pub value: Option<Bytes>,
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut c = flate2::Crc::new();
    c.update(bytes);
    c.sum()
}

fn min_message_len(magic: i8) -> usize {
    if magic == MAGIC_V0 {
        MIN_MESSAGE_V0
    } else {
        MIN_MESSAGE_V1
    }
}
