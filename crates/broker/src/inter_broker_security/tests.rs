//! Unit tests of the inter-broker client settings: logins, refusals with their key, the
//! default-chosen listener.

use super::*;
use crate::config::parse_properties;

const LISTENERS: &str = "listeners=PLAINTEXT://127.0.0.1:0,SASL_PLAINTEXT://127.0.0.1:0,SSL://127.0.0.1:0,CONTROLLER://127.0.0.1:0\n";

fn config(extra: &str) -> BrokerConfig {
    BrokerConfig::from_properties(parse_properties(&format!("{LISTENERS}{extra}"))).unwrap()
}

fn security(extra: &str) -> Result<Security, InterBrokerSecurityError> {
    client_security(&config(extra))
}

const SCRAM: &str = "inter.broker.listener.name=SASL_PLAINTEXT\n\
    sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-512\n\
    sasl.mechanism.inter.broker.protocol=SCRAM-SHA-512\n\
    listener.name.sasl_plaintext.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username=\"p\" password=\"pp\" user_p=\"pp\";\n";

#[test]
fn plaintext_inter_broker_listener_needs_nothing() {
    let s = security("").unwrap();
    assert!(s.is_plaintext());
}

#[test]
fn the_login_comes_from_the_listeners_jaas_for_the_mechanism() {
    let s = security(&format!(
        "{SCRAM}listener.name.sasl_plaintext.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username=\"broker\" password=\"b-secret\";\n"
    ))
    .unwrap();
    assert!(s.tls.is_none());
    let l = s.sasl.unwrap();
    assert_eq!(l.mechanism.name(), "SCRAM-SHA-512");
    assert_eq!(
        (l.username.as_str(), l.password.as_str()),
        ("broker", "b-secret")
    );
    // PLAIN: the JAAS entry that also lists the users.
    let s = security(&SCRAM.replace(
        "sasl.mechanism.inter.broker.protocol=SCRAM-SHA-512",
        "sasl.mechanism.inter.broker.protocol=PLAIN",
    ))
    .unwrap();
    let l = s.sasl.unwrap();
    assert_eq!((l.username.as_str(), l.password.as_str()), ("p", "pp"));
}

#[test]
fn missing_or_unusable_settings_are_refused_with_their_key() {
    // No JAAS entry for SCRAM-SHA-512 on the listener (the PLAIN one is per mechanism).
    let e = security(SCRAM).unwrap_err();
    assert!(e.key.contains("scram-sha-512.sasl.jaas.config"), "{e}");
    // Kafka's default mechanism, GSSAPI, is not there.
    let no_mechanism = SCRAM.replace("sasl.mechanism.inter.broker.protocol=SCRAM-SHA-512\n", "");
    assert_eq!(security(&no_mechanism).unwrap_err().key, MECHANISM_KEY);
    // A mechanism the listener does not enable.
    let e = security(&SCRAM.replace("PLAIN,SCRAM-SHA-512", "PLAIN")).unwrap_err();
    assert_eq!(e.key, MECHANISM_KEY);
    // A JAAS entry without the broker's own password.
    let e = security(
        &SCRAM
            .replace(
                "sasl.mechanism.inter.broker.protocol=SCRAM-SHA-512",
                "sasl.mechanism.inter.broker.protocol=PLAIN",
            )
            .replace(" password=\"pp\"", ""),
    )
    .unwrap_err();
    assert!(e.reason.contains("password"), "{e}");
    // TLS without a trust store.
    let e = security("inter.broker.listener.name=SSL\nssl.keystore.type=PEM\n").unwrap_err();
    assert!(e.reason.contains("truststore"), "{e}");
}

#[test]
fn a_controller_only_node_needs_no_inter_broker_client() {
    let c = BrokerConfig::from_properties(parse_properties(
        "process.roles=controller\nnode.id=1\ncontroller.quorum.voters=1@127.0.0.1:9093\nlisteners=CONTROLLER://127.0.0.1:9093\ncontroller.listener.names=CONTROLLER\n",
    ))
    .unwrap();
    assert!(client_security(&c).unwrap().is_plaintext());
}

#[test]
fn a_default_chosen_listener_without_client_settings_only_warns() {
    // No PLAINTEXT listener: SSL becomes the inter-broker listener by default, and a lone
    // SSL broker without a trust store still starts, as it did before.
    let c = BrokerConfig::from_properties(parse_properties(
        "listeners=SSL://127.0.0.1:0,CONTROLLER://127.0.0.1:0\nssl.keystore.type=PEM\n",
    ))
    .unwrap();
    assert_eq!(c.inter_broker_listener_name, "SSL");
    assert!(client_security(&c).is_err());
    assert!(
        crate::server::inter_broker_security(&c)
            .unwrap()
            .is_plaintext()
    );
    // Named, the same settings refuse the start.
    let c = config("inter.broker.listener.name=SSL\n");
    assert!(crate::server::inter_broker_security(&c).is_err());
}
