//! The client listeners: each accepts connections (all of them together up to
//! `max.connections`), runs the TLS handshake on SSL and SASL_SSL listeners (bounded by
//! [`TLS_HANDSHAKE_TIMEOUT`]; a client certificate's subject becomes the principal on SSL
//! listeners), serves each connection on its own task and stops accepting on shutdown.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use vltava_security::{KafkaPrincipal, SaslMechanisms};

use crate::auth_log;
use crate::broker::Broker;
use crate::config::{BrokerConfig, SecurityProtocol};
use crate::connection::{ConnectionEnd, ConnectionLimits, serve};
use crate::tls::ListenerTls;

/// Longest a TLS handshake may take (a client that connects and sends nothing is cut off
/// here, not at `connections.max.idle.ms`).
pub const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// What one listener speaks.
#[derive(Debug)]
pub struct ListenerContext {
    /// Its name in `listeners`.
    pub name: String,
    pub protocol: SecurityProtocol,
    /// On SSL and SASL_SSL listeners.
    pub tls: Option<ListenerTls>,
    /// On SASL_PLAINTEXT and SASL_SSL listeners (may be empty: every client is refused).
    pub sasl: SaslMechanisms,
    /// Session lifetime by mechanism (`connections.max.reauth.ms`, KIP-368); absent: the
    /// session never expires and re-authentication is off.
    pub reauth: std::collections::BTreeMap<String, Duration>,
}

impl ListenerContext {
    /// The session lifetime after authenticating with `mechanism`.
    pub fn session_lifetime(&self, mechanism: &str) -> Option<Duration> {
        self.reauth.get(mechanism).copied()
    }
}

