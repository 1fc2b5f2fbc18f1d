//! End-to-end through `Controller`: start a one-voter quorum in a temp dir, create topics,
//! change configs, allocate producer ids, drop the controller, restart from the same dir and
//! compare images; also across snapshots.

#![allow(clippy::unwrap_used)]

use std::path::PathBuf;

use vltava_protocol::messages::create_acls_request::AclCreation;
use vltava_protocol::messages::create_topics_request::{CreatableTopic, CreatableTopicConfig};
use vltava_protocol::messages::delete_acls_request::DeleteAclsFilter;
use vltava_protocol::messages::{
    CreateAclsRequest, CreateTopicsRequest, DeleteAclsRequest, DeleteTopicsRequest,
};
use vltava_raft::{ConfigResource, Controller, MetadataImage, QuorumConfig, TopicDefaults};

use crate::support::temp_dir;

fn topic(name: &str, partitions: i32) -> CreatableTopic {
    CreatableTopic {
        name: name.into(),
        num_partitions: partitions,
        replication_factor: -1,
        ..Default::default()
    }
}

async fn start(dir: &PathBuf, snapshot_every: u64) -> Controller {
    let mut cfg = QuorumConfig::single_node(1, dir, "vltava-test-cluster");
    cfg.snapshot_every_entries = snapshot_every;
    Controller::start(cfg).await.unwrap()
}

/// After a restart the new leader appends one empty entry for its term, so the offset moves
/// by exactly one; everything else must be equal.
fn assert_same_content(after: &MetadataImage, before: &MetadataImage) {
    assert_eq!(after.offset, before.offset + 1);
    let mut shifted = after.clone();
    shifted.offset = before.offset;
    assert_eq!(shifted, *before);
}

