//! Readers for Kafka's primitive encodings, built on nom. Each takes the remaining
//! input and returns the rest plus the value; none allocates more than the input
//! can hold, so a forged length is an error, not an allocation.

use super::PResult;
use super::error::DecodeError;
use super::types::{SharedStr, Source, Uuid};

/// Splits `n` bytes off the front of the input.
#[inline]
fn take(i: &[u8], n: usize) -> PResult<'_, &[u8]> {
    if n <= i.len() {
        let (head, tail) = i.split_at(n);
        Ok((tail, head))
    } else {
        DecodeError::Truncated.fail()
    }
}

/// Reads a fixed-width big-endian number straight off the slice. These sit on
/// every hot path, so they index the slice directly rather than going through
/// nom's generic `Parser` machinery; they still speak nom's `IResult`.
macro_rules! be_number {
    ($($name:ident: $t:ty),*) => {$(
        #[inline]
        pub fn $name(i: &[u8]) -> PResult<'_, $t> {
            match i.split_first_chunk::<{ std::mem::size_of::<$t>() }>() {
                Some((head, rest)) => Ok((rest, <$t>::from_be_bytes(*head))),
                None => DecodeError::Truncated.fail(),
            }
        }
    )*};
}

be_number!(i8: i8, i16: i16, u16: u16, i32: i32, u32: u32, i64: i64, f64: f64);

#[inline]
pub fn bool(i: &[u8]) -> PResult<'_, bool> {
    i8(i).map(|(i, b)| (i, b != 0))
}
#[inline]
pub fn uuid(i: &[u8]) -> PResult<'_, Uuid> {
    let (i, b) = take(i, 16)?;
    let mut out = [0u8; 16];
    out.copy_from_slice(b);
    Ok((i, Uuid(out)))
}

/// An unsigned LEB128 varint of at most 5 bytes (a u32).
#[inline]
pub fn uvarint(i: &[u8]) -> PResult<'_, u32> {
    let mut value: u32 = 0;
    for (n, &b) in i.iter().enumerate().take(5) {
        value |= u32::from(b & 0x7f) << (7 * n);
        if b & 0x80 == 0 {
            if n == 4 && b > 0x0f {
                return DecodeError::VarintTooLong.fail();
            }
            return Ok((&i[n + 1..], value));
        }
    }
    if i.len() >= 5 {
        DecodeError::VarintTooLong.fail()
    } else {
        DecodeError::Truncated.fail()
    }
}

/// Reads a length prefix: classic (`i16`/`i32`, -1 = null) or compact
/// (unsigned varint N+1, 0 = null). Checks it against the remaining input.
#[inline]
fn length<'a>(i: &'a [u8], flexible: bool, wide: bool) -> PResult<'a, Option<usize>> {
    let (i, len): (&[u8], i64) = if flexible {
        let (i, n) = uvarint(i)?;
        (i, i64::from(n) - 1)
    } else if wide {
        let (i, n) = i32(i)?;
        (i, i64::from(n))
    } else {
        let (i, n) = i16(i)?;
        (i, i64::from(n))
    };
    if len < -1 {
        return DecodeError::InvalidLength(len).fail();
    }
    if len == -1 {
        return Ok((i, None));
    }
    if len as u64 > i.len() as u64 {
        return DecodeError::Truncated.fail();
    }
    Ok((i, Some(len as usize)))
}

#[inline]
pub fn nullable_string<'a>(
    i: &'a [u8],
    src: &Source<'_>,
    flexible: bool,
) -> PResult<'a, Option<SharedStr>> {
    let (i, len) = length(i, flexible, false)?;
    let Some(len) = len else { return Ok((i, None)) };
    let (i, raw) = take(i, len)?;
    match SharedStr::from_utf8(src.bytes(raw)) {
        Ok(s) => Ok((i, Some(s))),
        Err(_) => DecodeError::InvalidUtf8.fail(),
    }
}

#[inline]
pub fn string<'a>(i: &'a [u8], src: &Source<'_>, flexible: bool) -> PResult<'a, SharedStr> {
    match nullable_string(i, src, flexible)? {
        (i, Some(s)) => Ok((i, s)),
        (_, None) => DecodeError::UnexpectedNull(-1).fail(),
    }
}

