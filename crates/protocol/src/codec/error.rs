//! Decode and encode errors. Decoding never panics: every malformed input maps
//! to one of these.

use nom::error::{ErrorKind, ParseError};

/// Why bytes could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("input ended before the value was complete")]
    Truncated,
    #[error("{schema} has no version {version}")]
    UnsupportedVersion { schema: &'static str, version: i16 },
    #[error("unknown api key {0}")]
    UnknownApiKey(i16),
    #[error("negative length {0} for a non-nullable field")]
    UnexpectedNull(i64),
    #[error("invalid length {0}")]
    InvalidLength(i64),
    #[error("array claims {count} elements but only {available} bytes remain")]
    ArrayTooLong { count: usize, available: usize },
    #[error("string is not valid UTF-8")]
    InvalidUtf8,
    #[error("varint is longer than 5 bytes")]
    VarintTooLong,
    #[error("tagged field {tag} has {extra} bytes after its value")]
    TaggedFieldTrailing { tag: u32, extra: usize },
    #[error("invalid nullable-struct marker {0}")]
    InvalidStructMarker(i8),
    #[error("{count} bytes left over after {schema}")]
    TrailingBytes { schema: &'static str, count: usize },
    #[error("frame of {size} bytes exceeds the limit of {limit}")]
    FrameTooLarge { size: i64, limit: usize },
    #[error("malformed input ({0:?})")]
    Nom(ErrorKind),
}

impl ParseError<&[u8]> for DecodeError {
    fn from_error_kind(_input: &[u8], kind: ErrorKind) -> Self {
        match kind {
            ErrorKind::Eof => DecodeError::Truncated,
            other => DecodeError::Nom(other),
        }
    }
    fn append(_input: &[u8], _kind: ErrorKind, other: Self) -> Self {
        other
    }
}

impl DecodeError {
    /// Wraps `self` as a nom error.
    pub fn fail<T>(self) -> Result<T, nom::Err<DecodeError>> {
        Err(nom::Err::Error(self))
    }
}

/// Why a value could not be encoded at the requested version.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    #[error("{schema} has no version {version}")]
    UnsupportedVersion { schema: &'static str, version: i16 },
    #[error("field {field} is set but version {version} cannot carry it")]
    FieldNotInVersion { field: &'static str, version: i16 },
    #[error("field {field} is null but version {version} does not allow null")]
    NullNotAllowed { field: &'static str, version: i16 },
    #[error("field {field} is {len} bytes, more than its encoding allows")]
    TooLong { field: &'static str, len: usize },
}
