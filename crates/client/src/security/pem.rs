//! PEM text from Kafka's store keys: a file (`ssl.truststore.location`,
//! `ssl.keystore.location`) or inline text (`ssl.truststore.certificates`,
//! `ssl.keystore.certificate.chain`, `ssl.keystore.key`), which a properties file may
//! deliver on one line; [`rewrap`] puts it back into the shape PEM parsers read.

use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::error::{ClientError, Result};

/// Largest PEM file read (a store holds a few certificates).
pub const MAX_PEM_BYTES: u64 = 1 << 20;

pub(crate) fn config_err(msg: impl Into<String>) -> ClientError {
    ClientError::Config(msg.into())
}

/// Each PEM section on lines of its own (see [`vltava_security::pem_text::normalize`]).
pub fn rewrap(text: &str) -> String {
    vltava_security::pem_text::normalize(text)
}

/// Reads a PEM file named by `key`, at most [`MAX_PEM_BYTES`].
pub fn read_file(key: &str, path: &str) -> Result<String> {
    let len = std::fs::metadata(path)
        .map_err(|e| config_err(format!("{key}: reading {path}: {e}")))?
        .len();
    if len > MAX_PEM_BYTES {
        return Err(config_err(format!(
            "{key}: {path} is {len} bytes, more than a PEM store of {MAX_PEM_BYTES}"
        )));
    }
    std::fs::read_to_string(path)
        .map(|t| rewrap(&t))
        .map_err(|e| config_err(format!("{key}: reading {path}: {e}")))
}

/// Every certificate in `pem` (at least one).
pub fn certificates(key: &str, pem: &str) -> Result<Vec<CertificateDer<'static>>> {
    let certs = CertificateDer::pem_slice_iter(pem.as_bytes())
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| config_err(format!("{key}: bad PEM certificate: {e}")))?;
    if certs.is_empty() {
        return Err(config_err(format!("{key}: no PEM certificate")));
    }
    Ok(certs)
}

/// The private key in `pem` (PKCS#8, PKCS#1 or SEC1; not encrypted).
pub fn private_key(key: &str, pem: &str) -> Result<PrivateKeyDer<'static>> {
    if pem.contains("ENCRYPTED PRIVATE KEY") {
        return Err(config_err(format!(
            "{key}: encrypted private keys are not supported; decrypt it (openssl pkcs8 -in key.pem -out plain.pem)"
        )));
    }
    PrivateKeyDer::from_pem_slice(pem.as_bytes())
        .map_err(|_| config_err(format!("{key}: no PEM private key")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_pem_is_a_config_error() {
        assert!(matches!(
            certificates("k", "nothing"),
            Err(ClientError::Config(_))
        ));
        assert!(
            private_key(
                "k",
                "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n"
            )
            .is_err()
        );
        assert!(private_key("k", "").is_err());
        assert!(read_file("k", "/nonexistent/ca.pem").is_err());
    }
}
