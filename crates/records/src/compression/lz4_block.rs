//! The LZ4 block decoder, in safe code, into a buffer that holds the output
//! before the block (its dictionary) and room after it. Matches that overlap
//! their own output (offset below the length: runs, and records repeating at a
//! short period) are copied in growing non-overlapping chunks, a memcpy each,
//! where a byte-at-a-time loop would be several times slower.

/// Why a block did not decode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum BlockError {
    /// The output would pass the end of the buffer.
    NoRoom,
    /// The block is malformed.
    Corrupt(&'static str),
}

/// Short copies are done 16 bytes at a time when both sides have this slack.
const WILD: usize = 16;

/// Decodes the block `input` into `out` at `pos`, its matches reaching back no
/// further than `lowest`. Returns the new end of the output. Bytes of `out` past
/// that end may be overwritten.
pub(super) fn decode_block(
    input: &[u8],
    out: &mut [u8],
    lowest: usize,
    mut pos: usize,
) -> Result<usize, BlockError> {
    let mut i = 0;
    loop {
        let token = *input.get(i).ok_or(BlockError::Corrupt("empty LZ4 block"))?;
        i += 1;
        let lit = length(token >> 4, input, &mut i)?;
        if token >> 4 < 15 && i + WILD <= input.len() && pos + WILD <= out.len() {
            out[pos..pos + WILD].copy_from_slice(&input[i..i + WILD]);
        } else {
            let src = input
                .get(i..i + lit)
                .ok_or(BlockError::Corrupt("LZ4 literals past the block"))?;
            out.get_mut(pos..pos + lit)
                .ok_or(BlockError::NoRoom)?
                .copy_from_slice(src);
        }
        i += lit;
        pos += lit;
        if i == input.len() {
            return Ok(pos);
        }
        let off = input
            .get(i..i + 2)
            .ok_or(BlockError::Corrupt("LZ4 match offset past the block"))?;
        let offset = usize::from(u16::from_le_bytes([off[0], off[1]]));
        i += 2;
        if offset == 0 || offset > pos - lowest {
            return Err(BlockError::Corrupt("LZ4 match offset out of range"));
        }
        let len = length(token & 15, input, &mut i)? + 4;
        pos = copy_match(out, pos, offset, len)?;
    }
}

/// A literal or match length: the token's nibble, then 255-continued bytes.
fn length(nibble: u8, input: &[u8], i: &mut usize) -> Result<usize, BlockError> {
    let mut len = usize::from(nibble);
    if nibble == 15 {
        loop {
            let b = *input
                .get(*i)
                .ok_or(BlockError::Corrupt("LZ4 length past the block"))?;
            *i += 1;
            len += usize::from(b);
            if b != 255 {
                break;
            }
        }
    }
    Ok(len)
}

/// Copies `len` bytes from `offset` back to `pos`; returns the new end.
fn copy_match(out: &mut [u8], pos: usize, offset: usize, len: usize) -> Result<usize, BlockError> {
    let end = pos.checked_add(len).ok_or(BlockError::NoRoom)?;
    if end > out.len() {
        return Err(BlockError::NoRoom);
    }
    let src = pos - offset;
    if len <= WILD && offset >= WILD && pos + WILD <= out.len() {
        out.copy_within(src..src + WILD, pos);
    } else if offset >= len {
        out.copy_within(src..src + len, pos);
    } else {
        // The output from `src` on repeats with period `offset`: each chunk copies
        // from `src` a multiple of `offset` back, so it never overlaps its source,
        // and doubles the span available to the next.
        let mut done = 0;
        while done < len {
            let n = (done + offset).min(len - done);
            out.copy_within(src..src + n, pos + done);
            done += n;
        }
    }
    Ok(end)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(block: &[u8], size: usize) -> Result<Vec<u8>, BlockError> {
        let mut out = vec![0u8; size];
        let end = decode_block(block, &mut out, 0, 0)?;
        out.truncate(end);
        Ok(out)
    }

    fn samples() -> Vec<Vec<u8>> {
        let mut seed = 7u32;
        let mut noise = || {
            seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
            (seed >> 16) as u8
        };
        vec![
            Vec::new(),
            b"a".to_vec(),
            vec![0; 100_000],
            b"abc".repeat(5000),
            b"0123456789abcdefXYZ".repeat(4000),
            [b"x".repeat(1024), b"y".repeat(7)].concat().repeat(60),
            (0..70_000).map(|_| noise() % 4).collect(),
            (0..70_000).map(|_| noise()).collect(),
        ]
    }

    #[test]
    fn agrees_with_lz4_flex_on_what_lz4_flex_compresses() {
        for data in samples() {
            let block = lz4_flex::block::compress(&data);
            assert_eq!(decode(&block, data.len()), Ok(data.clone()));
            if !data.is_empty() {
                assert_eq!(decode(&block, data.len() - 1), Err(BlockError::NoRoom));
            }
        }
    }

    #[test]
    fn matches_reach_into_the_dictionary_and_no_further() {
        // Literals "ab", a 4-byte match 4 back, then "!", decoded at 2 after a
        // dictionary "xy": the match copies "xyab".
        let block = [0x20, b'a', b'b', 4, 0, 0x10, b'!'];
        let mut out = *b"xy.........";
        assert_eq!(decode_block(&block, &mut out, 0, 2), Ok(9));
        assert_eq!(&out[..9], b"xyabxyab!");
        // A block ending after a match (not literals) is malformed.
        assert!(decode_block(&block[..5], &mut out, 0, 2).is_err());
        // Without the dictionary's first byte, the match reaches too far.
        assert!(decode_block(&block, &mut out, 1, 2).is_err());
    }

    #[test]
    fn any_corruption_is_an_error_or_output_never_a_panic() {
        for data in samples() {
            let block = lz4_flex::block::compress(&data[..data.len().min(3000)]);
            for at in 0..block.len() {
                for v in [0u8, 15, 0xf0, 0xff] {
                    let mut bad = block.clone();
                    bad[at] = v;
                    let _ = decode(&bad, 4000);
                    let _ = decode(&bad[..at], 4000);
                }
            }
        }
    }
}
