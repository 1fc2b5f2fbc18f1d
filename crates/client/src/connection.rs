//! One TCP connection to one broker: framing, correlation ids, pipelined
//! requests (responses matched by correlation id), request timeouts, and the
//! ApiVersions handshake that fixes the version of every later request. With
//! `security.protocol` set, TLS and the SASL login run first ([`crate::security`]),
//! bounded together by the connection setup timeout.
//!
//! A Produce request is written as parts ([`request_parts`]): the encoded fields, and
//! each record batch from the buffer the producer built it in, with vectored writes,
//! so the batches are not copied into a request buffer first.

use crate::api::ApiRequest;
use crate::config::ClientConfig;
use crate::error::{ClientError, Result};
use crate::kafka_error::code;
use crate::versions::{BrokerVersions, client_max};
use bytes::{Bytes, BytesMut};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{Notify, mpsc, oneshot};
use vltava_protocol::frame::{decode_response, encode_request, split_frame};
use vltava_protocol::frame_parts::{FramePart, encode_request_parts};
use vltava_protocol::messages::{ApiVersionsRequest, RequestHeader};
use vltava_protocol::{ApiKey, RequestBody, ResponseBody};

type Reply = oneshot::Sender<Result<ResponseBody>>;

struct Outgoing {
    correlation_id: i32,
    api_key: ApiKey,
    version: i16,
    /// The request frame, in order ([`request_parts`]).
    frame: Vec<Bytes>,
    /// `None` for requests the broker does not answer (Produce with acks=0).
    reply: Option<Reply>,
    written: Option<oneshot::Sender<()>>,
}

/// A request queued on a [`Connection`] whose answer is still to come.
#[derive(Debug)]
pub struct Queued<R> {
    rx: oneshot::Receiver<Result<ResponseBody>>,
    _request: std::marker::PhantomData<fn() -> R>,
}

/// A request queued on a [`Connection`] that gets no answer; resolves when written.
#[derive(Debug)]
pub struct Written(oneshot::Receiver<()>);

/// A connection to one broker. Cheap to share behind an `Arc`; requests from
/// many tasks are pipelined on it, written in the order they were queued.
#[derive(Debug)]
pub struct Connection {
    addr: String,
    client_id: String,
    tx: mpsc::Sender<Outgoing>,
    next_correlation: AtomicI32,
    versions: BrokerVersions,
    timeout: Duration,
    closed: Arc<AtomicBool>,
    shutdown: Arc<Notify>,
}

impl std::fmt::Debug for Outgoing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Outgoing({:?} v{} #{})",
            self.api_key, self.version, self.correlation_id
        )
    }
}

impl Connection {
    /// Connects to `addr` and negotiates API versions.
    pub async fn connect(addr: &str, cfg: &ClientConfig) -> Result<Connection> {
        let stream = tokio::time::timeout(cfg.connect_timeout, TcpStream::connect(addr))
            .await
            .map_err(|_| ClientError::Timeout(format!("connecting to {addr}")))?
            .map_err(|source| ClientError::Io {
                addr: addr.to_string(),
                source,
            })?;
        let _ = stream.set_nodelay(true);
        let (tx, rx) = mpsc::channel(cfg.max_queued_requests.max(1));
        let closed = Arc::new(AtomicBool::new(false));
        let shutdown = Arc::new(Notify::new());
        let sec = &cfg.security;
        if sec.is_plaintext() {
            let (rd, wr) = stream.into_split();
            tokio::spawn(io_loop(
                rd,
                wr,
                rx,
                addr.to_string(),
                cfg.max_response_bytes,
                closed.clone(),
                shutdown.clone(),
            ));
        } else {
            let s = tokio::time::timeout(
                cfg.connect_timeout,
                sec.secure(stream, addr, &cfg.client_id),
            )
            .await
            .map_err(|_| ClientError::Timeout(format!("TLS/SASL setup with {addr}")))??;
            let (rd, wr) = tokio::io::split(s);
            tokio::spawn(io_loop(
                rd,
                wr,
                rx,
                addr.to_string(),
                cfg.max_response_bytes,
                closed.clone(),
                shutdown.clone(),
            ));
        }
        let mut conn = Connection {
            addr: addr.to_string(),
            client_id: cfg.client_id.clone(),
            tx,
            next_correlation: AtomicI32::new(1),
            versions: BrokerVersions::default(),
            timeout: cfg.request_timeout,
            closed,
            shutdown,
        };
        conn.versions = conn.negotiate().await?;
        Ok(conn)
    }

