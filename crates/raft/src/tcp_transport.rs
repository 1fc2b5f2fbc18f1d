//! Raft messages between voters over TCP, only on the controller listener (never on client
//! listeners). A raft connection opens with [`RAFT_PREAMBLE`]; then each frame is
//! `length (u32, big-endian) | raft-rs protobuf Message`, at most [`MAX_RAFT_FRAME`] bytes; a
//! longer frame, a message not addressed to this node or one that does not decode closes the
//! connection. Any other connection speaks Kafka's protocol and goes to the controller RPC
//! server ([`crate::controller_rpc`]) when one is given, else it is closed. Outbound, each peer
//! has a task with a bounded queue that (re)connects with backoff; messages are dropped when
//! the queue is full or the peer is down (raft retransmits).
//!
//! Every connection, both ways, is secured by the controller listener's
//! [`LinkSecurity`](crate::link_security::LinkSecurity) (TLS handshake, SASL login) before a
//! byte of the above is read or written; one that cannot be secured is dropped (outbound:
//! retried with backoff).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use protobuf::Message as _;
use raft::eraftpb::Message;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufWriter};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::config::{Voter, node_id, raft_id};
use crate::controller_rpc::RpcHandler;
use crate::link_security::{self, BoxedStream, LinkSecurity};
use crate::transport::{INBOX_CAPACITY, Transport};

/// First bytes of a raft connection. Read as a Kafka frame size they are negative, so no Kafka
/// request can start this way.
pub const RAFT_PREAMBLE: [u8; 8] = *b"\xffVLTRAFT";

/// Largest raft frame accepted or sent (snapshots included).
pub const MAX_RAFT_FRAME: usize = 64 * 1024 * 1024;
/// Messages queued per peer while connecting or writing.
pub const PEER_QUEUE: usize = 1024;
/// Most simultaneous inbound connections on the controller listener.
pub const MAX_INBOUND_CONNECTIONS: usize = 64;
const BACKOFF_MIN: Duration = Duration::from_millis(50);
const BACKOFF_MAX: Duration = Duration::from_secs(2);

