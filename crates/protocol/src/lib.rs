//! Kafka's wire protocol: every request and response of every API key and
//! version, the request/response headers, framing, and the metadata-log and
//! coordinator records, as Rust types generated from Kafka's JSON schemas.
//!
//! Decoding runs over a `Bytes` buffer with nom and never panics; strings,
//! bytes and record sets in decoded messages share that buffer. Encoding writes
//! into `BytesMut` and `encoded_len` gives the exact size first.

pub mod codec;
pub mod frame;
pub mod frame_parts;
pub mod fuzz_support;
#[allow(clippy::all, unused_imports, unused_variables, unused_mut)]
pub mod generated;
pub mod internal_topics;
#[cfg(feature = "testing")]
pub mod testing;

pub use codec::{
    Decode, DecodeError, Encode, EncodeError, Message, RawTaggedField, SharedStr, Uuid,
};
pub use generated::api::{ApiKey, Listeners, Request, RequestBody, Response, ResponseBody};
pub use generated::{coordinator, error_codes, messages, metadata};

/// Every generated schema with a round-trip check, for property tests.
#[cfg(feature = "testing")]
pub use generated::schemas::SCHEMAS;

#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
