//! SCRAM credentials end to end in one node: AlterUserScramCredentials and
//! DescribeUserScramCredentials over the wire with Kafka's error codes, a full SCRAM
//! exchange through `scram_credentials::scram_server` with the credentials just created,
//! and all of it again after a restart (the records replayed from the metadata log); then
//! credentials made by `vltava configs` and by confluent-kafka's and kafka-python's admin
//! clients, each checked by logging in with its password.

#![allow(clippy::unwrap_used)]

use vltava_broker::Node;
use vltava_broker::scram_credentials::scram_server;
use vltava_protocol::messages::alter_user_scram_credentials_request::{
    ScramCredentialDeletion, ScramCredentialUpsertion,
};
use vltava_protocol::messages::describe_user_scram_credentials_request::UserName;
use vltava_protocol::messages::{
    AlterUserScramCredentialsRequest, DescribeUserScramCredentialsRequest,
};
use vltava_protocol::{RequestBody, ResponseBody};
use vltava_security::KafkaPrincipal;
use vltava_security::sasl::{SaslError, SaslStep};
use vltava_security::scram::crypto::salted_password;
use vltava_security::scram::{ScramClient, ScramMechanism};

use crate::support::{Client, start_node_in};

use vltava_protocol::error_codes::DUPLICATE_RESOURCE;
use vltava_protocol::error_codes::RESOURCE_NOT_FOUND;
use vltava_protocol::error_codes::UNACCEPTABLE_CREDENTIAL;
use vltava_protocol::error_codes::UNSUPPORTED_SASL_MECHANISM;

fn upsert(user: &str, mechanism: i8, iterations: i32, password: &str) -> ScramCredentialUpsertion {
    let salt = format!("salt of {user}").into_bytes();
    let m = ScramMechanism::from_code(mechanism).unwrap_or(ScramMechanism::Sha256);
    ScramCredentialUpsertion {
        name: user.into(),
        mechanism,
        iterations,
        salted_password: salted_password(m, password.as_bytes(), &salt, iterations.max(1) as u32)
            .into(),
        salt: salt.into(),
        ..Default::default()
    }
}

async fn alter(
    c: &mut Client,
    deletions: Vec<ScramCredentialDeletion>,
    upsertions: Vec<ScramCredentialUpsertion>,
) -> Vec<(String, i16)> {
    let req = AlterUserScramCredentialsRequest {
        deletions,
        upsertions,
        ..Default::default()
    };
    let ResponseBody::AlterUserScramCredentials(r) = c.call(0, RequestBody::from(req)).await else {
        panic!("wrong body")
    };
    r.results
        .iter()
        .map(|x| (x.user.to_string(), x.error_code))
        .collect()
}

/// (user, error code, (mechanism, iterations) per credential).
type Described = Vec<(String, i16, Vec<(i8, i32)>)>;

async fn describe(c: &mut Client, users: &[&str]) -> Described {
    let req = DescribeUserScramCredentialsRequest {
        users: Some(
            users
                .iter()
                .map(|u| UserName {
                    name: (*u).into(),
                    ..Default::default()
                })
                .collect(),
        ),
        ..Default::default()
    };
    let ResponseBody::DescribeUserScramCredentials(r) = c.call(0, RequestBody::from(req)).await
    else {
        panic!("wrong body")
    };
    r.results
        .iter()
        .map(|x| {
            let infos = x
                .credential_infos
                .iter()
                .map(|i| (i.mechanism, i.iterations))
                .collect();
            (x.user.to_string(), x.error_code, infos)
        })
        .collect()
}

/// What a wrong password and an unknown user both get.
fn invalid_credentials() -> SaslError {
    SaslError::AuthenticationFailed("Authentication failed: Invalid user credentials".into())
}

/// One SCRAM exchange through the broker's server: the principal, or the server's error.
fn login(
    node: &Node,
    mechanism: &str,
    user: &str,
    password: &str,
) -> Result<KafkaPrincipal, SaslError> {
    let m = ScramMechanism::from_name(mechanism).unwrap();
    let mut server = scram_server(&node.broker, mechanism).unwrap();
    let mut client = ScramClient::new(m, user, password.as_bytes(), b"test client nonce");
    let SaslStep::Challenge(first) = server.step(&client.client_first())? else {
        panic!("no challenge")
    };
    let last = client.client_final(&first).unwrap();
    match server.step(&last)? {
        SaslStep::Done {
            response,
            principal,
        } => {
            client.server_final(&response).unwrap();
            Ok(principal)
        }
        SaslStep::Challenge(_) => panic!("a third step"),
    }
}

fn delete(user: &str, mechanism: i8) -> ScramCredentialDeletion {
    ScramCredentialDeletion {
        name: user.into(),
        mechanism,
        ..Default::default()
    }
}

