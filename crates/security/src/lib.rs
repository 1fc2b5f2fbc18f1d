//! Kafka's security rules as plain data and functions, with no IO: who a connection is
//! ([`principal`]; [`x500`] and [`ssl_mapping`] for certificate subjects), how it proves
//! it ([`sasl`] mechanisms: PLAIN with users from [`jaas`] configurations, [`scram`]
//! SCRAM-SHA-256/512), how fast ([`quota`]), and (as they land) what it may do (the
//! StandardAuthorizer's ACL rules). The broker's connection and handlers drive them; other
//! Rust projects can embed them.
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod jaas;
pub mod principal;
pub mod quota;
pub mod sasl;
pub mod scram;
pub mod ssl_mapping;
pub mod x500;

pub use principal::KafkaPrincipal;
pub use sasl::{SaslError, SaslMechanisms, SaslServer, SaslServerFactory, SaslStep};
