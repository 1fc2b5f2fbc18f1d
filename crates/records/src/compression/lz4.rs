//! LZ4 (codec 3): the LZ4 frame format, as Kafka uses it.
//!
//! Writing produces what Java's and librdkafka's readers accept: FLG version 01,
//! independent blocks, no block or content checksums, no content size, 64 KiB
//! maximum blocks. Reading accepts any valid frame (linked blocks, checksums and
//! content size included), as written by kafka-python and librdkafka.
//!
//! Legacy magic-0 messages carry a frame whose header checksum Kafka computed
//! wrongly, over the 4 magic bytes as well as the frame descriptor. With
//! [`Lz4Framing::KafkaV0`] writing reproduces that checksum and reading accepts the
//! header checksum of either convention, as librdkafka does. Frames are
//! parsed by [`super::lz4_frame`] and decoded by [`super::lz4_decode`].

use std::io::Write;

use lz4_flex::frame::{BlockMode, BlockSize, FrameEncoder, FrameInfo};

use super::corrupt;
use super::xxh32::xxh32;
use crate::error::RecordsError;

const NAME: &str = "lz4";
const FRAME_MAGIC: [u8; 4] = [0x04, 0x22, 0x4d, 0x18];
const FLG_CONTENT_SIZE: u8 = 0x08;
const FLG_DICT_ID: u8 = 0x01;

/// Which header-checksum convention a frame follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lz4Framing {
    /// The LZ4 frame specification: RecordBatch v2 and legacy magic 1.
    Standard,
    /// Legacy magic 0: the header checksum also hashes the frame magic.
    KafkaV0,
}

pub(super) fn compress(data: &[u8], framing: Lz4Framing) -> Result<Vec<u8>, RecordsError> {
    let mut out = Vec::with_capacity(data.len() / 2 + 32);
    compress_into(data, framing, &mut out)?;
    Ok(out)
}

/// [`compress`], the frame appended to `out` (after what `out` holds already).
pub(super) fn compress_into(
    data: &[u8],
    framing: Lz4Framing,
    out: &mut Vec<u8>,
) -> Result<(), RecordsError> {
    let start = out.len();
    let info = FrameInfo::new()
        .block_size(BlockSize::Max64KB)
        .block_mode(BlockMode::Independent)
        .block_checksums(false)
        .content_checksum(false);
    let mut enc = FrameEncoder::with_frame_info(info, &mut *out);
    enc.write_all(data)
        .map_err(|e| RecordsError::CompressFailed {
            codec: NAME,
            reason: e.to_string(),
        })?;
    enc.finish().map_err(|e| RecordsError::CompressFailed {
        codec: NAME,
        reason: e.to_string(),
    })?;
    if framing == Lz4Framing::KafkaV0 {
        let frame = &mut out[start..];
        let hc_at = descriptor_end(frame)?;
        frame[hc_at] = header_checksum(&frame[..hc_at]);
    }
    Ok(())
}

pub(super) fn decompress(
    data: &[u8],
    max_out: usize,
    framing: Lz4Framing,
) -> Result<Vec<u8>, RecordsError> {
    super::lz4_decode::decompress(data, max_out, framing)
}

/// Index of the header-checksum byte: just past the frame descriptor.
pub(super) fn descriptor_end(frame: &[u8]) -> Result<usize, RecordsError> {
    if frame.len() < 7 || frame[..4] != FRAME_MAGIC {
        return Err(corrupt(NAME, "missing LZ4 frame magic"));
    }
    let flg = frame[4];
    let mut end = 6;
    if flg & FLG_CONTENT_SIZE != 0 {
        end += 8;
    }
    if flg & FLG_DICT_ID != 0 {
        end += 4;
    }
    if frame.len() <= end {
        return Err(corrupt(NAME, "truncated LZ4 frame header"));
    }
    Ok(end)
}

/// The header checksum byte for the hashed header bytes (descriptor, or for
/// the magic-0 convention, magic plus descriptor).
pub(super) fn header_checksum(hashed: &[u8]) -> u8 {
    ((xxh32(hashed, 0) >> 8) & 0xff) as u8
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_header_is_what_kafka_clients_expect() {
        let frame = compress(b"kafka", Lz4Framing::Standard).expect("lz4");
        assert_eq!(&frame[..4], &FRAME_MAGIC);
        assert_eq!(frame[4], 0x60, "version 01, independent blocks, no extras");
        assert_eq!(frame[5], 0x40, "64 KiB max block size");
    }

    #[test]
    fn magic_zero_framing_uses_the_broken_checksum_and_reads_back() {
        let data = b"legacy lz4 data ".repeat(20);
        let v0 = compress(&data, Lz4Framing::KafkaV0).expect("lz4");
        let std = compress(&data, Lz4Framing::Standard).expect("lz4");
        assert_eq!(v0[6], header_checksum(&v0[..6]));
        assert_ne!(v0[6], std[6]);
        // A standard reader rejects the broken checksum ...
        assert!(decompress(&v0, 1 << 20, Lz4Framing::Standard).is_err());
        // ... the magic-0 reader accepts both conventions.
        assert_eq!(
            decompress(&v0, 1 << 20, Lz4Framing::KafkaV0).expect("v0"),
            data
        );
        assert_eq!(
            decompress(&std, 1 << 20, Lz4Framing::KafkaV0).expect("std"),
            data
        );
    }

    #[test]
    fn linked_blocks_and_checksums_decode() {
        // kafka-python's lz4.frame.compress defaults to linked blocks; lz4_flex's
        // encoder can produce those too.
        let data: Vec<u8> = (0..200_000u32)
            .flat_map(|i| (i % 1000).to_le_bytes())
            .collect();
        let info = FrameInfo::new()
            .block_mode(BlockMode::Linked)
            .block_checksums(true)
            .content_checksum(true)
            .content_size(Some(data.len() as u64));
        let mut enc = FrameEncoder::with_frame_info(info, Vec::new());
        enc.write_all(&data).expect("write");
        let frame = enc.finish().expect("finish");
        assert_eq!(
            decompress(&frame, data.len(), Lz4Framing::Standard).expect("lz4"),
            data
        );
    }
}
