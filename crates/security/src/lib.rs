//! Kafka's security rules as plain data and functions, with no IO: who a connection is
//! ([`principal`]), how it proves it ([`sasl`]: the server side of an exchange; [`scram`]:
//! SCRAM-SHA-256/512), and (as they land) what it may do (the StandardAuthorizer's ACL
//! rules) and how fast (client quotas). The broker's connection and handlers drive them;
//! other Rust projects can embed them.

pub mod principal;
pub mod sasl;
pub mod scram;

pub use principal::KafkaPrincipal;