#[inline]
pub fn nullable_bytes<'a>(
    i: &'a [u8],
    src: &Source<'_>,
    flexible: bool,
) -> PResult<'a, Option<bytes::Bytes>> {
    let (i, len) = length(i, flexible, true)?;
    let Some(len) = len else { return Ok((i, None)) };
    let (i, raw) = take(i, len)?;
    Ok((i, Some(src.bytes(raw))))
}

#[inline]
pub fn bytes<'a>(i: &'a [u8], src: &Source<'_>, flexible: bool) -> PResult<'a, bytes::Bytes> {
    match nullable_bytes(i, src, flexible)? {
        (i, Some(b)) => Ok((i, b)),
        (_, None) => DecodeError::UnexpectedNull(-1).fail(),
    }
}

/// The most memory an array reserves before its elements have decoded; past
/// it the vector grows only as elements actually decode.
pub const MAX_PREALLOCATED_BYTES: usize = 256 * 1024;

/// An array's element count (`None` = null), checked to be at most
/// `remaining / min_elem_size` so a forged count cannot drive an allocation.
#[inline]
fn array_count(i: &[u8], flexible: bool, min_elem_size: usize) -> PResult<'_, Option<usize>> {
    let (i, count): (&[u8], i64) = if flexible {
        let (i, n) = uvarint(i)?;
        (i, i64::from(n) - 1)
    } else {
        let (i, n) = i32(i)?;
        (i, i64::from(n))
    };
    if count < -1 {
        return DecodeError::InvalidLength(count).fail();
    }
    if count == -1 {
        return Ok((i, None));
    }
    let count = count as usize;
    if count > i.len() / min_elem_size.max(1) {
        return DecodeError::ArrayTooLong {
            count,
            available: i.len(),
        }
        .fail();
    }
    Ok((i, Some(count)))
}

/// An array of fixed-size big-endian numbers (`N` bytes each), read in one pass.
/// Null is accepted only where `nullable` says so.
#[inline]
pub fn fixed_array<'a, T, const N: usize>(
    i: &'a [u8],
    flexible: bool,
    nullable: bool,
    conv: impl Fn([u8; N]) -> T,
) -> PResult<'a, Option<Vec<T>>> {
    let (i, count) = array_count(i, flexible, N)?;
    let Some(count) = count else {
        return if nullable {
            Ok((i, None))
        } else {
            DecodeError::UnexpectedNull(-1).fail()
        };
    };
    let (i, raw) = take(i, count * N)?;
    let mut out = Vec::with_capacity(count);
    for chunk in raw.chunks_exact(N) {
        let mut a = [0u8; N];
        a.copy_from_slice(chunk);
        out.push(conv(a));
    }
    Ok((i, Some(out)))
}

/// An array of elements read by `elem`. A count larger than the remaining input
/// (every element takes at least one byte) is rejected before allocating.
#[inline]
pub fn nullable_array<'a, T>(
    i: &'a [u8],
    flexible: bool,
    mut elem: impl FnMut(&'a [u8]) -> PResult<'a, T>,
) -> PResult<'a, Option<Vec<T>>> {
    let (mut i, count) = array_count(i, flexible, 1)?;
    let Some(count) = count else {
        return Ok((i, None));
    };
    // The count is at most the remaining bytes, but an element may be far larger in
    // memory than on the wire: reserve a bounded number up front and let the
    // vector grow only as elements actually decode.
    let per_element = std::mem::size_of::<T>().max(1);
    let mut out = Vec::with_capacity(count.min(MAX_PREALLOCATED_BYTES / per_element));
    for _ in 0..count {
        let (rest, v) = elem(i)?;
        i = rest;
        out.push(v);
    }
    Ok((i, Some(out)))
}

#[inline]
pub fn array<'a, T>(
    i: &'a [u8],
    flexible: bool,
    elem: impl FnMut(&'a [u8]) -> PResult<'a, T>,
) -> PResult<'a, Vec<T>> {
    match nullable_array(i, flexible, elem)? {
        (i, Some(v)) => Ok((i, v)),
        (_, None) => DecodeError::UnexpectedNull(-1).fail(),
    }
}

