//! One client connection: cuts frames off the socket (bounded by
//! `socket.request.max.bytes`), runs its requests **one at a time, in arrival
//! order** (as Kafka does: the effects of request N, appends, producer state,
//! group and transaction state, are complete before request N+1 starts), answers
//! them in that order (a Produce's acks=all wait for replication is not an
//! effect: request N+1 runs while N's records replicate, and N's answer still
//! goes first; Kafka instead holds the connection until N is answered, so
//! librdkafka's in-flight requests would each wait a whole replication round), bounds the requests read but not yet answered
//! (`queued.max.requests`, and [`READ_AHEAD_BYTES`] of frames), closes the connection after
//! `connections.max.idle.ms` without a request, and closes it (only it) on a
//! broken frame.
//!
//! On a SASL listener the connection first runs its authentication phase
//! ([`crate::sasl_phase`]): no request other than ApiVersions, SaslHandshake and
//! SaslAuthenticate is read before the client has authenticated, and the
//! [`Session`] every later request sees carries the authenticated principal. On
//! TLS listeners the stream is already decrypted here (see [`crate::server`]).
//!
//! Three tasks share the work: the reader (this function) reads ahead and
//! decodes; the executor runs each decoded request to completion before it takes
//! the next; the writer encodes and sends responses, so the next request runs
//! while the previous answer is being written. A Fetch answer's records go from
//! their segment files to the socket (`response_send`: `sendfile` on plaintext
//! connections, one copy on TLS ones); a frame is sent whole or the connection
//! closes. Parallelism comes from
//! connections and partitions, never from reordering one connection's requests.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::FutureExt;

use bytes::{BufMut, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};
use tokio_rustls::server::TlsStream;
use vltava_protocol::frame::{Request, decode_request, peek_request, split_frame};
use vltava_protocol::frame_parts::encode_response_parts;
use vltava_protocol::{ApiKey, RequestBody, ResponseBody, SharedStr};
use vltava_security::KafkaPrincipal;

use crate::broker::Broker;
use crate::dispatch::{Dispatched, dispatch_effects};
use crate::file_records;
use crate::handlers::{api_versions, mutation_quota};
use crate::quotas::RequestCost;
use crate::reauth::{Outcome, Reauth, SessionClock};
use crate::response_send::{Coalesced, ResponseSink};
use crate::server::ListenerContext;
use crate::session::Session;

/// A byte stream a connection is served over, split into halves the reader and the
/// writer own.
pub trait Transport: AsyncRead + AsyncWrite + Unpin + Send + 'static {
    type Read: AsyncRead + Unpin + Send + 'static;
    type Write: ResponseSink + 'static;
    fn split_io(self) -> (Self::Read, Self::Write);
}

impl Transport for TcpStream {
    type Read = OwnedReadHalf;
    type Write = OwnedWriteHalf;
    fn split_io(self) -> (OwnedReadHalf, OwnedWriteHalf) {
        self.into_split()
    }
}

impl Transport for TlsStream<TcpStream> {
    type Read = tokio::io::ReadHalf<Self>;
    type Write = tokio::io::WriteHalf<Self>;
    fn split_io(self) -> (Self::Read, Self::Write) {
        tokio::io::split(self)
    }
}

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

/// How many bytes the next socket read may take: the rest of a frame whose start is
/// buffered ([`split_frame`] has reserved room for all of it), else [`READ_CHUNK`].
/// A read never runs past the end of a frame still being read, so the start of the
/// next frame is not left in that frame's buffer, to be copied into a new one once
/// its size is known: a frame's bytes are copied at most once, and at most
/// [`READ_CHUNK`] of them (those read with the frames before it). After a frame
/// larger than [`READ_CHUNK`] the next frame's size is read alone, so a run of large
/// frames (a producer's) is read with no copy at all.
fn read_size(buf: &[u8]) -> usize {
    match buf.get(..4) {
        Some(&[a, b, c, d]) => {
            let total = 4 + u32::from_be_bytes([a, b, c, d]) as usize;
            if total > buf.len() {
                total - buf.len()
            } else {
                READ_CHUNK
            }
        }
        _ => READ_CHUNK,
    }
}

