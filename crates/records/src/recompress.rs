//! A v2 batch stored under another codec: what a broker does when a topic's
//! `compression.type` names a codec other than the producer's. The records section is
//! decompressed (bounded by [`DecodeLimits`]) and compressed again; the header keeps every
//! field (offsets, timestamps, producer id, epoch and sequence, flags) except the codec bits,
//! the length and the CRC.

use crate::batch_header::{
    ATTRIBUTES_OFFSET, Attributes, BATCH_HEADER_LEN, BatchView, CRC_OFFSET, Compression,
    LOG_OVERHEAD, compute_crc,
};
use crate::compression::{compress, decompress};
use crate::error::RecordsError;
use crate::limits::DecodeLimits;

/// Where the batch length field starts (after the base offset).
const LENGTH_OFFSET: usize = 8;
/// The codec bits of the attributes word.
const COMPRESSION_MASK: i16 = 0x07;

/// The codec of the batch at the start of `batch`.
pub fn batch_codec(batch: &[u8]) -> Result<Compression, RecordsError> {
    BatchView::new(batch)?.header().attributes.codec()
}

/// The batch at the start of `batch` with its records compressed by `target`, as a new
/// buffer (the input's bytes after its first batch are not copied).
pub fn recompress(
    batch: &[u8],
    target: Compression,
    limits: &DecodeLimits,
) -> Result<Vec<u8>, RecordsError> {
    let view = BatchView::new(batch)?;
    let header = view.header();
    let codec = header.attributes.codec()?;
    if codec == target {
        return Ok(view.bytes().to_vec());
    }
    let raw = if header.record_count == 0 {
        Vec::new()
    } else {
        decompress(codec, view.records_bytes(), limits.max_decompressed_bytes)?
    };
    let payload = compress(target, &raw)?;
    let length = i32::try_from(BATCH_HEADER_LEN - LOG_OVERHEAD + payload.len())
        .map_err(|_| RecordsError::InvalidLength(payload.len() as i64))?;
    let mut out = Vec::with_capacity(BATCH_HEADER_LEN + payload.len());
    out.extend_from_slice(&view.bytes()[..BATCH_HEADER_LEN]);
    out.extend_from_slice(&payload);
    let attributes = Attributes((header.attributes.0 & !COMPRESSION_MASK) | target.id() as i16);
    out[LENGTH_OFFSET..LENGTH_OFFSET + 4].copy_from_slice(&length.to_be_bytes());
    out[ATTRIBUTES_OFFSET..ATTRIBUTES_OFFSET + 2].copy_from_slice(&attributes.0.to_be_bytes());
    let crc = compute_crc(&out);
    out[CRC_OFFSET..CRC_OFFSET + 4].copy_from_slice(&crc.to_be_bytes());
    Ok(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::builder::{BatchBuilder, BatchBuilderConfig};

    fn batch(compression: Compression) -> Vec<u8> {
        let mut b = BatchBuilder::new(BatchBuilderConfig {
            compression,
            producer_id: 7,
            producer_epoch: 2,
            base_sequence: 40,
            transactional: true,
            ..Default::default()
        });
        b.append(1_000, Some(b"k1"), Some(b"v1"), &[]).unwrap();
        b.append(1_005, None, Some(b"v2"), &[]).unwrap();
        b.build().unwrap().to_vec()
    }

    #[test]
    fn every_codec_to_every_codec_keeps_records_and_header() {
        let codecs = [
            Compression::None,
            Compression::Gzip,
            Compression::Snappy,
            Compression::Lz4,
            Compression::Zstd,
        ];
        let limits = DecodeLimits::default();
        for from in codecs {
            let original = batch(from);
            let before = BatchView::new(&original).unwrap();
            let records = before.records(&limits).unwrap();
            for to in codecs {
                let out = recompress(&original, to, &limits).unwrap();
                let after = BatchView::new(&out).unwrap();
                after.validate_crc().unwrap();
                assert_eq!(batch_codec(&out).unwrap(), to);
                let (h0, h1) = (before.header(), after.header());
                assert_eq!(h1.producer_id, h0.producer_id);
                assert_eq!(h1.producer_epoch, h0.producer_epoch);
                assert_eq!(h1.base_sequence, h0.base_sequence);
                assert_eq!(h1.max_timestamp, h0.max_timestamp);
                assert_eq!(h1.record_count, h0.record_count);
                assert!(h1.attributes.is_transactional());
                assert_eq!(after.records(&limits).unwrap(), records);
            }
        }
    }

    #[test]
    fn a_bomb_stays_bounded() {
        let mut b = BatchBuilder::new(BatchBuilderConfig {
            compression: Compression::Gzip,
            ..Default::default()
        });
        b.append(1, None, Some(&vec![0u8; 1 << 20]), &[]).unwrap();
        let bytes = b.build().unwrap();
        let small = DecodeLimits {
            max_decompressed_bytes: 1024,
            ..DecodeLimits::default()
        };
        assert!(recompress(&bytes, Compression::None, &small).is_err());
    }
}
