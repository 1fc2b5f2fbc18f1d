//! One client connection: cuts frames off the socket (bounded by
//! `socket.request.max.bytes`), runs requests concurrently but answers them in
//! the order they arrived, bounds pipelined requests per connection, closes the
//! connection after `connections.max.idle.ms` without a request, and closes it
//! (only it) on a broken frame.

use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use vltava_protocol::frame::{decode_request, encode_response, peek_request, split_frame};
use vltava_protocol::{ApiKey, ResponseBody};

use crate::broker::Broker;
use crate::dispatch::{Unanswered, dispatch};
use crate::handlers::api_versions;

/// Per-connection limits.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    /// `socket.request.max.bytes`
    pub max_frame: usize,
    /// `connections.max.idle.ms`
    pub idle: Duration,
    /// Requests read but not yet answered.
    pub max_in_flight: usize,
}

/// Bytes read from the socket per read call.
const READ_CHUNK: usize = 64 * 1024;

type Reply = JoinHandle<Result<Option<ResponseBody>, Unanswered>>;

enum Pending {
    /// A running request: its correlation id, version and result.
    Running(i32, i16, Reply),
    /// An immediate answer.
    Ready(i32, i16, Box<ResponseBody>),
}

/// Why a connection ended.
#[derive(Debug, thiserror::Error)]
pub enum ConnectionEnd {
    #[error("client closed the connection")]
    Closed,
    #[error("idle for longer than connections.max.idle.ms")]
    Idle,
    #[error("broken frame: {0}")]
    BadFrame(String),
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
}

/// Serves one connection until it closes or breaks.
pub async fn serve(
    stream: TcpStream,
    broker: Arc<Broker>,
    limits: ConnectionLimits,
) -> ConnectionEnd {
    let peer = stream
        .peer_addr()
        .map(|a| a.ip().to_string())
        .unwrap_or_default();
    let _ = stream.set_nodelay(true);
    let (mut rd, mut wr) = stream.into_split();
    let (tx, mut rx) = mpsc::channel::<Pending>(limits.max_in_flight.max(1));
    let writer = tokio::spawn(async move {
        while let Some(p) = rx.recv().await {
            let (corr, version, body) = match p {
                Pending::Ready(c, v, b) => (c, v, *b),
                Pending::Running(c, v, h) => match h.await {
                    Ok(Ok(Some(b))) => (c, v, b),
                    Ok(Ok(None)) => continue,
                    Ok(Err(e)) => {
                        tracing::warn!(error = %e, "closing connection");
                        return;
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "request handler failed");
                        return;
                    }
                },
            };
            let frame = match encode_response(corr, version, &body) {
                Ok(f) => f,
                Err(e) => {
                    tracing::error!(error = %e, api = ?body.api_key(), version, "cannot encode response");
                    return;
                }
            };
            if wr.write_all(&frame).await.is_err() {
                return;
            }
        }
    });
    let mut buf = BytesMut::with_capacity(READ_CHUNK);
    let end = loop {
        // Serve every whole frame already buffered.
        let frame = match split_frame(&mut buf, limits.max_frame) {
            Ok(Some(f)) => f,
            Ok(None) => {
                buf.reserve(READ_CHUNK);
                match tokio::time::timeout(limits.idle, rd.read_buf(&mut buf)).await {
                    Err(_) => break ConnectionEnd::Idle,
                    Ok(Ok(0)) => break ConnectionEnd::Closed,
                    Ok(Ok(_)) => continue,
                    Ok(Err(e)) => break ConnectionEnd::Io(e),
                }
            }
            Err(e) => break ConnectionEnd::BadFrame(e.to_string()),
        };
        let prefix = match peek_request(&frame) {
            Ok(p) => p,
            Err(e) => break ConnectionEnd::BadFrame(e.to_string()),
        };
        let Some(key) = ApiKey::from_i16(prefix.api_key) else {
            break ConnectionEnd::BadFrame(format!("unknown api key {}", prefix.api_key));
        };
        if key == ApiKey::ApiVersions && !api_versions::is_supported(key, prefix.api_version) {
            let body = api_versions::unsupported_version_response();
            if tx
                .send(Pending::Ready(prefix.correlation_id, 0, Box::new(body)))
                .await
                .is_err()
            {
                break ConnectionEnd::Closed;
            }
            continue;
        }
        if !api_versions::is_supported(key, prefix.api_version) {
            break ConnectionEnd::BadFrame(format!(
                "{} v{} is not supported",
                key.name(),
                prefix.api_version
            ));
        }
        let decoded = decode_request(&frame);
        let request = match decoded {
            Ok(r) => r,
            Err(e) => {
                let head: String = frame.iter().take(96).map(|b| format!("{b:02x}")).collect();
                break ConnectionEnd::BadFrame(format!(
                    "{} v{}: {e} (frame of {} bytes starts {head})",
                    key.name(),
                    prefix.api_version,
                    frame.len()
                ));
            }
        };
        let handle = tokio::spawn(dispatch(broker.clone(), request, peer.clone()));
        if tx
            .send(Pending::Running(
                prefix.correlation_id,
                prefix.api_version,
                handle,
            ))
            .await
            .is_err()
        {
            break ConnectionEnd::Closed;
        }
    };
    // Let requests already read finish and be answered, except after a broken
    // frame or idle timeout, where the connection is simply closed.
    drop(tx);
    match end {
        ConnectionEnd::Closed => {
            let _ = writer.await;
        }
        _ => writer.abort(),
    }
    end
}
