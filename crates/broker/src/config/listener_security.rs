//! Which security each listener speaks, in Kafka's terms: `listener.security.protocol.map`
//! (`NAME:PROTOCOL` pairs; Kafka's default maps PLAINTEXT, SSL, SASL_PLAINTEXT and
//! SASL_SSL to themselves and, in KRaft, the controller listeners to PLAINTEXT), the
//! inter-broker listener (`inter.broker.listener.name` or `security.inter.broker.protocol`),
//! and the per-listener lookup of `ssl.*` / `sasl.*` keys: `listener.name.<lower-case
//! name>.<key>` first, then the plain `<key>`.

use std::collections::BTreeMap;
use std::fmt;

use super::broker_config::{ConfigError, Listener};
use super::properties::Properties;

/// Kafka's `SecurityProtocol`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecurityProtocol {
    Plaintext,
    Ssl,
    SaslPlaintext,
    SaslSsl,
}

impl SecurityProtocol {
    /// Parses Kafka's name (case-insensitive, as Kafka's `forName` upper-cases it).
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s.trim().to_ascii_uppercase().as_str() {
            "PLAINTEXT" => SecurityProtocol::Plaintext,
            "SSL" => SecurityProtocol::Ssl,
            "SASL_PLAINTEXT" => SecurityProtocol::SaslPlaintext,
            "SASL_SSL" => SecurityProtocol::SaslSsl,
            _ => return None,
        })
    }

    /// Kafka's name.
    pub fn name(self) -> &'static str {
        match self {
            SecurityProtocol::Plaintext => "PLAINTEXT",
            SecurityProtocol::Ssl => "SSL",
            SecurityProtocol::SaslPlaintext => "SASL_PLAINTEXT",
            SecurityProtocol::SaslSsl => "SASL_SSL",
        }
    }

    /// Kafka's id (as in `RegisterBrokerRecord` endpoints).
    pub fn id(self) -> i16 {
        match self {
            SecurityProtocol::Plaintext => 0,
            SecurityProtocol::Ssl => 1,
            SecurityProtocol::SaslPlaintext => 2,
            SecurityProtocol::SaslSsl => 3,
        }
    }

    /// Whether connections start with a TLS handshake.
    pub fn uses_tls(self) -> bool {
        matches!(self, SecurityProtocol::Ssl | SecurityProtocol::SaslSsl)
    }

    /// Whether clients authenticate with SASL.
    pub fn uses_sasl(self) -> bool {
        matches!(
            self,
            SecurityProtocol::SaslPlaintext | SecurityProtocol::SaslSsl
        )
    }
}

impl fmt::Display for SecurityProtocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

fn invalid(key: &str, value: &str, reason: &str) -> ConfigError {
    ConfigError::Invalid {
        key: key.to_string(),
        value: value.to_string(),
        reason: reason.to_string(),
    }
}

/// `listener.security.protocol.map` with Kafka's default (the four protocol names, and the
/// controller listeners as PLAINTEXT) when it is not set.
pub fn protocol_map(
    raw: &Properties,
    controller_listener_names: &[String],
) -> Result<BTreeMap<String, SecurityProtocol>, ConfigError> {
    const KEY: &str = "listener.security.protocol.map";
    let mut map = BTreeMap::new();
    match raw.get(KEY).map(|v| v.trim()).filter(|v| !v.is_empty()) {
        Some(v) => {
            for pair in v.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                let (name, proto) = pair
                    .split_once(':')
                    .ok_or_else(|| invalid(KEY, v, "expected NAME:PROTOCOL pairs"))?;
                let proto = SecurityProtocol::parse(proto).ok_or_else(|| {
                    invalid(
                        KEY,
                        v,
                        &format!(
                            "unknown security protocol {proto:?} (PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL)"
                        ),
                    )
                })?;
                if map.insert(name.trim().to_string(), proto).is_some() {
                    return Err(invalid(KEY, v, &format!("listener {name} appears twice")));
                }
            }
        }
        None => {
            for p in [
                SecurityProtocol::Plaintext,
                SecurityProtocol::Ssl,
                SecurityProtocol::SaslPlaintext,
                SecurityProtocol::SaslSsl,
            ] {
                map.insert(p.name().to_string(), p);
            }
            for name in controller_listener_names {
                map.insert(name.clone(), SecurityProtocol::Plaintext);
            }
        }
    }
    Ok(map)
}

