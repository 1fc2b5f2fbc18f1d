//! Who sent a request: the connection's principal (`User:ANONYMOUS` until an authenticator
//! says otherwise), the client's host and the listener it came in on. The connection makes
//! one per connection and hands it to every request it dispatches; authorization, quotas and
//! the group tools read it from here.

use std::net::IpAddr;

use vltava_security::KafkaPrincipal;

/// A connection's identity, as every request of it sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// The authenticated principal (`User:ANONYMOUS` on a connection that did not
    /// authenticate).
    pub principal: KafkaPrincipal,
    /// The peer's address, for host-scoped ACLs (`None` when the socket could not say).
    pub peer_ip: Option<IpAddr>,
    /// The listener's name (`PLAINTEXT`, `SASL_SSL`, ... as in `listeners`).
    pub listener: String,
    /// Whether the principal authenticated with SASL (delegation-token requests are
    /// allowed only then).
    pub sasl: bool,
}

impl Session {
    /// An unauthenticated connection from `peer_ip` on `listener`.
    pub fn anonymous(peer_ip: Option<IpAddr>, listener: impl Into<String>) -> Self {
        Session {
            principal: KafkaPrincipal::anonymous(),
            peer_ip,
            listener: listener.into(),
            sasl: false,
        }
    }

    /// The client's host as Kafka names it (Java's `InetAddress.toString()` of an address
    /// without a host name: "/127.0.0.1"), shown by DescribeGroups and the group tools.
    pub fn client_host(&self) -> String {
        self.peer_ip.map(|ip| format!("/{ip}")).unwrap_or_default()
    }
}
