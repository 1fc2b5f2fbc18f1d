//! Framing: 4-byte size-prefixed frames, and whole requests and responses
//! (header + body) with the header version Kafka uses for each API and version.

use crate::codec::{Decode, DecodeError, Encode, EncodeError, Message, Source};
use crate::generated::api::{ApiKey, RequestBody, ResponseBody};
use crate::generated::messages::{RequestHeader, ResponseHeader};
use bytes::{Buf, BufMut, Bytes, BytesMut};

/// Kafka's default `socket.request.max.bytes` (100 MiB).
pub const DEFAULT_MAX_FRAME: usize = 100 * 1024 * 1024;

/// Takes one whole frame (without its size prefix) off the front of `buf`, or
/// returns `None` until enough bytes have arrived. A negative or oversized length
/// is an error: the connection cannot be resynchronised and should be closed.
pub fn split_frame(buf: &mut BytesMut, max_size: usize) -> Result<Option<Bytes>, DecodeError> {
    if buf.len() < 4 {
        return Ok(None);
    }
    let size = i32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]);
    if size < 0 {
        return Err(DecodeError::InvalidLength(i64::from(size)));
    }
    let size = size as usize;
    if size > max_size {
        return Err(DecodeError::FrameTooLarge {
            size: size as i64,
            limit: max_size,
        });
    }
    if buf.len() < 4 + size {
        // Room for the whole frame. Not `reserve`: growing the buffer in place
        // reallocates it, copying all it ever held (frames already split off
        // included); a new buffer of the frame's size takes only the part read.
        if buf.capacity() < 4 + size {
            let mut whole = BytesMut::with_capacity(4 + size);
            whole.extend_from_slice(buf);
            *buf = whole;
        }
        return Ok(None);
    }
    buf.advance(4);
    Ok(Some(buf.split_to(size).freeze()))
}

/// The fixed start of every request header (all header versions share it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestPrefix {
    pub api_key: i16,
    pub api_version: i16,
    pub correlation_id: i32,
}

/// Reads the API key, version and correlation id of a request frame, without
/// interpreting anything else: enough to answer a request that cannot be decoded.
pub fn peek_request(frame: &[u8]) -> Result<RequestPrefix, DecodeError> {
    if frame.len() < 8 {
        return Err(DecodeError::Truncated);
    }
    Ok(RequestPrefix {
        api_key: i16::from_be_bytes([frame[0], frame[1]]),
        api_version: i16::from_be_bytes([frame[2], frame[3]]),
        correlation_id: i32::from_be_bytes([frame[4], frame[5], frame[6], frame[7]]),
    })
}

/// A decoded request frame.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    pub header: RequestHeader,
    pub api_key: ApiKey,
    pub body: RequestBody,
    /// Bytes after the body, which Kafka ignores and so does this decoder
    /// (librdkafka's all-topics Metadata v12 request carries three).
    pub trailing_bytes: usize,
}

impl Request {
    pub fn api_version(&self) -> i16 {
        self.header.request_api_version
    }
}

/// Decodes a request frame (as returned by [`split_frame`]): header at the version
/// its API and version call for, then the body. Like Kafka, bytes after a whole
/// body are ignored; their count is in [`Request::trailing_bytes`].
pub fn decode_request(frame: &Bytes) -> Result<Request, DecodeError> {
    let prefix = peek_request(frame)?;
    let api_key =
        ApiKey::from_i16(prefix.api_key).ok_or(DecodeError::UnknownApiKey(prefix.api_key))?;
    if !api_key.is_valid_version(prefix.api_version) {
        return Err(DecodeError::UnsupportedVersion {
            schema: api_key.name(),
            version: prefix.api_version,
        });
    }
    let src = Source::new(frame);
    let header_version = api_key.request_header_version(prefix.api_version);
    let (rest, header) = RequestHeader::read(frame, &src, header_version).map_err(flatten)?;
    let (rest, body) =
        RequestBody::read(api_key, rest, &src, prefix.api_version).map_err(flatten)?;
    Ok(Request {
        header,
        api_key,
        body,
        trailing_bytes: rest.len(),
    })
}

/// Encodes a request with its size prefix. The header's API key and version
/// must match the body.
pub fn encode_request(header: &RequestHeader, body: &RequestBody) -> Result<Bytes, EncodeError> {
    let (hv, version) = request_header_version(header, body)?;
    write_frame(header, hv, body, version)
}

/// The request header version and API version for `header` and `body`: an error unless
/// the header names the body's API at a version Kafka defines for it.
pub(crate) fn request_header_version(
    header: &RequestHeader,
    body: &RequestBody,
) -> Result<(i16, i16), EncodeError> {
    let api_key = body.api_key();
    let version = header.request_api_version;
    if header.request_api_key != api_key.as_i16() || !api_key.is_valid_version(version) {
        return Err(EncodeError::UnsupportedVersion {
            schema: api_key.name(),
            version,
        });
    }
    Ok((api_key.request_header_version(version), version))
}

/// Encodes a response with its size prefix and the header version Kafka uses.
pub fn encode_response(
    correlation_id: i32,
    version: i16,
    body: &ResponseBody,
) -> Result<Bytes, EncodeError> {
    let api_key = body.api_key();
    let hv = api_key.response_header_version(version);
    let header = ResponseHeader {
        correlation_id,
        ..Default::default()
    };
    write_frame(&header, hv, body, version)
}