/// Checks that every listener has a protocol (controller listeners may use any of the four:
/// see `crate::controller_link`).
pub fn check_listeners(
    map: &BTreeMap<String, SecurityProtocol>,
    listeners: &[Listener],
    advertised: &[Listener],
) -> Result<(), ConfigError> {
    for (key, list) in [
        ("listeners", listeners),
        ("advertised.listeners", advertised),
    ] {
        for l in list {
            if !map.contains_key(&l.name) {
                return Err(invalid(
                    key,
                    &format!("{}://{}:{}", l.name, l.host, l.port),
                    &format!(
                        "no security protocol defined for listener {} (add it to listener.security.protocol.map)",
                        l.name
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// The inter-broker listener's name: `inter.broker.listener.name`, else the listener named
/// like `security.inter.broker.protocol` (default PLAINTEXT), else (neither set, no such
/// listener) the first advertised listener. Setting both keys is an error, as in Kafka.
pub fn inter_broker_listener(
    raw: &Properties,
    advertised: &[Listener],
    is_broker: bool,
) -> Result<String, ConfigError> {
    let name = raw
        .get("inter.broker.listener.name")
        .map(|v| v.trim())
        .filter(|v| !v.is_empty());
    let proto = raw
        .get("security.inter.broker.protocol")
        .map(|v| v.trim())
        .filter(|v| !v.is_empty());
    let listed = |n: &str| advertised.iter().any(|l| l.name == n);
    match (name, proto) {
        (Some(n), Some(_)) => Err(invalid(
            "inter.broker.listener.name",
            n,
            "only one of inter.broker.listener.name and security.inter.broker.protocol may be set",
        )),
        (Some(n), None) => {
            if is_broker && !listed(n) {
                return Err(invalid(
                    "inter.broker.listener.name",
                    n,
                    "must be the name of one of advertised.listeners",
                ));
            }
            Ok(n.to_string())
        }
        (None, Some(p)) => {
            let p = SecurityProtocol::parse(p).ok_or_else(|| {
                invalid(
                    "security.inter.broker.protocol",
                    p,
                    "not a security protocol (PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL)",
                )
            })?;
            if is_broker && !listed(p.name()) {
                return Err(invalid(
                    "security.inter.broker.protocol",
                    p.name(),
                    "no advertised listener has this name; set inter.broker.listener.name",
                ));
            }
            Ok(p.name().to_string())
        }
        (None, None) => Ok(if listed("PLAINTEXT") {
            "PLAINTEXT".to_string()
        } else {
            advertised
                .first()
                .map(|l| l.name.clone())
                .unwrap_or_else(|| "PLAINTEXT".to_string())
        }),
    }
}

/// The value of `key` for `listener`: `listener.name.<lower-case listener>.<key>`, else
/// `<key>`.
pub fn listener_prop<'a>(raw: &'a Properties, listener: &str, key: &str) -> Option<&'a str> {
    let prefixed = format!("listener.name.{}.{key}", listener.to_ascii_lowercase());
    raw.get(&prefixed)
        .or_else(|| raw.get(key))
        .map(|v| v.trim())
        .filter(|v| !v.is_empty())
}

/// The property name `listener_prop` took `key` from, for messages.
pub fn listener_prop_name(raw: &Properties, listener: &str, key: &str) -> String {
    let prefixed = format!("listener.name.{}.{key}", listener.to_ascii_lowercase());
    if raw.contains_key(&prefixed) {
        prefixed
    } else {
        key.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse_properties;

    fn l(name: &str) -> Listener {
        Listener {
            name: name.into(),
            host: "h".into(),
            port: 1,
        }
    }

    #[test]
    fn the_default_map_is_kafkas() {
        let m = protocol_map(&Properties::new(), &["CONTROLLER".into()]).unwrap();
        assert_eq!(m["SASL_SSL"], SecurityProtocol::SaslSsl);
        assert_eq!(m["CONTROLLER"], SecurityProtocol::Plaintext);
        assert_eq!(m.len(), 5);
        let p = parse_properties(
            "listener.security.protocol.map=INTERNAL:plaintext, EXTERNAL:SASL_SSL\n",
        );
        let m = protocol_map(&p, &[]).unwrap();
        assert_eq!(m["EXTERNAL"], SecurityProtocol::SaslSsl);
        assert_eq!(m.len(), 2);
        for bad in ["A", "A:TLS", "A:SSL,A:SSL"] {
            let p = parse_properties(&format!("listener.security.protocol.map={bad}\n"));
            assert!(protocol_map(&p, &[]).is_err(), "{bad}");
        }
    }

    #[test]
    fn listeners_need_a_protocol_and_controllers_may_use_any() {
        let m = protocol_map(&Properties::new(), &["CONTROLLER".into()]).unwrap();
        assert_eq!(m["CONTROLLER"], SecurityProtocol::Plaintext);
        assert!(check_listeners(&m, &[l("PLAINTEXT"), l("SSL"), l("CONTROLLER")], &[]).is_ok());
        let e = check_listeners(&m, &[l("EXTERNAL")], &[]).unwrap_err();
        assert!(e.to_string().contains("no security protocol"), "{e}");
        let p = parse_properties("listener.security.protocol.map=CONTROLLER:SASL_SSL,B:SSL\n");
        let m = protocol_map(&p, &["CONTROLLER".into()]).unwrap();
        assert_eq!(m["CONTROLLER"], SecurityProtocol::SaslSsl);
        assert!(check_listeners(&m, &[l("B"), l("CONTROLLER")], &[]).is_ok());
    }

    #[test]
    fn the_inter_broker_listener_follows_kafkas_keys() {
        let adv = [l("SSL"), l("PLAINTEXT")];
        let p = Properties::new();
        assert_eq!(inter_broker_listener(&p, &adv, true).unwrap(), "PLAINTEXT");
        assert_eq!(inter_broker_listener(&p, &adv[..1], true).unwrap(), "SSL");
        let p = parse_properties("inter.broker.listener.name=SSL\n");
        assert_eq!(inter_broker_listener(&p, &adv, true).unwrap(), "SSL");
        let p = parse_properties("inter.broker.listener.name=NOPE\n");
        assert!(inter_broker_listener(&p, &adv, true).is_err());
        let p = parse_properties("security.inter.broker.protocol=ssl\n");
        assert_eq!(inter_broker_listener(&p, &adv, true).unwrap(), "SSL");
        let p = parse_properties(
            "security.inter.broker.protocol=SSL\ninter.broker.listener.name=SSL\n",
        );
        assert!(inter_broker_listener(&p, &adv, true).is_err());
    }

    #[test]
    fn prefixed_keys_win() {
        let p = parse_properties(
            "ssl.client.auth=none\nlistener.name.external.ssl.client.auth=required\n",
        );
        assert_eq!(
            listener_prop(&p, "EXTERNAL", "ssl.client.auth"),
            Some("required")
        );
        assert_eq!(listener_prop(&p, "OTHER", "ssl.client.auth"), Some("none"));
        assert_eq!(
            listener_prop_name(&p, "EXTERNAL", "ssl.client.auth"),
            "listener.name.external.ssl.client.auth"
        );
        assert_eq!(listener_prop(&p, "OTHER", "ssl.keystore.location"), None);
    }
}