/// A string that may be null only where `nullable` says so.
#[inline]
pub fn opt_string<'a>(
    i: &'a [u8],
    src: &Source<'_>,
    flexible: bool,
    nullable: bool,
) -> PResult<'a, Option<SharedStr>> {
    if nullable {
        nullable_string(i, src, flexible)
    } else {
        string(i, src, flexible).map(|(i, s)| (i, Some(s)))
    }
}

/// Bytes that may be null only where `nullable` says so.
#[inline]
pub fn opt_bytes<'a>(
    i: &'a [u8],
    src: &Source<'_>,
    flexible: bool,
    nullable: bool,
) -> PResult<'a, Option<bytes::Bytes>> {
    if nullable {
        nullable_bytes(i, src, flexible)
    } else {
        bytes(i, src, flexible).map(|(i, b)| (i, Some(b)))
    }
}

/// An array that may be null only where `nullable` says so.
#[inline]
pub fn opt_array<'a, T>(
    i: &'a [u8],
    flexible: bool,
    nullable: bool,
    elem: impl FnMut(&'a [u8]) -> PResult<'a, T>,
) -> PResult<'a, Option<Vec<T>>> {
    if nullable {
        nullable_array(i, flexible, elem)
    } else {
        array(i, flexible, elem).map(|(i, v)| (i, Some(v)))
    }
}

/// A struct preceded by a presence marker where `nullable` says so.
#[inline]
pub fn opt_struct<'a, T>(
    i: &'a [u8],
    nullable: bool,
    read: impl FnOnce(&'a [u8]) -> PResult<'a, T>,
) -> PResult<'a, Option<T>> {
    let i = if nullable {
        let (i, present) = struct_marker(i)?;
        if !present {
            return Ok((i, None));
        }
        i
    } else {
        i
    };
    read(i).map(|(i, v)| (i, Some(v)))
}

/// The marker byte before a nullable struct: `true` when a struct follows.
#[inline]
pub fn struct_marker(i: &[u8]) -> PResult<'_, bool> {
    let (i, m) = i8(i)?;
    match m {
        -1 => Ok((i, false)),
        1 => Ok((i, true)),
        other => DecodeError::InvalidStructMarker(other).fail(),
    }
}

/// One tagged field's tag and its raw data.
#[inline]
pub fn tagged_field(i: &[u8]) -> PResult<'_, (u32, &[u8])> {
    let (i, tag) = uvarint(i)?;
    let (i, size) = uvarint(i)?;
    let (i, data) = take(i, size as usize)?;
    Ok((i, (tag, data)))
}

/// Runs `parser` over a tagged field's data, which it must consume exactly.
#[inline]
pub fn tagged_value<'a, T>(
    data: &'a [u8],
    tag: u32,
    parser: impl FnOnce(&'a [u8]) -> PResult<'a, T>,
) -> Result<T, nom::Err<DecodeError>> {
    let (rest, v) = parser(data)?;
    if rest.is_empty() {
        Ok(v)
    } else {
        DecodeError::TaggedFieldTrailing {
            tag,
            extra: rest.len(),
        }
        .fail()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uvarint_limits() {
        assert_eq!(uvarint(&[0x00]).map(|r| r.1), Ok(0));
        assert_eq!(uvarint(&[0x96, 0x01]).map(|r| r.1), Ok(150));
        assert_eq!(
            uvarint(&[0xff, 0xff, 0xff, 0xff, 0x0f]).map(|r| r.1),
            Ok(u32::MAX)
        );
        assert!(uvarint(&[0xff, 0xff, 0xff, 0xff, 0x1f]).is_err());
        assert!(uvarint(&[0xff, 0xff, 0xff, 0xff, 0xff, 0x01]).is_err());
        assert!(uvarint(&[0x80]).is_err());
    }

    #[test]
    fn huge_array_count_is_rejected_without_allocating() {
        let input = [0x7f, 0xff, 0xff, 0xff, 0, 0, 0, 1];
        let r = array(&input, false, i32);
        assert!(matches!(
            r,
            Err(nom::Err::Error(DecodeError::ArrayTooLong { .. }))
        ));
    }

    #[test]
    fn forged_string_length_is_truncation() {
        let buf = bytes::Bytes::from_static(&[0x7f, 0xff, b'a']);
        let src = Source::new(&buf);
        assert!(string(&buf, &src, false).is_err());
    }
}