/// Writes `header` at header version `hv` and `body` at `version` behind a
/// 4-byte size prefix, into a buffer of exactly the right size.
fn write_frame(
    header: &impl Encode,
    hv: i16,
    body: &impl Encode,
    version: i16,
) -> Result<Bytes, EncodeError> {
    let size = header.encoded_len(hv) + body.encoded_len(version);
    let mut out = BytesMut::with_capacity(4 + size);
    out.put_u32(size as u32);
    header.write(&mut out, hv)?;
    body.write(&mut out, version)?;
    Ok(out.freeze())
}

/// Decodes a response frame (without its size prefix) for a request of
/// `api_key` at `version`.
pub fn decode_response(
    frame: &Bytes,
    api_key: ApiKey,
    version: i16,
) -> Result<(ResponseHeader, ResponseBody), DecodeError> {
    let src = Source::new(frame);
    let hv = api_key.response_header_version(version);
    let (rest, header) = ResponseHeader::read(frame, &src, hv).map_err(flatten)?;
    let (rest, body) = ResponseBody::read(api_key, rest, &src, version).map_err(flatten)?;
    if !rest.is_empty() {
        return Err(DecodeError::TrailingBytes {
            schema: api_key.name(),
            count: rest.len(),
        });
    }
    Ok((header, body))
}

fn flatten(e: nom::Err<DecodeError>) -> DecodeError {
    match e {
        nom::Err::Error(e) | nom::Err::Failure(e) => e,
        nom::Err::Incomplete(_) => DecodeError::Truncated,
    }
}

/// Checks `ResponseHeader`'s versions are what the framing assumes.
const _: () = assert!(ResponseHeader::MAX_VERSION == 1 && RequestHeader::MAX_VERSION == 2);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::messages::{ApiVersionsRequest, MetadataRequest};

    #[test]
    fn split_frame_waits_and_rejects() {
        let mut b = BytesMut::from(&[0, 0, 0, 3, 1, 2][..]);
        assert_eq!(split_frame(&mut b, 10), Ok(None));
        assert!(b.capacity() >= 7, "room for the whole frame");
        b.extend_from_slice(&[3, 0, 0]);
        assert_eq!(
            split_frame(&mut b, 10).ok().flatten().as_deref(),
            Some(&[1u8, 2, 3][..])
        );
        assert_eq!(&b[..], &[0, 0]);
        let mut big = BytesMut::from(&[0x7f, 0xff, 0xff, 0xff][..]);
        assert!(matches!(
            split_frame(&mut big, 100),
            Err(DecodeError::FrameTooLarge { .. })
        ));
        let mut neg = BytesMut::from(&[0xff, 0xff, 0xff, 0xff][..]);
        assert!(split_frame(&mut neg, 100).is_err());
    }

    #[test]
    fn request_round_trip_through_frame() {
        for (body, version) in [
            (RequestBody::from(ApiVersionsRequest::default()), 0),
            (RequestBody::from(ApiVersionsRequest::default()), 3),
            (
                RequestBody::from(MetadataRequest {
                    topics: None,
                    ..Default::default()
                }),
                12,
            ),
        ] {
            let header = RequestHeader {
                request_api_key: body.api_key().as_i16(),
                request_api_version: version,
                correlation_id: 7,
                client_id: Some("me".into()),
                ..Default::default()
            };
            let mut wire = BytesMut::from(&encode_request(&header, &body).expect("encode")[..]);
            let frame = split_frame(&mut wire, DEFAULT_MAX_FRAME)
                .expect("frame")
                .expect("whole");
            let req = decode_request(&frame).expect("decode");
            assert_eq!(req.body, body);
            assert_eq!(req.header, header);
        }
    }

    #[test]
    fn bytes_after_the_body_are_ignored_and_counted() {
        // librdkafka's all-topics Metadata v12: null topics, two bools, no tags,
        // then three bytes Kafka never reads.
        let mut f = vec![0, 3, 0, 12, 0, 0, 0, 3, 0, 7];
        f.extend_from_slice(b"rdkafka");
        f.extend_from_slice(&[0, 0, 0, 0, 0, 1, 0, 0]);
        let req = decode_request(&Bytes::from(f)).expect("decodes like Kafka does");
        assert_eq!(req.trailing_bytes, 3);
        match req.body {
            RequestBody::Metadata(m) => assert_eq!(m.topics, None),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn unknown_key_and_version_are_errors_with_a_prefix() {
        let frame = Bytes::from_static(&[0x03, 0xe7, 0, 0, 0, 0, 0, 9, 0xff, 0xff]);
        assert_eq!(decode_request(&frame), Err(DecodeError::UnknownApiKey(999)));
        assert_eq!(peek_request(&frame).map(|p| p.correlation_id), Ok(9));
        let frame = Bytes::from_static(&[0, 18, 0, 99, 0, 0, 0, 1, 0xff, 0xff]);
        assert!(matches!(
            decode_request(&frame),
            Err(DecodeError::UnsupportedVersion { .. })
        ));
    }
}