/// Why a listener cannot be set up.
#[derive(Debug, thiserror::Error)]
pub enum ListenerSetupError {
    #[error(transparent)]
    Tls(#[from] crate::tls::TlsSetupError),
    #[error(transparent)]
    Sasl(#[from] crate::sasl_setup::SaslSetupError),
    #[error(transparent)]
    InterBroker(#[from] crate::inter_broker_security::InterBrokerSecurityError),
}

/// The client security of this broker's connections to other brokers' inter-broker
/// listener (any protocol: see [`crate::inter_broker_security`]). Settings it cannot use
/// refuse the start when the listener was named (`inter.broker.listener.name`,
/// `security.inter.broker.protocol`); when it was chosen by default (no PLAINTEXT
/// listener; a lone broker never connects to another) they are a warning and the
/// connections go out PLAINTEXT, which such a listener refuses.
pub fn inter_broker_security(
    config: &BrokerConfig,
) -> Result<vltava_client::security::Security, ListenerSetupError> {
    match crate::inter_broker_security::client_security(config) {
        Ok(s) => Ok(s),
        Err(e) if inter_broker_listener_named(config) => Err(e.into()),
        Err(e) => {
            tracing::warn!(
                listener = %config.inter_broker_listener_name,
                error = %e,
                "the inter-broker listener, chosen by default, has no usable client settings: connections to other brokers will fail"
            );
            Ok(vltava_client::security::Security::default())
        }
    }
}

/// Whether the inter-broker listener was named in the configuration.
fn inter_broker_listener_named(config: &BrokerConfig) -> bool {
    [
        "inter.broker.listener.name",
        "security.inter.broker.protocol",
    ]
    .iter()
    .any(|k| config.raw.get(*k).is_some_and(|v| !v.trim().is_empty()))
}

impl ListenerContext {
    /// Listener `name`'s security from the configuration (reads key and trust stores).
    /// SCRAM mechanisms read credentials through `scram`.
    pub fn from_config(
        config: &BrokerConfig,
        name: &str,
        scram: &crate::scram_credentials::CredentialSource,
    ) -> Result<Self, ListenerSetupError> {
        let protocol = config.protocol_of(name);
        let tls = if protocol.uses_tls() {
            Some(crate::tls::listener_tls(&config.raw, name)?)
        } else {
            None
        };
        let sasl = if protocol.uses_sasl() {
            crate::sasl_setup::listener_mechanisms(&config.raw, name, scram)?
        } else {
            SaslMechanisms::new()
        };
        let mut reauth = std::collections::BTreeMap::new();
        for mechanism in sasl.names() {
            if let Some(ms) = crate::sasl_setup::reauth_ms(&config.raw, name, &mechanism)? {
                reauth.insert(mechanism, Duration::from_millis(ms));
            }
        }
        Ok(ListenerContext {
            name: name.to_string(),
            protocol,
            tls,
            sasl,
            reauth,
        })
    }
}

/// The connection limits from the broker's configuration.
pub fn limits(broker: &Broker) -> ConnectionLimits {
    ConnectionLimits {
        max_frame: broker.config.socket_request_max_bytes,
        idle: std::time::Duration::from_millis(broker.config.connections_max_idle_ms.max(1)),
        max_in_flight: broker.config.queued_max_requests,
    }
}

/// The `max.connections` budget all listeners share.
pub fn connection_slots(config: &BrokerConfig) -> Arc<Semaphore> {
    Arc::new(Semaphore::new(
        config.max_connections.min(Semaphore::MAX_PERMITS),
    ))
}

/// Runs the TLS handshake (when the listener has TLS) and serves the connection.
async fn handle(
    stream: TcpStream,
    peer: SocketAddr,
    ctx: &ListenerContext,
    broker: Arc<Broker>,
    limits: ConnectionLimits,
) -> ConnectionEnd {
    let _ = stream.set_nodelay(true);
    let Some(tls) = &ctx.tls else {
        return serve(
            stream,
            Some(peer),
            ctx,
            KafkaPrincipal::anonymous(),
            broker,
            limits,
        )
        .await;
    };
    let accepted = tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, tls.acceptor.accept(stream)).await;
    let stream = match accepted {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => {
            auth_log::failure(
                Some(peer),
                &ctx.name,
                "TLS handshake failed",
                &e.to_string(),
            );
            return ConnectionEnd::Authentication(format!("TLS handshake: {e}"));
        }
        Err(_) => {
            auth_log::failure(Some(peer), &ctx.name, "TLS handshake failed", "timed out");
            return ConnectionEnd::Authentication("TLS handshake timed out".into());
        }
    };
    let principal = if ctx.protocol == SecurityProtocol::Ssl {
        match crate::tls::cert_principal(&tls.mapper, stream.get_ref().1.peer_certificates()) {
            Ok(p) => p,
            Err(e) => {
                auth_log::failure(
                    Some(peer),
                    &ctx.name,
                    "SSL authentication failed",
                    &e.to_string(),
                );
                return ConnectionEnd::Authentication(e.to_string());
            }
        }
    } else {
        KafkaPrincipal::anonymous()
    };
    serve(stream, Some(peer), ctx, principal, broker, limits).await
}

/// Accepts connections on `listener` until `shutdown` turns true.
pub async fn run(
    listener: TcpListener,
    ctx: Arc<ListenerContext>,
    broker: Arc<Broker>,
    slots: Arc<Semaphore>,
    mut shutdown: watch::Receiver<bool>,
) {
    let limits = limits(&broker);
    loop {
        tokio::select! {
            _ = shutdown.changed() => return,
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(s) => s,
                    Err(e) => {
                        match e.raw_os_error() {
                            Some(23 | 24) => tracing::error!(error = %e, "accept failed: out of file descriptors; raise `ulimit -n`"),
                            _ => tracing::warn!(error = %e, "accept failed"),
                        }
                        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let Ok(permit) = slots.clone().try_acquire_owned() else {
                    tracing::warn!(%peer, "max.connections reached; closing new connection");
                    drop(stream);
                    continue;
                };
                let broker = broker.clone();
                let ctx = ctx.clone();
                tokio::spawn(async move {
                    let end = handle(stream, peer, &ctx, broker, limits).await;
                    match &end {
                        ConnectionEnd::Closed => tracing::debug!(%peer, listener = %ctx.name, reason = %end, "connection ended"),
                        ConnectionEnd::Authentication(detail) => {
                            // TLS failures were logged (rate-limited) already.
                            if !detail.starts_with("TLS handshake") {
                                auth_log::failure(Some(peer), &ctx.name, "authentication failed", detail);
                            }
                        }
                        _ => tracing::info!(%peer, listener = %ctx.name, reason = %end, "connection closed"),
                    }
                    drop(permit);
                });
            }
        }
    }
}
