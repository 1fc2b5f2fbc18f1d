//! One client connection: cuts frames off the socket (bounded by
//! `socket.request.max.bytes`), runs its requests **one at a time, in arrival
//! order** (as Kafka does: the effects of request N, appends, producer state,
//! group and transaction state, are complete before request N+1 starts), answers
//! them in that order, bounds the requests read but not yet answered
//! (`queued.max.requests`), closes the connection after
//! `connections.max.idle.ms` without a request, and closes it (only it) on a
//! broken frame.
//!
//! Three tasks share the work: the reader (this function) reads ahead and
//! decodes; the executor runs each decoded request to completion before it takes
//! the next; the writer encodes and sends responses, so the next request runs
//! while the previous answer is being written. Parallelism comes from
//! connections and partitions, never from reordering one connection's requests.

use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::net::tcp::OwnedWriteHalf;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};
use vltava_protocol::frame::{Request, decode_request, encode_response, peek_request, split_frame};
use vltava_protocol::{ApiKey, ResponseBody};

use crate::broker::Broker;
use crate::dispatch::dispatch;
use crate::handlers::api_versions;

/// Per-connection limits.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    /// `socket.request.max.bytes`
    pub max_frame: usize,
    /// `connections.max.idle.ms`
    pub idle: Duration,
    /// Requests read but not yet answered (`queued.max.requests`).
    pub max_in_flight: usize,
}

/// Bytes read from the socket per read call.
const READ_CHUNK: usize = 64 * 1024;

/// What the reader hands the executor. Each item holds one of the connection's
/// `max_in_flight` permits until its answer is written (or it has none).
enum Queued {
    /// A decoded request to run.
    Run(i32, i16, Box<Request>, OwnedSemaphorePermit),
    /// An answer known without running anything.
    Ready(i32, i16, Box<ResponseBody>, OwnedSemaphorePermit),
}

/// An answer on its way to the socket.
struct Answer(i32, i16, Box<ResponseBody>, OwnedSemaphorePermit);

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

/// Runs the connection's requests one after another, in the order read.
async fn execute(
    broker: Arc<Broker>,
    peer: String,
    mut queued: mpsc::UnboundedReceiver<Queued>,
    answers: mpsc::UnboundedSender<Answer>,
) {
    while let Some(item) = queued.recv().await {
        let answer = match item {
            Queued::Ready(c, v, b, permit) => Answer(c, v, b, permit),
            Queued::Run(c, v, request, permit) => {
                // Its own task, so a panicking handler ends this connection with
                // a log line instead of taking the executor down silently; it is
                // awaited before the next request starts.
                let run = tokio::spawn(dispatch(broker.clone(), *request, peer.clone()));
                match run.await {
                    Ok(Ok(Some(body))) => Answer(c, v, Box::new(body), permit),
                    // acks=0: nothing to send; the permit is released here.
                    Ok(Ok(None)) => continue,
                    Ok(Err(e)) => {
                        tracing::warn!(error = %e, "closing connection");
                        return;
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "request handler failed; closing connection");
                        return;
                    }
                }
            }
        };
        if answers.send(answer).is_err() {
            return;
        }
    }
}

/// Writes answers in the order the executor produced them.
async fn write_answers(mut wr: OwnedWriteHalf, mut answers: mpsc::UnboundedReceiver<Answer>) {
    while let Some(Answer(corr, version, body, permit)) = answers.recv().await {
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
        drop(permit);
    }
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
    let (mut rd, wr) = stream.into_split();
    // The permits bound requests read but not answered; both channels are
    // therefore bounded by them.
    let permits = Arc::new(Semaphore::new(limits.max_in_flight.max(1)));
    let (queue, queued) = mpsc::unbounded_channel::<Queued>();
    let (answer_tx, answer_rx) = mpsc::unbounded_channel::<Answer>();
    let executor = tokio::spawn(execute(broker, peer, queued, answer_tx));
    let writer = tokio::spawn(write_answers(wr, answer_rx));
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
        let queued = if key == ApiKey::ApiVersions
            && !api_versions::is_supported(key, prefix.api_version)
        {
            let body = api_versions::unsupported_version_response();
            let Ok(permit) = permits.clone().acquire_owned().await else {
                break ConnectionEnd::Closed;
            };
            Queued::Ready(prefix.correlation_id, 0, Box::new(body), permit)
        } else {
            if !api_versions::is_supported(key, prefix.api_version) {
                break ConnectionEnd::BadFrame(format!(
                    "{} v{} is not supported",
                    key.name(),
                    prefix.api_version
                ));
            }
            let request = match decode_request(&frame) {
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
            // Wait for a free slot: at most `max_in_flight` requests are read
            // and not yet answered.
            let Ok(permit) = permits.clone().acquire_owned().await else {
                break ConnectionEnd::Closed;
            };
            Queued::Run(
                prefix.correlation_id,
                prefix.api_version,
                Box::new(request),
                permit,
            )
        };
        if queue.send(queued).is_err() {
            // The executor or the writer stopped (handler error, socket gone).
            break ConnectionEnd::Closed;
        }
    };
    // Let requests already read finish and be answered, except after a broken
    // frame or idle timeout, where the connection is simply closed: requests
    // read but not started then never take effect.
    drop(queue);
    match end {
        ConnectionEnd::Closed => {
            let _ = executor.await;
            let _ = writer.await;
        }
        _ => {
            executor.abort();
            writer.abort();
        }
    }
    end
}
