//! Unit tests of the controller listener's security: the settings Vltava refuses (with
//! their key), and a TLS + SASL/PLAIN login both ways over a real socket.

use super::*;
use crate::config::parse_properties;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const VOTER: &str = "process.roles=broker,controller\nnode.id=1\n\
    controller.quorum.voters=1@127.0.0.1:19093\n\
    listeners=PLAINTEXT://127.0.0.1:0,CONTROLLER://127.0.0.1:19093\n\
    controller.listener.names=CONTROLLER\n";

fn config(base: &str, extra: &str) -> BrokerConfig {
    BrokerConfig::from_properties(parse_properties(&format!("{base}{extra}"))).unwrap()
}

fn refusal(base: &str, extra: &str) -> String {
    from_config(&config(base, extra)).unwrap_err().to_string()
}

const SASL: &str = "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:SASL_PLAINTEXT\n\
    listener.name.controller.sasl.enabled.mechanisms=PLAIN\n\
    listener.name.controller.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username=\"ctl\" password=\"ctl-secret\" user_ctl=\"ctl-secret\";\n";

#[test]
fn a_plaintext_controller_listener_needs_nothing() {
    let s = from_config(&config(VOTER, "")).unwrap();
    assert_eq!(s.protocol(), "PLAINTEXT");
    let s = from_config(&config(
        VOTER,
        &format!("{SASL}sasl.mechanism.controller.protocol=PLAIN\n"),
    ))
    .unwrap();
    assert_eq!(s.protocol(), "SASL_PLAINTEXT");
}

#[test]
fn an_unset_mechanism_is_refused_as_kafkas_gssapi_default() {
    let e = refusal(VOTER, SASL);
    assert!(e.contains("sasl.mechanism.controller.protocol"), "{e}");
    assert!(e.contains("GSSAPI"), "{e}");
}

#[test]
fn scram_cannot_log_in_to_controllers() {
    for m in ["SCRAM-SHA-256", "SCRAM-SHA-512"] {
        let extra = format!(
            "{}sasl.mechanism.controller.protocol={m}\n",
            SASL.replace("mechanisms=PLAIN", &format!("mechanisms=PLAIN,{m}"))
        );
        let e = refusal(VOTER, &extra);
        assert!(e.contains("sasl.mechanism.controller.protocol"), "{e}");
        assert!(e.contains("metadata log"), "{e}");
    }
    let e = refusal(
        VOTER,
        &format!("{SASL}sasl.mechanism.controller.protocol=GSSAPI\n"),
    );
    assert!(e.contains("GSSAPI is not available"), "{e}");
}

#[test]
fn the_mechanism_must_be_enabled_where_the_listener_is_served() {
    let extra = format!(
        "{}sasl.mechanism.controller.protocol=PLAIN\n",
        SASL.replace("mechanisms=PLAIN", "mechanisms=")
    );
    let e = refusal(VOTER, &extra);
    assert!(e.contains("must be in"), "{e}");
    // A broker-only node does not serve the controller listener: nothing to enable.
    let broker = "process.roles=broker\nnode.id=5\ncontroller.quorum.voters=1@127.0.0.1:19093\n\
        listeners=PLAINTEXT://127.0.0.1:0\ncontroller.listener.names=CONTROLLER\n";
    assert!(from_config(&config(broker, &extra)).is_ok());
}

#[test]
fn the_login_needs_the_listeners_own_credentials() {
    let extra = format!(
        "{}sasl.mechanism.controller.protocol=PLAIN\n",
        SASL.replace("username=\"ctl\" ", "")
    );
    let e = refusal(VOTER, &extra);
    assert!(e.contains("username"), "{e}");
    assert!(
        e.contains("listener.name.controller.plain.sasl.jaas.config"),
        "{e}"
    );
}

#[test]
fn an_ssl_controller_listener_needs_its_key_store() {
    let e = refusal(
        VOTER,
        "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:SSL\n",
    );
    assert!(e.contains("key store"), "{e}");
}

/// A voter's link accepting from another voter's link: TLS, then SASL/PLAIN, then bytes
/// both ways; a login with the wrong password and a PLAINTEXT client are refused.
#[tokio::test]
async fn tls_and_plain_login_both_ways() {
    let dir = vltava_testkit::temp_dir("controller-link").unwrap();
    let certs = vltava_testkit::certs::make(&dir).unwrap();
    let tls = format!(
        "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:SASL_SSL\n\
         ssl.keystore.type=PEM\nssl.keystore.location={}\n\
         ssl.truststore.type=PEM\nssl.truststore.location={}\n\
         sasl.mechanism.controller.protocol=PLAIN\n",
        certs.keystore.display(),
        certs.ca.display()
    );
    let good = from_config(&config(VOTER, &format!("{SASL}{tls}"))).unwrap();
    let wrong = from_config(&config(
        VOTER,
        &format!(
            "{}{tls}",
            SASL.replace("password=\"ctl-secret\"", "password=\"nope\"")
        ),
    ))
    .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = good.clone();
    let accepting = tokio::spawn(async move {
        let mut results = Vec::new();
        for _ in 0..3 {
            let (tcp, peer) = listener.accept().await.unwrap();
            results.push(
                vltava_raft::link_security::accept(server.as_ref(), tcp, peer)
                    .await
                    .map(|mut s| {
                        tokio::spawn(async move {
                            let mut b = [0u8; 5];
                            s.read_exact(&mut b).await.unwrap();
                            s.write_all(&b).await.unwrap();
                            s.flush().await.unwrap();
                        })
                    }),
            );
        }
        results
    });
    let limit = Duration::from_secs(5);
    let mut s = vltava_raft::link_security::connect(good.as_ref(), addr, limit)
        .await
        .unwrap();
    s.write_all(b"hello").await.unwrap();
    s.flush().await.unwrap();
    let mut echo = [0u8; 5];
    s.read_exact(&mut echo).await.unwrap();
    assert_eq!(&echo, b"hello");
    let e = vltava_raft::link_security::connect(wrong.as_ref(), addr, limit)
        .await
        .err()
        .unwrap();
    assert!(e.to_string().contains("uthentication"), "{e}");
    let plain = vltava_raft::link_security::plaintext();
    let mut p = vltava_raft::link_security::connect(plain.as_ref(), addr, limit)
        .await
        .unwrap();
    // A Kafka ApiVersions request in the clear: the TLS side closes without an answer.
    let _ = p
        .write_all(&[0, 0, 0, 10, 0, 18, 0, 3, 0, 0, 0, 1, 0, 0])
        .await;
    let mut buf = Vec::new();
    let read = tokio::time::timeout(limit, p.read_to_end(&mut buf))
        .await
        .unwrap();
    assert!(read.is_err() || buf.iter().all(|b| *b != 18), "{buf:?}");
    let results = accepting.await.unwrap();
    assert!(results[0].is_ok());
    assert!(results[1].is_err());
    assert!(results[2].is_err());
}