    /// ApiVersions at the client's newest version; a broker that does not know
    /// it answers UNSUPPORTED_VERSION with its own ApiVersions range (at v0),
    /// and the request is repeated at the highest version both sides know, as
    /// librdkafka and the Java client do.
    async fn negotiate(&self) -> Result<BrokerVersions> {
        let mut version = client_max(ApiKey::ApiVersions);
        for _ in 0..3 {
            let req = ApiVersionsRequest {
                client_software_name: "vltava-client".into(),
                client_software_version: env!("CARGO_PKG_VERSION").into(),
                ..Default::default()
            };
            let resp = self.send_at(req, version).await?;
            if resp.error_code == code::UNSUPPORTED_VERSION {
                let theirs = BrokerVersions::from_response(&resp)
                    .range(ApiKey::ApiVersions)
                    .map(|(_, max)| max)
                    .unwrap_or(0);
                let next = theirs.min(version - 1).max(0);
                if next == version {
                    break;
                }
                version = next;
                continue;
            }
            crate::error::check(
                resp.error_code,
                || format!("ApiVersions to {}", self.addr),
                None,
            )?;
            return Ok(BrokerVersions::from_response(&resp));
        }
        Err(ClientError::Protocol(format!(
            "{} rejects every ApiVersions version",
            self.addr
        )))
    }

    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// The ranges the broker advertised.
    pub fn versions(&self) -> &BrokerVersions {
        &self.versions
    }

    /// The version requests of `api` are sent at on this connection.
    pub fn version(&self, api: ApiKey) -> Result<i16> {
        self.versions.pick(api)
    }

    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// Sends `req` at the negotiated version and waits for its response.
    pub async fn send<R: ApiRequest>(&self, req: R) -> Result<R::Response> {
        let v = self.version(R::KEY)?;
        self.send_at(req, v).await
    }

    /// Sends `req` at an explicit version.
    pub async fn send_at<R: ApiRequest>(&self, req: R, version: i16) -> Result<R::Response> {
        let queued = self.queue_at(req, version).await?;
        self.response(queued).await
    }

    /// Queues `req` at the negotiated version: once this returns, its place in
    /// the connection's pipeline is fixed (requests queued later are written
    /// after it), so a caller that queues in order sends in order. Await the
    /// answer with [`Connection::response`].
    pub async fn queue<R: ApiRequest>(&self, req: R) -> Result<Queued<R>> {
        let v = self.version(R::KEY)?;
        self.queue_at(req, v).await
    }

    async fn queue_at<R: ApiRequest>(&self, req: R, version: i16) -> Result<Queued<R>> {
        let rx = self.enqueue(req.into(), R::KEY, version, true).await?;
        let rx = rx.ok_or_else(|| ClientError::Protocol("no reply channel".into()))?;
        Ok(Queued {
            rx,
            _request: std::marker::PhantomData,
        })
    }

    /// Waits for the answer to a request queued on this connection, up to the
    /// request timeout (after which the connection is closed, as the Java
    /// client does).
    pub async fn response<R: ApiRequest>(&self, queued: Queued<R>) -> Result<R::Response> {
        let body = match tokio::time::timeout(self.timeout, queued.rx).await {
            Ok(Ok(r)) => r?,
            Ok(Err(_)) => return Err(ClientError::Disconnected(self.addr.clone())),
            Err(_) => {
                self.close();
                return Err(ClientError::Timeout(format!(
                    "{:?} to {} after {:?}",
                    R::KEY,
                    self.addr,
                    self.timeout
                )));
            }
        };
        R::take(body)
            .ok_or_else(|| ClientError::Protocol(format!("unexpected response to {:?}", R::KEY)))
    }

    /// Sends an already built request `body` at `version` and waits (up to the request
    /// timeout) for its answer, whatever its API (for callers that relay requests, as a
    /// broker's inter-broker requests).
    pub async fn send_body(&self, body: RequestBody, version: i16) -> Result<ResponseBody> {
        let api_key = body.api_key();
        let rx = self
            .enqueue(body, api_key, version, true)
            .await?
            .ok_or_else(|| ClientError::Protocol("no reply channel".into()))?;
        match tokio::time::timeout(self.timeout, rx).await {
            Ok(Ok(r)) => r,
            Ok(Err(_)) => Err(ClientError::Disconnected(self.addr.clone())),
            Err(_) => {
                self.close();
                Err(ClientError::Timeout(format!(
                    "{api_key:?} to {} after {:?}",
                    self.addr, self.timeout
                )))
            }
        }
    }