#[tokio::test]
async fn credentials_are_altered_described_used_and_kept_across_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let node = start_node_in(dir.path(), "").await;
    let mut c = Client::connect(&node).await;

    assert_eq!(
        alter(
            &mut c,
            vec![],
            vec![upsert("alice", 1, 8192, "alice-secret")]
        )
        .await,
        vec![("alice".to_string(), 0)]
    );
    assert_eq!(
        alter(
            &mut c,
            vec![],
            vec![upsert("alice", 2, 4096, "alice-secret")]
        )
        .await,
        vec![("alice".to_string(), 0)]
    );
    let refused = alter(
        &mut c,
        vec![delete("carol", 1)],
        vec![
            upsert("bob", 1, 4096, "b"),
            upsert("bob", 2, 4096, "b"),
            upsert("dave", 1, 1000, "d"),
            upsert("erin", 7, 4096, "e"),
        ],
    )
    .await;
    assert_eq!(
        refused,
        vec![
            ("carol".to_string(), RESOURCE_NOT_FOUND),
            ("bob".to_string(), DUPLICATE_RESOURCE),
            ("dave".to_string(), UNACCEPTABLE_CREDENTIAL),
            ("erin".to_string(), UNSUPPORTED_SASL_MECHANISM),
        ]
    );
    let alice = ("alice".to_string(), 0, vec![(1, 8192), (2, 4096)]);
    let bob = ("bob".to_string(), RESOURCE_NOT_FOUND, vec![]);
    assert_eq!(
        describe(&mut c, &["alice", "bob"]).await,
        vec![alice.clone(), bob.clone()]
    );

    for mechanism in ["SCRAM-SHA-256", "SCRAM-SHA-512"] {
        assert_eq!(
            login(&node, mechanism, "alice", "alice-secret"),
            Ok(KafkaPrincipal::user("alice"))
        );
        assert_eq!(
            login(&node, mechanism, "alice", "wrong"),
            Err(invalid_credentials())
        );
        assert_eq!(
            login(&node, mechanism, "bob", "b"),
            Err(invalid_credentials())
        );
    }
    assert!(scram_server(&node.broker, "PLAIN").is_none());
    node.shutdown().await;

    let node = start_node_in(dir.path(), "").await;
    let mut c = Client::connect(&node).await;
    assert_eq!(describe(&mut c, &["alice", "bob"]).await, vec![alice, bob]);
    assert_eq!(
        login(&node, "SCRAM-SHA-512", "alice", "alice-secret"),
        Ok(KafkaPrincipal::user("alice"))
    );
    // A deleted mechanism no longer logs in; the other one still does.
    assert_eq!(
        alter(&mut c, vec![delete("alice", 1)], vec![]).await,
        vec![("alice".to_string(), 0)]
    );
    assert_eq!(
        login(&node, "SCRAM-SHA-256", "alice", "alice-secret"),
        Err(invalid_credentials())
    );
    assert_eq!(
        login(&node, "SCRAM-SHA-512", "alice", "alice-secret"),
        Ok(KafkaPrincipal::user("alice"))
    );
    node.shutdown().await;
}

/// `vltava configs` makes the salt and salted password on the client side; the broker's
/// SCRAM server then accepts the password for both mechanisms.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_set_by_the_configs_tool_authenticate() {
    let (node, _dir) = crate::support::start_node().await;
    let addr = node.addr.to_string();
    let args: Vec<String> = [
        "configs",
        "--bootstrap-server",
        addr.as_str(),
        "--entity-type",
        "users",
        "--alter",
        "--add-config",
        "SCRAM-SHA-256=[iterations=8192,password=alice-secret],SCRAM-SHA-512=[password=alice-secret]",
        "--entity-name",
        "alice",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let mut out = Vec::new();
    let mut input = std::io::Cursor::new(Vec::new());
    let code = vltava_client::cli::run_with_input(args, &mut input, &mut out)
        .await
        .unwrap();
    let text = String::from_utf8(out).unwrap();
    assert_eq!(
        (code, text.as_str()),
        (0, "Completed updating config for user alice.\n")
    );
    for mechanism in ["SCRAM-SHA-256", "SCRAM-SHA-512"] {
        assert_eq!(
            login(&node, mechanism, "alice", "alice-secret"),
            Ok(KafkaPrincipal::user("alice"))
        );
        assert_eq!(
            login(&node, mechanism, "alice", "alice-secreT"),
            Err(invalid_credentials())
        );
    }
    node.shutdown().await;
}

/// Credentials made by real clients' admin APIs (librdkafka's and kafka-python's own salt
/// and PBKDF2) authenticate with the same passwords through the broker's SCRAM server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_set_by_real_clients_authenticate() {
    let (node, _dir) = crate::support::start_node().await;
    let python = vltava_testkit::python().expect("Python environment (run ./test.sh)");
    let script = r#"
import sys
from confluent_kafka.admin import (AdminClient, ScramCredentialInfo, ScramMechanism,
                                   UserScramCredentialUpsertion)
from kafka.admin import KafkaAdminClient
from kafka.admin._users import UserScramCredentialUpsertion as KpUpsertion

bootstrap = sys.argv[1]
a = AdminClient({"bootstrap.servers": bootstrap})
for mechanism, iterations in ((ScramMechanism.SCRAM_SHA_256, 8192),
                              (ScramMechanism.SCRAM_SHA_512, 4096)):
    up = UserScramCredentialUpsertion("rd", ScramCredentialInfo(mechanism, iterations),
                                      b"rd-secret")
    for f in a.alter_user_scram_credentials([up]).values():
        f.result(15)
k = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=15000)
got = k.alter_user_scram_credentials([
    KpUpsertion("kp", "SCRAM-SHA-256", "kp-secret", iterations=4096),
    KpUpsertion("kp2", "SCRAM-SHA-512", "kp-secret", iterations=5000),
])
assert got == {"kp": None, "kp2": None}, got
k.close()
print("ok")
"#;
    let addr = node.addr.to_string();
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(python)
            .arg("-c")
            .arg(script)
            .arg(addr)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    for (mechanism, user, password) in [
        ("SCRAM-SHA-256", "rd", "rd-secret"),
        ("SCRAM-SHA-512", "rd", "rd-secret"),
        ("SCRAM-SHA-256", "kp", "kp-secret"),
        ("SCRAM-SHA-512", "kp2", "kp-secret"),
    ] {
        assert_eq!(
            login(&node, mechanism, user, password),
            Ok(KafkaPrincipal::user(user)),
            "{user} {mechanism}"
        );
        assert_eq!(
            login(&node, mechanism, user, "other"),
            Err(invalid_credentials())
        );
    }
    node.shutdown().await;
}
