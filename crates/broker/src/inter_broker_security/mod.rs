//! The security of this broker's own connections to other brokers' inter-broker listener
//! (replica fetchers, transaction markers, produce verification), from Kafka's broker
//! keys: the trust store and key store of that listener (`listener.name.<l>.ssl.*`, then
//! `ssl.*`; the key store is this broker's client certificate for `ssl.client.auth`),
//! `sasl.mechanism.inter.broker.protocol` (Kafka's default GSSAPI is not available, so it
//! must be set, and enabled on the listener) and the `username`/`password` options of the
//! listener's JAAS configuration for that mechanism
//! (`listener.name.<l>.<mechanism>.sasl.jaas.config`, then the broader keys the listener
//! itself reads). The same reading serves the client side of the controller listener
//! (voter to voter, broker to controller; see [`crate::controller_link`]) with
//! `sasl.mechanism.controller.protocol` as the mechanism key: [`listener_client_security`].

use std::collections::BTreeMap;

use vltava_client::security::{SaslLogin, SaslMechanism, Security, tls};

use crate::config::{BrokerConfig, SecurityProtocol, listener_prop, listener_prop_name};

/// Kafka's key for the inter-broker SASL mechanism.
pub const MECHANISM_KEY: &str = "sasl.mechanism.inter.broker.protocol";

/// The `ssl.*` keys the inter-broker client reads from its listener's settings.
const TLS_KEYS: &[&str] = &[
    "ssl.truststore.type",
    "ssl.truststore.location",
    "ssl.truststore.certificates",
    "ssl.keystore.type",
    "ssl.keystore.location",
    "ssl.keystore.certificate.chain",
    "ssl.keystore.key",
];

/// Why the inter-broker (or controller) listener's client side cannot be set up.
#[derive(Debug, thiserror::Error)]
#[error("{side} listener {listener}: {key}: {reason}")]
pub struct InterBrokerSecurityError {
    /// "inter-broker" or "controller".
    pub side: &'static str,
    pub listener: String,
    pub key: String,
    pub reason: String,
}

/// Which internal link a client side is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Link {
    /// Broker to broker: `sasl.mechanism.inter.broker.protocol`.
    InterBroker,
    /// Voter to voter and broker to controller: `sasl.mechanism.controller.protocol`.
    Controller,
}

impl Link {
    /// The key naming the SASL mechanism of the link.
    pub fn mechanism_key(self) -> &'static str {
        match self {
            Link::InterBroker => MECHANISM_KEY,
            Link::Controller => CONTROLLER_MECHANISM_KEY,
        }
    }
    fn side(self) -> &'static str {
        match self {
            Link::InterBroker => "inter-broker",
            Link::Controller => "controller",
        }
    }
}

/// Kafka's key for the SASL mechanism of connections to controllers.
pub const CONTROLLER_MECHANISM_KEY: &str = "sasl.mechanism.controller.protocol";

struct Setup<'a> {
    config: &'a BrokerConfig,
    listener: &'a str,
    link: Link,
}

