//! The SCRAM server for one connection: client-first → server-first, client-final →
//! server-final (`v=` signature) and the principal `User:<name>`. Proofs are compared in
//! constant time, and a user without a credential runs the same steps against a stand-in
//! credential (`unknown_user`), failing exactly where a wrong password fails.

use std::fmt;

use super::crypto::{constant_time_eq, hash, hmac, xor};
use super::error::ScramError;
use super::messages::{
    ClientFinalMessage, ClientFirstMessage, ServerFinalMessage, ServerFirstMessage, b64,
    is_printable,
};
use super::{ScramCredential, ScramCredentialLookup, ScramMechanism, UnknownUserSecret};
use crate::principal::KafkaPrincipal;
use crate::sasl::{SaslError, SaslServer, SaslStep};

/// Largest client message accepted (real ones are well under 1 KiB).
pub const MAX_TOKEN_BYTES: usize = 8 * 1024;

/// The exchange so far, between the server's first message and the client's final one.
struct Pending {
    username: String,
    gs2_header: String,
    client_first_bare: String,
    server_first: String,
    nonce: String,
    credential: ScramCredential,
    /// False for a stand-in credential: the proof check then fails whatever it computes.
    known: bool,
}

enum State {
    ClientFirst,
    ClientFinal(Box<Pending>),
    Over,
}

/// A SCRAM-SHA-256 or SCRAM-SHA-512 server for one exchange.
pub struct ScramServer<L> {
    mechanism: ScramMechanism,
    lookup: L,
    server_nonce: String,
    unknown: UnknownUserSecret,
    state: State,
}

impl<L> fmt::Debug for ScramServer<L> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScramServer")
            .field("mechanism", &self.mechanism)
            .finish_non_exhaustive()
    }
}

impl<L: ScramCredentialLookup> ScramServer<L> {
    /// A server for `mechanism` reading credentials from `lookup`. `nonce_bytes` are fresh
    /// random bytes for this exchange (sent base64-encoded after the client's nonce; 18 or
    /// more); `unknown` derives stand-in credentials for users without one.
    pub fn new(
        mechanism: ScramMechanism,
        lookup: L,
        nonce_bytes: &[u8],
        unknown: UnknownUserSecret,
    ) -> Self {
        ScramServer {
            mechanism,
            lookup,
            server_nonce: b64(nonce_bytes),
            unknown,
            state: State::ClientFirst,
        }
    }

    /// As [`ScramServer::new`] with the server nonce given as text (RFC 5802's
    /// `printable`: `%x21-7E` except `,`); `None` when it is not.
    pub fn with_nonce(
        mechanism: ScramMechanism,
        lookup: L,
        server_nonce: &str,
        unknown: UnknownUserSecret,
    ) -> Option<Self> {
        is_printable(server_nonce).then(|| ScramServer {
            mechanism,
            lookup,
            server_nonce: server_nonce.to_string(),
            unknown,
            state: State::ClientFirst,
        })
    }

    /// The mechanism this server speaks.
    pub fn mechanism(&self) -> ScramMechanism {
        self.mechanism
    }

    fn client_first(&mut self, token: &[u8]) -> Result<SaslStep, ScramError> {
        let first = ClientFirstMessage::parse(token)?;
        if first.authzid.as_ref().is_some_and(|a| *a != first.username) {
            return Err(ScramError::Refused(
                "Client requested an authorization id that is different from username".to_string(),
            ));
        }
        // Delegation tokens do not exist here: a token login has no credential.
        let stored = if first.token_auth() {
            None
        } else {
            self.lookup.credential(&first.username, self.mechanism)
        };
        // Derived for every user, so a known user's first answer costs what an unknown
        // user's does.
        let stand_in = self.unknown.credential(&first.username, self.mechanism);
        let (credential, known) = match stored {
            Some(c) => {
                if c.iterations < self.mechanism.min_iterations() {
                    return Err(ScramError::Refused(format!(
                        "Iterations {} is less than the minimum {} for {}",
                        c.iterations,
                        self.mechanism.min_iterations(),
                        self.mechanism
                    )));
                }
                (c, true)
            }
            None => (stand_in, false),
        };
        let server_first = ServerFirstMessage {
            nonce: format!("{}{}", first.nonce, self.server_nonce),
            salt: credential.salt.clone(),
            iterations: credential.iterations,
        };
        let text = server_first.format();
        self.state = State::ClientFinal(Box::new(Pending {
            username: first.username,
            gs2_header: first.gs2_header,
            client_first_bare: first.bare,
            server_first: text.clone(),
            nonce: server_first.nonce,
            credential,
            known,
        }));
        Ok(SaslStep::Challenge(text.into_bytes()))
    }

    fn client_final(&self, p: &Pending, token: &[u8]) -> Result<SaslStep, ScramError> {
        let last = ClientFinalMessage::parse(token)?;
        if last.nonce != p.nonce {
            return Err(ScramError::Refused(
                "Invalid client nonce in the final client message".to_string(),
            ));
        }
        if last.channel_binding != p.gs2_header.as_bytes() {
            return Err(ScramError::Refused(
                "channel binding does not match the GS2 header".to_string(),
            ));
        }
        if last.proof.len() != self.mechanism.hash_len() {
            return Err(ScramError::InvalidCredentials);
        }
        let auth_message = format!(
            "{},{},{}",
            p.client_first_bare, p.server_first, last.without_proof
        );
        let signature = hmac(
            self.mechanism,
            &p.credential.stored_key,
            &[auth_message.as_bytes()],
        );
        let client_key = xor(&last.proof, &signature);
        let proof_ok =
            constant_time_eq(&hash(self.mechanism, &client_key), &p.credential.stored_key);
        if !(proof_ok & p.known) {
            return Err(ScramError::InvalidCredentials);
        }
        let server_signature = hmac(
            self.mechanism,
            &p.credential.server_key,
            &[auth_message.as_bytes()],
        );
        Ok(SaslStep::Done {
            response: ServerFinalMessage::Verifier(server_signature)
                .format()
                .into_bytes(),
            principal: KafkaPrincipal::user(p.username.clone()),
        })
    }
}

impl<L: ScramCredentialLookup> ScramServer<L> {
    /// Takes the client's next token, as [`SaslServer::step`] does, with the failure's
    /// SCRAM-level reason.
    pub fn exchange(&mut self, token: &[u8]) -> Result<SaslStep, ScramError> {
        let state = std::mem::replace(&mut self.state, State::Over);
        if token.len() > MAX_TOKEN_BYTES && !matches!(state, State::Over) {
            return Err(ScramError::TooLarge {
                len: token.len(),
                limit: MAX_TOKEN_BYTES,
            });
        }
        // Any failure leaves the state `Over`: an exchange is never retried.
        match state {
            State::ClientFirst => self.client_first(token),
            State::ClientFinal(p) => self.client_final(&p, token),
            State::Over => Err(ScramError::IllegalState),
        }
    }
}

impl<L: ScramCredentialLookup + Send> SaslServer for ScramServer<L> {
    fn mechanism(&self) -> &str {
        self.mechanism.name()
    }

    fn step(&mut self, token: &[u8]) -> Result<SaslStep, SaslError> {
        self.exchange(token).map_err(SaslError::from)
    }
}