#[tokio::test]
async fn create_topic_and_recover_after_restart() {
    let dir = temp_dir("restart");
    let c = start(&dir, 1000).await;
    assert_eq!(c.image().controller_id, 1);
    assert_eq!(c.image().features.get("metadata.version"), Some(&25));
    c.register_broker(1, "localhost".into(), 9092, None)
        .await
        .unwrap();
    let mut t = topic("orders", 3);
    t.configs.push(CreatableTopicConfig {
        name: "cleanup.policy".into(),
        value: Some("compact".into()),
        ..Default::default()
    });
    let resp = c
        .create_topics(
            CreateTopicsRequest {
                topics: vec![t, topic("payments", -1)],
                ..Default::default()
            },
            7,
            &TopicDefaults::default(),
        )
        .await;
    assert_eq!(resp.topics[0].error_code, 0, "{resp:?}");
    assert_eq!(resp.topics[1].error_code, 0, "{resp:?}");
    assert_eq!(resp.topics[0].num_partitions, 3);
    let image = c.image();
    let orders = &image.topics["orders"];
    assert_eq!(orders.id, resp.topics[0].topic_id);
    assert_eq!(orders.partitions.len(), 3);
    assert_eq!(image.topics["payments"].partitions.len(), 1);
    assert_eq!(
        image.configs[&ConfigResource::topic("orders")]["cleanup.policy"],
        "compact"
    );
    let (first, len) = c.allocate_producer_ids(0).await.unwrap();
    assert_eq!((first, len), (0, 1000));
    let (first, _) = c.allocate_producer_ids(0).await.unwrap();
    assert_eq!(first, 1000);

    let again = c
        .create_topics(
            CreateTopicsRequest {
                topics: vec![topic("orders", 1)],
                ..Default::default()
            },
            7,
            &TopicDefaults::default(),
        )
        .await;
    assert_eq!(again.topics[0].error_code, 36);

    let before = c.image();
    c.shutdown().await;

    let c = start(&dir, 1000).await;
    let after = c.image();
    assert_same_content(&after, &before);
    // Still writable after recovery, and ids keep going.
    let (first, _) = c.allocate_producer_ids(0).await.unwrap();
    assert_eq!(first, 2000);
    c.shutdown().await;
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn recovery_from_snapshot_and_tail_equals_live_image() {
    let dir = temp_dir("snapshot");
    let c = start(&dir, 3).await;
    c.register_broker(1, "localhost".into(), 9092, Some("r1".into()))
        .await
        .unwrap();
    for i in 0..10 {
        let r = c
            .create_topics(
                CreateTopicsRequest {
                    topics: vec![topic(&format!("t{i}"), 2)],
                    ..Default::default()
                },
                5,
                &TopicDefaults::default(),
            )
            .await;
        assert_eq!(r.topics[0].error_code, 0);
    }
    let del = c
        .delete_topics(
            DeleteTopicsRequest {
                topic_names: vec!["t3".into()],
                ..Default::default()
            },
            5,
        )
        .await;
    assert_eq!(del.responses[0].error_code, 0);
    let before = c.image();
    assert_eq!(before.topics.len(), 9);
    c.shutdown().await;
    assert!(dir.join("snapshot").exists());

    let c = start(&dir, 3).await;
    assert_same_content(&c.image(), &before);
    c.shutdown().await;
    std::fs::remove_dir_all(&dir).unwrap();
}

fn acl(name: &str, op: i8) -> AclCreation {
    AclCreation {
        resource_type: 2,
        resource_name: name.into(),
        resource_pattern_type: 3,
        principal: "User:alice".into(),
        host: "*".into(),
        operation: op,
        permission_type: 3,
        ..Default::default()
    }
}

/// ACLs are metadata: created and deleted through the controller, they survive a restart
/// that replays the log and one that starts from a snapshot.
#[tokio::test]
async fn acls_survive_restart_and_snapshot() {
    let dir = temp_dir("acls");
    for snapshot_every in [1000, 2] {
        let c = start(&dir, snapshot_every).await;
        let created = c
            .create_acls(
                CreateAclsRequest {
                    creations: (0..5).map(|i| acl(&format!("t{i}"), 3)).collect(),
                    ..Default::default()
                },
                3,
            )
            .await;
        assert!(
            created.results.iter().all(|r| r.error_code == 0),
            "{created:?}"
        );
        let deleted = c
            .delete_acls(
                DeleteAclsRequest {
                    filters: vec![DeleteAclsFilter {
                        resource_type_filter: 2,
                        resource_name_filter: Some("t1".into()),
                        pattern_type_filter: 3,
                        principal_filter: None,
                        host_filter: None,
                        operation: 1,
                        permission_type: 1,
                        ..Default::default()
                    }],
                    ..Default::default()
                },
                3,
            )
            .await;
        assert_eq!(deleted.filter_results[0].matching_acls.len(), 1);
        let before = c.image();
        c.shutdown().await;
        let c = start(&dir, snapshot_every).await;
        assert_same_content(&c.image(), &before);
        let mut names: Vec<String> = c
            .image()
            .acls
            .values()
            .map(|b| b.pattern.name.clone())
            .collect();
        names.sort();
        // The second round creates only t1 again (the others exist) and deletes it again.
        assert_eq!(names, ["t0", "t2", "t3", "t4"]);
        assert!(!names.contains(&"t1".to_string()));
        c.shutdown().await;
    }
    assert!(dir.join("snapshot").exists());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn wrong_node_id_is_refused() {
    let dir = temp_dir("mismatch");
    let c = start(&dir, 1000).await;
    c.shutdown().await;
    let cfg = QuorumConfig::single_node(2, &dir, "vltava-test-cluster");
    assert!(Controller::start(cfg).await.is_err());
    let cfg = QuorumConfig::single_node(1, &dir, "other-cluster");
    assert!(Controller::start(cfg).await.is_err());
    // The log was formatted for a one-voter quorum: other voters are a mismatch, not a hang.
    let mut cfg = QuorumConfig::single_node(1, &dir, "vltava-test-cluster");
    cfg.voters[0].addr = "127.0.0.1:0".parse().unwrap();
    cfg.voters.push(vltava_raft::Voter {
        id: 2,
        addr: "127.0.0.1:1".parse().unwrap(),
    });
    assert!(matches!(
        Controller::start(cfg).await,
        Err(vltava_raft::RaftError::Mismatch { .. })
    ));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn torn_log_tail_recovers_to_a_consistent_prefix() {
    let dir = temp_dir("torn");
    let c = start(&dir, 1000).await;
    c.register_broker(1, "localhost".into(), 9092, None)
        .await
        .unwrap();
    for i in 0..5 {
        let r = c
            .create_topics(
                CreateTopicsRequest {
                    topics: vec![topic(&format!("t{i}"), 1)],
                    ..Default::default()
                },
                7,
                &TopicDefaults::default(),
            )
            .await;
        assert_eq!(r.topics[0].error_code, 0);
    }
    c.shutdown().await;
    // Tear the last entry (t4) in half, as if the machine died mid-write and the fsync lied.
    let log = dir.join("raft-log");
    let len = std::fs::metadata(&log).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&log)
        .unwrap()
        .set_len(len - 10)
        .unwrap();
    let c = start(&dir, 1000).await;
    let image = c.image();
    let names: Vec<&str> = image.topics.keys().map(String::as_str).collect();
    assert_eq!(names, ["t0", "t1", "t2", "t3"]);
    assert_eq!(image.topic_names.len(), 4);
    // And it keeps working: t4 can be created again.
    let r = c
        .create_topics(
            CreateTopicsRequest {
                topics: vec![topic("t4", 1)],
                ..Default::default()
            },
            7,
            &TopicDefaults::default(),
        )
        .await;
    assert_eq!(r.topics[0].error_code, 0);
    c.shutdown().await;
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The broker calls the controller from spawned tasks: every future must be `Send`.
#[allow(dead_code)]
fn controller_futures_are_send(c: Controller, d: TopicDefaults) {
    fn assert_send<T: Send>(_: T) {}
    assert_send(Controller::start(QuorumConfig::single_node(1, "x", "c")));
    assert_send(c.register_broker(1, "h".into(), 1, None));
    assert_send(c.create_topics(Default::default(), 7, &d));
    assert_send(c.delete_topics(Default::default(), 6));
    assert_send(c.create_partitions(Default::default(), 3));
    assert_send(c.incremental_alter_configs(Default::default(), 1));
    assert_send(c.alter_configs(Default::default(), 2));
    assert_send(c.allocate_producer_ids(0));
    assert_send(c.clone().shutdown());
}

/// On a multi-threaded runtime, a completed request's change is already in `image()`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn completed_request_is_visible_in_the_image() {
    let dir = temp_dir("visible");
    let c = start(&dir, 1000).await;
    c.register_broker(1, "localhost".into(), 9092, None)
        .await
        .unwrap();
    for i in 0..20 {
        let name = format!("v{i}");
        let c2 = c.clone();
        let n2 = name.clone();
        let r = tokio::spawn(async move {
            c2.create_topics(
                CreateTopicsRequest {
                    topics: vec![topic(&n2, 1)],
                    ..Default::default()
                },
                7,
                &TopicDefaults::default(),
            )
            .await
        })
        .await
        .unwrap();
        assert_eq!(r.topics[0].error_code, 0);
        assert!(c.image().topics.contains_key(&name));
    }
    c.shutdown().await;
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn scram_credentials_survive_restart_from_log_and_from_snapshot() {
    use vltava_protocol::messages::AlterUserScramCredentialsRequest;
    use vltava_protocol::messages::alter_user_scram_credentials_request::{
        ScramCredentialDeletion, ScramCredentialUpsertion,
    };
    use vltava_raft::image::ScramMechanism;
    use vltava_security::scram::crypto::{credential_from_password, salted_password};

    let upsert = |name: &str, m: ScramMechanism| ScramCredentialUpsertion {
        name: name.into(),
        mechanism: m.code(),
        iterations: 8192,
        salt: b"salt".to_vec().into(),
        salted_password: salted_password(m, b"pw", b"salt", 8192).into(),
        ..Default::default()
    };
    for snapshot_every in [1000, 2] {
        let dir = temp_dir("scram");
        let c = start(&dir, snapshot_every).await;
        for (user, m) in [
            ("alice", ScramMechanism::Sha256),
            ("alice", ScramMechanism::Sha512),
            ("bob", ScramMechanism::Sha512),
        ] {
            let r = c
                .alter_user_scram_credentials(
                    AlterUserScramCredentialsRequest {
                        upsertions: vec![upsert(user, m)],
                        ..Default::default()
                    },
                    0,
                )
                .await;
            assert_eq!(r.results[0].error_code, 0, "{r:?}");
        }
        let r = c
            .alter_user_scram_credentials(
                AlterUserScramCredentialsRequest {
                    deletions: vec![ScramCredentialDeletion {
                        name: "bob".into(),
                        mechanism: 2,
                        ..Default::default()
                    }],
                    ..Default::default()
                },
                0,
            )
            .await;
        assert_eq!(r.results[0].error_code, 0, "{r:?}");
        let before = c.image();
        let expected = credential_from_password(ScramMechanism::Sha512, b"pw", b"salt", 8192);
        assert_eq!(
            before.scram_credential("alice", ScramMechanism::Sha512),
            Some(&expected)
        );
        assert!(!before.scram_credentials.contains_key("bob"));
        c.shutdown().await;
        assert_eq!(dir.join("snapshot").exists(), snapshot_every == 2);

        let c = start(&dir, snapshot_every).await;
        assert_same_content(&c.image(), &before);
        assert_eq!(c.image().scram_credentials.len(), 1);
        c.shutdown().await;
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

/// `QuorumConfig::bootstrap_records` (the credentials of `storage format --add-scram`) are
/// written with `metadata.version` by the first leader of a fresh log, and only then: a
/// restart with other bootstrap records leaves the image as it was.
#[tokio::test]
async fn bootstrap_records_go_into_a_fresh_log_only() {
    use vltava_raft::MetadataRecord;
    use vltava_raft::image::{ScramCredential, ScramMechanism};

    let record = |user: &str| {
        let credential = ScramCredential {
            salt: vec![1; 16],
            stored_key: vec![2; 64],
            server_key: vec![3; 64],
            iterations: 4096,
        };
        MetadataRecord::UserScramCredential(vltava_raft::apply::scram_record(
            user,
            ScramMechanism::Sha512,
            &credential,
        ))
    };
    let dir = temp_dir("bootstrap-records");
    let mut cfg = QuorumConfig::single_node(1, &dir, "vltava-test-cluster");
    cfg.bootstrap_records = vec![record("admin")];
    let c = Controller::start(cfg.clone()).await.unwrap();
    let image = c.image();
    assert_eq!(image.features.get("metadata.version"), Some(&25));
    let got = image
        .scram_credential("admin", ScramMechanism::Sha512)
        .unwrap();
    assert_eq!(
        (got.iterations, got.server_key.clone()),
        (4096, vec![3; 64])
    );
    c.shutdown().await;

    cfg.bootstrap_records = vec![record("other")];
    let c = Controller::start(cfg).await.unwrap();
    let image = c.image();
    assert!(
        image
            .scram_credential("admin", ScramMechanism::Sha512)
            .is_some()
    );
    assert!(
        image
            .scram_credential("other", ScramMechanism::Sha512)
            .is_none()
    );
    c.shutdown().await;
}

#[tokio::test]
async fn ongoing_reassignment_survives_restart_from_log_and_from_snapshot() {
    use vltava_protocol::messages::AlterPartitionReassignmentsRequest;
    use vltava_protocol::messages::alter_partition_reassignments_request::{
        ReassignablePartition, ReassignableTopic,
    };
    use vltava_protocol::messages::create_topics_request::CreatableReplicaAssignment;

    let reassign = |replicas: Option<Vec<i32>>| AlterPartitionReassignmentsRequest {
        topics: vec![ReassignableTopic {
            name: "moving".into(),
            partitions: vec![ReassignablePartition {
                partition_index: 0,
                replicas,
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    };
    for snapshot_every in [1000, 2] {
        let dir = temp_dir("reassign");
        let c = start(&dir, snapshot_every).await;
        for id in 0..3 {
            c.register_broker(id, "localhost".into(), 9092 + id, None)
                .await
                .unwrap();
        }
        let mut t = topic("moving", -1);
        t.assignments = vec![CreatableReplicaAssignment {
            partition_index: 0,
            broker_ids: vec![0],
            ..Default::default()
        }];
        let created = c
            .create_topics(
                CreateTopicsRequest {
                    topics: vec![t],
                    ..Default::default()
                },
                7,
                &TopicDefaults::default(),
            )
            .await;
        assert_eq!(created.topics[0].error_code, 0, "{created:?}");
        let r = c
            .alter_partition_reassignments(reassign(Some(vec![1, 2])), 0)
            .await;
        assert_eq!(r.responses[0].partitions[0].error_code, 0, "{r:?}");
        let before = c.image();
        let p = &before.topics["moving"].partitions[&0];
        assert_eq!(
            (
                p.replicas.clone(),
                p.adding_replicas.clone(),
                p.removing_replicas.clone()
            ),
            (vec![1, 2, 0], vec![1, 2], vec![0])
        );
        c.shutdown().await;
        assert_eq!(dir.join("snapshot").exists(), snapshot_every == 2);

        // The restarted controller has the reassignment in progress and can cancel it.
        let c = start(&dir, snapshot_every).await;
        assert_same_content(&c.image(), &before);
        let r = c.alter_partition_reassignments(reassign(None), 0).await;
        assert_eq!(r.responses[0].partitions[0].error_code, 0, "{r:?}");
        let p = c.image().topics["moving"].partitions[&0].clone();
        assert!(!p.reassigning());
        assert_eq!((p.replicas, p.isr), (vec![0], vec![0]));
        c.shutdown().await;
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
