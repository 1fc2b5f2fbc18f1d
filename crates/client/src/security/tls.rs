//! The client's TLS (rustls with the `ring` provider, as the broker): the rustls
//! configuration from Kafka's `ssl.*` client keys and the handshake on a new connection.
//! The broker's host is checked against its certificate, as Kafka's default
//! `ssl.endpoint.identification.algorithm=https` does; an empty value turns only that
//! check off (the chain is still verified against the trust store).

use std::collections::BTreeMap;
use std::sync::Arc;

use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;
use tokio_rustls::rustls::client::WebPkiServerVerifier;
use tokio_rustls::rustls::client::danger::{
    HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier,
};
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use tokio_rustls::rustls::{
    self, CertificateError, ClientConfig as TlsConfig, DigitallySignedStruct, RootCertStore,
    SignatureScheme,
};

use super::pem::{self, config_err};
use crate::error::{ClientError, Result};

#[allow(deprecated)]
fn ring_provider() -> Arc<rustls::crypto::CryptoProvider> {
    // ring keeps builds light; deprecated in rustls only for lacking post-quantum key exchange.
    Arc::new(rustls::crypto::ring::default_provider())
}

fn check_pem_type(props: &BTreeMap<String, String>, key: &str) -> Result<()> {
    match props.get(key).map(|t| t.trim()) {
        Some(t) if !t.is_empty() && !t.eq_ignore_ascii_case("PEM") => Err(config_err(format!(
            "{key}={t}: only PEM stores are supported (convert with `openssl pkcs12 -in store.p12 -nodes`)"
        ))),
        _ => Ok(()),
    }
}

fn get<'a>(props: &'a BTreeMap<String, String>, key: &str) -> Option<&'a str> {
    props.get(key).map(|v| v.trim()).filter(|v| !v.is_empty())
}

/// The trust store: a PEM file or inline PEM (there is no system trust store here).
fn roots(props: &BTreeMap<String, String>) -> Result<RootCertStore> {
    let (key, text) = match (
        get(props, "ssl.truststore.location"),
        get(props, "ssl.truststore.certificates"),
    ) {
        (Some(path), _) => (
            "ssl.truststore.location",
            pem::read_file("ssl.truststore.location", path)?,
        ),
        (None, Some(inline)) => ("ssl.truststore.certificates", pem::rewrap(inline)),
        (None, None) => {
            return Err(config_err(
                "TLS needs ssl.truststore.location or ssl.truststore.certificates (PEM)",
            ));
        }
    };
    let mut roots = RootCertStore::empty();
    for cert in pem::certificates(key, &text)? {
        roots
            .add(cert)
            .map_err(|e| config_err(format!("{key}: {e}")))?;
    }
    Ok(roots)
}

/// The key store's PEM (chain, key), for mutual TLS; `None` without one.
fn key_store(props: &BTreeMap<String, String>) -> Result<Option<(String, String)>> {
    match (
        get(props, "ssl.keystore.location"),
        get(props, "ssl.keystore.key"),
    ) {
        (Some(path), _) => {
            let text = pem::read_file("ssl.keystore.location", path)?;
            Ok(Some((text.clone(), text)))
        }
        (None, Some(key)) => {
            let chain = get(props, "ssl.keystore.certificate.chain").ok_or_else(|| {
                config_err("ssl.keystore.key needs ssl.keystore.certificate.chain")
            })?;
            Ok(Some((pem::rewrap(chain), pem::rewrap(key))))
        }
        (None, None) => Ok(None),
    }
}

/// The rustls configuration of Kafka's `ssl.*` client keys in `props`.
pub fn config(props: &BTreeMap<String, String>) -> Result<Arc<TlsConfig>> {
    check_pem_type(props, "ssl.truststore.type")?;
    check_pem_type(props, "ssl.keystore.type")?;
    let roots = Arc::new(roots(props)?);
    let builder = TlsConfig::builder_with_provider(ring_provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| config_err(e.to_string()))?;
    let check_host = match props.get("ssl.endpoint.identification.algorithm") {
        None => true,
        Some(v) if v.trim().is_empty() => false,
        Some(v) if v.trim().eq_ignore_ascii_case("https") => true,
        Some(v) => {
            return Err(config_err(format!(
                "ssl.endpoint.identification.algorithm={v}: expected https or empty"
            )));
        }
    };
    let builder = if check_host {
        builder.with_root_certificates(roots)
    } else {
        let inner = WebPkiServerVerifier::builder_with_provider(roots, ring_provider())
            .build()
            .map_err(|e| config_err(format!("ssl.truststore: {e}")))?;
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AnyHostVerifier(inner)))
    };
    let config = match key_store(props)? {
        None => builder.with_no_client_auth(),
        Some((chain, key)) => builder
            .with_client_auth_cert(
                pem::certificates("ssl.keystore", &chain)?,
                pem::private_key("ssl.keystore", &key)?,
            )
            .map_err(|e| config_err(format!("ssl.keystore: {e}")))?,
    };
    Ok(Arc::new(config))
}

/// Verifies the chain as WebPKI does but accepts a certificate for another host
/// (`ssl.endpoint.identification.algorithm=` empty).
#[derive(Debug)]
struct AnyHostVerifier(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for AnyHostVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

/// The host part of `host:port` (brackets of an IPv6 literal removed).
fn host_of(addr: &str) -> &str {
    addr.rsplit_once(':')
        .map_or(addr, |(h, _)| h)
        .trim_start_matches('[')
        .trim_end_matches(']')
}

/// Runs the TLS handshake on `tcp` to `addr`. A certificate the client does not accept
/// (or a server that refuses the client's) is [`ClientError::Authentication`], as Kafka's
/// `SslAuthenticationException`; other failures are I/O errors.
pub async fn connect(
    config: &Arc<TlsConfig>,
    addr: &str,
    tcp: TcpStream,
) -> Result<TlsStream<TcpStream>> {
    let host = host_of(addr);
    let name = ServerName::try_from(host.to_string())
        .map_err(|_| config_err(format!("{host} is not a valid TLS server name")))?;
    TlsConnector::from(config.clone())
        .connect(name, tcp)
        .await
        .map_err(|source| {
            if source.kind() == std::io::ErrorKind::InvalidData {
                ClientError::Authentication {
                    addr: addr.to_string(),
                    message: format!("TLS handshake failed: {source}"),
                }
            } else {
                ClientError::Io {
                    addr: addr.to_string(),
                    source,
                }
            }
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_of_addresses() {
        assert_eq!(host_of("localhost:9093"), "localhost");
        assert_eq!(host_of("[::1]:9093"), "::1");
        assert_eq!(host_of("127.0.0.1:1"), "127.0.0.1");
    }
}
