//! The SASL mechanisms of a SASL_PLAINTEXT or SASL_SSL listener, from Kafka's keys:
//! `sasl.enabled.mechanisms` (or `listener.name.<l>.sasl.enabled.mechanisms`; Kafka's
//! default is GSSAPI, which Vltava does not have, so the default enables nothing and says
//! so) and, per mechanism, the JAAS login module of
//! `listener.name.<l>.<mechanism lower-case>.sasl.jaas.config`,
//! `listener.name.<l>.sasl.jaas.config` or `sasl.jaas.config`. A mechanism plugs in
//! here with an arm in [`factory`].

use std::sync::Arc;

use vltava_security::jaas::{self, JaasEntry, PLAIN_LOGIN_MODULE};
use vltava_security::sasl::plain::{PLAIN, PlainFactory};
use vltava_security::scram::ScramMechanism;
use vltava_security::{SaslMechanisms, SaslServerFactory};

use crate::config::{Properties, listener_prop, listener_prop_name};
use crate::scram_credentials::{CredentialSource, ScramFactory};

/// Mechanisms this broker can enable.
pub const SUPPORTED: &[&str] = &[PLAIN, "SCRAM-SHA-256", "SCRAM-SHA-512"];

/// Why a listener's SASL settings cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum SaslSetupError {
    #[error("listener {listener}: {key}: {reason}")]
    Setting {
        listener: String,
        key: String,
        reason: String,
    },
}

/// The JAAS entry for `mechanism` on `listener`, and the key it came from.
pub(crate) fn jaas_entry(
    raw: &Properties,
    listener: &str,
    mechanism: &str,
) -> Result<Option<(JaasEntry, String)>, SaslSetupError> {
    let l = listener.to_ascii_lowercase();
    let m = mechanism.to_ascii_lowercase();
    let keys = [
        format!("listener.name.{l}.{m}.sasl.jaas.config"),
        format!("listener.name.{l}.sasl.jaas.config"),
        "sasl.jaas.config".to_string(),
    ];
    for key in keys {
        if let Some(text) = raw.get(&key).filter(|v| !v.trim().is_empty()) {
            let entry = jaas::parse(text).map_err(|e| SaslSetupError::Setting {
                listener: listener.to_string(),
                key: key.clone(),
                reason: e.to_string(),
            })?;
            return Ok(Some((entry, key)));
        }
    }
    Ok(None)
}

/// The factory of `mechanism` on `listener`, or `None` when this broker does not have
/// the mechanism.
fn factory(
    raw: &Properties,
    listener: &str,
    mechanism: &str,
    scram: &CredentialSource,
) -> Result<Option<Arc<dyn SaslServerFactory>>, SaslSetupError> {
    match mechanism {
        PLAIN => {
            let missing = || SaslSetupError::Setting {
                listener: listener.to_string(),
                key: format!(
                    "listener.name.{}.plain.sasl.jaas.config",
                    listener.to_ascii_lowercase()
                ),
                reason: format!(
                    "PLAIN needs a JAAS configuration: {PLAIN_LOGIN_MODULE} required user_<name>=\"<password>\" ...;"
                ),
            };
            let (entry, key) = jaas_entry(raw, listener, mechanism)?.ok_or_else(missing)?;
            if entry.login_module != PLAIN_LOGIN_MODULE {
                return Err(SaslSetupError::Setting {
                    listener: listener.to_string(),
                    key,
                    reason: format!(
                        "PLAIN needs {PLAIN_LOGIN_MODULE}, not {}",
                        entry.login_module
                    ),
                });
            }
            let users = entry.plain_users();
            if users.is_empty() {
                tracing::warn!(
                    listener,
                    key,
                    "the PLAIN login module names no user_<name> option: every PLAIN login will fail"
                );
            }
            Ok(Some(Arc::new(PlainFactory::new(users))))
        }
        _ => Ok(ScramMechanism::from_name(mechanism).map(|m| {
            // Credentials come from the metadata log (AlterUserScramCredentials); the
            // ScramLoginModule JAAS entry Kafka also wants holds nothing the broker needs.
            Arc::new(ScramFactory::new(m, scram.clone())) as Arc<dyn SaslServerFactory>
        })),
    }
}