/// The TCP transport of one voter.
#[derive(Debug)]
pub struct TcpTransport {
    peers: HashMap<u64, mpsc::Sender<Message>>,
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for TcpTransport {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

impl TcpTransport {
    /// Serves `listener` (this node's controller listener) and connects to the other voters.
    /// Returns the transport and the inbox of messages addressed to `self_id`.
    pub fn start(
        self_id: i32,
        voters: &[Voter],
        listener: TcpListener,
    ) -> (TcpTransport, mpsc::Receiver<Message>) {
        Self::start_with_rpc(self_id, voters, listener, None, link_security::plaintext())
    }

    /// As [`TcpTransport::start`], and hands every connection that is not a raft connection
    /// (Kafka requests from brokers: registration, heartbeats, forwarded admin requests) to
    /// `rpc`. Connections both ways are secured by `security`.
    pub fn start_with_rpc(
        self_id: i32,
        voters: &[Voter],
        listener: TcpListener,
        rpc: Option<Arc<dyn RpcHandler>>,
        security: Arc<dyn LinkSecurity>,
    ) -> (TcpTransport, mpsc::Receiver<Message>) {
        let (inbox_tx, inbox_rx) = mpsc::channel(INBOX_CAPACITY);
        let mut tasks = vec![tokio::spawn(accept_loop(
            listener,
            raft_id(self_id),
            inbox_tx,
            rpc,
            security.clone(),
        ))];
        let mut peers = HashMap::new();
        for v in voters.iter().filter(|v| v.id != self_id) {
            let (tx, rx) = mpsc::channel(PEER_QUEUE);
            peers.insert(raft_id(v.id), tx);
            tasks.push(tokio::spawn(peer_loop(v.addr, rx, security.clone())));
        }
        (TcpTransport { peers, tasks }, inbox_rx)
    }
}

impl Transport for TcpTransport {
    fn send(&mut self, msg: Message) {
        if let Some(tx) = self.peers.get(&msg.to) {
            let _ = tx.try_send(msg);
        }
    }
}

async fn accept_loop(
    listener: TcpListener,
    self_raft_id: u64,
    inbox: mpsc::Sender<Message>,
    rpc: Option<Arc<dyn RpcHandler>>,
    security: Arc<dyn LinkSecurity>,
) {
    let permits = Arc::new(tokio::sync::Semaphore::new(MAX_INBOUND_CONNECTIONS));
    loop {
        let Ok((tcp, peer)) = listener.accept().await else {
            tokio::time::sleep(BACKOFF_MIN).await;
            continue;
        };
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            drop(tcp);
            continue;
        };
        let inbox = inbox.clone();
        let rpc = rpc.clone();
        let security = security.clone();
        tokio::spawn(async move {
            let _permit = permit;
            let stream = match link_security::accept(security.as_ref(), tcp, peer).await {
                Ok(s) => s,
                Err(e) => {
                    tracing::debug!(%peer, error = %e, "controller listener: connection not secured; closed");
                    return;
                }
            };
            let _ = serve_inbound(stream, self_raft_id, inbox, rpc).await;
        });
    }
}

/// Why an inbound connection was closed.
#[derive(Debug)]
enum InboundError {
    Io,
    TooLarge,
    Decode,
    Misaddressed,
}

/// Tells a raft connection from a Kafka one by its first bytes and serves it.
async fn serve_inbound(
    mut stream: BoxedStream,
    self_raft_id: u64,
    inbox: mpsc::Sender<Message>,
    rpc: Option<Arc<dyn RpcHandler>>,
) -> Result<(), InboundError> {
    let mut head = [0u8; 4];
    stream
        .read_exact(&mut head)
        .await
        .map_err(|_| InboundError::Io)?;
    if head == RAFT_PREAMBLE[..4] {
        let mut rest = [0u8; 4];
        stream
            .read_exact(&mut rest)
            .await
            .map_err(|_| InboundError::Io)?;
        if rest != RAFT_PREAMBLE[4..] {
            return Err(InboundError::Decode);
        }
        return read_frames(stream, self_raft_id, inbox).await;
    }
    match rpc {
        Some(rpc) => {
            crate::controller_rpc::server::serve(stream, head, rpc).await;
            Ok(())
        }
        None => Err(InboundError::Decode),
    }
}

async fn read_frames<S: AsyncRead + Unpin>(
    mut stream: S,
    self_raft_id: u64,
    inbox: mpsc::Sender<Message>,
) -> Result<(), InboundError> {
    let mut buf = Vec::new();
    loop {
        let len = stream.read_u32().await.map_err(|_| InboundError::Io)? as usize;
        if len > MAX_RAFT_FRAME {
            return Err(InboundError::TooLarge);
        }
        buf.resize(len, 0);
        stream
            .read_exact(&mut buf)
            .await
            .map_err(|_| InboundError::Io)?;
        let msg = Message::parse_from_bytes(&buf).map_err(|_| InboundError::Decode)?;
        if msg.to != self_raft_id {
            return Err(InboundError::Misaddressed);
        }
        // A full inbox drops the message; raft retransmits.
        let _ = inbox.try_send(msg);
    }
}

/// Longest wait for the TCP connection to a peer.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

async fn peer_loop(
    addr: SocketAddr,
    mut queue: mpsc::Receiver<Message>,
    security: Arc<dyn LinkSecurity>,
) {
    let mut backoff = BACKOFF_MIN;
    let mut warned = false;
    loop {
        let stream = match link_security::connect(security.as_ref(), addr, CONNECT_TIMEOUT).await {
            Ok(s) => {
                warned = false;
                s
            }
            Err(e) => {
                // A peer that is down is routine; one that refuses the handshake or login is
                // a configuration problem worth one warning per outage.
                if !warned && !e.0.starts_with("connecting to") {
                    tracing::warn!(%addr, error = %e, "raft: cannot secure the connection to a voter");
                    warned = true;
                }
                // Drop what queued up while the peer is down: stale raft messages are useless.
                while queue.try_recv().is_ok() {}
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(BACKOFF_MAX);
                continue;
            }
        };
        backoff = BACKOFF_MIN;
        let mut w = BufWriter::new(stream);
        if w.write_all(&RAFT_PREAMBLE).await.is_err() {
            continue;
        }
        loop {
            let Some(msg) = queue.recv().await else {
                return;
            };
            if write_frame(&mut w, &msg).await.is_err() {
                break;
            }
            // Batch whatever else is queued before flushing.
            let mut failed = false;
            while let Ok(more) = queue.try_recv() {
                if write_frame(&mut w, &more).await.is_err() {
                    failed = true;
                    break;
                }
            }
            if failed || w.flush().await.is_err() {
                break;
            }
        }
    }
}

async fn write_frame<W: AsyncWrite + Unpin>(
    w: &mut BufWriter<W>,
    msg: &Message,
) -> std::io::Result<()> {
    let bytes = msg
        .write_to_bytes()
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    if bytes.len() > MAX_RAFT_FRAME {
        // Never send what the peer would refuse; raft will retry (e.g. a smaller append).
        return Ok(());
    }
    w.write_u32(bytes.len() as u32).await?;
    w.write_all(&bytes).await
}

/// The node id a raft message is addressed to (for logs and tests).
pub fn destination(msg: &Message) -> i32 {
    node_id(msg.to)
}
