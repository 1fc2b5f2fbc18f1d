//! A SCRAM client (the other side of [`super::ScramServer`]): client-first, then the final
//! message with its proof for the server's first message, then the check of the server's
//! signature. vltava-client logs in with it (tools, and a broker on a SCRAM inter-broker
//! listener).

use super::crypto::{client_key, constant_time_eq, hash, hmac, salted_password, server_key, xor};
use super::error::ScramError;
use super::messages::{
    ClientFinalMessage, ClientFirstMessage, ServerFinalMessage, ServerFirstMessage, b64,
    is_printable,
};
use super::{MIN_ITERATIONS, ScramMechanism};

/// Most iterations a client computes for a server (a bound on the work a server can ask).
pub const CLIENT_MAX_ITERATIONS: i32 = 1_000_000;

/// Why the client side of an exchange failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScramClientError {
    #[error("server message: {0}")]
    Malformed(#[from] ScramError),
    #[error("the server's nonce does not extend the client's")]
    NonceMismatch,
    #[error(
        "the server asks for {0} iterations, outside {MIN_ITERATIONS}..={CLIENT_MAX_ITERATIONS}"
    )]
    Iterations(i32),
    #[error("the server answered with error {0:?}")]
    ServerError(String),
    #[error("the server's signature is wrong")]
    BadServerSignature,
    #[error("message out of order")]
    OutOfOrder,
}

enum State {
    Start,
    SentFirst { bare: String },
    SentFinal { server_signature: Vec<u8> },
    Done,
}

/// One client exchange.
pub struct ScramClient {
    mechanism: ScramMechanism,
    username: String,
    password: Vec<u8>,
    nonce: String,
    extensions: Vec<(String, String)>,
    state: State,
}

impl std::fmt::Debug for ScramClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScramClient")
            .field("mechanism", &self.mechanism)
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

impl ScramClient {
    /// A client for `username`/`password`; `nonce_bytes` are fresh random bytes.
    pub fn new(
        mechanism: ScramMechanism,
        username: &str,
        password: &[u8],
        nonce_bytes: &[u8],
    ) -> Self {
        ScramClient {
            mechanism,
            username: username.to_string(),
            password: password.to_vec(),
            nonce: b64(nonce_bytes),
            extensions: Vec::new(),
            state: State::Start,
        }
    }

    /// As [`ScramClient::new`] with the nonce given as text; `None` when it is not
    /// RFC 5802's `printable`.
    pub fn with_nonce(
        mechanism: ScramMechanism,
        username: &str,
        password: &[u8],
        nonce: &str,
    ) -> Option<Self> {
        is_printable(nonce).then(|| {
            let mut c = Self::new(mechanism, username, password, b"");
            c.nonce = nonce.to_string();
            c
        })
    }

    /// Adds a client-first extension (`tokenauth`, `true`).
    pub fn with_extension(mut self, key: &str, value: &str) -> Self {
        self.extensions.push((key.to_string(), value.to_string()));
        self
    }

    /// The client-first message.
    pub fn client_first(&mut self) -> Vec<u8> {
        let ext: Vec<(&str, &str)> = self
            .extensions
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let msg = ClientFirstMessage::format(&self.username, &self.nonce, &ext);
        let bare = msg.strip_prefix("n,,").unwrap_or(&msg).to_string();
        self.state = State::SentFirst { bare };
        msg.into_bytes()
    }

    /// The client-final message answering the server's first message.
    pub fn client_final(&mut self, server_first: &[u8]) -> Result<Vec<u8>, ScramClientError> {
        let State::SentFirst { bare } = std::mem::replace(&mut self.state, State::Done) else {
            return Err(ScramClientError::OutOfOrder);
        };
        let first = ServerFirstMessage::parse(server_first)?;
        if !first.nonce.starts_with(&self.nonce) || first.nonce.len() == self.nonce.len() {
            return Err(ScramClientError::NonceMismatch);
        }
        if !(MIN_ITERATIONS..=CLIENT_MAX_ITERATIONS).contains(&first.iterations) {
            return Err(ScramClientError::Iterations(first.iterations));
        }
        let salted = salted_password(
            self.mechanism,
            &self.password,
            &first.salt,
            first.iterations as u32,
        );
        let without_proof = ClientFinalMessage::format_without_proof("n,,", &first.nonce);
        let server_first_text = String::from_utf8_lossy(server_first);
        let auth_message = format!("{bare},{server_first_text},{without_proof}");
        let ck = client_key(self.mechanism, &salted);
        let stored_key = hash(self.mechanism, &ck);
        let signature = hmac(self.mechanism, &stored_key, &[auth_message.as_bytes()]);
        let proof = xor(&ck, &signature);
        let server_signature = hmac(
            self.mechanism,
            &server_key(self.mechanism, &salted),
            &[auth_message.as_bytes()],
        );
        self.state = State::SentFinal { server_signature };
        Ok(format!("{without_proof},p={}", b64(&proof)).into_bytes())
    }

    /// Checks the server-final message: the server knew the credential.
    pub fn server_final(&mut self, server_final: &[u8]) -> Result<(), ScramClientError> {
        let State::SentFinal { server_signature } = std::mem::replace(&mut self.state, State::Done)
        else {
            return Err(ScramClientError::OutOfOrder);
        };
        match ServerFinalMessage::parse(server_final)? {
            ServerFinalMessage::Error(e) => Err(ScramClientError::ServerError(e)),
            ServerFinalMessage::Verifier(v) if constant_time_eq(&v, &server_signature) => Ok(()),
            ServerFinalMessage::Verifier(_) => Err(ScramClientError::BadServerSignature),
        }
    }
}
