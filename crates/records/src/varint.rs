//! Zig-zag variable-length integers (`varint` = i32, `varlong` = i64) as used by
//! RecordBatch v2 records: protobuf's base-128 encoding of the zig-zag value.
//!
//! Readers work on a byte slice and a cursor, never read past the slice, and reject
//! encodings longer than the type allows.

use crate::error::RecordsError;

/// Longest encoding of a zig-zag i32 (5 bytes) and i64 (10 bytes).
const MAX_VARINT_LEN: usize = 5;
const MAX_VARLONG_LEN: usize = 10;

/// Appends the zig-zag varint encoding of `v`.
pub fn put_varint(out: &mut Vec<u8>, v: i32) {
    put_unsigned(out, u64::from(((v << 1) ^ (v >> 31)) as u32));
}

/// Appends the zig-zag varlong encoding of `v`.
pub fn put_varlong(out: &mut Vec<u8>, v: i64) {
    put_unsigned(out, ((v << 1) ^ (v >> 63)) as u64);
}

fn put_unsigned(out: &mut Vec<u8>, mut u: u64) {
    while u >= 0x80 {
        out.push((u as u8) | 0x80);
        u >>= 7;
    }
    out.push(u as u8);
}

/// Number of bytes [`put_varint`] writes for `v`.
pub fn varint_len(v: i32) -> usize {
    unsigned_len(u64::from(((v << 1) ^ (v >> 31)) as u32))
}

/// Number of bytes [`put_varlong`] writes for `v`.
pub fn varlong_len(v: i64) -> usize {
    unsigned_len(((v << 1) ^ (v >> 63)) as u64)
}

fn unsigned_len(u: u64) -> usize {
    let bits = 64 - (u | 1).leading_zeros() as usize;
    bits.div_ceil(7)
}

fn get_unsigned(buf: &[u8], pos: &mut usize, max_len: usize) -> Result<u64, RecordsError> {
    let mut value: u64 = 0;
    for i in 0..max_len {
        let Some(&b) = buf.get(*pos + i) else {
            return Err(RecordsError::Truncated {
                needed: *pos + i + 1,
                available: buf.len(),
            });
        };
        value |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            *pos += i + 1;
            return Ok(value);
        }
    }
    Err(RecordsError::Malformed(
        "varint longer than its type allows",
    ))
}

/// Reads a zig-zag varint at `*pos`, advancing `pos` past it.
pub fn get_varint(buf: &[u8], pos: &mut usize) -> Result<i32, RecordsError> {
    let u = get_unsigned(buf, pos, MAX_VARINT_LEN)?;
    let u = u32::try_from(u).map_err(|_| RecordsError::Malformed("varint overflows i32"))?;
    Ok(((u >> 1) as i32) ^ -((u & 1) as i32))
}

/// Reads a zig-zag varlong at `*pos`, advancing `pos` past it.
pub fn get_varlong(buf: &[u8], pos: &mut usize) -> Result<i64, RecordsError> {
    let u = get_unsigned(buf, pos, MAX_VARLONG_LEN)?;
    Ok(((u >> 1) as i64) ^ -((u & 1) as i64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_encodings() {
        // Zig-zag: 0→0, -1→1, 1→2, -64→127, 64→128 (two bytes).
        let cases: &[(i32, &[u8])] = &[
            (0, &[0x00]),
            (-1, &[0x01]),
            (1, &[0x02]),
            (-64, &[0x7f]),
            (64, &[0x80, 0x01]),
            (300, &[0xd8, 0x04]),
            (i32::MAX, &[0xfe, 0xff, 0xff, 0xff, 0x0f]),
            (i32::MIN, &[0xff, 0xff, 0xff, 0xff, 0x0f]),
        ];
        for &(v, bytes) in cases {
            let mut out = Vec::new();
            put_varint(&mut out, v);
            assert_eq!(out, bytes, "encoding of {v}");
            assert_eq!(varint_len(v), bytes.len());
            let mut pos = 0;
            assert_eq!(get_varint(bytes, &mut pos), Ok(v));
            assert_eq!(pos, bytes.len());
        }
    }

    #[test]
    fn varlong_extremes_round_trip() {
        for v in [0, 1, -1, i64::MAX, i64::MIN, 1 << 40, -(1 << 40)] {
            let mut out = Vec::new();
            put_varlong(&mut out, v);
            assert_eq!(out.len(), varlong_len(v));
            let mut pos = 0;
            assert_eq!(get_varlong(&out, &mut pos), Ok(v));
        }
    }

    #[test]
    fn overlong_and_truncated_are_errors() {
        let mut pos = 0;
        assert!(matches!(
            get_varint(&[0x80, 0x80, 0x80, 0x80, 0x80, 0x01], &mut pos),
            Err(RecordsError::Malformed(_))
        ));
        // Five bytes whose value exceeds 32 bits.
        let mut pos = 0;
        assert!(get_varint(&[0xff, 0xff, 0xff, 0xff, 0x7f], &mut pos).is_err());
        let mut pos = 0;
        assert!(matches!(
            get_varlong(&[0x80, 0x80], &mut pos),
            Err(RecordsError::Truncated { .. })
        ));
    }
}
