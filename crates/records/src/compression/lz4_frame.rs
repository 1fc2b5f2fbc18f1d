//! Walking an LZ4 frame (or several, back to back): the header, then each block's
//! payload and checksum, then the end mark and content checksum. Only parsing:
//! [`super::lz4_decode`] decodes the blocks.

use super::corrupt;
use super::lz4::{Lz4Framing, descriptor_end, header_checksum};
use crate::error::RecordsError;

const NAME: &str = "lz4";
const MAGIC: [u8; 4] = [0x04, 0x22, 0x4d, 0x18];
const FLG_VERSION_MASK: u8 = 0xc0;
const FLG_VERSION_01: u8 = 0x40;
const FLG_RESERVED: u8 = 0x02;
const FLG_INDEPENDENT: u8 = 0x20;
const FLG_BLOCK_CHECKSUM: u8 = 0x10;
const FLG_CONTENT_SIZE: u8 = 0x08;
const FLG_CONTENT_CHECKSUM: u8 = 0x04;
const FLG_DICT_ID: u8 = 0x01;
const BD_SIZE_MASK: u8 = 0x70;
const UNCOMPRESSED_BIT: u32 = 0x8000_0000;

/// One step through the frames.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Step<'a> {
    /// A new frame starts; `linked` when its blocks may refer to earlier ones.
    FrameStart { linked: bool },
    /// A block: its payload, stored (not compressed) or not, the most it may
    /// decode to, and the checksum it carries, if any.
    Block {
        payload: &'a [u8],
        stored: bool,
        max: usize,
        checksum: Option<u32>,
    },
    /// The frame ended: the content size and checksum it declared, if any.
    FrameEnd {
        content_size: Option<u64>,
        checksum: Option<u32>,
    },
}

/// The header fields of the frame being walked.
#[derive(Debug, Clone, Copy)]
struct Frame {
    flg: u8,
    max_block: usize,
    content_size: Option<u64>,
}

/// Iterates the [`Step`]s of the frames in `data`. Ends after the first error.
#[derive(Debug)]
pub(super) struct Walker<'a> {
    data: &'a [u8],
    pos: usize,
    framing: Lz4Framing,
    frame: Option<Frame>,
    failed: bool,
}