    /// Sends a request the broker will not answer (Produce with acks=0);
    /// returns once it is written to the socket.
    pub async fn send_no_response<R: ApiRequest>(&self, req: R) -> Result<()> {
        let written = self.queue_no_response(req).await?;
        self.written(written).await
    }

    /// Queues a request the broker will not answer (its place in the pipeline
    /// fixed as with [`Connection::queue`]); [`Connection::written`] waits
    /// until it is on the socket.
    pub async fn queue_no_response<R: ApiRequest>(&self, req: R) -> Result<Written> {
        let v = self.version(R::KEY)?;
        let (wtx, wrx) = oneshot::channel();
        self.enqueue_with(req.into(), R::KEY, v, false, Some(wtx))
            .await?;
        Ok(Written(wrx))
    }

    /// Waits until a request queued with [`Connection::queue_no_response`] is
    /// written, up to the request timeout.
    pub async fn written(&self, written: Written) -> Result<()> {
        tokio::time::timeout(self.timeout, written.0)
            .await
            .map_err(|_| ClientError::Timeout(format!("writing to {}", self.addr)))?
            .map_err(|_| ClientError::Disconnected(self.addr.clone()))
    }

    async fn enqueue(
        &self,
        body: RequestBody,
        api_key: ApiKey,
        version: i16,
        expect_reply: bool,
    ) -> Result<Option<oneshot::Receiver<Result<ResponseBody>>>> {
        self.enqueue_with(body, api_key, version, expect_reply, None)
            .await
    }

    async fn enqueue_with(
        &self,
        body: RequestBody,
        api_key: ApiKey,
        version: i16,
        expect_reply: bool,
        written: Option<oneshot::Sender<()>>,
    ) -> Result<Option<oneshot::Receiver<Result<ResponseBody>>>> {
        if self.is_closed() {
            return Err(ClientError::Disconnected(self.addr.clone()));
        }
        let correlation_id = self.next_correlation.fetch_add(1, Ordering::Relaxed) & i32::MAX;
        let header = RequestHeader {
            request_api_key: api_key.as_i16(),
            request_api_version: version,
            correlation_id,
            client_id: Some(self.client_id.as_str().into()),
            ..Default::default()
        };
        let frame = request_parts(&header, &body)
            .map_err(|e| ClientError::Protocol(format!("encoding {api_key:?} v{version}: {e}")))?;
        let (reply, rx) = if expect_reply {
            let (t, r) = oneshot::channel();
            (Some(t), Some(r))
        } else {
            (None, None)
        };
        self.tx
            .send(Outgoing {
                correlation_id,
                api_key,
                version,
                frame,
                reply,
                written,
            })
            .await
            .map_err(|_| ClientError::Disconnected(self.addr.clone()))?;
        Ok(rx)
    }

    /// Closes the connection; outstanding requests fail with `Disconnected`.
    pub fn close(&self) {
        self.closed.store(true, Ordering::Release);
        self.shutdown.notify_one();
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.close();
    }
}

/// Every non-empty bytes field of a Produce request: its record batches.
fn any_bytes(v: &[u8]) -> bool {
    !v.is_empty()
}

/// A request's frame, in parts to write one after the other: for a Produce, the
/// encoded fields around each record batch, which is sent from its own buffer (not
/// copied); any other request, encoded whole.
fn request_parts(
    header: &RequestHeader,
    body: &RequestBody,
) -> std::result::Result<Vec<Bytes>, vltava_protocol::EncodeError> {
    let RequestBody::Produce(produce) = body else {
        return Ok(vec![encode_request(header, body)?]);
    };
    let records: Vec<&Bytes> = produce
        .topic_data
        .iter()
        .flat_map(|t| t.partition_data.iter().filter_map(|p| p.records.as_ref()))
        .collect();
    let Ok(frame) = encode_request_parts(header, body, any_bytes) else {
        return Ok(vec![encode_request(header, body)?]);
    };
    let mut parts = Vec::with_capacity(frame.parts.len());
    for part in frame.parts {
        match part {
            FramePart::Bytes(b) => parts.push(b),
            FramePart::External { addr, len } => {
                let batch = records
                    .iter()
                    .find(|r| r.as_ptr() as usize == addr && r.len() == len);
                match batch {
                    Some(b) => parts.push(Bytes::clone(b)),
                    // A bytes field that is not a batch (an unknown tagged field):
                    // encode the frame whole instead.
                    None => return Ok(vec![encode_request(header, body)?]),
                }
            }
        }
    }
    Ok(parts)
}

