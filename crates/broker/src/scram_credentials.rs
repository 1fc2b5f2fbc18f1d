//! SCRAM authentication over the broker's metadata image: [`scram_server`] builds the
//! `SaslServer` for `SCRAM-SHA-256` / `SCRAM-SHA-512` that a connection runs after
//! SaslHandshake, reading the credentials AlterUserScramCredentials stored. Unknown users
//! get stand-in credentials under a secret drawn once per process.

use std::sync::{Arc, OnceLock};

use vltava_raft::{Controller, MetadataImage};
use vltava_security::sasl::{SaslError, SaslServer, SaslServerFactory, SaslStep};
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

/// Where a listener's SCRAM exchanges find credentials: the metadata quorum's handle, set
/// once at start-up (listeners accept connections only after that).
#[derive(Debug, Clone, Default)]
pub struct CredentialSource(Arc<OnceLock<Controller>>);

impl CredentialSource {
    /// Installs the controller handle (the first call wins).
    pub fn set(&self, controller: Controller) {
        let _ = self.0.set(controller);
    }

    fn image(&self) -> Option<Arc<MetadataImage>> {
        self.0.get().map(Controller::image)
    }
}

/// Makes the SCRAM servers of one mechanism for a listener (`sasl.enabled.mechanisms`
/// naming `SCRAM-SHA-256` or `SCRAM-SHA-512`); each exchange reads the image current when
/// it starts.
#[derive(Debug)]
pub struct ScramFactory {
    mechanism: ScramMechanism,
    source: CredentialSource,
}

impl ScramFactory {
    /// A factory for `mechanism` over `source`.
    pub fn new(mechanism: ScramMechanism, source: CredentialSource) -> Self {
        ScramFactory { mechanism, source }
    }
}

impl SaslServerFactory for ScramFactory {
    fn mechanism(&self) -> &str {
        self.mechanism.name()
    }

    fn new_server(&self) -> Box<dyn SaslServer> {
        self.source
            .image()
            .and_then(|image| scram_server_over(image, self.mechanism.name()))
            .unwrap_or_else(|| {
                Box::new(Unavailable {
                    mechanism: self.mechanism,
                })
            })
    }
}

/// An exchange that cannot run (no metadata image yet, or no randomness from the OS):
/// every token fails authentication.
#[derive(Debug)]
struct Unavailable {
    mechanism: ScramMechanism,
}

impl SaslServer for Unavailable {
    fn mechanism(&self) -> &str {
        self.mechanism.name()
    }

    fn step(&mut self, _token: &[u8]) -> Result<SaslStep, SaslError> {
        Err(SaslError::AuthenticationFailed(
            "Authentication failed: SCRAM credentials are not available on this broker yet".into(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_a_quorum_every_exchange_fails_authentication() {
        let f = ScramFactory::new(ScramMechanism::Sha512, CredentialSource::default());
        assert_eq!(f.mechanism(), "SCRAM-SHA-512");
        let mut server = f.new_server();
        assert_eq!(server.mechanism(), "SCRAM-SHA-512");
        let err = server.step(b"n,,n=alice,r=abc").unwrap_err();
        assert_eq!(err.kafka_code(), 58);
    }
}