/// Bytes of request frames one connection may hold read but not yet answered
/// (a frame larger than this is still taken, alone).
const READ_AHEAD_BYTES: usize = 16 * 1024 * 1024;

/// A request's place among those read and not yet answered: one of the
/// connection's `queued.max.requests` and its frame's share of
/// [`READ_AHEAD_BYTES`]. Released when the answer is written (or not sent).
#[derive(Debug)]
struct Slot {
    _request: OwnedSemaphorePermit,
    _bytes: OwnedSemaphorePermit,
}

/// The two budgets every [`Slot`] draws on.
struct Budgets {
    requests: Arc<Semaphore>,
    bytes: Arc<Semaphore>,
}

impl Budgets {
    fn new(max_requests: usize) -> Self {
        Budgets {
            requests: Arc::new(Semaphore::new(max_requests.max(1))),
            bytes: Arc::new(Semaphore::new(READ_AHEAD_BYTES)),
        }
    }

    /// Waits for room for one more request of `frame_len` bytes; `None` once
    /// the connection is closing.
    async fn slot(&self, frame_len: usize) -> Option<Slot> {
        let request = self.requests.clone().acquire_owned().await.ok()?;
        let want = u32::try_from(frame_len.clamp(1, READ_AHEAD_BYTES)).ok()?;
        let bytes = self.bytes.clone().acquire_many_owned(want).await.ok()?;
        Some(Slot {
            _request: request,
            _bytes: bytes,
        })
    }
}

/// What the reader hands the executor. Each item holds its [`Slot`] until its
/// answer is written (or it has none).
enum Queued {
    /// A decoded request to run, with its frame's size.
    Run(i32, i16, Box<Request>, usize, Slot),
    /// An answer known without running anything.
    Ready(i32, i16, Box<ResponseBody>, Slot),
}

/// An answer on its way to the socket, with the quota wait it reports (`throttle_time_ms`).
struct Answer(i32, i16, Body, Slot, u64);

/// An answer's body: known, or a Produce's acks=all waits (its own task) still running.
enum Body {
    Ready(Box<ResponseBody>),
    Pending(tokio::task::JoinHandle<Option<ResponseBody>>),
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
    #[error("authentication failed: {0}")]
    Authentication(String),
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
    /// The writer stopped (a response could not be encoded or sent whole): the
    /// connection closes rather than leave a client waiting on a partial frame.
    #[error("response writer stopped")]
    WriterStopped,
}

/// Runs the connection's requests one after another, in the order read. After an answer that
/// reports a quota wait, runs nothing more for that long (Kafka mutes the channel).
async fn execute(
    broker: Arc<Broker>,
    session: Arc<Session>,
    mut queued: mpsc::UnboundedReceiver<Queued>,
    answers: mpsc::UnboundedSender<Answer>,
    mut reauth: Option<(Reauth, Arc<SessionClock>)>,
) {
    while let Some(item) = queued.recv().await {
        let (answer, wait) = match item {
            Queued::Ready(c, v, b, slot) => (Some(Answer(c, v, Body::Ready(b), slot, 0)), 0),
            Queued::Run(c, v, request, _, slot) if reauth.is_some() && is_sasl(&request.body) => {
                // Re-authentication (KIP-368), in request order like everything else.
                let Some((ra, clock)) = reauth.as_mut() else {
                    return;
                };
                let Some(body) = reauthenticate(ra, clock, &session, &request.body) else {
                    return;
                };
                let answer = Answer(c, v, Body::Ready(Box::new(body.0)), slot, 0);
                let _ = answers.send(answer);
                if !body.1 {
                    return;
                }
                continue;
            }
            Queued::Run(c, v, request, frame_len, slot) => {
                let Some((body, wait)) = run(&broker, &session, *request, frame_len).await else {
                    return;
                };
                (body.map(|body| Answer(c, v, body, slot, wait)), wait)
            }
        };
        if let Some(answer) = answer {
            if answers.send(answer).is_err() {
                return;
            }
        }
        if wait > 0 {
            tokio::time::sleep(Duration::from_millis(wait)).await;
        }
    }
}