/// Writes every byte of `parts`, in order, with vectored writes.
async fn write_parts<W>(wr: &mut W, parts: &[Bytes]) -> std::io::Result<()>
where
    W: tokio::io::AsyncWrite + Unpin,
{
    /// Slices handed to one write.
    const MAX_SLICES: usize = 64;
    let mut first = 0;
    let mut skip = 0; // bytes of parts[first] already written
    while first < parts.len() {
        let end = parts.len().min(first + MAX_SLICES);
        let slices: Vec<std::io::IoSlice<'_>> = parts[first..end]
            .iter()
            .enumerate()
            .map(|(i, p)| std::io::IoSlice::new(if i == 0 { &p[skip..] } else { p }))
            .collect();
        let mut n = wr.write_vectored(&slices).await?;
        if n == 0 && slices.iter().any(|s| !s.is_empty()) {
            return Err(std::io::ErrorKind::WriteZero.into());
        }
        while first < parts.len() {
            let left = parts[first].len() - skip;
            if n < left {
                skip += n;
                break;
            }
            n -= left;
            first += 1;
            skip = 0;
        }
    }
    Ok(())
}

// Long, and kept whole: one select loop over the connection's three events (shutdown,
// a request to write, bytes read), each arm a few lines; the pending replies are its state.
async fn io_loop<R, W>(
    mut rd: R,
    mut wr: W,
    mut rx: mpsc::Receiver<Outgoing>,
    addr: String,
    max_frame: usize,
    closed: Arc<AtomicBool>,
    shutdown: Arc<Notify>,
) where
    R: tokio::io::AsyncRead + Unpin,
    W: tokio::io::AsyncWrite + Unpin,
{
    let mut pending: HashMap<i32, (ApiKey, i16, Reply)> = HashMap::new();
    let mut buf = BytesMut::with_capacity(64 * 1024);
    let err = loop {
        tokio::select! {
            _ = shutdown.notified() => break ClientError::Disconnected(addr.clone()),
            out = rx.recv() => {
                let Some(out) = out else { break ClientError::Disconnected(addr.clone()) };
                if let Some(reply) = out.reply {
                    pending.insert(out.correlation_id, (out.api_key, out.version, reply));
                }
                if let Err(source) = write_parts(&mut wr, &out.frame).await {
                    break ClientError::Io { addr: addr.clone(), source };
                }
                // TLS holds written bytes until flushed; TCP's flush does nothing.
                if let Err(source) = wr.flush().await {
                    break ClientError::Io { addr: addr.clone(), source };
                }
                if let Some(w) = out.written {
                    let _ = w.send(());
                }
            }
            n = rd.read_buf(&mut buf) => {
                match n {
                    Ok(0) => break ClientError::Disconnected(addr.clone()),
                    Err(source) => break ClientError::Io { addr: addr.clone(), source },
                    Ok(_) => {}
                }
                let mut broken = None;
                loop {
                    match split_frame(&mut buf, max_frame) {
                        Ok(Some(frame)) => {
                            if frame.len() < 4 {
                                broken = Some(ClientError::Protocol("short response frame".into()));
                                break;
                            }
                            let cid = i32::from_be_bytes([frame[0], frame[1], frame[2], frame[3]]);
                            let Some((api, v, reply)) = pending.remove(&cid) else {
                                broken = Some(ClientError::Protocol(format!("response for unknown correlation id {cid}")));
                                break;
                            };
                            // A broker that does not know our ApiVersions version answers at v0.
                            let r = decode_response(&frame, api, v)
                                .or_else(|e| if api == ApiKey::ApiVersions && v > 0 { decode_response(&frame, api, 0) } else { Err(e) })
                                .map(|(_, body)| body)
                                .map_err(|e| ClientError::Protocol(format!("decoding {api:?} v{v} response: {e}")));
                            let _ = reply.send(r);
                        }
                        Ok(None) => break,
                        Err(e) => {
                            broken = Some(ClientError::Protocol(format!("bad frame: {e}")));
                            break;
                        }
                    }
                }
                if let Some(e) = broken {
                    break e;
                }
            }
        }
    };
    closed.store(true, Ordering::Release);
    let msg = err.to_string();
    for (_, (_, _, reply)) in pending.drain() {
        let _ = reply.send(Err(ClientError::Disconnected(format!("{addr}: {msg}"))));
    }
    rx.close();
    while let Ok(out) = rx.try_recv() {
        if let Some(reply) = out.reply {
            let _ = reply.send(Err(ClientError::Disconnected(addr.clone())));
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::pin::Pin;
    use std::task::{Context, Poll};

    use super::*;
    use vltava_protocol::messages::ProduceRequest;
    use vltava_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};

    fn produce(partitions: &[(i32, Option<Bytes>)]) -> RequestBody {
        RequestBody::from(ProduceRequest {
            acks: -1,
            timeout_ms: 30_000,
            topic_data: vec![
                TopicProduceData {
                    name: "alpha".into(),
                    partition_data: partitions
                        .iter()
                        .map(|(index, records)| PartitionProduceData {
                            index: *index,
                            records: records.clone(),
                            ..Default::default()
                        })
                        .collect(),
                    ..Default::default()
                },
                TopicProduceData {
                    name: "beta".into(),
                    partition_data: vec![PartitionProduceData {
                        index: 7,
                        records: Some(Bytes::from(vec![9u8; 300])),
                        ..Default::default()
                    }],
                    ..Default::default()
                },
            ],
            ..Default::default()
        })
    }

    /// A Produce in parts is the contiguous encoding byte for byte, its batches sent
    /// from their own buffers.
    #[test]
    fn produce_parts_equal_the_contiguous_frame() {
        let a = Bytes::from((0..2000u32).map(|i| i as u8).collect::<Vec<u8>>());
        let b = Bytes::from_static(b"a small batch");
        let body = produce(&[
            (0, Some(a.clone())),
            (1, None),
            (2, Some(Bytes::new())),
            (3, Some(b.clone())),
        ]);
        for version in [3, 8, 9, 11] {
            let header = RequestHeader {
                request_api_key: ApiKey::Produce.as_i16(),
                request_api_version: version,
                correlation_id: 12,
                client_id: Some("me".into()),
                ..Default::default()
            };
            let parts = request_parts(&header, &body).unwrap();
            assert_eq!(
                parts.concat(),
                encode_request(&header, &body).unwrap().to_vec()
            );
            assert!(
                parts.iter().any(|p| p.as_ptr() == a.as_ptr()),
                "v{version}: batch not copied"
            );
            assert!(parts.iter().any(|p| p.as_ptr() == b.as_ptr()));
        }
        let other = RequestBody::from(ApiVersionsRequest::default());
        let header = RequestHeader {
            request_api_key: ApiKey::ApiVersions.as_i16(),
            request_api_version: 3,
            ..Default::default()
        };
        assert_eq!(request_parts(&header, &other).unwrap().len(), 1);
    }

    /// Takes at most `step` bytes per write, from at most two slices.
    struct Trickle {
        out: Vec<u8>,
        step: usize,
    }

    impl tokio::io::AsyncWrite for Trickle {
        fn poll_write(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
            buf: &[u8],
        ) -> Poll<std::io::Result<usize>> {
            let n = buf.len().min(self.step);
            self.out.extend_from_slice(&buf[..n]);
            Poll::Ready(Ok(n))
        }
        fn poll_write_vectored(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
            bufs: &[std::io::IoSlice<'_>],
        ) -> Poll<std::io::Result<usize>> {
            let mut budget = self.step;
            let mut n = 0;
            for b in bufs.iter().take(2) {
                let take = b.len().min(budget);
                self.out.extend_from_slice(&b[..take]);
                n += take;
                budget -= take;
                if take < b.len() {
                    break;
                }
            }
            Poll::Ready(Ok(n))
        }
        fn is_write_vectored(&self) -> bool {
            true
        }
        fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
            Poll::Ready(Ok(()))
        }
        fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
            Poll::Ready(Ok(()))
        }
    }

    #[tokio::test]
    async fn short_vectored_writes_send_every_part_in_order() {
        let parts: Vec<Bytes> = (0..150u32)
            .map(|i| Bytes::from(vec![i as u8; (i % 13) as usize]))
            .collect();
        for step in [1, 5, 64, 10_000] {
            let mut w = Trickle {
                out: Vec::new(),
                step,
            };
            write_parts(&mut w, &parts).await.unwrap();
            assert_eq!(w.out, parts.concat(), "step {step}");
        }
    }
}
