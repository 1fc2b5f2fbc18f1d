//! Unit tests of `Security::from_properties`: defaults, PLAIN and SCRAM logins, refusals.

use super::*;

fn props(kv: &[(&str, &str)]) -> BTreeMap<String, String> {
    kv.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

const PLAIN_JAAS: &str = r#"org.apache.kafka.common.security.plain.PlainLoginModule required username="alice" password="s3cret";"#;
const SCRAM_JAAS: &str = r#"org.apache.kafka.common.security.scram.ScramLoginModule required username="bob" password="pw";"#;

#[test]
fn plaintext_by_default() {
    let s = Security::from_properties(&BTreeMap::new()).unwrap();
    assert!(s.is_plaintext());
    let s = Security::from_properties(&props(&[("security.protocol", "plaintext")])).unwrap();
    assert!(s.is_plaintext());
}

#[test]
fn plain_and_scram_logins_from_jaas() {
    let s = Security::from_properties(&props(&[
        ("security.protocol", "SASL_PLAINTEXT"),
        ("sasl.mechanism", "PLAIN"),
        ("sasl.jaas.config", PLAIN_JAAS),
    ]))
    .unwrap();
    assert!(s.tls.is_none());
    let l = s.sasl.clone().unwrap();
    assert_eq!(l.mechanism, SaslMechanism::Plain);
    assert_eq!(
        (l.username.as_str(), l.password.as_str()),
        ("alice", "s3cret")
    );
    assert!(!format!("{s:?}").contains("s3cret"));
    for (name, m) in [
        ("SCRAM-SHA-256", ScramMechanism::Sha256),
        ("SCRAM-SHA-512", ScramMechanism::Sha512),
    ] {
        let s = Security::from_properties(&props(&[
            ("security.protocol", "SASL_PLAINTEXT"),
            ("sasl.mechanism", name),
            ("sasl.jaas.config", SCRAM_JAAS),
        ]))
        .unwrap();
        let l = s.sasl.unwrap();
        assert_eq!(l.mechanism, SaslMechanism::Scram(m));
        assert_eq!(l.mechanism.name(), name);
        assert_eq!(l.username, "bob");
    }
}

#[test]
fn unusable_settings_are_config_errors() {
    for bad in [
        props(&[("security.protocol", "TLS")]),
        props(&[("security.protocol", "SSL")]),
        props(&[
            ("security.protocol", "SSL"),
            ("ssl.truststore.type", "JKS"),
            ("ssl.truststore.location", "/x"),
        ]),
        props(&[
            ("security.protocol", "SSL"),
            ("ssl.truststore.location", "/nonexistent/ca.pem"),
        ]),
        props(&[
            ("security.protocol", "SSL"),
            ("ssl.truststore.certificates", "not pem"),
        ]),
        props(&[("security.protocol", "SASL_PLAINTEXT")]),
        props(&[
            ("security.protocol", "SASL_PLAINTEXT"),
            ("sasl.jaas.config", PLAIN_JAAS),
        ]),
        props(&[
            ("security.protocol", "SASL_PLAINTEXT"),
            ("sasl.mechanism", "GSSAPI"),
            ("sasl.jaas.config", PLAIN_JAAS),
        ]),
        props(&[
            ("security.protocol", "SASL_PLAINTEXT"),
            ("sasl.mechanism", "scram-sha-256"),
            ("sasl.jaas.config", SCRAM_JAAS),
        ]),
        props(&[
            ("security.protocol", "SASL_PLAINTEXT"),
            ("sasl.mechanism", "PLAIN"),
        ]),
        props(&[
            ("security.protocol", "SASL_PLAINTEXT"),
            ("sasl.mechanism", "PLAIN"),
            (
                "sasl.jaas.config",
                "x.Y required username=\"a\" password=\"b\";",
            ),
        ]),
        props(&[
            ("security.protocol", "SASL_PLAINTEXT"),
            ("sasl.mechanism", "PLAIN"),
            (
                "sasl.jaas.config",
                "org.apache.kafka.common.security.plain.PlainLoginModule required username=\"a\";",
            ),
        ]),
        props(&[
            ("security.protocol", "SASL_PLAINTEXT"),
            ("sasl.mechanism", "PLAIN"),
            ("sasl.jaas.config", "no semicolon"),
        ]),
    ] {
        let e = Security::from_properties(&bad).err();
        assert!(
            matches!(e, Some(ClientError::Config(_))),
            "{bad:?} gave {e:?}"
        );
    }
}

#[test]
fn keys_are_recognised() {
    assert!(is_security_key("sasl.jaas.config"));
    assert!(is_security_key("ssl.truststore.location"));
    assert!(!is_security_key("bootstrap.servers"));
}