/// `connections.max.reauth.ms` for `mechanism` on `listener`
/// (`listener.name.<l>.<mechanism>.connections.max.reauth.ms`, then
/// `listener.name.<l>.connections.max.reauth.ms`, then the plain key); `None` when 0 or
/// unset (Kafka's default: re-authentication off).
pub fn reauth_ms(
    raw: &Properties,
    listener: &str,
    mechanism: &str,
) -> Result<Option<u64>, SaslSetupError> {
    let l = listener.to_ascii_lowercase();
    let m = mechanism.to_ascii_lowercase();
    let keys = [
        format!("listener.name.{l}.{m}.connections.max.reauth.ms"),
        format!("listener.name.{l}.connections.max.reauth.ms"),
        "connections.max.reauth.ms".to_string(),
    ];
    for key in keys {
        if let Some(v) = raw.get(&key).map(|v| v.trim()).filter(|v| !v.is_empty()) {
            let ms: i64 = v.parse().map_err(|_| SaslSetupError::Setting {
                listener: listener.to_string(),
                key: key.clone(),
                reason: format!("{v:?} is not a number of milliseconds"),
            })?;
            return Ok(u64::try_from(ms).ok().filter(|ms| *ms > 0));
        }
    }
    Ok(None)
}

/// The mechanisms enabled on `listener`. Unsupported names (GSSAPI, OAUTHBEARER, ...) are
/// left out with a warning; so is every mechanism when none is usable.
pub fn listener_mechanisms(
    raw: &Properties,
    listener: &str,
    scram: &CredentialSource,
) -> Result<SaslMechanisms, SaslSetupError> {
    const KEY: &str = "sasl.enabled.mechanisms";
    let list = listener_prop(raw, listener, KEY).unwrap_or("GSSAPI");
    let mut out = SaslMechanisms::new();
    for name in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        match factory(raw, listener, name, scram)? {
            Some(f) => out.register(f),
            None => tracing::warn!(
                listener,
                key = %listener_prop_name(raw, listener, KEY),
                mechanism = name,
                supported = ?SUPPORTED,
                "SASL mechanism not supported by Vltava; not enabled"
            ),
        }
    }
    if out.is_empty() {
        tracing::warn!(
            listener,
            supported = ?SUPPORTED,
            "no supported SASL mechanism is enabled on this listener (Kafka's default is GSSAPI): every client will be refused; set sasl.enabled.mechanisms"
        );
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse_properties;

    const JAAS: &str =
        r#"org.apache.kafka.common.security.plain.PlainLoginModule required user_alice="a-s";"#;

    #[test]
    fn plain_users_come_from_the_most_specific_jaas_key() {
        let p = parse_properties(&format!(
            "sasl.enabled.mechanisms=PLAIN,GSSAPI\nlistener.name.sasl_ssl.plain.sasl.jaas.config={JAAS}\nsasl.jaas.config=broken\n"
        ));
        let m = listener_mechanisms(&p, "SASL_SSL", &CredentialSource::default()).unwrap();
        assert_eq!(m.names(), vec!["PLAIN".to_string()]);
        let mut s = m.start("PLAIN").unwrap();
        assert!(s.step(b"\0alice\0a-s").is_ok());
        // Another listener falls back to the (broken) global key.
        assert!(listener_mechanisms(&p, "OTHER", &CredentialSource::default()).is_err());
    }

    #[test]
    fn the_default_enables_nothing_and_plain_needs_jaas() {
        let m = listener_mechanisms(
            &Properties::new(),
            "SASL_PLAINTEXT",
            &CredentialSource::default(),
        )
        .unwrap();
        assert!(m.is_empty());
        let p = parse_properties("sasl.enabled.mechanisms=PLAIN\n");
        let e =
            listener_mechanisms(&p, "SASL_PLAINTEXT", &CredentialSource::default()).unwrap_err();
        assert!(e.to_string().contains("JAAS"), "{e}");
        let p = parse_properties(
            "listener.name.x.sasl.enabled.mechanisms=PLAIN\nlistener.name.x.sasl.jaas.config=com.Other required;\n",
        );
        assert!(listener_mechanisms(&p, "X", &CredentialSource::default()).is_err());
        assert!(
            listener_mechanisms(&p, "Y", &CredentialSource::default())
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn scram_mechanisms_are_enabled_without_jaas_users() {
        let p = parse_properties("sasl.enabled.mechanisms=SCRAM-SHA-512,SCRAM-SHA-256\n");
        let m = listener_mechanisms(&p, "SASL_PLAINTEXT", &CredentialSource::default()).unwrap();
        assert_eq!(m.names(), vec!["SCRAM-SHA-512", "SCRAM-SHA-256"]);
        assert!(m.start("SCRAM-SHA-256").is_some());
        assert!(m.start("scram-sha-256").is_none());
    }
}
