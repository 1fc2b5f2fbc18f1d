//! LZ4 frame decoding into one output buffer, sized once from the frame's block
//! headers and the caller's bound: [`super::lz4_block`] decodes each block
//! straight into its place (no per-block buffers, no copies, no regrowth), and
//! linked blocks take their dictionary from the output already written.

use super::lz4::Lz4Framing;
use super::lz4_block::{BlockError, decode_block};
use super::lz4_frame::{Step, Walker};
use super::xxh32::xxh32;
use super::{corrupt, oversized};
use crate::error::RecordsError;

const NAME: &str = "lz4";
/// How far back a linked block's matches may reach.
const WINDOW: usize = 64 << 10;
/// The most one byte of an LZ4 block decodes to (a match-length byte of 255).
const MAX_EXPANSION: usize = 255;
/// Output a block can produce beyond `MAX_EXPANSION` per byte (a token's own
/// lengths): a generous constant.
const SLACK: usize = 64;

/// Decodes the LZ4 frames in `data`, failing with `Oversized` once the output
/// would exceed `max_out` bytes. The whole input is walked (and its structure
/// checked) before the output is allocated, at most `max_out` bytes.
pub(super) fn decompress(
    data: &[u8],
    max_out: usize,
    framing: Lz4Framing,
) -> Result<Vec<u8>, RecordsError> {
    let mut out = Output {
        buf: vec![0u8; output_bound(data, framing)?.min(max_out)],
        pos: 0,
        max_out,
    };
    let (mut frame_start, mut linked) = (0, false);
    for step in Walker::new(data, framing) {
        match step? {
            Step::FrameStart { linked: l } => {
                (frame_start, linked) = (out.pos, l);
            }
            Step::Block {
                payload,
                stored,
                max,
                checksum,
            } => {
                if let Some(c) = checksum {
                    verify(payload, c, "block")?;
                }
                let dict_from = if linked {
                    out.pos.saturating_sub(WINDOW).max(frame_start)
                } else {
                    out.pos
                };
                out.block(payload, stored, max, dict_from)?;
            }
            Step::FrameEnd {
                content_size,
                checksum,
            } => {
                let content = &out.buf[frame_start..out.pos];
                if content_size.is_some_and(|n| n != content.len() as u64) {
                    return Err(corrupt(NAME, "LZ4 frame content size mismatch"));
                }
                if let Some(c) = checksum {
                    verify(content, c, "content")?;
                }
            }
        }
    }
    out.buf.truncate(out.pos);
    Ok(out.buf)
}

/// The most the frames' blocks can decode to, walking every step (so a frame
/// that does not parse fails here, before anything is allocated).
fn output_bound(data: &[u8], framing: Lz4Framing) -> Result<usize, RecordsError> {
    let mut total = 0usize;
    for step in Walker::new(data, framing) {
        if let Step::Block {
            payload,
            stored,
            max,
            ..
        } = step?
        {
            total = total.saturating_add(block_bound(payload.len(), stored, max));
        }
    }
    Ok(total)
}

/// The most a block of `len` bytes decodes to.
fn block_bound(len: usize, stored: bool, max: usize) -> usize {
    if stored {
        len
    } else {
        len.saturating_mul(MAX_EXPANSION)
            .saturating_add(SLACK)
            .min(max)
    }
}

fn verify(data: &[u8], expected: u32, what: &str) -> Result<(), RecordsError> {
    if xxh32(data, 0) != expected {
        return Err(corrupt(NAME, format!("LZ4 {what} checksum mismatch")));
    }
    Ok(())
}

/// The output buffer: `buf[..pos]` is decoded; `buf.len()` is the bound.
struct Output {
    buf: Vec<u8>,
    pos: usize,
    max_out: usize,
}

