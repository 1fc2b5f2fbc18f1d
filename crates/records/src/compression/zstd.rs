//! zstd (codec 4): standard zstd frames via the `zstd` crate, level 3 (Kafka's
//! default). Decoding streams, so a frame's claimed content size is never trusted.

use super::bounded::read_bounded;
use super::corrupt;
use crate::error::RecordsError;

const NAME: &str = "zstd";
const LEVEL: i32 = 3;

pub(super) fn compress(data: &[u8]) -> Result<Vec<u8>, RecordsError> {
    zstd::bulk::compress(data, LEVEL).map_err(|e| RecordsError::CompressFailed {
        codec: NAME,
        reason: e.to_string(),
    })
}

pub(super) fn decompress(data: &[u8], max_out: usize) -> Result<Vec<u8>, RecordsError> {
    if data.is_empty() {
        return Err(corrupt(NAME, "empty input"));
    }
    let mut dec = zstd::stream::read::Decoder::with_buffer(data).map_err(|e| corrupt(NAME, e))?;
    // A window larger than the output bound cannot be legitimate: cap the decoder's
    // window (and so its buffer) to the bound, rounded up to a power of two.
    let window_log = max_out
        .max(1 << 10)
        .next_power_of_two()
        .trailing_zeros()
        .min(31);
    dec.window_log_max(window_log)
        .map_err(|e| corrupt(NAME, e))?;
    // The frame's declared content size only pre-sizes the output (capped).
    let hint = zstd::zstd_safe::get_frame_content_size(data)
        .ok()
        .flatten()
        .and_then(|n| usize::try_from(n).ok());
    read_bounded(dec, max_out, hint, NAME)
}