/// One re-authentication request: its answer, and whether the connection goes on
/// (`false` after a failure, which is logged); `None` for a request that is not one.
fn reauthenticate(
    ra: &mut Reauth,
    clock: &SessionClock,
    session: &Session,
    request: &RequestBody,
) -> Option<(ResponseBody, bool)> {
    let (body, outcome) = match request {
        RequestBody::SaslHandshake(r) => ra.handshake(r),
        RequestBody::SaslAuthenticate(r) => ra.authenticate(r),
        _ => return None,
    };
    match outcome {
        Outcome::Continue => {}
        Outcome::Done => {
            clock.renew(ra.lifetime());
            tracing::debug!(principal = %session.principal, listener = %session.listener, "re-authenticated");
        }
        Outcome::Fail(why) => {
            let peer = session.peer_ip.map(|ip| std::net::SocketAddr::new(ip, 0));
            crate::auth_log::failure(peer, &session.listener, "re-authentication failed", &why);
            return Some((body, false));
        }
    }
    Some((body, true))
}

/// Runs one request to the end of its effects: its answer's body (none for acks=0)
/// and the quota wait it reports; `None` closes the connection (the handler failed).
async fn run(
    broker: &Arc<Broker>,
    session: &Arc<Session>,
    request: Request,
    frame_len: usize,
) -> Option<(Option<Body>, u64)> {
    let metered = Metered::of(&request, frame_len);
    let started = Instant::now();
    // Run in place, on the executor's task (a task per request cost about a third
    // of a small Produce's instructions: the handler's future moved into a new task
    // and its answer out of it). A panicking handler is caught here and ends this
    // connection with a log line, as a panicking task would; the next request starts
    // only after this one's effects.
    let outcome = caught(dispatch_effects(broker.clone(), request, session.clone())).await;
    let elapsed = started.elapsed().as_nanos();
    match outcome {
        Ok(Ok(Dispatched::Now(Some(mut body)))) => {
            let wait = metered.throttle(broker, session, elapsed, Some(&mut body));
            Some((Some(Body::Ready(body)), wait))
        }
        // acks=0: nothing to send; the slot is released here.
        Ok(Ok(Dispatched::Now(None))) => {
            Some((None, metered.throttle(broker, session, elapsed, None)))
        }
        Ok(Ok(Dispatched::Later(pending))) => {
            let wait = metered.throttle(broker, session, elapsed, None);
            Some((Some(Body::Pending(tokio::spawn(pending))), wait))
        }
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "closing connection");
            None
        }
        Err(panic) => {
            tracing::error!(panic, "request handler panicked; closing connection");
            None
        }
    }
}

/// Runs `handler` to its end; a panic in it comes back as the text it was raised with.
async fn caught<F: std::future::Future>(handler: F) -> Result<F::Output, String> {
    AssertUnwindSafe(handler)
        .catch_unwind()
        .await
        .map_err(|panic| {
            if let Some(s) = panic.downcast_ref::<&'static str>() {
                (*s).to_owned()
            } else if let Some(s) = panic.downcast_ref::<String>() {
                s.clone()
            } else {
                "(a panic without a message)".to_owned()
            }
        })
}

/// What a request costs its client under quotas, taken before it runs.
struct Metered {
    /// Shares the request's bytes (no allocation per request).
    client_id: SharedStr,
    produce_bytes: usize,
    /// A follower's fetch: replication, never throttled.
    exempt: bool,
    /// Counts against the controller mutation quota.
    mutation: bool,
}