impl<'a> Walker<'a> {
    pub(super) fn new(data: &'a [u8], framing: Lz4Framing) -> Self {
        Walker {
            data,
            pos: 0,
            framing,
            frame: None,
            failed: false,
        }
    }

    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], RecordsError> {
        let data: &'a [u8] = self.data;
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= data.len())
            .ok_or_else(|| corrupt(NAME, format!("truncated LZ4 {what}")))?;
        let out = &data[self.pos..end];
        self.pos = end;
        Ok(out)
    }

    fn take_u32(&mut self, what: &str) -> Result<u32, RecordsError> {
        let b = self.take(4, what)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// Reads a frame header at the current position.
    fn header(&mut self) -> Result<Frame, RecordsError> {
        let rest = &self.data[self.pos..];
        let hc_at = descriptor_end(rest)?;
        let flg = rest[4];
        let bd = rest[5];
        if flg & FLG_VERSION_MASK != FLG_VERSION_01 {
            return Err(corrupt(NAME, "unsupported LZ4 frame version"));
        }
        if flg & FLG_RESERVED != 0 || bd & !BD_SIZE_MASK != 0 {
            return Err(corrupt(NAME, "reserved LZ4 frame header bits set"));
        }
        if flg & FLG_DICT_ID != 0 {
            return Err(corrupt(NAME, "LZ4 dictionaries are not supported"));
        }
        let max_block = match (bd & BD_SIZE_MASK) >> 4 {
            4 => 64 << 10,
            5 => 256 << 10,
            6 => 1 << 20,
            7 => 4 << 20,
            _ => return Err(corrupt(NAME, "unsupported LZ4 block size")),
        };
        let hc = rest[hc_at];
        let standard = header_checksum(&rest[4..hc_at]) == hc;
        let v0 = self.framing == Lz4Framing::KafkaV0 && header_checksum(&rest[..hc_at]) == hc;
        if !standard && !v0 {
            return Err(corrupt(NAME, "LZ4 frame header checksum mismatch"));
        }
        let content_size = (flg & FLG_CONTENT_SIZE != 0).then(|| {
            let b = &rest[6..14];
            u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]])
        });
        self.pos += hc_at + 1;
        Ok(Frame {
            flg,
            max_block,
            content_size,
        })
    }

    /// The step after a frame's header: a block or the end mark. Input ending
    /// where a block header was due ends the frame (as lz4_flex's reader did).
    fn block(&mut self, frame: Frame) -> Result<Step<'a>, RecordsError> {
        if self.pos == self.data.len() {
            self.frame = None;
            return Ok(Step::FrameEnd {
                content_size: None,
                checksum: None,
            });
        }
        let size = self.take_u32("block header")?;
        if size == 0 {
            self.frame = None;
            let checksum = if frame.flg & FLG_CONTENT_CHECKSUM != 0 {
                Some(self.take_u32("content checksum")?)
            } else {
                None
            };
            return Ok(Step::FrameEnd {
                content_size: frame.content_size,
                checksum,
            });
        }
        let stored = size & UNCOMPRESSED_BIT != 0;
        let len = (size & !UNCOMPRESSED_BIT) as usize;
        if len > frame.max_block {
            return Err(corrupt(
                NAME,
                "LZ4 block larger than the frame's block size",
            ));
        }
        let payload = self.take(len, "block")?;
        let checksum = if frame.flg & FLG_BLOCK_CHECKSUM != 0 {
            Some(self.take_u32("block checksum")?)
        } else {
            None
        };
        Ok(Step::Block {
            payload,
            stored,
            max: frame.max_block,
            checksum,
        })
    }

    fn step(&mut self) -> Result<Option<Step<'a>>, RecordsError> {
        if let Some(frame) = self.frame {
            return self.block(frame).map(Some);
        }
        if self.pos == self.data.len() {
            return Ok(None);
        }
        if self.data[self.pos..].len() < 4 || self.data[self.pos..self.pos + 4] != MAGIC {
            return Err(corrupt(NAME, "missing LZ4 frame magic"));
        }
        let frame = self.header()?;
        self.frame = Some(frame);
        Ok(Some(Step::FrameStart {
            linked: frame.flg & FLG_INDEPENDENT == 0,
        }))
    }
}

impl<'a> Iterator for Walker<'a> {
    type Item = Result<Step<'a>, RecordsError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        let step = self.step();
        if step.is_err() {
            self.failed = true;
        }
        step.transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn steps(data: &[u8]) -> Vec<Result<Step<'_>, RecordsError>> {
        Walker::new(data, Lz4Framing::Standard).collect()
    }

    #[test]
    fn walks_two_frames_and_stops_at_the_first_error() {
        let one = super::super::lz4::compress(b"abc", Lz4Framing::Standard).expect("lz4");
        let mut two = one.clone();
        two.extend_from_slice(&one);
        let got = steps(&two);
        assert_eq!(got.len(), 6, "{got:?}");
        assert!(matches!(got[1], Ok(Step::Block { .. })));
        two.push(0x04);
        let got = steps(&two);
        assert_eq!(got.len(), 7);
        assert!(matches!(got[6], Err(RecordsError::BadCompression { .. })));
    }

    #[test]
    fn a_block_past_the_input_or_the_block_size_is_an_error() {
        let mut frame = super::super::lz4::compress(b"abc", Lz4Framing::Standard).expect("lz4");
        // The block header follows the 7-byte frame header; claim 64 KiB + 1.
        frame[7..11].copy_from_slice(&(65537u32 | UNCOMPRESSED_BIT).to_le_bytes());
        assert!(steps(&frame).iter().any(Result::is_err));
        frame[7..11].copy_from_slice(&(100u32 | UNCOMPRESSED_BIT).to_le_bytes());
        assert!(steps(&frame).iter().any(Result::is_err));
    }
}
