//! SCRAM authentication over the broker's metadata image: [`scram_server`] builds the
//! `SaslServer` for `SCRAM-SHA-256` / `SCRAM-SHA-512` that a connection runs after
//! SaslHandshake, reading the credentials AlterUserScramCredentials stored. Unknown users
//! get stand-in credentials under a secret drawn once per process.

use std::sync::{Arc, OnceLock};

use vltava_raft::MetadataImage;
use vltava_security::sasl::SaslServer;
use vltava_security::scram::{
    ScramCredential, ScramCredentialLookup, ScramMechanism, ScramServer, UnknownUserSecret,
};

use crate::broker::Broker;

/// Bytes of randomness in a server nonce.
const NONCE_BYTES: usize = 24;

/// Credentials as one committed image holds them (the image current when the exchange
/// started).
#[derive(Debug, Clone)]
pub struct ImageCredentials(pub Arc<MetadataImage>);

impl ScramCredentialLookup for ImageCredentials {
    fn credential(&self, user: &str, mechanism: ScramMechanism) -> Option<ScramCredential> {
        self.0.scram_credential(user, mechanism).cloned()
    }
}

/// Fills `buf` from the OS; a failure (no entropy source) is reported, not hidden.
fn random(buf: &mut [u8]) -> Result<(), getrandom::Error> {
    getrandom::fill(buf)
}

/// The process's secret for unknown users' stand-in credentials.
fn unknown_user_secret() -> Option<UnknownUserSecret> {
    static SECRET: OnceLock<Option<UnknownUserSecret>> = OnceLock::new();
    SECRET
        .get_or_init(|| {
            let mut bytes = [0u8; 32];
            random(&mut bytes).ok()?;
            Some(UnknownUserSecret::new(bytes))
        })
        .clone()
}

/// A SCRAM server for `mechanism` (`SCRAM-SHA-256` or `SCRAM-SHA-512`) over `image`;
/// `None` for another mechanism name or when the OS has no randomness to give.
pub fn scram_server_over(
    image: Arc<MetadataImage>,
    mechanism: &str,
) -> Option<Box<dyn SaslServer>> {
    let mechanism = ScramMechanism::from_name(mechanism)?;
    let mut nonce = [0u8; NONCE_BYTES];
    random(&mut nonce).ok()?;
    let server = ScramServer::new(
        mechanism,
        ImageCredentials(image),
        &nonce,
        unknown_user_secret()?,
    );
    Some(Box::new(server))
}

/// A SCRAM server for `mechanism` over this broker's current metadata image; `None` for
/// another mechanism, or before the broker follows a metadata quorum.
pub fn scram_server(broker: &Broker, mechanism: &str) -> Option<Box<dyn SaslServer>> {
    scram_server_over(broker.controller()?.image(), mechanism)
}