impl Setup<'_> {
    fn err(&self, key: impl Into<String>, reason: impl Into<String>) -> InterBrokerSecurityError {
        InterBrokerSecurityError {
            side: self.link.side(),
            listener: self.listener.to_string(),
            key: key.into(),
            reason: reason.into(),
        }
    }

    fn tls(&self) -> Result<Security, InterBrokerSecurityError> {
        let raw = &self.config.raw;
        let mut props = BTreeMap::new();
        for key in TLS_KEYS {
            if let Some(v) = listener_prop(raw, self.listener, key) {
                props.insert(key.to_string(), v.to_string());
            }
        }
        // An empty value is meaningful here (no host name check), so it is read as is.
        let l = self.listener.to_ascii_lowercase();
        let algorithm = "ssl.endpoint.identification.algorithm";
        if let Some(v) = raw
            .get(&format!("listener.name.{l}.{algorithm}"))
            .or_else(|| raw.get(algorithm))
        {
            props.insert(algorithm.to_string(), v.to_string());
        }
        let config = tls::config(&props).map_err(|e| {
            let key = if props.contains_key("ssl.truststore.location")
                || props.contains_key("ssl.truststore.certificates")
            {
                "ssl.*".to_string()
            } else {
                listener_prop_name(raw, self.listener, "ssl.truststore.location")
            };
            self.err(key, format!("the {} client: {e}", self.link.side()))
        })?;
        Ok(Security {
            tls: Some(config),
            sasl: None,
        })
    }

    fn sasl(&self) -> Result<SaslLogin, InterBrokerSecurityError> {
        let raw = &self.config.raw;
        let mechanism_key = self.link.mechanism_key();
        let offered = match self.link {
            Link::InterBroker => "PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512",
            Link::Controller => "PLAIN",
        };
        let name = raw
            .get(mechanism_key)
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
            .ok_or_else(|| {
                self.err(
                    mechanism_key,
                    format!("set it ({offered}): Kafka's default GSSAPI is not available"),
                )
            })?;
        let mechanism = SaslMechanism::from_name(name).ok_or_else(|| {
            self.err(
                mechanism_key,
                format!("{name} is not available ({offered})"),
            )
        })?;
        if self.link == Link::Controller && matches!(mechanism, SaslMechanism::Scram(_)) {
            return Err(self.err(
                mechanism_key,
                format!(
                    "{name} cannot authenticate connections to controllers: SCRAM credentials live in the metadata log, which the controllers must reach (and elect a leader for) before they hold it; Kafka's controllers cannot log in to each other with SCRAM either. Use PLAIN (over SASL_SSL); SCRAM stays available to brokers and clients on the other listeners"
                ),
            ));
        }
        // The mechanism must be enabled where this node serves the listener (a broker-only
        // node does not serve the controller listener: the controllers check it).
        let serves = match self.link {
            Link::InterBroker => true,
            Link::Controller => self.config.roles.is_controller(),
        };
        let enabled = listener_prop(raw, self.listener, "sasl.enabled.mechanisms").unwrap_or("");
        if serves && !enabled.split(',').any(|m| m.trim() == name) {
            return Err(self.err(
                mechanism_key,
                format!(
                    "{name} must be in {} ({enabled:?})",
                    listener_prop_name(raw, self.listener, "sasl.enabled.mechanisms")
                ),
            ));
        }
        let key = format!(
            "listener.name.{}.{}.sasl.jaas.config",
            self.listener.to_ascii_lowercase(),
            name.to_ascii_lowercase()
        );
        let (entry, key) = crate::sasl_setup::jaas_entry(raw, self.listener, name)
            .map_err(|e| self.err(key.clone(), e.to_string()))?
            .ok_or_else(|| {
                self.err(
                    key.clone(),
                    "this node's own credentials: a login module with username=\"...\" password=\"...\"",
                )
            })?;
        let get = |k: &str| {
            entry.options.get(k).cloned().ok_or_else(|| {
                self.err(
                    key.clone(),
                    format!(
                        "{k}=\"...\" is needed: this node logs in to other {}s with it",
                        match self.link {
                            Link::InterBroker => "broker",
                            Link::Controller => "controller",
                        }
                    ),
                )
            })
        };
        Ok(SaslLogin {
            mechanism,
            username: get("username")?,
            password: get("password")?,
        })
    }
}

/// The client security of connections to other brokers' inter-broker listener
/// (PLAINTEXT on a controller-only node, which connects to no broker).
pub fn client_security(config: &BrokerConfig) -> Result<Security, InterBrokerSecurityError> {
    if !config.roles.is_broker() {
        return Ok(Security::default());
    }
    listener_client_security(
        config,
        config.inter_broker_listener_name.as_str(),
        Link::InterBroker,
    )
}

/// The client security of connections to listener `listener` of other nodes, for `link`.
pub fn listener_client_security(
    config: &BrokerConfig,
    listener: &str,
    link: Link,
) -> Result<Security, InterBrokerSecurityError> {
    let protocol = config.protocol_of(listener);
    if protocol == SecurityProtocol::Plaintext {
        return Ok(Security::default());
    }
    let setup = Setup {
        config,
        listener,
        link,
    };
    let mut security = if protocol.uses_tls() {
        setup.tls()?
    } else {
        Security::default()
    };
    if protocol.uses_sasl() {
        security.sasl = Some(setup.sasl()?);
    }
    Ok(security)
}

#[cfg(test)]
mod tests;
