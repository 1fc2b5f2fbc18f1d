//! Stand-in credentials for users that have none, so that an unknown user goes through
//! the same exchange, in the same time, as a known user with a wrong password (Kafka
//! instead fails an unknown user at the first message). The salt, keys and iteration
//! count are derived from the user name under a server secret: the same name always gets
//! the same salt, and nothing tells it from a real one without the secret.

use std::fmt;

use super::crypto::hmac;
use super::{MIN_ITERATIONS, ScramCredential, ScramMechanism};

/// Length of a stand-in salt.
pub const FAKE_SALT_LEN: usize = 32;

/// The server secret stand-in credentials are derived from (random per process in the
/// broker; fixed in tests).
#[derive(Clone)]
pub struct UnknownUserSecret([u8; 32]);

impl fmt::Debug for UnknownUserSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("UnknownUserSecret(..)")
    }
}

impl UnknownUserSecret {
    /// A secret from 32 random bytes.
    pub fn new(bytes: [u8; 32]) -> Self {
        UnknownUserSecret(bytes)
    }

    fn derive(&self, label: &[u8], mechanism: ScramMechanism, user: &str) -> Vec<u8> {
        hmac(
            mechanism,
            &self.0,
            &[
                label,
                b"\0",
                mechanism.name().as_bytes(),
                b"\0",
                user.as_bytes(),
            ],
        )
    }

    /// The stand-in credential of `user` for `mechanism`: deterministic, at Kafka's
    /// default iteration count, matching no password.
    pub fn credential(&self, user: &str, mechanism: ScramMechanism) -> ScramCredential {
        let mut salt = self.derive(b"salt", mechanism, user);
        salt.truncate(FAKE_SALT_LEN);
        ScramCredential {
            salt,
            stored_key: self.derive(b"stored-key", mechanism, user),
            server_key: self.derive(b"server-key", mechanism, user),
            iterations: MIN_ITERATIONS,
        }
    }
}
