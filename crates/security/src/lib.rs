//! Kafka's security rules as plain data and functions, with no IO: who a connection is
//! ([`principal`]; [`x500`] and [`ssl_mapping`] for certificate subjects), how it proves
//! it ([`sasl`] mechanisms: PLAIN with users from [`jaas`] configurations, [`scram`]
//! SCRAM-SHA-256/512), what it may do ([`acl`]: the StandardAuthorizer's rules) and how
//! fast ([`quota`]). The broker's connection and handlers drive them; other Rust projects
//! can embed them.
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod acl;
pub mod jaas;
pub mod pem_text;
pub mod principal;
pub mod quota;
pub mod sasl;
pub mod scram;
pub mod ssl_mapping;
pub mod x500;

pub use principal::KafkaPrincipal;
pub use sasl::{SaslError, SaslMechanisms, SaslServer, SaslServerFactory, SaslStep};
