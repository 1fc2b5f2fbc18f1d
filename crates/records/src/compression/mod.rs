//! The four Kafka codecs behind one interface: compress a record payload, and
//! decompress one with a hard bound on the output size (a zip bomb is an error,
//! never an allocation).

mod bounded;
mod gzip;
mod lz4;
mod lz4_block;
mod lz4_decode;
mod lz4_frame;
mod snappy;
mod xxh32;
mod zstd;

use crate::batch_header::Compression;
use crate::error::RecordsError;

pub use lz4::Lz4Framing;

/// The codec's name as Kafka spells it in configs (`compression.type`).
pub fn codec_name(codec: Compression) -> &'static str {
    match codec {
        Compression::None => "none",
        Compression::Gzip => "gzip",
        Compression::Snappy => "snappy",
        Compression::Lz4 => "lz4",
        Compression::Zstd => "zstd",
    }
}

/// Compresses `data` with `codec` in the framing Java and librdkafka consumers read
/// for RecordBatch v2 (and legacy magic 1): gzip members, xerial-framed snappy,
/// LZ4 frames with independent 64 KiB blocks, zstd frames.
pub fn compress(codec: Compression, data: &[u8]) -> Result<Vec<u8>, RecordsError> {
    match codec {
        Compression::None => Ok(data.to_vec()),
        Compression::Gzip => gzip::compress(data),
        Compression::Snappy => snappy::compress_xerial(data),
        Compression::Lz4 => lz4::compress(data, Lz4Framing::Standard),
        Compression::Zstd => zstd::compress(data),
    }
}

/// [`compress`], appending to `out` (LZ4 writes its frame there directly; the
/// other codecs copy their output).
pub fn compress_into(
    codec: Compression,
    data: &[u8],
    out: &mut Vec<u8>,
) -> Result<(), RecordsError> {
    match codec {
        Compression::None => out.extend_from_slice(data),
        Compression::Lz4 => lz4::compress_into(data, Lz4Framing::Standard, out)?,
        codec => out.extend_from_slice(&compress(codec, data)?),
    }
    Ok(())
}

/// Decompresses `data`, failing with [`RecordsError::Oversized`] once the output
/// would exceed `max_out` bytes. Snappy input may be raw or xerial-framed.
pub fn decompress(
    codec: Compression,
    data: &[u8],
    max_out: usize,
) -> Result<Vec<u8>, RecordsError> {
    match codec {
        Compression::None => {
            if data.len() > max_out {
                return Err(oversized(max_out));
            }
            Ok(data.to_vec())
        }
        Compression::Gzip => gzip::decompress(data, max_out),
        Compression::Snappy => snappy::decompress(data, max_out),
        Compression::Lz4 => lz4::decompress(data, max_out, Lz4Framing::Standard),
        Compression::Zstd => zstd::decompress(data, max_out),
    }
}

/// LZ4 with a chosen header-checksum convention (legacy magic 0 used a broken one).
pub fn compress_lz4(data: &[u8], framing: Lz4Framing) -> Result<Vec<u8>, RecordsError> {
    lz4::compress(data, framing)
}

/// LZ4 decompression with a chosen header-checksum convention.
pub fn decompress_lz4(
    data: &[u8],
    max_out: usize,
    framing: Lz4Framing,
) -> Result<Vec<u8>, RecordsError> {
    lz4::decompress(data, max_out, framing)
}

pub(crate) fn oversized(limit: usize) -> RecordsError {
    RecordsError::Oversized {
        what: "decompressed records",
        limit,
    }
}

pub(crate) fn corrupt(codec: &'static str, reason: impl ToString) -> RecordsError {
    RecordsError::BadCompression {
        codec,
        reason: reason.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [Compression; 5] = [
        Compression::None,
        Compression::Gzip,
        Compression::Snappy,
        Compression::Lz4,
        Compression::Zstd,
    ];

    fn sample(len: usize) -> Vec<u8> {
        (0..len)
            .map(|i| (i % 251) as u8 ^ (i / 1000) as u8)
            .collect()
    }

    #[test]
    fn every_codec_round_trips_small_and_multi_block() {
        for codec in ALL {
            for len in [0, 1, 100, 70_000, 300_000] {
                let data = sample(len);
                let c = compress(codec, &data).expect("compress");
                let d = decompress(codec, &c, len).expect("decompress at exact bound");
                assert_eq!(d, data, "{codec:?} len {len}");
            }
        }
    }

    #[test]
    fn output_bound_is_enforced_for_every_codec() {
        // A million zeros compresses to almost nothing: a small bomb.
        let data = vec![0u8; 1_000_000];
        for codec in ALL {
            let c = compress(codec, &data).expect("compress");
            assert_eq!(
                decompress(codec, &c, 999_999),
                Err(oversized(999_999)),
                "{codec:?}"
            );
        }
    }

    #[test]
    fn garbage_is_a_codec_error_not_a_panic() {
        let junk: Vec<u8> = (0..200u8).map(|b| b.wrapping_mul(37)).collect();
        for codec in [
            Compression::Gzip,
            Compression::Snappy,
            Compression::Lz4,
            Compression::Zstd,
        ] {
            assert!(
                matches!(
                    decompress(codec, &junk, 1 << 20),
                    Err(RecordsError::BadCompression { .. })
                ),
                "{codec:?}"
            );
        }
    }
}
