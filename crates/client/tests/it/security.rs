//! The client's TLS and SASL against the real broker binary: SSL with a CA made by the
//! test (and a CA the broker's certificate is not from, refused), SASL_PLAINTEXT with
//! PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512 (a wrong password refused with the broker's
//! message), and `vltava topics --command-config` on a SASL_SSL listener.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use vltava_client::admin::{ScramChange, ScramMechanism};
use vltava_client::security::Security;
use vltava_client::{Admin, ClientConfig, ClientError, NewTopic};
use vltava_testkit::broker_process::BrokerProcess;
use vltava_testkit::certs;
use vltava_testkit::ports::PortReservation;

const JAAS_PLAIN_USERS: &str = r#"org.apache.kafka.common.security.plain.PlainLoginModule required username="admin" password="admin-secret" user_admin="admin-secret" user_alice="alice-secret";"#;

/// A broker with PLAINTEXT (its printed address), SSL, SASL_PLAINTEXT and SASL_SSL
/// listeners, and their addresses by name.
struct SecureBroker {
    broker: BrokerProcess,
    addrs: BTreeMap<&'static str, String>,
}

fn start(certs: &certs::TestCerts) -> SecureBroker {
    let mut ports = PortReservation::default();
    let mut addrs = BTreeMap::new();
    let mut listeners = vec!["PLAINTEXT://127.0.0.1:0".to_string()];
    for name in ["SSL", "SASL_PLAINTEXT", "SASL_SSL"] {
        let port = ports.take().unwrap();
        listeners.push(format!("{name}://127.0.0.1:{port}"));
        addrs.insert(name, format!("127.0.0.1:{port}"));
    }
    listeners.push("CONTROLLER://127.0.0.1:0".into());
    ports.release();
    let broker = BrokerProcess::builder()
        .override_property(format!("listeners={}", listeners.join(",")))
        .override_property("ssl.keystore.type=PEM")
        .override_property(format!(
            "ssl.keystore.location={}",
            certs.keystore.display()
        ))
        .override_property("sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-256,SCRAM-SHA-512")
        .override_property(format!("sasl.jaas.config={JAAS_PLAIN_USERS}"))
        .start()
        .unwrap_or_else(|e| panic!("{e}"));
    addrs.insert("PLAINTEXT", broker.addr().to_string());
    SecureBroker { broker, addrs }
}

fn security(kv: &[(&str, &str)]) -> Security {
    let props: BTreeMap<String, String> = kv
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Security::from_properties(&props).unwrap()
}

fn client(addr: &str, security: Security) -> ClientConfig {
    ClientConfig {
        security,
        retries: 1,
        connect_timeout: Duration::from_secs(5),
        request_timeout: Duration::from_secs(10),
        ..ClientConfig::new(addr)
    }
}

fn jaas(module: &str, user: &str, password: &str) -> String {
    format!(
        r#"org.apache.kafka.common.security.{module} required username="{user}" password="{password}";"#
    )
}

async fn list_topics(addr: &str, security: Security) -> Result<Vec<String>, ClientError> {
    Admin::connect(client(addr, security))
        .await?
        .list_topics(false)
        .await
}

fn ssl_props(ca: &Path) -> Vec<(&'static str, String)> {
    vec![
        ("security.protocol", "SSL".to_string()),
        ("ssl.truststore.type", "PEM".to_string()),
        ("ssl.truststore.location", ca.display().to_string()),
    ]
}