impl Metered {
    fn of(request: &Request, frame_len: usize) -> Self {
        let exempt = match &request.body {
            RequestBody::Fetch(f) if request.api_version() >= 15 => f.replica_state.replica_id >= 0,
            RequestBody::Fetch(f) => f.replica_id >= 0,
            _ => false,
        };
        Metered {
            client_id: request.header.client_id.clone().unwrap_or_default(),
            produce_bytes: if request.api_key == ApiKey::Produce {
                frame_len
            } else {
                0
            },
            exempt,
            mutation: mutation_quota::metered(request.api_key, request.api_version()).is_some(),
        }
    }

    /// The quota wait this request earned (its answer, when given, carries it).
    fn throttle(
        &self,
        broker: &Broker,
        session: &Session,
        handler_nanos: u128,
        answer: Option<&mut ResponseBody>,
    ) -> u64 {
        if self.exempt {
            return 0;
        }
        let metadata = broker.metadata();
        let cost = RequestCost {
            produce_bytes: self.produce_bytes,
            handler_nanos: Some(handler_nanos),
        };
        let user = &session.principal.name;
        let wait = broker.quotas.throttle(
            metadata.client_quotas(),
            user,
            self.client_id.as_str(),
            cost,
            answer,
        );
        if self.mutation {
            let mutation = broker.quotas.mutation_throttle_ms(
                metadata.client_quotas(),
                user,
                self.client_id.as_str(),
            );
            return wait.max(mutation);
        }
        wait
    }
}

/// SaslHandshake and SaslAuthenticate, which an authenticated SASL connection sends only to
/// re-authenticate.
fn is_sasl(body: &RequestBody) -> bool {
    matches!(
        body,
        RequestBody::SaslHandshake(_) | RequestBody::SaslAuthenticate(_)
    )
}

/// Writes answers in the order the executor produced them. Answers already waiting
/// when one is written are encoded behind it and leave in one write ([`Coalesced`]);
/// what is held is written before the writer waits, so an answer never waits for a
/// later one. Each answer's [`Slot`] is released once its bytes are written.
async fn write_answers<W: ResponseSink>(mut wr: W, mut answers: mpsc::UnboundedReceiver<Answer>) {
    let mut out = Coalesced::default();
    let mut written_slots: Vec<Slot> = Vec::new();
    loop {
        let answer = match answers.try_recv() {
            Ok(answer) => answer,
            Err(mpsc::error::TryRecvError::Empty) => {
                if !flush_answers(&mut wr, &mut out, &mut written_slots).await {
                    return;
                }
                match answers.recv().await {
                    Some(answer) => answer,
                    None => return,
                }
            }
            Err(mpsc::error::TryRecvError::Disconnected) => {
                flush_answers(&mut wr, &mut out, &mut written_slots).await;
                return;
            }
        };
        let Answer(corr, version, body, slot, wait) = answer;
        let mut body = match body {
            Body::Ready(b) => b,
            Body::Pending(wait) => {
                // Earlier answers are not held back while this one waits for acks=all.
                if !wait.is_finished()
                    && !flush_answers(&mut wr, &mut out, &mut written_slots).await
                {
                    return;
                }
                match wait.await {
                    Ok(Some(b)) => Box::new(b),
                    Ok(None) => continue,
                    Err(e) => {
                        tracing::error!(error = %e, "produce wait failed; closing connection");
                        return;
                    }
                }
            }
        };
        if wait > 0 {
            body.set_throttle_time_ms(i32::try_from(wait).unwrap_or(i32::MAX));
        }
        // Records still in their segment files (a Fetch answer's) are left out of the
        // encoding and sent from the files (`response_send`) while the body, which
        // holds them, is alive.
        let frame = match encode_response_parts(corr, version, &body, file_records::is_file_records)
        {
            Ok(f) => f,
            Err(e) => {
                tracing::error!(error = %e, api = ?body.api_key(), version, "cannot encode response");
                return;
            }
        };
        // A frame is sent whole or the connection closes.
        if let Err(e) = out.push_frame(&mut wr, &frame).await {
            log_send_error(&e);
            return;
        }
        drop(body);
        written_slots.push(slot);
        if out.full() && !flush_answers(&mut wr, &mut out, &mut written_slots).await {
            return;
        }
    }
}

