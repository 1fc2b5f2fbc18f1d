//! The hand-written runtime the generated messages are built on: primitive
//! readers (nom) and writers, Kafka's string/bytes/array encodings in their
//! classic and compact forms, tagged fields, and the shared value types.

pub mod error;
pub mod read;
pub mod types;
pub mod write;

pub use error::{DecodeError, EncodeError};
pub use types::{RawTaggedField, SharedStr, Source, Uuid};

/// The nom result type of every reader in this crate.
pub type PResult<'a, T> = nom::IResult<&'a [u8], T, DecodeError>;

/// A message or struct that can be written at a given version.
pub trait Encode {
    /// Appends the encoding of `self` at `version` to `out`.
    fn write(&self, out: &mut bytes::BytesMut, version: i16) -> Result<(), EncodeError>;
    /// The exact number of bytes [`Encode::write`] appends at `version`.
    fn encoded_len(&self, version: i16) -> usize;
}

/// A message or struct that can be read at a given version.
pub trait Decode: Sized {
    /// Reads one value at `version` from `input`, a sub-slice of `src`.
    fn read<'a>(input: &'a [u8], src: &Source<'_>, version: i16) -> PResult<'a, Self>;
}

/// A top-level schema (request, response, header, record or data type) with its
/// valid and flexible version ranges.
pub trait Message: Encode + Decode + Default + Clone + PartialEq + std::fmt::Debug {
    /// The schema's name, e.g. `ProduceRequest`.
    const NAME: &'static str;
    /// Lowest valid version.
    const MIN_VERSION: i16;
    /// Highest valid version.
    const MAX_VERSION: i16;
    /// First flexible version, if any (compact encodings and tagged fields).
    const FLEXIBLE_FROM: Option<i16>;

    /// Whether `version` is within the valid range.
    fn is_valid_version(version: i16) -> bool {
        (Self::MIN_VERSION..=Self::MAX_VERSION).contains(&version)
    }

    /// Whether `version` uses the flexible encoding.
    fn is_flexible(version: i16) -> bool {
        Self::FLEXIBLE_FROM.is_some_and(|f| version >= f)
    }

    /// Decodes a whole buffer holding exactly one value at `version`.
    /// Strings, bytes and records in the result share `buf`'s memory.
    fn decode(buf: &bytes::Bytes, version: i16) -> Result<Self, DecodeError> {
        Self::decode_prefix(buf, version).and_then(|(value, rest)| {
            if rest == 0 {
                Ok(value)
            } else {
                Err(DecodeError::TrailingBytes {
                    schema: Self::NAME,
                    count: rest,
                })
            }
        })
    }

    /// Decodes one value from the start of `buf`, returning it and the number of
    /// bytes left over after it.
    fn decode_prefix(buf: &bytes::Bytes, version: i16) -> Result<(Self, usize), DecodeError> {
        if !Self::is_valid_version(version) {
            return Err(DecodeError::UnsupportedVersion {
                schema: Self::NAME,
                version,
            });
        }
        let src = Source::new(buf);
        match Self::read(buf, &src, version) {
            Ok((rest, value)) => Ok((value, rest.len())),
            Err(nom::Err::Error(e) | nom::Err::Failure(e)) => Err(e),
            Err(nom::Err::Incomplete(_)) => Err(DecodeError::Truncated),
        }
    }

    /// Encodes `self` at `version` into a new buffer of exactly the right size.
    fn encode_to_bytes(&self, version: i16) -> Result<bytes::Bytes, EncodeError> {
        if !Self::is_valid_version(version) {
            return Err(EncodeError::UnsupportedVersion {
                schema: Self::NAME,
                version,
            });
        }
        let mut out = bytes::BytesMut::with_capacity(self.encoded_len(version));
        self.write(&mut out, version)?;
        Ok(out.freeze())
    }
}
