//! `process.roles` and the KRaft rules that come with it, checked when the configuration is
//! read, as Kafka's `KafkaConfig` does: a node with the controller role is one of
//! `controller.quorum.voters`; a broker-only node is not, and finds the quorum through the
//! voters or `controller.quorum.bootstrap.servers`; a controller-only node names its
//! `controller.listener.names` and listens on nothing else; brokers never advertise a
//! controller listener.

use super::broker_config::{BrokerConfig, ConfigError};

/// What this node runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProcessRoles {
    /// `broker,controller`: a voter of the metadata quorum and a broker.
    Combined,
    /// `broker`: a broker that follows the metadata log as an observer.
    Broker,
    /// `controller`: a voter only; no client listener, no partitions.
    Controller,
}

impl ProcessRoles {
    /// The roles of a `process.roles` list.
    pub fn parse(roles: &[String]) -> Result<ProcessRoles, ConfigError> {
        let mut broker = false;
        let mut controller = false;
        for r in roles {
            let seen = match r.as_str() {
                "broker" => &mut broker,
                "controller" => &mut controller,
                other => {
                    return Err(invalid(
                        &roles.join(","),
                        &format!(
                            "unknown process role {other:?} (a comma-separated list of 'broker' and 'controller')"
                        ),
                    ));
                }
            };
            if *seen {
                return Err(invalid(&roles.join(","), &format!("duplicate role {r:?}")));
            }
            *seen = true;
        }
        match (broker, controller) {
            (true, true) => Ok(ProcessRoles::Combined),
            (true, false) => Ok(ProcessRoles::Broker),
            (false, true) => Ok(ProcessRoles::Controller),
            (false, false) => Err(invalid("", "at least one of 'broker' and 'controller'")),
        }
    }

    /// Whether this node serves clients and hosts partitions.
    pub fn is_broker(self) -> bool {
        self != ProcessRoles::Controller
    }

    /// Whether this node is a voter of the metadata quorum.
    pub fn is_controller(self) -> bool {
        self != ProcessRoles::Broker
    }
}

fn invalid(value: &str, reason: &str) -> ConfigError {
    ConfigError::Invalid {
        key: "process.roles".into(),
        value: value.to_string(),
        reason: reason.to_string(),
    }
}

