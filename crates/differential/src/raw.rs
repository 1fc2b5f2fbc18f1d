//! One request of any API, as a [`RequestBody`], sent on a connection of its own and
//! answered as a [`ResponseBody`] — or the reason there was no answer (the broker closed
//! the connection, or said nothing in time), which is itself part of what is compared.

use std::time::Duration;

use bytes::Bytes;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use vltava_protocol::frame::{decode_response, encode_request};
use vltava_protocol::messages::RequestHeader;
use vltava_protocol::{RequestBody, ResponseBody};

/// How long a broker may take to answer one request.
const ANSWER_TIME: Duration = Duration::from_secs(5);

/// Largest answer read (a bigger size prefix is reported, not allocated).
const MAX_ANSWER: usize = 64 << 20;

/// Why a request got no decodable answer (the broker's words left out: they are compared).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NoAnswer {
    /// Connecting or writing failed.
    Unreachable(String),
    /// The request does not encode at this version (a bug in the caller).
    Encode(String),
    /// The broker closed the connection instead of answering.
    Closed,
    /// Nothing came within [`ANSWER_TIME`].
    Silent,
    /// The answer's frame did not decode at the request's version.
    Undecodable(String),
    /// The answer carried another correlation id or API.
    Mismatched(String),
}

impl std::fmt::Display for NoAnswer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NoAnswer::Unreachable(e) => write!(f, "unreachable: {e}"),
            NoAnswer::Encode(e) => write!(f, "request does not encode: {e}"),
            NoAnswer::Closed => write!(f, "connection closed without an answer"),
            NoAnswer::Silent => write!(f, "no answer within {ANSWER_TIME:?}"),
            NoAnswer::Undecodable(e) => write!(f, "answer does not decode: {e}"),
            NoAnswer::Mismatched(e) => write!(f, "answer mismatched: {e}"),
        }
    }
}

/// Sends `body` at `version` to `addr` on a new connection and reads its answer.
pub async fn exchange(
    addr: &str,
    version: i16,
    body: &RequestBody,
) -> Result<ResponseBody, NoAnswer> {
    let key = body.api_key();
    let correlation_id = 7;
    let header = RequestHeader {
        request_api_key: key.as_i16(),
        request_api_version: version,
        correlation_id,
        client_id: Some("vltava-differential".into()),
        ..Default::default()
    };
    let wire = encode_request(&header, body).map_err(|e| NoAnswer::Encode(e.to_string()))?;
    let mut stream = TcpStream::connect(addr)
        .await
        .map_err(|e| NoAnswer::Unreachable(e.to_string()))?;
    stream
        .write_all(&wire)
        .await
        .map_err(|e| NoAnswer::Unreachable(e.to_string()))?;
    let frame = tokio::time::timeout(ANSWER_TIME, read_frame(&mut stream))
        .await
        .map_err(|_| NoAnswer::Silent)??;
    let (h, resp) = decode_response(&Bytes::from(frame), key, version)
        .map_err(|e| NoAnswer::Undecodable(e.to_string()))?;
    if h.correlation_id != correlation_id || resp.api_key() != key {
        return Err(NoAnswer::Mismatched(format!(
            "correlation id {} as {:?}",
            h.correlation_id,
            resp.api_key()
        )));
    }
    Ok(resp)
}

async fn read_frame(stream: &mut TcpStream) -> Result<Vec<u8>, NoAnswer> {
    let mut len = [0u8; 4];
    stream
        .read_exact(&mut len)
        .await
        .map_err(|_| NoAnswer::Closed)?;
    let size = usize::try_from(u32::from_be_bytes(len)).unwrap_or(usize::MAX);
    if size > MAX_ANSWER {
        return Err(NoAnswer::Undecodable(format!("frame of {size} bytes")));
    }
    let mut buf = vec![0u8; size];
    stream
        .read_exact(&mut buf)
        .await
        .map_err(|_| NoAnswer::Closed)?;
    Ok(buf)
}
