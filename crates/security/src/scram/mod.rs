//! SCRAM-SHA-256 and SCRAM-SHA-512 (RFC 5802, RFC 7677) as Kafka speaks them: the
//! mechanisms and their credential rules ([`ScramMechanism`]), the stored credential
//! ([`ScramCredential`]) and where the server finds it ([`ScramCredentialLookup`]), the
//! key derivations (`crypto`), the message grammar (`messages`), the server
//! ([`ScramServer`]) and a client ([`ScramClient`]) that vltava-client logs in with.

mod client;
pub mod crypto;
mod error;
pub mod messages;
mod server;
mod unknown_user;

use std::fmt;

pub use client::{ScramClient, ScramClientError};
pub use error::ScramError;
pub use server::{MAX_TOKEN_BYTES, ScramServer};
pub use unknown_user::UnknownUserSecret;

/// Kafka's fewest iterations for a stored SCRAM credential (both mechanisms).
pub const MIN_ITERATIONS: i32 = 4096;
/// Kafka's most iterations for a stored SCRAM credential (both mechanisms).
pub const MAX_ITERATIONS: i32 = 16384;

/// A SCRAM mechanism, with Kafka's type codes (`ScramMechanism` in the admin API and in
/// `UserScramCredentialRecord`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ScramMechanism {
    /// `SCRAM-SHA-256`, type 1.
    Sha256,
    /// `SCRAM-SHA-512`, type 2.
    Sha512,
}

impl ScramMechanism {
    /// Both mechanisms, in type order.
    pub const ALL: [ScramMechanism; 2] = [ScramMechanism::Sha256, ScramMechanism::Sha512];

    /// Kafka's type code (0 is UNKNOWN).
    pub fn code(self) -> i8 {
        match self {
            ScramMechanism::Sha256 => 1,
            ScramMechanism::Sha512 => 2,
        }
    }

    /// The mechanism of a type code.
    pub fn from_code(code: i8) -> Option<Self> {
        match code {
            1 => Some(ScramMechanism::Sha256),
            2 => Some(ScramMechanism::Sha512),
            _ => None,
        }
    }

    /// The SASL mechanism name (`SCRAM-SHA-256`).
    pub fn name(self) -> &'static str {
        match self {
            ScramMechanism::Sha256 => "SCRAM-SHA-256",
            ScramMechanism::Sha512 => "SCRAM-SHA-512",
        }
    }

    /// The mechanism of a SASL mechanism name (exact, upper case, as Kafka matches it).
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.name() == name)
    }

    /// The hash's output length in bytes: the length of salted passwords, keys, proofs
    /// and signatures.
    pub fn hash_len(self) -> usize {
        match self {
            ScramMechanism::Sha256 => 32,
            ScramMechanism::Sha512 => 64,
        }
    }

    /// Fewest iterations a stored credential may have.
    pub fn min_iterations(self) -> i32 {
        MIN_ITERATIONS
    }

    /// Most iterations a stored credential may have.
    pub fn max_iterations(self) -> i32 {
        MAX_ITERATIONS
    }
}

impl fmt::Display for ScramMechanism {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What the server stores for one user and mechanism (never the password nor the
/// salted password).
#[derive(Clone, PartialEq, Eq)]
pub struct ScramCredential {
    pub salt: Vec<u8>,
    /// `H(HMAC(SaltedPassword, "Client Key"))`.
    pub stored_key: Vec<u8>,
    /// `HMAC(SaltedPassword, "Server Key")`.
    pub server_key: Vec<u8>,
    pub iterations: i32,
}

impl fmt::Debug for ScramCredential {
    /// Keys are not printed.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScramCredential")
            .field("salt_len", &self.salt.len())
            .field("iterations", &self.iterations)
            .finish_non_exhaustive()
    }
}

/// Where a SCRAM server finds credentials (the broker: its metadata image).
pub trait ScramCredentialLookup: Send {
    /// The credential of `user` for `mechanism`, if one is stored.
    fn credential(&self, user: &str, mechanism: ScramMechanism) -> Option<ScramCredential>;
}

impl<F> ScramCredentialLookup for F
where
    F: Fn(&str, ScramMechanism) -> Option<ScramCredential> + Send,
{
    fn credential(&self, user: &str, mechanism: ScramMechanism) -> Option<ScramCredential> {
        self(user, mechanism)
    }
}

#[cfg(test)]
mod tests;