impl Output {
    /// Decodes one block at `pos`; `buf[dict_from..pos]` is its dictionary
    /// (empty for independent blocks).
    fn block(
        &mut self,
        payload: &[u8],
        stored: bool,
        max: usize,
        dict_from: usize,
    ) -> Result<(), RecordsError> {
        let room = self.buf.len() - self.pos;
        let want = block_bound(payload.len(), stored, max);
        // The bound sized the buffer for every block: less room means `max_out`
        // cut it short.
        let cut = want > room;
        let slot = self.pos + want.min(room);
        if stored {
            if cut {
                return Err(oversized(self.max_out));
            }
            self.buf[self.pos..slot].copy_from_slice(payload);
            self.pos = slot;
            return Ok(());
        }
        self.pos = decode_block(payload, &mut self.buf[..slot], dict_from, self.pos).map_err(
            |e| match e {
                BlockError::NoRoom if cut => oversized(self.max_out),
                BlockError::NoRoom => corrupt(NAME, "LZ4 block larger than its bound"),
                BlockError::Corrupt(why) => corrupt(NAME, why),
            },
        )?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lz4_flex::frame::{BlockMode, BlockSize, FrameEncoder, FrameInfo};
    use std::io::Write;

    fn frame(data: &[u8], info: FrameInfo) -> Vec<u8> {
        let mut enc = FrameEncoder::with_frame_info(info, Vec::new());
        enc.write_all(data).expect("write");
        enc.finish().expect("finish")
    }

    fn sample() -> Vec<u8> {
        (0..300_000u32)
            .flat_map(|i| (i % 1777).to_le_bytes())
            .collect()
    }

    #[test]
    fn every_frame_option_decodes_exactly_at_the_bound() {
        let data = sample();
        for mode in [BlockMode::Independent, BlockMode::Linked] {
            for size in [BlockSize::Max64KB, BlockSize::Max256KB, BlockSize::Max4MB] {
                for checks in [false, true] {
                    let info = FrameInfo::new()
                        .block_mode(mode)
                        .block_size(size)
                        .block_checksums(checks)
                        .content_checksum(checks)
                        .content_size(checks.then_some(data.len() as u64));
                    let f = frame(&data, info);
                    let got = decompress(&f, data.len(), Lz4Framing::Standard);
                    assert_eq!(got.as_deref(), Ok(&data[..]), "{mode:?} {size:?} {checks}");
                    let over = decompress(&f, data.len() - 1, Lz4Framing::Standard);
                    assert_eq!(over, Err(oversized(data.len() - 1)));
                }
            }
        }
    }

    #[test]
    fn bad_checksums_and_content_size_are_errors() {
        let data = sample();
        let info = FrameInfo::new()
            .block_checksums(true)
            .content_checksum(true)
            .content_size(Some(data.len() as u64));
        let good = frame(&data, info);
        let bad = |at: usize| {
            let mut f = good.clone();
            f[at] ^= 1;
            decompress(&f, 1 << 24, Lz4Framing::Standard)
        };
        // Content size (byte 6), the last byte (content checksum), and the byte
        // before the first block's checksum.
        let first_block = u32::from_le_bytes([good[15], good[16], good[17], good[18]]);
        let first_checksum = 19 + (first_block & 0x7fff_ffff) as usize;
        for at in [6, good.len() - 1, first_checksum] {
            assert!(
                matches!(bad(at), Err(RecordsError::BadCompression { .. })),
                "byte {at}"
            );
        }
    }

    #[test]
    fn corrupt_blocks_are_errors_at_any_byte() {
        let data = sample();
        let good = frame(&data[..20_000], FrameInfo::new());
        for at in 0..good.len() {
            let mut f = good.clone();
            f[at] = f[at].wrapping_add(77);
            // Anything but a panic; decoding a changed literal may even succeed.
            let _ = decompress(&f, 1 << 20, Lz4Framing::Standard);
        }
        assert!(decompress(&good[..good.len() - 3], 1 << 20, Lz4Framing::Standard).is_err());
    }
}
