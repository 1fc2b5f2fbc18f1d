//! TLS for SSL and SASL_SSL listeners with rustls (the `ring` provider), configured by
//! Kafka's per-listener `ssl.*` keys (see `config::listener_prop`): PEM key stores only
//! (`ssl.keystore.type=PEM` with `ssl.keystore.location` holding the key and its chain, or
//! inline `ssl.keystore.certificate.chain` + `ssl.keystore.key`), PEM trust stores
//! (`ssl.truststore.location` or inline `ssl.truststore.certificates`), `ssl.client.auth`
//! (none, requested, required), `ssl.enabled.protocols` (TLSv1.2, TLSv1.3) and
//! `ssl.principal.mapping.rules` for the principal of a client certificate.

use std::sync::Arc;

use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::server::WebPkiClientVerifier;
use tokio_rustls::rustls::{self, RootCertStore, ServerConfig, SupportedProtocolVersion};
use vltava_security::KafkaPrincipal;
use vltava_security::ssl_mapping::PrincipalMapper;

use crate::config::{Properties, listener_prop, listener_prop_name};

/// Why a listener's TLS settings cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TlsSetupError {
    #[error("listener {listener}: {key}: {reason}")]
    Setting {
        listener: String,
        key: String,
        reason: String,
    },
    #[error("listener {listener}: reading {path}: {source}")]
    Io {
        listener: String,
        path: String,
        source: std::io::Error,
    },
    #[error("listener {listener}: {0}", listener = .0)]
    Rustls(String, #[source] rustls::Error),
}

/// `ssl.client.auth`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuth {
    None,
    Requested,
    Required,
}

/// A listener's TLS: the acceptor and how a client certificate becomes a principal.
#[derive(Clone)]
pub struct ListenerTls {
    pub acceptor: TlsAcceptor,
    pub mapper: PrincipalMapper,
    pub client_auth: ClientAuth,
}

impl std::fmt::Debug for ListenerTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ListenerTls")
            .field("client_auth", &self.client_auth)
            .finish_non_exhaustive()
    }
}

struct Keys<'a> {
    raw: &'a Properties,
    listener: &'a str,
}

impl Keys<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        listener_prop(self.raw, self.listener, key)
    }
    fn err(&self, key: &str, reason: impl Into<String>) -> TlsSetupError {
        TlsSetupError::Setting {
            listener: self.listener.to_string(),
            key: listener_prop_name(self.raw, self.listener, key),
            reason: reason.into(),
        }
    }
    fn read(&self, key: &str, path: &str) -> Result<String, TlsSetupError> {
        let _ = key;
        std::fs::read_to_string(path).map_err(|source| TlsSetupError::Io {
            listener: self.listener.to_string(),
            path: path.to_string(),
            source,
        })
    }
    /// Refuses a store type other than PEM.
    fn pem_type(&self, key: &str) -> Result<(), TlsSetupError> {
        match self.get(key) {
            None => Ok(()),
            Some(t) if t.eq_ignore_ascii_case("PEM") => Ok(()),
            Some(t) => Err(self.err(
                key,
                format!(
                    "{t} stores are not supported; use PEM (convert with `openssl pkcs12 -in store.p12 -nodes` or `keytool -importkeystore` then openssl)"
                ),
            )),
        }
    }
}

/// The first words of a PEM parse error (its Display can print whole byte arrays).
fn short(e: impl std::fmt::Display) -> String {
    let s = e.to_string();
    match s.find(": [") {
        Some(i) => s[..i].to_string(),
        None => s.chars().take(120).collect(),
    }
}

fn certs(keys: &Keys, key: &str, pem: &str) -> Result<Vec<CertificateDer<'static>>, TlsSetupError> {
    let pem = vltava_security::pem_text::normalize(pem);
    let certs: Vec<_> = CertificateDer::pem_slice_iter(pem.as_bytes())
        .collect::<Result<_, _>>()
        .map_err(|e| keys.err(key, format!("bad PEM certificate: {}", short(e))))?;
    if certs.is_empty() {
        return Err(keys.err(
            key,
            "no PEM certificate (-----BEGIN CERTIFICATE-----) found",
        ));
    }
    Ok(certs)
}

