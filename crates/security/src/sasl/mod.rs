//! SASL on the server side, sans IO: a [`SaslServer`] turns the client's tokens
//! (SaslAuthenticate's `auth_bytes`) into challenges until it knows who the client is;
//! a [`SaslServerFactory`] makes one per authentication, chosen by mechanism name from
//! [`SaslMechanisms`]. The broker's connection drives them and never interprets tokens
//! itself, so a mechanism (PLAIN here, SCRAM alongside) plugs in by registering a factory.

pub mod plain;

use std::fmt;
use std::sync::Arc;

use crate::KafkaPrincipal;

/// The largest SASL token a broker accepts from a client (Kafka bounds the
/// SaslAuthenticate frame by `sasl.server.max.receive.size`, 524288 by default).
pub const MAX_TOKEN_BYTES: usize = 524_288;

/// What one step of an authentication produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SaslStep {
    /// Send these bytes and wait for the client's next token.
    Challenge(Vec<u8>),
    /// Authentication succeeded: send `response` (possibly empty) and act as `principal`.
    Done {
        response: Vec<u8>,
        principal: KafkaPrincipal,
    },
}

/// Why an authentication failed. Both variants end the exchange; the connection answers
/// with Kafka's error code and closes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SaslError {
    /// Bad credentials or a malformed token (SASL_AUTHENTICATION_FAILED, 58). The message
    /// goes to the client: it never says whether the user exists.
    #[error("{0}")]
    AuthenticationFailed(String),
    /// A token after the exchange ended, or one the mechanism cannot take now
    /// (ILLEGAL_SASL_STATE, 34).
    #[error("{0}")]
    IllegalState(String),
}

impl SaslError {
    /// Kafka's error code for this failure.
    pub fn kafka_code(&self) -> i16 {
        match self {
            SaslError::AuthenticationFailed(_) => 58,
            SaslError::IllegalState(_) => 34,
        }
    }
}

/// One authentication exchange of one mechanism. Implementations are state machines
/// without IO: `step` is called with each client token in order until it returns
/// [`SaslStep::Done`] or an error; a call after that is an [`SaslError::IllegalState`].
pub trait SaslServer: Send + fmt::Debug {
    /// The mechanism's name as clients ask for it (`PLAIN`, `SCRAM-SHA-256`).
    fn mechanism(&self) -> &str;
    /// Takes the client's next token.
    fn step(&mut self, token: &[u8]) -> Result<SaslStep, SaslError>;
}

/// Makes a fresh [`SaslServer`] for each authentication of one mechanism. Holds what the
/// mechanism checks credentials against (PLAIN's JAAS users, SCRAM's stored credentials).
pub trait SaslServerFactory: Send + Sync + fmt::Debug {
    /// The mechanism's name (`PLAIN`).
    fn mechanism(&self) -> &str;
    /// A new exchange.
    fn new_server(&self) -> Box<dyn SaslServer>;
}

/// The mechanisms enabled on one listener, in `sasl.enabled.mechanisms` order.
#[derive(Debug, Clone, Default)]
pub struct SaslMechanisms {
    factories: Vec<Arc<dyn SaslServerFactory>>,
}

impl SaslMechanisms {
    /// No mechanism.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `factory` (replacing one of the same name).
    pub fn register(&mut self, factory: Arc<dyn SaslServerFactory>) {
        self.factories
            .retain(|f| !f.mechanism().eq_ignore_ascii_case(factory.mechanism()));
        self.factories.push(factory);
    }

    /// The enabled mechanisms' names, as SaslHandshake lists them.
    pub fn names(&self) -> Vec<String> {
        self.factories
            .iter()
            .map(|f| f.mechanism().to_string())
            .collect()
    }

    /// Whether none is enabled.
    pub fn is_empty(&self) -> bool {
        self.factories.is_empty()
    }

    /// A new exchange of `mechanism` (names match exactly, as Kafka's do), or `None` when
    /// it is not enabled.
    pub fn start(&self, mechanism: &str) -> Option<Box<dyn SaslServer>> {
        self.factories
            .iter()
            .find(|f| f.mechanism() == mechanism)
            .map(|f| f.new_server())
    }
}

/// Compares two byte strings in time that depends only on their lengths, never on where
/// they differ.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let n = a.len().max(b.len());
    let mut diff = u8::from(a.len() != b.len());
    for i in 0..n {
        let x = a.get(i).copied().unwrap_or(0);
        let y = b.get(i).copied().unwrap_or(0);
        diff |= x ^ y;
    }
    std::hint::black_box(diff) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_time_eq_compares_content_and_length() {
        assert!(constant_time_eq(b"secret", b"secret"));
        assert!(!constant_time_eq(b"secret", b"secreT"));
        assert!(!constant_time_eq(b"secret", b"secret1"));
        assert!(!constant_time_eq(b"", b"a"));
        assert!(constant_time_eq(b"", b""));
    }

    #[test]
    fn mechanisms_are_found_by_exact_name() {
        let mut m = SaslMechanisms::new();
        assert!(m.is_empty());
        m.register(Arc::new(plain::PlainFactory::new(Default::default())));
        assert_eq!(m.names(), vec!["PLAIN".to_string()]);
        assert!(m.start("PLAIN").is_some());
        assert!(m.start("plain").is_none());
        assert!(m.start("SCRAM-SHA-256").is_none());
        assert_eq!(
            SaslError::AuthenticationFailed(String::new()).kafka_code(),
            58
        );
    }
}
