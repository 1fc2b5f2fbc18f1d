//! gzip (codec 1): RFC 1952 members via flate2, reading concatenated members as
//! Java's `GZIPInputStream` does.

use std::io::Write;

use flate2::read::MultiGzDecoder;
use flate2::write::GzEncoder;

use super::bounded::read_bounded;
use super::corrupt;
use crate::error::RecordsError;

const NAME: &str = "gzip";

pub(super) fn compress(data: &[u8]) -> Result<Vec<u8>, RecordsError> {
    // Level 6 is both zlib's and Kafka's default gzip level.
    let mut enc = GzEncoder::new(Vec::new(), flate2::Compression::new(6));
    enc.write_all(data)
        .and_then(|()| enc.finish())
        .map_err(|e| RecordsError::CompressFailed {
            codec: NAME,
            reason: e.to_string(),
        })
}

pub(super) fn decompress(data: &[u8], max_out: usize) -> Result<Vec<u8>, RecordsError> {
    if data.is_empty() {
        return Err(corrupt(NAME, "empty input"));
    }
    read_bounded(MultiGzDecoder::new(data), max_out, None, NAME)
}
