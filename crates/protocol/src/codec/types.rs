//! Value types shared by all messages: `SharedStr` (a UTF-8 string sharing the
//! frame's buffer), `Uuid`, raw tagged fields, and `Source`, which turns slices of
//! the input back into zero-copy `Bytes`.

use bytes::Bytes;
use std::fmt;

/// The buffer a decode runs over; sub-slices of it become `Bytes` without copying.
#[derive(Debug, Clone, Copy)]
pub struct Source<'b> {
    buf: &'b Bytes,
}

impl<'b> Source<'b> {
    #[inline]
    pub fn new(buf: &'b Bytes) -> Self {
        Source { buf }
    }

    /// Returns `sub` (which must lie inside the source buffer) as shared `Bytes`.
    /// A slice from elsewhere is copied rather than trusted.
    #[inline]
    pub fn bytes(&self, sub: &[u8]) -> Bytes {
        if sub.is_empty() {
            return Bytes::new();
        }
        let base = self.buf.as_ptr() as usize;
        let start = sub.as_ptr() as usize;
        match start.checked_sub(base) {
            Some(offset) if offset + sub.len() <= self.buf.len() => {
                self.buf.slice(offset..offset + sub.len())
            }
            _ => Bytes::copy_from_slice(sub),
        }
    }
}

/// An immutable UTF-8 string whose bytes may be shared with the buffer it was
/// decoded from.
#[derive(Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SharedStr(Bytes);

impl SharedStr {
    /// Wraps bytes already known to be UTF-8.
    #[inline]
    pub fn from_utf8(bytes: Bytes) -> Result<Self, std::str::Utf8Error> {
        std::str::from_utf8(&bytes)?;
        Ok(SharedStr(bytes))
    }
    /// A string from a static literal, without allocating.
    #[inline]
    pub const fn from_static(s: &'static str) -> Self {
        SharedStr(Bytes::from_static(s.as_bytes()))
    }
    #[inline]
    pub fn as_str(&self) -> &str {
        // The constructor checked UTF-8 and the bytes are immutable.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
    #[inline]
    pub fn as_bytes(&self) -> &Bytes {
        &self.0
    }
    #[inline]
    pub fn len(&self) -> usize {
        self.0.len()
    }
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl std::ops::Deref for SharedStr {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl From<&str> for SharedStr {
    fn from(s: &str) -> Self {
        SharedStr(Bytes::copy_from_slice(s.as_bytes()))
    }
}

impl From<String> for SharedStr {
    fn from(s: String) -> Self {
        SharedStr(Bytes::from(s.into_bytes()))
    }
}

impl PartialEq<str> for SharedStr {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for SharedStr {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl fmt::Debug for SharedStr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for SharedStr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A 128-bit UUID as Kafka sends it (16 bytes, big-endian).
#[derive(Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Uuid(pub [u8; 16]);

impl Uuid {
    /// The all-zero UUID Kafka uses for "no id".
    pub const ZERO: Uuid = Uuid([0; 16]);

    #[inline]
    pub fn from_u128(v: u128) -> Self {
        Uuid(v.to_be_bytes())
    }
    #[inline]
    pub fn as_u128(&self) -> u128 {
        u128::from_be_bytes(self.0)
    }
    #[inline]
    pub fn is_zero(&self) -> bool {
        self.0 == [0; 16]
    }
}

impl fmt::Debug for Uuid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for Uuid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = &self.0;
        for (i, byte) in b.iter().enumerate() {
            if matches!(i, 4 | 6 | 8 | 10) {
                f.write_str("-")?;
            }
            write!(f, "{byte:02x}")?;
        }
        Ok(())
    }
}

/// A tagged field this code does not know, kept as raw bytes so it survives a
/// decode/encode round trip.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RawTaggedField {
    pub tag: u32,
    pub data: Bytes,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn source_slices_share_memory_and_copy_foreign_slices() {
        let buf = Bytes::from_static(b"hello world");
        let src = Source::new(&buf);
        let inner = src.bytes(&buf[6..]);
        assert_eq!(inner, "world");
        assert_eq!(
            inner.as_ptr(),
            buf[6..].as_ptr(),
            "no copy for inner slices"
        );
        let foreign = src.bytes(b"elsewhere");
        assert_eq!(foreign, "elsewhere");
    }

    #[test]
    fn uuid_displays_in_canonical_form() {
        let u = Uuid::from_u128(0x0123456789abcdef0123456789abcdef);
        assert_eq!(u.to_string(), "01234567-89ab-cdef-0123-456789abcdef");
    }
}
