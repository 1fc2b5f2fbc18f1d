//! Writers for Kafka's primitive encodings into `BytesMut`, and the matching
//! length functions that `encoded_len` adds up.

use super::error::EncodeError;
use super::types::{RawTaggedField, SharedStr, Uuid};
use bytes::{BufMut, BytesMut};

#[inline]
pub fn i8(out: &mut BytesMut, v: i8) {
    out.put_i8(v)
}
#[inline]
pub fn i16(out: &mut BytesMut, v: i16) {
    out.put_i16(v)
}
#[inline]
pub fn u16(out: &mut BytesMut, v: u16) {
    out.put_u16(v)
}
#[inline]
pub fn i32(out: &mut BytesMut, v: i32) {
    out.put_i32(v)
}
#[inline]
pub fn u32(out: &mut BytesMut, v: u32) {
    out.put_u32(v)
}
#[inline]
pub fn i64(out: &mut BytesMut, v: i64) {
    out.put_i64(v)
}
#[inline]
pub fn f64(out: &mut BytesMut, v: f64) {
    out.put_f64(v)
}
#[inline]
pub fn bool(out: &mut BytesMut, v: bool) {
    out.put_u8(u8::from(v))
}
#[inline]
pub fn uuid(out: &mut BytesMut, v: &Uuid) {
    out.put_slice(&v.0)
}

#[inline]
pub fn uvarint(out: &mut BytesMut, mut v: u32) {
    while v >= 0x80 {
        out.put_u8((v as u8) | 0x80);
        v >>= 7;
    }
    out.put_u8(v as u8);
}

#[inline]
pub fn uvarint_len(v: u32) -> usize {
    match v {
        0..=0x7f => 1,
        0x80..=0x3fff => 2,
        0x4000..=0x1f_ffff => 3,
        0x20_0000..=0xfff_ffff => 4,
        _ => 5,
    }
}

/// Writes a length prefix (`None` = null) in the classic or compact form.
#[inline]
fn length(
    out: &mut BytesMut,
    len: Option<usize>,
    flexible: bool,
    wide: bool,
    field: &'static str,
) -> Result<(), EncodeError> {
    let too_long = || EncodeError::TooLong {
        field,
        len: len.unwrap_or(0),
    };
    if flexible {
        let n = match len {
            None => 0,
            Some(l) => u32::try_from(l)
                .ok()
                .and_then(|l| l.checked_add(1))
                .ok_or_else(too_long)?,
        };
        uvarint(out, n);
    } else if wide {
        let n = match len {
            None => -1,
            Some(l) => ::core::primitive::i32::try_from(l).map_err(|_| too_long())?,
        };
        out.put_i32(n);
    } else {
        let n = match len {
            None => -1,
            Some(l) => ::core::primitive::i16::try_from(l).map_err(|_| too_long())?,
        };
        out.put_i16(n);
    }
    Ok(())
}

#[inline]
fn length_len(len: Option<usize>, flexible: bool, wide: bool) -> usize {
    if flexible {
        uvarint_len(len.map_or(0, |l| (l as u32).wrapping_add(1)))
    } else if wide {
        4
    } else {
        2
    }
}

#[inline]
pub fn string(
    out: &mut BytesMut,
    v: &SharedStr,
    flexible: bool,
    field: &'static str,
) -> Result<(), EncodeError> {
    length(out, Some(v.len()), flexible, false, field)?;
    out.put_slice(v.as_bytes());
    Ok(())
}

#[inline]
pub fn nullable_string(
    out: &mut BytesMut,
    v: Option<&SharedStr>,
    flexible: bool,
    field: &'static str,
) -> Result<(), EncodeError> {
    match v {
        Some(s) => string(out, s, flexible, field),
        None => length(out, None, flexible, false, field),
    }
}

#[inline]
pub fn string_len(v: &SharedStr, flexible: bool) -> usize {
    length_len(Some(v.len()), flexible, false) + v.len()
}

#[inline]
pub fn nullable_string_len(v: Option<&SharedStr>, flexible: bool) -> usize {
    v.map_or(length_len(None, flexible, false), |s| {
        string_len(s, flexible)
    })
}

#[inline]
pub fn bytes(
    out: &mut BytesMut,
    v: &[u8],
    flexible: bool,
    field: &'static str,
) -> Result<(), EncodeError> {
    length(out, Some(v.len()), flexible, true, field)?;
    // A field sent apart from the encoded bytes (see `frame_parts`).
    if !crate::frame_parts::skip_external(out, v) {
        out.put_slice(v);
    }
    Ok(())
}

#[inline]
pub fn nullable_bytes(
    out: &mut BytesMut,
    v: Option<&[u8]>,
    flexible: bool,
    field: &'static str,
) -> Result<(), EncodeError> {
    match v {
        Some(b) => bytes(out, b, flexible, field),
        None => length(out, None, flexible, true, field),
    }
}

#[inline]
pub fn bytes_len(v: &[u8], flexible: bool) -> usize {
    crate::frame_parts::count_external(v);
    length_len(Some(v.len()), flexible, true) + v.len()
}

