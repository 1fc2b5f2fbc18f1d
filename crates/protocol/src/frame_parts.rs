//! Frames in parts, for sending record bytes without copying them (the broker's
//! responses, the client's requests): the
//! encoder writes everything except the byte fields a caller marks as external,
//! and records where each of them goes. The frame is then a list of parts —
//! encoded bytes, an external field, encoded bytes, ... — whose lengths add up
//! to the size the frame declares, as [`crate::frame::encode_response`] would
//! have written it byte for byte.
//!
//! The generated writers take no context, so the marking travels in a
//! thread-local set for the duration of one (synchronous) encoding; outside
//! [`encode_response_parts`] and [`encode_request_parts`] every bytes field is
//! written as usual.

use std::cell::RefCell;

use bytes::{Bytes, BytesMut};

use crate::codec::{Encode, EncodeError};
use crate::generated::api::{RequestBody, ResponseBody};
use crate::generated::messages::{RequestHeader, ResponseHeader};

/// One part of a frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FramePart {
    /// Encoded bytes (size prefix, header, fields, length prefixes).
    Bytes(Bytes),
    /// An external bytes field of the body, identified by the address and length of
    /// the value the body holds; its length prefix is in the preceding part.
    External { addr: usize, len: usize },
}

/// A frame as parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrameParts {
    pub parts: Vec<FramePart>,
    /// Bytes on the wire: the 4-byte size prefix plus the size it declares.
    pub len: usize,
}

/// Why a frame could not be made of parts.
#[derive(Debug, thiserror::Error)]
pub enum FramePartsError {
    #[error(transparent)]
    Encode(#[from] EncodeError),
    #[error("frame declares {declared} bytes but its parts hold {parts}")]
    LengthMismatch { declared: usize, parts: usize },
}

/// A place in the encoded bytes where an external field goes.
struct Cut {
    at: usize,
    addr: usize,
    len: usize,
}

struct Collector {
    is_external: fn(&[u8]) -> bool,
    cuts: Vec<Cut>,
    /// Bytes of external fields met while sizing (at least their total: a field
    /// sized twice counts twice), so the buffer is allocated without them.
    sized_external: usize,
}

thread_local! {
    static COLLECTOR: RefCell<Option<Collector>> = const { RefCell::new(None) };
}

/// Clears the collector when the encoding ends, also by unwinding.
struct Installed;

impl Installed {
    fn new(is_external: fn(&[u8]) -> bool) -> Self {
        COLLECTOR.with(|c| {
            *c.borrow_mut() = Some(Collector {
                is_external,
                cuts: Vec::new(),
                sized_external: 0,
            })
        });
        Installed
    }

    fn sized_external(&self) -> usize {
        COLLECTOR.with(|c| c.borrow().as_ref().map_or(0, |c| c.sized_external))
    }

    fn take_cuts(&self) -> Vec<Cut> {
        COLLECTOR
            .with(|c| c.borrow_mut().as_mut().map(|c| std::mem::take(&mut c.cuts)))
            .unwrap_or_default()
    }
}

impl Drop for Installed {
    fn drop(&mut self) {
        COLLECTOR.with(|c| *c.borrow_mut() = None);
    }
}

/// Called by the bytes length function: counts `v` if it is external.
pub(crate) fn count_external(v: &[u8]) {
    COLLECTOR.with(|c| {
        if let Some(col) = c.borrow_mut().as_mut() {
            if !v.is_empty() && (col.is_external)(v) {
                col.sized_external += v.len();
            }
        }
    })
}

/// Called by the bytes writer after the field's length prefix: true when `v` is
/// external (its place is recorded and its bytes must not be written).
pub(crate) fn skip_external(out: &BytesMut, v: &[u8]) -> bool {
    COLLECTOR.with(|c| {
        let mut c = c.borrow_mut();
        match c.as_mut() {
            Some(col) if !v.is_empty() && (col.is_external)(v) => {
                col.cuts.push(Cut {
                    at: out.len(),
                    addr: v.as_ptr() as usize,
                    len: v.len(),
                });
                true
            }
            _ => false,
        }
    })
}

/// Encodes a response like [`crate::frame::encode_response`], except that every
/// non-empty bytes field for which `is_external` holds becomes a
/// [`FramePart::External`] instead of being copied.
pub fn encode_response_parts(
    correlation_id: i32,
    version: i16,
    body: &ResponseBody,
    is_external: fn(&[u8]) -> bool,
) -> Result<FrameParts, FramePartsError> {
    let api_key = body.api_key();
    let hv = api_key.response_header_version(version);
    let header = ResponseHeader {
        correlation_id,
        ..Default::default()
    };
    encode_parts(is_external, &header, hv, body, version)
}

/// Encodes a request like [`crate::frame::encode_request`], except that every
/// non-empty bytes field for which `is_external` holds becomes a
/// [`FramePart::External`] instead of being copied (a producer's record batches).
pub fn encode_request_parts(
    header: &RequestHeader,
    body: &RequestBody,
    is_external: fn(&[u8]) -> bool,
) -> Result<FrameParts, FramePartsError> {
    let (hv, version) = crate::frame::request_header_version(header, body)?;
    encode_parts(is_external, header, hv, body, version)
}

/// The frame of `header` (at header version `hv`) and `body`, in parts.
fn encode_parts(
    is_external: fn(&[u8]) -> bool,
    header: &impl Encode,
    hv: i16,
    body: &impl Encode,
    version: i16,
) -> Result<FrameParts, FramePartsError> {
    let installed = Installed::new(is_external);
    let size = header.encoded_len(hv) + body.encoded_len(version);
    let declared = 4 + size;
    let size32 = u32::try_from(size).map_err(|_| EncodeError::TooLong {
        field: "frame",
        len: size,
    })?;
    let mut out = BytesMut::with_capacity(declared.saturating_sub(installed.sized_external()));
    out.extend_from_slice(&size32.to_be_bytes());
    header.write(&mut out, hv)?;
    body.write(&mut out, version)?;
    let cuts = installed.take_cuts();
    drop(installed);
    let external: usize = cuts.iter().map(|c| c.len).sum();
    if out.len() + external != declared {
        return Err(FramePartsError::LengthMismatch {
            declared,
            parts: out.len() + external,
        });
    }
    let mut encoded = out.freeze();
    let mut parts = Vec::with_capacity(2 * cuts.len() + 1);
    let mut taken = 0;
    for cut in cuts {
        let head = encoded.split_to(cut.at - taken);
        taken = cut.at;
        if !head.is_empty() {
            parts.push(FramePart::Bytes(head));
        }
        parts.push(FramePart::External {
            addr: cut.addr,
            len: cut.len,
        });
    }
    if !encoded.is_empty() {
        parts.push(FramePart::Bytes(encoded));
    }
    Ok(FrameParts {
        parts,
        len: declared,
    })
}
