//! [`RpcClient`]: sends Kafka requests to a voter's controller listener and waits for the
//! answer. Idle connections are pooled per address (at most [`MAX_IDLE_PER_PEER`]); a request
//! takes one connection to itself, so concurrent requests never wait on each other's answers.
//! Every call is bounded by a connect and an overall time limit. New connections are secured
//! (TLS, SASL login) by the controller listener's [`LinkSecurity`] before the first request.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use vltava_protocol::frame::{decode_response, encode_request};
use vltava_protocol::messages::RequestHeader;
use vltava_protocol::{RequestBody, ResponseBody};

use super::MAX_RPC_FRAME;
use crate::link_security::{self, BoxedStream, LinkSecurity};

/// Idle connections kept per voter.
pub const MAX_IDLE_PER_PEER: usize = 8;
/// Longest wait for a connection to a voter.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// Why a controller-channel call failed.
#[derive(Debug, thiserror::Error)]
pub enum RpcError {
    #[error("controller channel to {addr}: {source}")]
    Io {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("controller channel to {0}: no answer in time")]
    Timeout(SocketAddr),
    #[error("controller channel to {addr}: {reason}")]
    Protocol { addr: SocketAddr, reason: String },
    #[error("controller channel to {addr}: {source}")]
    Secure {
        addr: SocketAddr,
        #[source]
        source: link_security::LinkError,
    },
}

/// Pooled request/response connections to controller listeners.
pub struct RpcClient {
    client_id: String,
    next_correlation: AtomicI32,
    idle: Mutex<HashMap<SocketAddr, Vec<BoxedStream>>>,
    security: Arc<dyn LinkSecurity>,
}

impl std::fmt::Debug for RpcClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RpcClient")
            .field("client_id", &self.client_id)
            .field("security", &self.security)
            .finish_non_exhaustive()
    }
}

impl RpcClient {
    /// A client of PLAINTEXT controller listeners that names itself `client_id` in request
    /// headers.
    pub fn new(client_id: impl Into<String>) -> Self {
        Self::with_security(client_id, link_security::plaintext())
    }

    /// A client whose connections are secured by `security`.
    pub fn with_security(client_id: impl Into<String>, security: Arc<dyn LinkSecurity>) -> Self {
        RpcClient {
            client_id: client_id.into(),
            next_correlation: AtomicI32::new(1),
            idle: Mutex::new(HashMap::new()),
            security,
        }
    }

    /// Sends `body` at `version` to `addr` and returns the answer, within `timeout`.
    pub async fn call(
        &self,
        addr: SocketAddr,
        body: RequestBody,
        version: i16,
        timeout: Duration,
    ) -> Result<ResponseBody, RpcError> {
        match tokio::time::timeout(timeout, self.call_inner(addr, body, version)).await {
            Ok(r) => r,
            Err(_) => Err(RpcError::Timeout(addr)),
        }
    }

    async fn call_inner(
        &self,
        addr: SocketAddr,
        body: RequestBody,
        version: i16,
    ) -> Result<ResponseBody, RpcError> {
        let api_key = body.api_key();
        let correlation_id = self.next_correlation.fetch_add(1, Ordering::Relaxed);
        let header = RequestHeader {
            request_api_key: api_key.as_i16(),
            request_api_version: version,
            correlation_id,
            client_id: Some(self.client_id.as_str().into()),
            ..Default::default()
        };
        let frame = encode_request(&header, &body).map_err(|e| RpcError::Protocol {
            addr,
            reason: e.to_string(),
        })?;
        let io = |source| RpcError::Io { addr, source };
        let mut stream = match self.take_idle(addr) {
            Some(s) => s,
            None => link_security::connect(self.security.as_ref(), addr, CONNECT_TIMEOUT)
                .await
                .map_err(|source| RpcError::Secure { addr, source })?,
        };
        stream.write_all(&frame).await.map_err(io)?;
        stream.flush().await.map_err(io)?;
        let size = stream.read_i32().await.map_err(io)?;
        let len = usize::try_from(size)
            .ok()
            .filter(|l| *l <= MAX_RPC_FRAME)
            .ok_or_else(|| RpcError::Protocol {
                addr,
                reason: format!("bad response size {size}"),
            })?;
        let mut buf = vec![0u8; len];
        stream.read_exact(&mut buf).await.map_err(io)?;
        let (header, body) = decode_response(&Bytes::from(buf), api_key, version).map_err(|e| {
            RpcError::Protocol {
                addr,
                reason: e.to_string(),
            }
        })?;
        if header.correlation_id != correlation_id {
            return Err(RpcError::Protocol {
                addr,
                reason: "correlation id mismatch".into(),
            });
        }
        self.put_idle(addr, stream);
        Ok(body)
    }

    fn take_idle(&self, addr: SocketAddr) -> Option<BoxedStream> {
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        idle.get_mut(&addr).and_then(Vec::pop)
    }

    fn put_idle(&self, addr: SocketAddr, stream: BoxedStream) {
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        let list = idle.entry(addr).or_default();
        if list.len() < MAX_IDLE_PER_PEER {
            list.push(stream);
        }
    }
}
