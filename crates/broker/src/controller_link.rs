//! The security of the controller listener (the first of `controller.listener.names`), as
//! the raft transport and the controller channel use it through
//! [`vltava_raft::LinkSecurity`]: the listener may be mapped to any of the four protocols.
//!
//! - Accepting (voters only): the same TLS acceptor ([`crate::tls`]) and SASL
//!   authentication phase ([`crate::sasl_phase`]) as a client listener, from the same
//!   per-listener keys (`listener.name.<controller>.ssl.*`, `sasl.enabled.mechanisms`, the
//!   PLAIN JAAS users). Who connected is not used further: the controller listener has no
//!   ACL check, the handshake and login are the gate.
//! - Connecting (voter to voter, broker to controller): the client settings
//!   [`crate::inter_broker_security::listener_client_security`] reads for the controller
//!   listener, with `sasl.mechanism.controller.protocol` as the mechanism. Unset (Kafka's
//!   default GSSAPI) it refuses the start; SCRAM is refused too (see that module): only PLAIN
//!   logs in to controllers.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use vltava_client::security::Security;
use vltava_raft::link_security::{BoxedStream, LinkError, LinkSecurity, SecureFuture};

use crate::config::{BrokerConfig, SecurityProtocol};
use crate::inter_broker_security::{Link, listener_client_security};
use crate::prefixed_stream::Prefixed;
use crate::server::{ListenerContext, ListenerSetupError};

/// The controller listener's security, both sides.
pub struct ControllerLink {
    protocol: SecurityProtocol,
    /// The listener as this node serves it (voters only).
    server: Option<Arc<ListenerContext>>,
    client: Security,
    client_id: String,
    /// `connections.max.idle.ms`: longest wait for the next login frame.
    idle: Duration,
}

impl std::fmt::Debug for ControllerLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ControllerLink")
            .field("protocol", &self.protocol)
            .field("serves", &self.server.is_some())
            .field("client", &self.client)
            .finish_non_exhaustive()
    }
}

/// The controller listener's security from the configuration: PLAINTEXT, or a
/// [`ControllerLink`] (reads key and trust stores, checks the SASL settings).
pub fn from_config(config: &BrokerConfig) -> Result<Arc<dyn LinkSecurity>, ListenerSetupError> {
    let Some(name) = config.controller_listener_names.first() else {
        return Ok(vltava_raft::link_security::plaintext());
    };
    let protocol = config.protocol_of(name);
    if protocol == SecurityProtocol::Plaintext {
        return Ok(vltava_raft::link_security::plaintext());
    }
    let server = if config.roles.is_controller() {
        // SCRAM credentials live in the metadata log, which the controller listener must
        // carry first: none are looked up here (a SCRAM login on it fails as unknown).
        let none = crate::scram_credentials::CredentialSource::default();
        Some(Arc::new(ListenerContext::from_config(config, name, &none)?))
    } else {
        None
    };
    let client = listener_client_security(config, name, Link::Controller)?;
    Ok(Arc::new(ControllerLink {
        protocol,
        server,
        client,
        client_id: format!("vltava-controller-link-{}", config.node_id),
        idle: Duration::from_millis(config.connections_max_idle_ms.max(1)),
    }))
}

impl LinkSecurity for ControllerLink {
    fn connect(&self, tcp: TcpStream, addr: SocketAddr) -> SecureFuture {
        let client = self.client.clone();
        let client_id = self.client_id.clone();
        Box::pin(async move {
            let s = client
                .secure(tcp, &addr.to_string(), &client_id)
                .await
                .map_err(|e| LinkError(e.to_string()))?;
            Ok(Box::new(s) as BoxedStream)
        })
    }

    fn accept(&self, tcp: TcpStream, peer: SocketAddr) -> SecureFuture {
        let server = self.server.clone();
        let idle = self.idle;
        Box::pin(async move {
            let Some(ctx) = server else {
                return Err(LinkError(
                    "this node does not serve the controller listener".into(),
                ));
            };
            match &ctx.tls {
                Some(tls) => match tls.acceptor.accept(tcp).await {
                    Ok(s) => login(s, peer, &ctx, idle).await,
                    Err(e) => {
                        let detail = e.to_string();
                        crate::auth_log::failure(
                            Some(peer),
                            &ctx.name,
                            "TLS handshake failed",
                            &detail,
                        );
                        Err(LinkError(format!("TLS handshake: {detail}")))
                    }
                },
                None => login(tcp, peer, &ctx, idle).await,
            }
        })
    }

    fn protocol(&self) -> &str {
        self.protocol.name()
    }
}

/// Runs the SASL login when the listener has SASL; returns the stream with any bytes read
/// past the login.
async fn login<S: AsyncRead + AsyncWrite + Unpin + Send + 'static>(
    mut s: S,
    peer: SocketAddr,
    ctx: &ListenerContext,
    idle: Duration,
) -> Result<BoxedStream, LinkError> {
    if !ctx.protocol.uses_sasl() {
        return Ok(Box::new(s));
    }
    let mut buf = BytesMut::new();
    match crate::sasl_phase::authenticate(&mut s, &mut buf, ctx, idle).await {
        Ok(who) => {
            tracing::debug!(%peer, principal = %who.principal, mechanism = %who.mechanism, "controller listener: authenticated");
            Ok(Box::new(Prefixed::new(buf.freeze(), s)))
        }
        Err(end) => {
            let detail = end.to_string();
            crate::auth_log::failure(Some(peer), &ctx.name, "authentication failed", &detail);
            Err(LinkError(detail))
        }
    }
}

#[cfg(test)]
mod tests;
