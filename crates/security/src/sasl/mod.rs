//! The server side of a SASL exchange as the broker's connection drives it: one
//! [`SaslServer`] per authenticating connection, fed each client token in turn
//! (SaslAuthenticate's `auth_bytes`), answering with a challenge until it is done and
//! names the principal, or fails with a [`SaslError`].

use crate::principal::KafkaPrincipal;

/// One mechanism's server for one connection's exchange.
pub trait SaslServer: Send {
    /// Takes the client's next token; returns the next challenge, or the final answer
    /// and the authenticated principal. After `Done` or an error, every call fails with
    /// [`SaslError::IllegalState`].
    fn step(&mut self, token: &[u8]) -> Result<SaslStep, SaslError>;
}

/// What the server sends after a client token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SaslStep {
    /// More is needed: send these bytes and wait for the client's next token.
    Challenge(Vec<u8>),
    /// Authenticated: send `response` (it may be empty) and the connection acts as
    /// `principal` from now on.
    Done {
        response: Vec<u8>,
        principal: KafkaPrincipal,
    },
}

/// Why an exchange failed. The connection answers SASL_AUTHENTICATION_FAILED (58) with
/// the display text, as Kafka does, and closes the connection.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SaslError {
    /// A client message that does not follow the mechanism's grammar.
    #[error("Authentication failed: invalid SASL message: {0}")]
    Malformed(String),
    /// Wrong password or unknown user: the two are deliberately indistinguishable.
    #[error("Authentication failed: Invalid user credentials")]
    InvalidCredentials,
    /// Well formed but refused (a different authorization id, a channel binding the
    /// server does not offer, a credential below the mechanism's iteration minimum).
    #[error("Authentication failed: {0}")]
    Refused(String),
    /// A token larger than the mechanism allows.
    #[error("Authentication failed: SASL token of {len} bytes exceeds the limit of {limit}")]
    TooLarge { len: usize, limit: usize },
    /// A token after the exchange completed or failed.
    #[error("Authentication failed: the SASL exchange is already over")]
    IllegalState,
}