/// Writes the answers held and releases their slots; `false` when the send failed
/// (the connection closes).
async fn flush_answers<W: ResponseSink>(
    wr: &mut W,
    out: &mut Coalesced,
    slots: &mut Vec<Slot>,
) -> bool {
    if let Err(e) = out.flush(wr).await {
        log_send_error(&e);
        return false;
    }
    slots.clear();
    true
}

/// A failed send is logged unless the client simply went away.
fn log_send_error(e: &std::io::Error) {
    if e.kind() != std::io::ErrorKind::BrokenPipe && e.kind() != std::io::ErrorKind::ConnectionReset
    {
        tracing::warn!(error = %e, "cannot send response; closing connection");
    }
}

/// Serves one connection until it closes or breaks. `principal` is the connection's
/// identity so far (a client certificate's on SSL listeners); a SASL listener replaces
/// it by the authenticated one.
pub async fn serve<S: Transport>(
    mut stream: S,
    peer: Option<std::net::SocketAddr>,
    listener: &ListenerContext,
    principal: KafkaPrincipal,
    broker: Arc<Broker>,
    limits: ConnectionLimits,
) -> ConnectionEnd {
    let mut buf = BytesMut::with_capacity(READ_CHUNK);
    let (principal, clock, reauth) = if listener.protocol.uses_sasl() {
        match authenticate(&mut stream, &mut buf, listener, limits.idle).await {
            Ok(authenticated) => authenticated,
            Err(end) => return end,
        }
    } else {
        (principal, None, None)
    };
    let session = Arc::new(Session {
        principal,
        peer_ip: peer.map(|a| a.ip()),
        listener: listener.name.clone(),
        sasl: listener.protocol.uses_sasl(),
    });
    let (mut rd, wr) = stream.split_io();
    // The slots bound requests read but not answered, in number and bytes;
    // both channels are therefore bounded by them.
    let budgets = Budgets::new(limits.max_in_flight);
    let (queue, queued) = mpsc::unbounded_channel::<Queued>();
    let (answer_tx, answer_rx) = mpsc::unbounded_channel::<Answer>();
    let executor = tokio::spawn(execute(broker, session, queued, answer_tx, reauth));
    let (writer, mut writer_stopped) = spawn_writer(wr, answer_rx);
    // The last frame was larger than READ_CHUNK (a producer's, most likely).
    let mut large_frames = false;
    let end = loop {
        // Serve every whole frame already buffered.
        let frame = match split_frame(&mut buf, limits.max_frame) {
            Ok(Some(f)) => f,
            Ok(None) => {
                match read_more(
                    &mut rd,
                    &mut buf,
                    large_frames,
                    limits.idle,
                    &mut writer_stopped,
                )
                .await
                {
                    None => continue,
                    Some(end) => break end,
                }
            }
            Err(e) => break ConnectionEnd::BadFrame(e.to_string()),
        };
        large_frames = frame.len() > READ_CHUNK;
        let queued = match admit(frame, &budgets, clock.as_ref()).await {
            Ok(queued) => queued,
            Err(end) => break end,
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

/// Starts the writer task, and a flag set when it ends, so the reader ends the
/// connection at once (a frame cut short by a failed send is never followed by
/// anything, nor left hanging).
fn spawn_writer<W: ResponseSink + 'static>(
    wr: W,
    answers: mpsc::UnboundedReceiver<Answer>,
) -> (
    tokio::task::JoinHandle<()>,
    tokio::sync::watch::Receiver<bool>,
) {
    let (writer_done, writer_stopped) = tokio::sync::watch::channel(false);
    let writer = tokio::spawn(async move {
        write_answers(wr, answers).await;
        writer_done.send_replace(true);
    });
    (writer, writer_stopped)
}

/// What a SASL listener's authentication phase gives the connection: the
/// authenticated principal, the session's clock, and (for a client that can
/// re-authenticate) its re-authentication with that clock.
type Authenticated = (
    KafkaPrincipal,
    Option<Arc<SessionClock>>,
    Option<(Reauth, Arc<SessionClock>)>,
);

/// A SASL listener's authentication phase.
async fn authenticate<S: Transport>(
    stream: &mut S,
    buf: &mut BytesMut,
    listener: &ListenerContext,
    idle: Duration,
) -> Result<Authenticated, ConnectionEnd> {
    let a = crate::sasl_phase::authenticate(stream, buf, listener, idle).await?;
    let lifetime = listener.session_lifetime(&a.mechanism);
    let clock = SessionClock::new(lifetime);
    let reauth = a.can_reauthenticate.then(|| {
        Reauth::new(
            listener.sasl.clone(),
            a.mechanism.clone(),
            a.principal.clone(),
            lifetime,
        )
    });
    let reauth = reauth.map(|r| (r, clock.clone()));
    Ok((a.principal, Some(clock), reauth))
}

/// Reads more of the next frame into `buf`: `None` when bytes came, else how the
/// connection ends (idle, closed, the writer stopped, a read error).
async fn read_more<R: AsyncRead + Unpin>(
    rd: &mut R,
    buf: &mut BytesMut,
    large_frames: bool,
    idle: Duration,
    writer_stopped: &mut tokio::sync::watch::Receiver<bool>,
) -> Option<ConnectionEnd> {
    let want = if buf.is_empty() && large_frames {
        // After a frame larger than a read chunk, read the next one's
        // size alone: `split_frame` then gives it a buffer of its own
        // size, which the rest of it is read into (none of it copied).
        4
    } else {
        read_size(buf)
    };
    buf.reserve(want);
    let mut room = (&mut *buf).limit(want);
    let read = tokio::select! {
        r = tokio::time::timeout(idle, rd.read_buf(&mut room)) => r,
        _ = writer_stopped.wait_for(|done| *done) => return Some(ConnectionEnd::WriterStopped),
    };
    match read {
        Err(_) => Some(ConnectionEnd::Idle),
        Ok(Ok(0)) => Some(ConnectionEnd::Closed),
        Ok(Ok(_)) => None,
        Ok(Err(e)) => Some(ConnectionEnd::Io(e)),
    }
}

/// Turns one whole frame into what the executor runs, once a [`Slot`] is free; or how
/// the connection ends (a broken, unknown or unsupported request, an expired session).
async fn admit(
    frame: bytes::Bytes,
    budgets: &Budgets,
    clock: Option<&Arc<SessionClock>>,
) -> Result<Queued, ConnectionEnd> {
    let prefix = peek_request(&frame).map_err(|e| ConnectionEnd::BadFrame(e.to_string()))?;
    let Some(key) = ApiKey::from_i16(prefix.api_key) else {
        return Err(ConnectionEnd::BadFrame(format!(
            "unknown api key {}",
            prefix.api_key
        )));
    };
    // KIP-368: past the session's end only a re-authentication may come.
    if clock.is_some_and(|c| c.expired())
        && !matches!(key, ApiKey::SaslHandshake | ApiKey::SaslAuthenticate)
    {
        return Err(ConnectionEnd::Authentication(
            "session expired without re-authentication (connections.max.reauth.ms)".into(),
        ));
    }
    if key == ApiKey::ApiVersions && !api_versions::is_supported(key, prefix.api_version) {
        let body = api_versions::unsupported_version_response();
        let Some(slot) = budgets.slot(frame.len()).await else {
            return Err(ConnectionEnd::Closed);
        };
        return Ok(Queued::Ready(
            prefix.correlation_id,
            0,
            Box::new(body),
            slot,
        ));
    }
    if !api_versions::is_supported(key, prefix.api_version) {
        return Err(ConnectionEnd::BadFrame(format!(
            "{} v{} is not supported",
            key.name(),
            prefix.api_version
        )));
    }
    // Wait for room: at most `max_in_flight` requests, and
    // READ_AHEAD_BYTES of them, are read and not yet answered.
    let Some(slot) = budgets.slot(frame.len()).await else {
        return Err(ConnectionEnd::Closed);
    };
    let request = decode_request(&frame).map_err(|e| {
        let head: String = frame.iter().take(96).map(|b| format!("{b:02x}")).collect();
        ConnectionEnd::BadFrame(format!(
            "{} v{}: {e} (frame of {} bytes starts {head})",
            key.name(),
            prefix.api_version,
            frame.len()
        ))
    })?;
    Ok(Queued::Run(
        prefix.correlation_id,
        prefix.api_version,
        Box::new(request),
        frame.len(),
        slot,
    ))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::{Budgets, READ_AHEAD_BYTES, READ_CHUNK, caught, read_size};

    #[tokio::test]
    async fn a_handler_that_panics_is_caught_with_its_message() {
        let quiet = async {
            tokio::task::yield_now().await;
            7
        };
        assert_eq!(caught(quiet).await, Ok(7));
        let panics = async {
            tokio::task::yield_now().await;
            if quiet_flag() {
                panic!("handler broke at {}", 3);
            }
            7
        };
        assert_eq!(caught(panics).await, Err("handler broke at 3".to_owned()));
        let static_text = async {
            if quiet_flag() {
                panic!("plain text");
            }
        };
        assert_eq!(caught(static_text).await, Err("plain text".to_owned()));
    }

    /// True, in a way the compiler does not see through (no unreachable-code warnings).
    fn quiet_flag() -> bool {
        std::hint::black_box(true)
    }

    #[test]
    fn reads_stop_at_the_end_of_a_frame_being_read() {
        assert_eq!(read_size(&[]), READ_CHUNK);
        assert_eq!(read_size(&[0, 0]), READ_CHUNK);
        let mut big = (1_000_000u32).to_be_bytes().to_vec();
        big.extend_from_slice(&[7; 100]);
        assert_eq!(read_size(&big), 1_000_000 - 100);
        // A whole frame buffered (split next): read a chunk.
        let small = [0, 0, 0, 2, 1, 1];
        assert_eq!(read_size(&small), READ_CHUNK);
    }

    #[tokio::test]
    async fn a_frame_larger_than_the_byte_budget_is_taken_alone() {
        let budgets = Budgets::new(5);
        let big = budgets.slot(READ_AHEAD_BYTES * 3).await;
        assert!(big.is_some(), "an oversized frame still gets a slot");
        let next = tokio::time::timeout(Duration::from_millis(50), budgets.slot(10)).await;
        assert!(next.is_err(), "nothing else is read while it is pending");
        drop(big);
        let next = tokio::time::timeout(Duration::from_secs(5), budgets.slot(10)).await;
        assert!(matches!(next, Ok(Some(_))));
    }

    #[tokio::test]
    async fn requests_are_bounded_in_number_and_bytes() {
        let budgets = Budgets::new(2);
        let a = budgets.slot(1).await;
        let _b = budgets.slot(1).await;
        let third = tokio::time::timeout(Duration::from_millis(50), budgets.slot(1)).await;
        assert!(third.is_err(), "queued.max.requests reached");
        drop(a);
        let half = READ_AHEAD_BYTES / 2;
        let _c = budgets.slot(half).await;
        let budgets = Budgets::new(10);
        let _d = budgets.slot(half).await;
        let _e = budgets.slot(half).await;
        let over = tokio::time::timeout(Duration::from_millis(50), budgets.slot(1)).await;
        assert!(over.is_err(), "READ_AHEAD_BYTES reached");
    }
}