fn as_refs<'a>(v: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    v.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ssl_with_the_tests_ca_and_a_foreign_ca_refused() {
    let dir = tempfile_dir("ssl");
    let certs = certs::make(&dir).unwrap();
    let other = tempfile_dir("ssl-other");
    let other_certs = certs::make(&other).unwrap();
    let b = start(&certs);
    let ssl = &b.addrs["SSL"];
    // The PLAINTEXT listener creates a topic; the SSL one sees it.
    let admin = Admin::connect(client(&b.addrs["PLAINTEXT"], Security::default()))
        .await
        .unwrap();
    admin
        .create_topics(&[NewTopic::new("over-tls", 1, 1)], false)
        .await
        .unwrap();
    let ok = security(&as_refs(&ssl_props(&certs.ca)));
    assert_eq!(
        list_topics(ssl, ok.clone()).await.unwrap(),
        vec!["over-tls"]
    );
    // The broker's certificate names 127.0.0.1 and localhost; "localhost:port" works too.
    let port = ssl.rsplit_once(':').unwrap().1;
    assert!(list_topics(&format!("localhost:{port}"), ok).await.is_ok());
    // A CA that did not sign the broker's certificate: an authentication error.
    let foreign = security(&as_refs(&ssl_props(&other_certs.ca)));
    let _ = std::fs::remove_dir_all(&other);
    let e = list_topics(ssl, foreign).await.unwrap_err();
    assert!(
        format!("{e:?}").contains("Authentication"),
        "expected an authentication failure, got {e:?}"
    );
    // Plain Kafka on the TLS port gets nowhere (the connection ends or times out).
    assert!(list_topics(ssl, Security::default()).await.is_err());
    drop(b.broker);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sasl_plaintext_with_plain_and_scram_and_wrong_passwords_refused() {
    let dir = tempfile_dir("sasl");
    let certs = certs::make(&dir).unwrap();
    let b = start(&certs);
    let sasl = &b.addrs["SASL_PLAINTEXT"];
    let admin = Admin::connect(client(&b.addrs["PLAINTEXT"], Security::default()))
        .await
        .unwrap();
    for (m, password) in [
        (ScramMechanism::Sha256, "bob-256"),
        (ScramMechanism::Sha512, "bob-512"),
    ] {
        let r = admin
            .alter_user_scram_credentials(&[ScramChange::Upsert {
                user: "bob".into(),
                mechanism: m,
                iterations: 4096,
                password: password.into(),
            }])
            .await
            .unwrap();
        assert!(r.iter().all(|(_, r)| r.is_ok()), "{r:?}");
    }
    let login = |mechanism: &str, module: &str, user: &str, password: &str| {
        security(&[
            ("security.protocol", "SASL_PLAINTEXT"),
            ("sasl.mechanism", mechanism),
            ("sasl.jaas.config", &jaas(module, user, password)),
        ])
    };
    let plain = "plain.PlainLoginModule";
    let scram = "scram.ScramLoginModule";
    list_topics(sasl, login("PLAIN", plain, "alice", "alice-secret"))
        .await
        .unwrap();
    // The credentials reach the broker through the metadata log: wait for them.
    for (mechanism, password) in [("SCRAM-SHA-256", "bob-256"), ("SCRAM-SHA-512", "bob-512")] {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            match list_topics(sasl, login(mechanism, scram, "bob", password)).await {
                Ok(_) => break,
                Err(e) if Instant::now() < deadline => {
                    let _ = e;
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Err(e) => panic!("{mechanism} login failed: {e}"),
            }
        }
    }
    // Wrong passwords: typed authentication errors carrying the broker's message.
    for (mechanism, module, user) in [
        ("PLAIN", plain, "alice"),
        ("SCRAM-SHA-256", scram, "bob"),
        ("SCRAM-SHA-512", scram, "bob"),
    ] {
        let e = list_topics(sasl, login(mechanism, module, user, "wrong"))
            .await
            .unwrap_err();
        let ClientError::Authentication { message, .. } = &e else {
            panic!("{mechanism}: expected an authentication failure, got {e:?}")
        };
        assert!(
            message
                .to_ascii_lowercase()
                .contains("authentication failed"),
            "{mechanism}: {message}"
        );
    }
    // The SCRAM-SHA-256 password does not log in with SCRAM-SHA-512.
    let e = list_topics(sasl, login("SCRAM-SHA-512", scram, "bob", "bob-256"))
        .await
        .unwrap_err();
    assert!(matches!(e, ClientError::Authentication { .. }), "{e:?}");
    drop(b.broker);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn topics_tool_with_a_command_config_on_sasl_ssl() {
    let dir = tempfile_dir("tool");
    let certs = certs::make(&dir).unwrap();
    let b = start(&certs);
    let config = dir.join("client.properties");
    std::fs::write(
        &config,
        format!(
            "security.protocol=SASL_SSL\nssl.truststore.type=PEM\nssl.truststore.location={}\nsasl.mechanism=PLAIN\nsasl.jaas.config={}\n",
            certs.ca.display(),
            jaas("plain.PlainLoginModule", "alice", "alice-secret")
        ),
    )
    .unwrap();
    let config = config.display().to_string();
    let run = |args: Vec<String>| async move {
        let mut out = Vec::new();
        let mut input = std::io::Cursor::new(Vec::new());
        let code = vltava_client::cli::run_with_input(args, &mut input, &mut out).await;
        (
            code.map_err(|e| e.to_string()),
            String::from_utf8(out).unwrap(),
        )
    };
    let args = |extra: &[&str], config: &str| {
        let mut v: Vec<String> = ["topics", "--bootstrap-server", b.addrs["SASL_SSL"].as_str()]
            .iter()
            .map(|s| s.to_string())
            .collect();
        v.extend(extra.iter().map(|s| s.to_string()));
        v.extend(["--command-config".to_string(), config.to_string()]);
        v
    };
    let (code, out) = run(args(
        &["--create", "--topic", "secure", "--partitions", "2"],
        &config,
    ))
    .await;
    assert_eq!(code, Ok(0), "{out}");
    assert_eq!(out.trim(), "Created topic secure.");
    let (code, out) = run(args(&["--list"], &config)).await;
    assert_eq!(code, Ok(0), "{out}");
    assert_eq!(out.trim(), "secure");
    // The same file with a wrong password: the tool fails with the broker's refusal.
    let bad = dir.join("bad.properties");
    std::fs::write(
        &bad,
        std::fs::read_to_string(&config)
            .unwrap()
            .replace("alice-secret", "nope"),
    )
    .unwrap();
    let (code, out) = run(args(&["--list"], &bad.display().to_string())).await;
    assert_eq!(code, Ok(1), "{out}");
    assert!(
        out.contains("authentication with") && out.contains("Invalid username or password"),
        "{out}"
    );
    drop(b.broker);
    let _ = std::fs::remove_dir_all(&dir);
}

fn tempfile_dir(label: &str) -> std::path::PathBuf {
    vltava_testkit::temp_dir(&format!("client-security-{label}")).unwrap()
}
