//! snappy (codec 2). Java clients write (and read) snappy-java's xerial stream
//! framing; librdkafka and others may send a raw snappy block. Decoding accepts
//! both; encoding writes xerial framing, which every client reads.
//!
//! Xerial framing: an 8-byte magic (`0x82 "SNAPPY" 0x00`), a big-endian i32
//! version and an i32 minimum compatible version, then blocks, each a big-endian
//! i32 compressed length followed by one raw snappy block.

use super::{corrupt, oversized};
use crate::error::RecordsError;

const NAME: &str = "snappy";
const XERIAL_MAGIC: [u8; 8] = [0x82, b'S', b'N', b'A', b'P', b'P', b'Y', 0];
const XERIAL_HEADER_LEN: usize = 16;
const XERIAL_VERSION: i32 = 1;
const XERIAL_COMPAT_VERSION: i32 = 1;
/// Uncompressed bytes per xerial block: snappy-java's default block size.
const XERIAL_BLOCK: usize = 32 * 1024;

pub(super) fn compress_xerial(data: &[u8]) -> Result<Vec<u8>, RecordsError> {
    let mut out = Vec::with_capacity(XERIAL_HEADER_LEN + data.len() / 2 + 64);
    out.extend_from_slice(&XERIAL_MAGIC);
    out.extend_from_slice(&XERIAL_VERSION.to_be_bytes());
    out.extend_from_slice(&XERIAL_COMPAT_VERSION.to_be_bytes());
    let mut enc = snap::raw::Encoder::new();
    let mut block = vec![0u8; snap::raw::max_compress_len(XERIAL_BLOCK)];
    for chunk in data.chunks(XERIAL_BLOCK) {
        let n = enc
            .compress(chunk, &mut block)
            .map_err(|e| RecordsError::CompressFailed {
                codec: NAME,
                reason: e.to_string(),
            })?;
        out.extend_from_slice(&(n as i32).to_be_bytes());
        out.extend_from_slice(&block[..n]);
    }
    Ok(out)
}

pub(super) fn decompress(data: &[u8], max_out: usize) -> Result<Vec<u8>, RecordsError> {
    if data.len() >= XERIAL_HEADER_LEN && data[..8] == XERIAL_MAGIC {
        decompress_xerial(&data[XERIAL_HEADER_LEN..], max_out)
    } else {
        let mut out = Vec::new();
        decompress_raw_into(data, max_out, &mut out)?;
        Ok(out)
    }
}

fn decompress_xerial(mut rest: &[u8], max_out: usize) -> Result<Vec<u8>, RecordsError> {
    let mut out = Vec::new();
    while !rest.is_empty() {
        let Some((len_bytes, tail)) = rest.split_first_chunk::<4>() else {
            return Err(corrupt(NAME, "truncated xerial block length"));
        };
        let len = i32::from_be_bytes(*len_bytes);
        let len =
            usize::try_from(len).map_err(|_| corrupt(NAME, "negative xerial block length"))?;
        if len > tail.len() {
            return Err(corrupt(NAME, "xerial block runs past the end of the data"));
        }
        let (block, tail) = tail.split_at(len);
        decompress_raw_into(block, max_out, &mut out)?;
        rest = tail;
    }
    Ok(out)
}

/// Appends one raw snappy block's content to `out`, checking its declared length
/// against the remaining budget before allocating.
fn decompress_raw_into(
    block: &[u8],
    max_out: usize,
    out: &mut Vec<u8>,
) -> Result<(), RecordsError> {
    let n = snap::raw::decompress_len(block).map_err(|e| corrupt(NAME, e))?;
    if n > max_out.saturating_sub(out.len()) {
        return Err(oversized(max_out));
    }
    let start = out.len();
    out.resize(start + n, 0);
    let written = snap::raw::Decoder::new()
        .decompress(block, &mut out[start..])
        .map_err(|e| corrupt(NAME, e))?;
    if written != n {
        return Err(corrupt(NAME, "block shorter than its declared length"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_block_and_xerial_stream_both_decode() {
        let data = b"hello hello hello hello snappy".repeat(50);
        let raw = snap::raw::Encoder::new()
            .compress_vec(&data)
            .expect("raw compress");
        assert_eq!(decompress(&raw, 1 << 20).expect("raw"), data);
        let framed = compress_xerial(&data).expect("xerial");
        assert_eq!(&framed[..8], &XERIAL_MAGIC);
        assert_eq!(&framed[8..16], &[0, 0, 0, 1, 0, 0, 0, 1]);
        assert_eq!(decompress(&framed, 1 << 20).expect("xerial"), data);
    }

    #[test]
    fn xerial_with_broken_block_length_is_an_error() {
        let mut framed = compress_xerial(b"abcdefgh").expect("xerial");
        framed[16..20].copy_from_slice(&1000i32.to_be_bytes());
        assert!(matches!(
            decompress(&framed, 1 << 20),
            Err(RecordsError::BadCompression { .. })
        ));
    }
}
