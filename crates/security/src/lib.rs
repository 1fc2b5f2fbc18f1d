//! Kafka's security rules as plain data and functions, with no IO: who a connection is
//! ([`principal`]), and (as they land) how it proves it (SASL mechanisms), what it may do
//! (the StandardAuthorizer's ACL rules) and how fast (client quotas). The broker's
//! connection and handlers drive them; other Rust projects can embed them.

#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod acl;
pub mod principal;

pub use principal::KafkaPrincipal;
