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

/// Each `-----BEGIN X-----` ... `-----END X-----` section on lines of its own, its base64
/// with whitespace and literal `\n` escapes removed; text outside sections is dropped.
pub fn rewrap(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("-----BEGIN ") {
        let after = &rest[start + "-----BEGIN ".len()..];
        let Some(label_end) = after.find("-----") else {
            break;
        };
        let label = &after[..label_end];
        let body = &after[label_end + 5..];
        let end = format!("-----END {label}-----");
        let Some(body_end) = body.find(&end) else {
            break;
        };
        let b64: String = body[..body_end]
            .replace("\\n", "")
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect();
        out.push_str(&format!("-----BEGIN {label}-----\n"));
        for chunk in b64.as_bytes().chunks(64) {
            out.push_str(&String::from_utf8_lossy(chunk));
            out.push('\n');
        }
        out.push_str(&end);
        out.push('\n');
        rest = &body[body_end + end.len()..];
    }
    out
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
    fn one_line_pem_is_rewrapped() {
        let b64 = "A".repeat(100);
        let one_line = format!("-----BEGIN CERTIFICATE----- {b64} -----END CERTIFICATE-----");
        let out = rewrap(&one_line);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines[0], "-----BEGIN CERTIFICATE-----");
        assert_eq!(lines[1].len(), 64);
        assert_eq!(lines[2].len(), 36);
        assert_eq!(lines[3], "-----END CERTIFICATE-----");
        let escaped = format!(
            "-----BEGIN X-----\\n{}\\n{}\\n-----END X-----",
            &b64[..50],
            &b64[50..]
        );
        assert_eq!(rewrap(&escaped).lines().nth(1), Some(&b64[..64]));
        assert_eq!(rewrap("no pem here"), "");
        assert_eq!(rewrap("-----BEGIN X----- AAAA"), "");
    }

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