#[inline]
pub fn nullable_bytes_len(v: Option<&[u8]>, flexible: bool) -> usize {
    v.map_or(length_len(None, flexible, true), |b| bytes_len(b, flexible))
}

#[inline]
fn null_check(nullable: bool, field: &'static str, version: i16) -> Result<(), EncodeError> {
    if nullable {
        Ok(())
    } else {
        Err(EncodeError::NullNotAllowed { field, version })
    }
}

/// A string that may be null only where `nullable` says so.
#[inline]
pub fn opt_string(
    out: &mut BytesMut,
    v: Option<&SharedStr>,
    flexible: bool,
    nullable: bool,
    field: &'static str,
    version: i16,
) -> Result<(), EncodeError> {
    if v.is_none() {
        null_check(nullable, field, version)?;
    }
    nullable_string(out, v, flexible, field)
}

/// Bytes that may be null only where `nullable` says so.
#[inline]
pub fn opt_bytes(
    out: &mut BytesMut,
    v: Option<&[u8]>,
    flexible: bool,
    nullable: bool,
    field: &'static str,
    version: i16,
) -> Result<(), EncodeError> {
    if v.is_none() {
        null_check(nullable, field, version)?;
    }
    nullable_bytes(out, v, flexible, field)
}

/// The null marker of an array, where `nullable` allows it.
#[inline]
pub fn null_array(
    out: &mut BytesMut,
    flexible: bool,
    nullable: bool,
    field: &'static str,
    version: i16,
) -> Result<(), EncodeError> {
    null_check(nullable, field, version)?;
    array_len(out, None, flexible, field)
}

/// A struct with a presence marker where `nullable` says so.
#[inline]
pub fn opt_struct<T>(
    out: &mut BytesMut,
    v: Option<&T>,
    nullable: bool,
    field: &'static str,
    version: i16,
    write: impl FnOnce(&mut BytesMut, &T) -> Result<(), EncodeError>,
) -> Result<(), EncodeError> {
    match v {
        Some(s) => {
            if nullable {
                out.put_i8(1);
            }
            write(out, s)
        }
        None => {
            null_check(nullable, field, version)?;
            out.put_i8(-1);
            Ok(())
        }
    }
}

#[inline]
pub fn opt_struct_len<T>(v: Option<&T>, nullable: bool, len: impl FnOnce(&T) -> usize) -> usize {
    usize::from(nullable) + v.map_or(0, len)
}

/// Writes an array's element count (`None` = null array).
#[inline]
pub fn array_len(
    out: &mut BytesMut,
    len: Option<usize>,
    flexible: bool,
    field: &'static str,
) -> Result<(), EncodeError> {
    length(out, len, flexible, true, field)
}

#[inline]
pub fn array_len_len(len: Option<usize>, flexible: bool) -> usize {
    length_len(len, flexible, true)
}

/// Writes the unknown tagged fields whose tag is below `before`, in order.
#[inline]
pub fn unknown_tags_before<'a, I>(
    out: &mut BytesMut,
    unknown: &mut std::iter::Peekable<I>,
    before: u32,
) -> Result<(), EncodeError>
where
    I: Iterator<Item = &'a RawTaggedField>,
{
    while let Some(f) = unknown.next_if(|f| f.tag < before) {
        raw_tagged_field(out, f)?;
    }
    Ok(())
}

#[inline]
pub fn raw_tagged_field(out: &mut BytesMut, f: &RawTaggedField) -> Result<(), EncodeError> {
    tag_header(out, f.tag, f.data.len(), "tagged field")?;
    out.put_slice(&f.data);
    Ok(())
}

#[inline]
pub fn raw_tagged_fields_len(fields: &[RawTaggedField]) -> usize {
    fields
        .iter()
        .map(|f| tag_header_len(f.tag, f.data.len()) + f.data.len())
        .sum()
}

/// Writes a tagged field's tag and size.
#[inline]
pub fn tag_header(
    out: &mut BytesMut,
    tag: u32,
    size: usize,
    field: &'static str,
) -> Result<(), EncodeError> {
    uvarint(out, tag);
    uvarint(
        out,
        u32::try_from(size).map_err(|_| EncodeError::TooLong { field, len: size })?,
    );
    Ok(())
}

#[inline]
pub fn tag_header_len(tag: u32, size: usize) -> usize {
    uvarint_len(tag) + uvarint_len(size as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uvarint_len_matches_written() {
        for v in [
            0u32,
            1,
            127,
            128,
            16383,
            16384,
            2_097_151,
            2_097_152,
            268_435_455,
            u32::MAX,
        ] {
            let mut b = BytesMut::new();
            uvarint(&mut b, v);
            assert_eq!(b.len(), uvarint_len(v), "value {v}");
        }
    }

    #[test]
    fn classic_string_over_i16_is_an_error() {
        let s = SharedStr::from("x".repeat(40_000));
        let mut b = BytesMut::new();
        assert!(matches!(
            string(&mut b, &s, false, "f"),
            Err(EncodeError::TooLong { .. })
        ));
        assert!(string(&mut b, &s, true, "f").is_ok());
    }
}
