//! How connections on the controller listener are secured: [`LinkSecurity`] turns a fresh
//! TCP connection into the byte stream the raft transport and the controller channel then
//! speak over, once when connecting (voter to voter, broker to controller) and once when
//! accepting. The raft core and the transport never see TLS or SASL: they get a stream after
//! the handshake and login are done (or no stream, and the connection is dropped). The
//! broker crate implements it from the controller listener's settings; [`Plaintext`] is the
//! PLAINTEXT listener (and what tests use).

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

/// Longest a connection may take to be secured (TLS handshake and SASL login together),
/// on either side.
pub const SECURE_TIMEOUT: Duration = Duration::from_secs(10);

/// A secured connection: TCP, TLS, with or without a SASL login behind it.
pub trait LinkStream: AsyncRead + AsyncWrite + Unpin + Send + 'static {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send + 'static> LinkStream for T {}

/// A boxed [`LinkStream`].
pub type BoxedStream = Box<dyn LinkStream>;

/// Why a connection could not be secured (its handshake or login failed, or the peer
/// spoke something else). The connection is dropped.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct LinkError(pub String);

/// The result of securing a connection.
pub type SecureFuture = Pin<Box<dyn Future<Output = Result<BoxedStream, LinkError>> + Send>>;

/// Secures the connections of the controller listener.
pub trait LinkSecurity: std::fmt::Debug + Send + Sync + 'static {
    /// Secures an outgoing connection to the controller listener at `addr`.
    fn connect(&self, tcp: TcpStream, addr: SocketAddr) -> SecureFuture;
    /// Secures a connection accepted on this node's controller listener from `peer`.
    fn accept(&self, tcp: TcpStream, peer: SocketAddr) -> SecureFuture;
    /// The listener's security protocol, for logs.
    fn protocol(&self) -> &str {
        "PLAINTEXT"
    }
}

/// A PLAINTEXT controller listener: connections are used as they are.
#[derive(Debug, Default, Clone, Copy)]
pub struct Plaintext;

impl LinkSecurity for Plaintext {
    fn connect(&self, tcp: TcpStream, _addr: SocketAddr) -> SecureFuture {
        Box::pin(async move { Ok(Box::new(tcp) as BoxedStream) })
    }
    fn accept(&self, tcp: TcpStream, _peer: SocketAddr) -> SecureFuture {
        Box::pin(async move { Ok(Box::new(tcp) as BoxedStream) })
    }
}

/// The PLAINTEXT security, shared.
pub fn plaintext() -> Arc<dyn LinkSecurity> {
    Arc::new(Plaintext)
}

/// Connects to `addr` and secures the connection, within `connect_timeout` for the TCP
/// connection and [`SECURE_TIMEOUT`] for the rest.
pub async fn connect(
    security: &dyn LinkSecurity,
    addr: SocketAddr,
    connect_timeout: Duration,
) -> Result<BoxedStream, LinkError> {
    let tcp = tokio::time::timeout(connect_timeout, TcpStream::connect(addr))
        .await
        .map_err(|_| LinkError(format!("connecting to {addr}: timed out")))?
        .map_err(|e| LinkError(format!("connecting to {addr}: {e}")))?;
    let _ = tcp.set_nodelay(true);
    tokio::time::timeout(SECURE_TIMEOUT, security.connect(tcp, addr))
        .await
        .map_err(|_| {
            LinkError(format!(
                "securing the connection to {addr} ({}): timed out",
                security.protocol()
            ))
        })?
}

/// Secures an accepted connection within [`SECURE_TIMEOUT`].
pub async fn accept(
    security: &dyn LinkSecurity,
    tcp: TcpStream,
    peer: SocketAddr,
) -> Result<BoxedStream, LinkError> {
    let _ = tcp.set_nodelay(true);
    tokio::time::timeout(SECURE_TIMEOUT, security.accept(tcp, peer))
        .await
        .map_err(|_| {
            LinkError(format!(
                "securing the connection from {peer} ({}): timed out",
                security.protocol()
            ))
        })?
}