fn private_key(keys: &Keys, key: &str, pem: &str) -> Result<PrivateKeyDer<'static>, TlsSetupError> {
    if pem.contains("ENCRYPTED PRIVATE KEY") || pem.contains("Proc-Type: 4,ENCRYPTED") {
        return Err(keys.err(
            key,
            "encrypted private keys (ssl.key.password) are not supported; decrypt it with `openssl pkcs8 -in key.pem -nocrypt -out plain.pem` and protect the file instead",
        ));
    }
    PrivateKeyDer::from_pem_slice(vltava_security::pem_text::normalize(pem).as_bytes())
        .map_err(|e| keys.err(key, format!("no usable PEM private key: {}", short(e))))
}

fn versions(keys: &Keys) -> Result<Vec<&'static SupportedProtocolVersion>, TlsSetupError> {
    const KEY: &str = "ssl.enabled.protocols";
    let list = keys.get(KEY).unwrap_or("TLSv1.2,TLSv1.3");
    let mut out = Vec::new();
    for v in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        match v {
            "TLSv1.2" => out.push(&rustls::version::TLS12),
            "TLSv1.3" => out.push(&rustls::version::TLS13),
            "TLSv1" | "TLSv1.1" | "SSLv3" => {
                tracing::warn!(
                    listener = keys.listener,
                    protocol = v,
                    "TLS versions before 1.2 are not supported; ignored"
                )
            }
            other => {
                return Err(keys.err(
                    KEY,
                    format!("unknown protocol {other:?} (TLSv1.2, TLSv1.3)"),
                ));
            }
        }
    }
    if out.is_empty() {
        return Err(keys.err(KEY, "needs TLSv1.2 or TLSv1.3"));
    }
    Ok(out)
}

/// rustls with `ring`: chosen over aws-lc-rs to keep builds light (no cmake, no large C
/// build). rustls 0.23.48 marks it deprecated only because ring has no post-quantum key
/// exchange; classical ECDHE (X25519, P-256, P-384) is what Kafka's JVM offers too.
#[allow(deprecated)]
fn ring_provider() -> rustls::crypto::CryptoProvider {
    rustls::crypto::ring::default_provider()
}

/// The listener's key store: a PEM file (`ssl.keystore.location`) or inline PEM
/// (`ssl.keystore.certificate.chain` with `ssl.keystore.key`).
fn key_store(
    keys: &Keys,
) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), TlsSetupError> {
    // The key store: PEM file, or inline PEM.
    keys.pem_type("ssl.keystore.type")?;
    match (
        keys.get("ssl.keystore.location"),
        keys.get("ssl.keystore.certificate.chain"),
        keys.get("ssl.keystore.key"),
    ) {
        (Some(path), None, None) => {
            let pem = keys.read("ssl.keystore.location", path)?;
            if !pem.contains("-----BEGIN") {
                return Err(keys.err(
                    "ssl.keystore.location",
                    format!("{path} is not a PEM file; only ssl.keystore.type=PEM is supported"),
                ));
            }
            Ok((
                certs(keys, "ssl.keystore.location", &pem)?,
                private_key(keys, "ssl.keystore.location", &pem)?,
            ))
        }
        (None, Some(chain), Some(key)) => Ok((
            certs(keys, "ssl.keystore.certificate.chain", chain)?,
            private_key(keys, "ssl.keystore.key", key)?,
        )),
        (None, None, None) => {
            Err(keys.err(
                "ssl.keystore.location",
                "an SSL listener needs a key store (ssl.keystore.location, or ssl.keystore.certificate.chain and ssl.keystore.key)",
            ))
        }
        _ => {
            Err(keys.err(
                "ssl.keystore.location",
                "set either ssl.keystore.location or ssl.keystore.certificate.chain with ssl.keystore.key",
            ))
        }
    }
}

