//! TLS and SASL on the client's connections, configured with Kafka's client keys (as in a
//! `--command-config` file): `security.protocol` (PLAINTEXT, SSL, SASL_PLAINTEXT,
//! SASL_SSL); for TLS ([`tls`]) `ssl.truststore.location` / `ssl.truststore.certificates`
//! (PEM), `ssl.keystore.location` (PEM key + chain, for mutual TLS) or
//! `ssl.keystore.certificate.chain` + `ssl.keystore.key`,
//! `ssl.endpoint.identification.algorithm`; for SASL ([`sasl`]) `sasl.mechanism` (PLAIN,
//! SCRAM-SHA-256, SCRAM-SHA-512) and `sasl.jaas.config` (`PlainLoginModule` or
//! `ScramLoginModule` `required username="..." password="...";`).

pub mod pem;
pub mod sasl;
pub mod tls;

use std::collections::BTreeMap;
use std::sync::Arc;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::rustls::ClientConfig as TlsConfig;
use vltava_security::scram::ScramMechanism;

use crate::error::{ClientError, Result};
use pem::config_err;

/// The keys [`Security::from_properties`] reads (the store passwords are accepted and
/// unused: PEM stores here are not encrypted).
pub const KEYS: &[&str] = &[
    "security.protocol",
    "ssl.truststore.type",
    "ssl.truststore.location",
    "ssl.truststore.certificates",
    "ssl.truststore.password",
    "ssl.keystore.type",
    "ssl.keystore.location",
    "ssl.keystore.certificate.chain",
    "ssl.keystore.key",
    "ssl.keystore.password",
    "ssl.key.password",
    "ssl.endpoint.identification.algorithm",
    "sasl.mechanism",
    "sasl.jaas.config",
];

/// Whether `key` is one of [`KEYS`].
pub fn is_security_key(key: &str) -> bool {
    KEYS.contains(&key)
}

/// Login modules whose `username`/`password` options are the client's credentials.
const LOGIN_MODULES: &[&str] = &[
    vltava_security::jaas::PLAIN_LOGIN_MODULE,
    "org.apache.kafka.common.security.scram.ScramLoginModule",
];

/// A SASL mechanism the client speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SaslMechanism {
    Plain,
    Scram(ScramMechanism),
}

impl SaslMechanism {
    /// The mechanism named `name` (exact, as Kafka matches it).
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "PLAIN" => Some(SaslMechanism::Plain),
            _ => ScramMechanism::from_name(name).map(SaslMechanism::Scram),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            SaslMechanism::Plain => "PLAIN",
            SaslMechanism::Scram(m) => m.name(),
        }
    }
}

/// A SASL login: mechanism and credentials (the password is left out of `Debug`).
#[derive(Clone)]
pub struct SaslLogin {
    pub mechanism: SaslMechanism,
    pub username: String,
    pub password: String,
}

impl std::fmt::Debug for SaslLogin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SaslLogin")
            .field("mechanism", &self.mechanism)
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

/// How the client's connections are secured (default: PLAINTEXT).
#[derive(Clone, Default)]
pub struct Security {
    /// TLS (SSL, SASL_SSL).
    pub tls: Option<Arc<TlsConfig>>,
    /// SASL (SASL_PLAINTEXT, SASL_SSL).
    pub sasl: Option<SaslLogin>,
}

impl std::fmt::Debug for Security {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Security")
            .field("tls", &self.tls.is_some())
            .field("sasl", &self.sasl)
            .finish()
    }
}

/// A connected stream, TCP or TLS.
pub trait Stream: AsyncRead + AsyncWrite + Unpin + Send + 'static {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send + 'static> Stream for T {}

impl Security {
    /// Whether connections are plain TCP without a login.
    pub fn is_plaintext(&self) -> bool {
        self.tls.is_none() && self.sasl.is_none()
    }

    /// Reads Kafka's client security keys from `props` (other keys are ignored).
    pub fn from_properties(props: &BTreeMap<String, String>) -> Result<Security> {
        let protocol = props
            .get("security.protocol")
            .map(|s| s.trim().to_ascii_uppercase())
            .unwrap_or_else(|| "PLAINTEXT".into());
        let (tls, sasl) = match protocol.as_str() {
            "PLAINTEXT" => (false, false),
            "SSL" => (true, false),
            "SASL_PLAINTEXT" => (false, true),
            "SASL_SSL" => (true, true),
            other => {
                return Err(config_err(format!(
                    "security.protocol={other}: expected PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL"
                )));
            }
        };
        Ok(Security {
            tls: if tls { Some(tls::config(props)?) } else { None },
            sasl: if sasl { Some(sasl_login(props)?) } else { None },
        })
    }

    /// Secures a new connection to `addr`: the TLS handshake, then the SASL login.
    /// The caller bounds it in time.
    pub async fn secure(
        &self,
        tcp: TcpStream,
        addr: &str,
        client_id: &str,
    ) -> Result<Box<dyn Stream>> {
        match &self.tls {
            Some(config) => {
                let mut s = tls::connect(config, addr, tcp).await?;
                if let Some(login) = &self.sasl {
                    sasl::login(&mut s, addr, client_id, login).await?;
                }
                Ok(Box::new(s))
            }
            None => {
                let mut s = tcp;
                if let Some(login) = &self.sasl {
                    sasl::login(&mut s, addr, client_id, login).await?;
                }
                Ok(Box::new(s))
            }
        }
    }
}

/// `sasl.mechanism` (Kafka's default GSSAPI is not available: it must be set) and the
/// credentials of `sasl.jaas.config`.
fn sasl_login(props: &BTreeMap<String, String>) -> Result<SaslLogin> {
    let name = props.get("sasl.mechanism").map_or("GSSAPI", |s| s.trim());
    let mechanism = SaslMechanism::from_name(name).ok_or_else(|| {
        config_err(format!(
            "sasl.mechanism={name}: expected PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 (set it: Kafka's default GSSAPI is not supported)"
        ))
    })?;
    let jaas = props
        .get("sasl.jaas.config")
        .ok_or_else(|| config_err("SASL needs sasl.jaas.config"))?;
    let entry = vltava_security::jaas::parse(jaas)
        .map_err(|e| config_err(format!("sasl.jaas.config: {e}")))?;
    if !LOGIN_MODULES.contains(&entry.login_module.as_str()) {
        return Err(config_err(format!(
            "sasl.jaas.config: login module {} is not supported (expected one of {LOGIN_MODULES:?})",
            entry.login_module
        )));
    }
    let get = |k: &str| {
        entry
            .options
            .get(k)
            .cloned()
            .ok_or_else(|| config_err(format!("sasl.jaas.config needs {k}=\"...\"")))
    };
    Ok(SaslLogin {
        mechanism,
        username: get("username")?,
        password: get("password")?,
    })
}

/// An error of this module's setup is final: retrying the same connection fails alike.
pub fn is_fatal(e: &ClientError) -> bool {
    matches!(
        e,
        ClientError::Authentication { .. } | ClientError::Config(_)
    )
}

#[cfg(test)]
mod tests;