fn voter_ids(c: &BrokerConfig) -> String {
    c.controller_quorum_voters
        .iter()
        .map(|(id, host, port)| format!("{id}@{host}:{port}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// Checks the KRaft rules for `c.roles`.
pub(crate) fn validate(c: &BrokerConfig) -> Result<(), ConfigError> {
    let is_voter = c
        .controller_quorum_voters
        .iter()
        .any(|(id, _, _)| *id == c.node_id);
    let names = &c.controller_listener_names;
    let explicit_names = c
        .raw
        .get("controller.listener.names")
        .is_some_and(|v| !v.trim().is_empty());
    // A combined node without any voter runs the one-node quorum of its own (the embedded
    // default); every other controller must find itself among the voters.
    let lone_combined = c.roles == ProcessRoles::Combined && c.controller_quorum_voters.is_empty();
    if c.roles.is_controller() && !is_voter && !lone_combined {
        return Err(ConfigError::Invalid {
            key: "controller.quorum.voters".into(),
            value: voter_ids(c),
            reason: format!(
                "process.roles contains 'controller', so node.id {} must be one of the voters",
                c.node_id
            ),
        });
    }
    if c.roles.is_broker() {
        if let Some(l) = c
            .advertised_listeners
            .iter()
            .find(|l| names.contains(&l.name))
        {
            return Err(ConfigError::Invalid {
                key: "advertised.listeners".into(),
                value: format!("{}://{}:{}", l.name, l.host, l.port),
                reason: "a broker must not advertise a controller listener (controller.listener.names): clients only talk to brokers".into(),
            });
        }
    }
    match c.roles {
        ProcessRoles::Combined => Ok(()),
        ProcessRoles::Broker => validate_broker_only(c, is_voter, explicit_names),
        ProcessRoles::Controller => validate_controller_only(c, explicit_names),
    }
}

/// The rules of `process.roles=broker`: not a voter, the controllers' listener
/// named, a way to find the quorum, and no controller listener of its own.
fn validate_broker_only(
    c: &BrokerConfig,
    is_voter: bool,
    explicit_names: bool,
) -> Result<(), ConfigError> {
    let names = &c.controller_listener_names;
    if is_voter {
        return Err(ConfigError::Invalid {
            key: "controller.quorum.voters".into(),
            value: voter_ids(c),
            reason: format!(
                "process.roles is just 'broker', so node.id {} must not be one of the voters",
                c.node_id
            ),
        });
    }
    if !explicit_names {
        return Err(ConfigError::Missing(
            "controller.listener.names (the controllers' listener name; required with process.roles=broker)",
        ));
    }
    if c.controller_quorum_voters.is_empty() && c.controller_quorum_bootstrap_servers.is_empty() {
        return Err(ConfigError::Missing(
            "controller.quorum.voters or controller.quorum.bootstrap.servers (how a broker-only node finds the quorum)",
        ));
    }
    if let Some(l) = c.listeners.iter().find(|l| names.contains(&l.name)) {
        return Err(ConfigError::Invalid {
            key: "listeners".into(),
            value: format!("{}://{}:{}", l.name, l.host, l.port),
            reason: "with process.roles=broker, listeners must not contain a controller listener (controller.listener.names)".into(),
        });
    }
    Ok(())
}

/// The rules of `process.roles=controller`: only controller listeners, the
/// first of them present, on the port its voter entry names.
fn validate_controller_only(c: &BrokerConfig, explicit_names: bool) -> Result<(), ConfigError> {
    let names = &c.controller_listener_names;
    if !explicit_names {
        return Err(ConfigError::Missing(
            "controller.listener.names (required with process.roles=controller)",
        ));
    }
    if let Some(l) = c.listeners.iter().find(|l| !names.contains(&l.name)) {
        return Err(ConfigError::Invalid {
            key: "listeners".into(),
            value: format!("{}://{}:{}", l.name, l.host, l.port),
            reason: "with process.roles=controller, listeners may only contain controller listeners (controller.listener.names)".into(),
        });
    }
    let Some(l) = c.listeners.iter().find(|l| names.first() == Some(&l.name)) else {
        return Err(ConfigError::Invalid {
            key: "listeners".into(),
            value: c
                .listeners
                .iter()
                .map(|l| format!("{}://{}:{}", l.name, l.host, l.port))
                .collect::<Vec<_>>()
                .join(","),
            reason: format!(
                "a controller needs a listener named {} (the first of controller.listener.names)",
                names.first().map_or("", String::as_str)
            ),
        });
    };
    let own = c
        .controller_quorum_voters
        .iter()
        .find(|(id, _, _)| *id == c.node_id);
    if let Some((_, _, port)) = own.filter(|(_, _, port)| *port != l.port) {
        return Err(ConfigError::Invalid {
            key: "listeners".into(),
            value: format!("{}://{}:{}", l.name, l.host, l.port),
            reason: format!(
                "node {}'s entry in controller.quorum.voters has port {port}",
                c.node_id
            ),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse_properties;

    fn config(text: &str) -> Result<BrokerConfig, ConfigError> {
        BrokerConfig::from_properties(parse_properties(text))
    }

    const VOTERS: &str = "controller.quorum.voters=0@127.0.0.1:9093,1@127.0.0.1:9095\n";

    #[test]
    fn roles_parse_as_kafka_names_them() {
        let r = |s: &str| ProcessRoles::parse(&s.split(',').map(String::from).collect::<Vec<_>>());
        assert_eq!(r("broker,controller").unwrap(), ProcessRoles::Combined);
        assert_eq!(r("controller,broker").unwrap(), ProcessRoles::Combined);
        assert_eq!(r("broker").unwrap(), ProcessRoles::Broker);
        assert_eq!(r("controller").unwrap(), ProcessRoles::Controller);
        assert!(r("broker,broker").is_err());
        assert!(r("zookeeper").is_err());
        assert!(config("process.roles=\n").is_err());
    }

    #[test]
    fn a_broker_only_node_is_not_a_voter() {
        let ok = format!(
            "process.roles=broker\nnode.id=5\ncontroller.listener.names=CONTROLLER\nlisteners=PLAINTEXT://127.0.0.1:9092\n{VOTERS}"
        );
        let c = config(&ok).unwrap();
        assert_eq!(c.roles, ProcessRoles::Broker);
        let voter = ok.replace("node.id=5", "node.id=1");
        let err = config(&voter).unwrap_err().to_string();
        assert!(err.contains("must not be one of the voters"), "{err}");
        let no_names = ok.replace("controller.listener.names=CONTROLLER\n", "");
        assert!(
            config(&no_names)
                .unwrap_err()
                .to_string()
                .contains("controller.listener.names")
        );
        let no_quorum = ok.replace(VOTERS, "");
        assert!(
            config(&no_quorum)
                .unwrap_err()
                .to_string()
                .contains("bootstrap.servers")
        );
        let bootstrap = no_quorum + "controller.quorum.bootstrap.servers=127.0.0.1:9093\n";
        assert_eq!(
            config(&bootstrap)
                .unwrap()
                .controller_quorum_bootstrap_servers,
            vec![("127.0.0.1".to_string(), 9093)]
        );
        let with_controller = ok.replace(
            "listeners=PLAINTEXT://127.0.0.1:9092",
            "listeners=PLAINTEXT://127.0.0.1:9092,CONTROLLER://127.0.0.1:9099",
        );
        assert!(
            config(&with_controller)
                .unwrap_err()
                .to_string()
                .contains("listeners")
        );
    }

    #[test]
    fn a_controller_only_node_is_a_voter_with_a_controller_listener() {
        let ok = format!(
            "process.roles=controller\nnode.id=1\ncontroller.listener.names=CONTROLLER\nlisteners=CONTROLLER://127.0.0.1:9095\n{VOTERS}"
        );
        assert_eq!(config(&ok).unwrap().roles, ProcessRoles::Controller);
        let not_voter = ok.replace("node.id=1", "node.id=7");
        assert!(
            config(&not_voter)
                .unwrap_err()
                .to_string()
                .contains("must be one of the voters")
        );
        let no_names = ok.replace("controller.listener.names=CONTROLLER\n", "");
        assert!(
            config(&no_names)
                .unwrap_err()
                .to_string()
                .contains("controller.listener.names")
        );
        let client = ok.replace(
            "listeners=CONTROLLER://127.0.0.1:9095",
            "listeners=PLAINTEXT://127.0.0.1:9092,CONTROLLER://127.0.0.1:9095",
        );
        assert!(
            config(&client)
                .unwrap_err()
                .to_string()
                .contains("only contain controller listeners")
        );
        let other_port = ok.replace("CONTROLLER://127.0.0.1:9095", "CONTROLLER://127.0.0.1:9097");
        assert!(
            config(&other_port)
                .unwrap_err()
                .to_string()
                .contains("port 9095")
        );
    }

    #[test]
    fn brokers_never_advertise_a_controller_listener() {
        let text = format!("node.id=0\nadvertised.listeners=CONTROLLER://127.0.0.1:9093\n{VOTERS}");
        assert!(config(&text).unwrap_err().to_string().contains("advertise"));
    }
}