/// The listener's trust store, for client certificates: a PEM file or inline
/// PEM, or none.
fn trust_store(keys: &Keys) -> Result<Option<Vec<CertificateDer<'static>>>, TlsSetupError> {
    keys.pem_type("ssl.truststore.type")?;
    match (
        keys.get("ssl.truststore.location"),
        keys.get("ssl.truststore.certificates"),
    ) {
        (Some(path), None) => Ok(Some(certs(
            keys,
            "ssl.truststore.location",
            &keys.read("ssl.truststore.location", path)?,
        )?)),
        (None, Some(pem)) => Ok(Some(certs(keys, "ssl.truststore.certificates", pem)?)),
        (None, None) => Ok(None),
        (Some(_), Some(_)) => Err(keys.err(
            "ssl.truststore.location",
            "set ssl.truststore.location or ssl.truststore.certificates, not both",
        )),
    }
}

/// `ssl.client.auth`: none (the default), requested or required.
fn client_auth(keys: &Keys) -> Result<ClientAuth, TlsSetupError> {
    Ok(match keys.get("ssl.client.auth").unwrap_or("none") {
        v if v.eq_ignore_ascii_case("none") => ClientAuth::None,
        v if v.eq_ignore_ascii_case("requested") => ClientAuth::Requested,
        v if v.eq_ignore_ascii_case("required") => ClientAuth::Required,
        v => {
            return Err(keys.err(
                "ssl.client.auth",
                format!("{v:?} is not none, requested or required"),
            ));
        }
    })
}

/// Reads and checks listener `listener`'s TLS settings.
pub fn listener_tls(raw: &Properties, listener: &str) -> Result<ListenerTls, TlsSetupError> {
    let keys = Keys { raw, listener };
    let provider = Arc::new(ring_provider());
    let (chain, key) = key_store(&keys)?;
    let trusted = trust_store(&keys)?;
    let client_auth = client_auth(&keys)?;
    let mapper = PrincipalMapper::parse(keys.get("ssl.principal.mapping.rules").unwrap_or(""))
        .map_err(|e| keys.err("ssl.principal.mapping.rules", e.to_string()))?;
    let versions = versions(&keys)?;
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&versions)
        .map_err(|e| TlsSetupError::Rustls(listener.to_string(), e))?;
    let builder = match client_auth {
        ClientAuth::None => builder.with_no_client_auth(),
        ClientAuth::Requested | ClientAuth::Required => {
            let Some(trusted) = trusted else {
                return Err(keys.err(
                    "ssl.truststore.location",
                    "ssl.client.auth=requested/required needs a trust store for client certificates",
                ));
            };
            let mut roots = RootCertStore::empty();
            for c in trusted {
                roots.add(c).map_err(|e| {
                    keys.err(
                        "ssl.truststore.location",
                        format!("bad CA certificate: {e}"),
                    )
                })?;
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider);
            let verifier = if client_auth == ClientAuth::Requested {
                verifier.allow_unauthenticated()
            } else {
                verifier
            };
            let verifier = verifier
                .build()
                .map_err(|e| keys.err("ssl.truststore.location", e.to_string()))?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let config = builder
        .with_single_cert(chain, key)
        .map_err(|e| TlsSetupError::Rustls(listener.to_string(), e))?;
    Ok(ListenerTls {
        acceptor: TlsAcceptor::from(Arc::new(config)),
        mapper,
        client_auth,
    })
}

/// Why a client certificate gives no principal.
#[derive(Debug, thiserror::Error)]
pub enum CertPrincipalError {
    #[error(transparent)]
    Certificate(#[from] vltava_security::x500::BadCertificate),
    #[error(transparent)]
    Mapping(#[from] vltava_security::ssl_mapping::MappingError),
}

/// The principal of a TLS connection: its client certificate's subject through
/// `ssl.principal.mapping.rules`, or `User:ANONYMOUS` without a certificate.
pub fn cert_principal(
    mapper: &PrincipalMapper,
    peer_certs: Option<&[CertificateDer<'_>]>,
) -> Result<KafkaPrincipal, CertPrincipalError> {
    let Some(cert) = peer_certs.and_then(|c| c.first()) else {
        return Ok(KafkaPrincipal::anonymous());
    };
    let dn = vltava_security::x500::subject_name(cert.as_ref())?;
    Ok(KafkaPrincipal::user(mapper.map(&dn)?))
}
