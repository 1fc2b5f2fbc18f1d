//! Entry points of the protocol fuzz targets, also replayed over the committed
//! corpus by `tests/it/fuzz_corpus.rs`. Each decodes arbitrary bytes and, when they
//! decode, checks the value survives re-encoding: a panic here is a bug found.

use crate::frame::{decode_request, decode_response, encode_request, encode_response};
use crate::generated::api::ApiKey;
use bytes::Bytes;

/// What a fuzz input turned out to be, for corpus health checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Decoded,
    Rejected,
}

/// Decodes `data` as a request frame (no size prefix). A frame that decodes
/// must re-encode and decode to the same request.
pub fn request_frame(data: &[u8]) -> Outcome {
    let frame = Bytes::copy_from_slice(data);
    let Ok(req) = decode_request(&frame) else {
        return Outcome::Rejected;
    };
    let wire = match encode_request(&req.header, &req.body) {
        Ok(w) => w,
        Err(e) => panic!("decoded request does not re-encode: {e}\n{req:?}"),
    };
    // Bytes after the body are ignored on decode (as Kafka does) and not re-encoded,
    // so only the header and body must survive.
    match decode_request(&wire.slice(4..)) {
        Ok(again) if again.header == req.header && again.body == req.body => Outcome::Decoded,
        Ok(again) => panic!("request changed through re-encoding:\n{req:?}\n{again:?}"),
        Err(e) => panic!("re-encoded request does not decode: {e}"),
    }
}

/// Decodes `data[2..]` as a response frame (no size prefix) of the API picked by
/// `data[0]` at the version picked by `data[1]`; checks it as [`request_frame`] does.
pub fn response_frame(data: &[u8]) -> Outcome {
    let [k, v, rest @ ..] = data else {
        return Outcome::Rejected;
    };
    let key = ApiKey::ALL[usize::from(*k) % ApiKey::ALL.len()];
    let span = (key.max_version() - key.min_version() + 1) as u8;
    let version = key.min_version() + i16::from(*v % span);
    let frame = Bytes::copy_from_slice(rest);
    let Ok((header, body)) = decode_response(&frame, key, version) else {
        return Outcome::Rejected;
    };
    let wire = match encode_response(header.correlation_id, version, &body) {
        Ok(w) => w,
        Err(e) => panic!("decoded response does not re-encode: {e}\n{body:?}"),
    };
    match decode_response(&wire.slice(4..), key, version) {
        Ok((_, again)) if again == body => Outcome::Decoded,
        Ok((_, again)) => panic!("response changed through re-encoding:\n{body:?}\n{again:?}"),
        Err(e) => panic!("re-encoded response does not decode: {e}"),
    }
}
