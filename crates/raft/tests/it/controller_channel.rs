//! Three voters over TCP with the controller channel: a follower forwards admin requests
//! (topics, SCRAM credentials),
//! registrations and heartbeats to the leader; a broker whose session expires is fenced and
//! its partitions lose their leader, and come back when it heartbeats again; a stale epoch is
//! refused; after the leader stops, the others elect a new one and requests still succeed.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use vltava_protocol::messages::alter_user_scram_credentials_request::ScramCredentialUpsertion;
use vltava_protocol::messages::create_topics_request::CreatableTopic;
use vltava_protocol::messages::{AlterUserScramCredentialsRequest, CreateTopicsRequest};
use vltava_raft::image::ScramMechanism;
use vltava_raft::{Controller, QuorumConfig, RaftError, TopicDefaults};

use crate::support::{LIMIT, start_voters, temp_dir, wait_for};

async fn start_three(name: &str) -> (Vec<Controller>, std::path::PathBuf) {
    let base = temp_dir(name);
    let (controllers, _) = start_voters(3, |id| {
        let mut cfg = QuorumConfig::single_node(id, base.join(format!("node-{id}")), "chan");
        cfg.tick_interval = Duration::from_millis(20);
        cfg.broker_session_timeout = Duration::from_millis(800);
        cfg
    })
    .await;
    (controllers, base)
}

fn create(name: &str) -> CreateTopicsRequest {
    CreateTopicsRequest {
        topics: vec![CreatableTopic {
            name: name.into(),
            num_partitions: 3,
            replication_factor: 1,
            ..Default::default()
        }],
        timeout_ms: 30_000,
        ..Default::default()
    }
}

/// Heartbeats for broker `id` every 100 ms until aborted.
fn heartbeat_loop(c: Controller, id: i32, epoch: i64) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            let _ = c.heartbeat(id, epoch, false, false).await;
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn followers_forward_to_the_leader_and_expired_sessions_are_fenced() {
    let (controllers, base) = start_three("fence").await;
    wait_for(&controllers[0], "a leader", |i| i.controller_id > 0).await;
    let leader = controllers[0].leader_id();
    let follower = controllers
        .iter()
        .find(|c| c.node_id() != leader)
        .unwrap()
        .clone();

    // Every broker registers through its own controller handle (two of them forward).
    let mut epochs = Vec::new();
    for c in &controllers {
        let epoch = c
            .register_broker(c.node_id(), "127.0.0.1".into(), 9000 + c.node_id(), None)
            .await
            .unwrap();
        epochs.push(epoch);
    }
    let resp = follower
        .create_topics(create("forwarded"), 7, &TopicDefaults::default())
        .await;
    assert_eq!(resp.topics[0].error_code, 0, "{resp:?}");
    for c in &controllers {
        wait_for(c, "the topic everywhere", |i| {
            i.topics.contains_key("forwarded")
        })
        .await;
    }

    // SCRAM credentials are forwarded too and reach every voter's image.
    let scram = AlterUserScramCredentialsRequest {
        upsertions: vec![ScramCredentialUpsertion {
            name: "alice".into(),
            mechanism: 2,
            iterations: 4096,
            salt: b"salt".to_vec().into(),
            salted_password: vec![7; 64].into(),
            ..Default::default()
        }],
        ..Default::default()
    };
    let resp = follower.alter_user_scram_credentials(scram, 0).await;
    assert_eq!(resp.results[0].error_code, 0, "{resp:?}");
    for c in &controllers {
        wait_for(c, "the credential everywhere", |i| {
            i.scram_credential("alice", ScramMechanism::Sha512)
                .is_some()
        })
        .await;
    }

    // Brokers 1 and 2 heartbeat; broker 3 stays silent and is fenced.
    let beats: Vec<_> = (0..2)
        .map(|i| heartbeat_loop(controllers[i].clone(), i as i32 + 1, epochs[i]))
        .collect();
    wait_for(&follower, "broker 3 fenced", |i| {
        i.brokers.get(&3).is_some_and(|b| b.fenced)
    })
    .await;
    let image = follower.image();
    assert!(!image.brokers[&1].fenced && !image.brokers[&2].fenced);
    for p in image.topics["forwarded"].partitions.values() {
        if p.replicas == vec![3] {
            assert_eq!(p.leader, -1, "a fenced broker leads nothing");
        } else {
            assert_ne!(p.leader, -1);
        }
    }

    // A stale epoch is refused; the right one unfences it and it leads again.
    let stale = controllers[2]
        .heartbeat(3, epochs[2] - 1, false, false)
        .await;
    assert!(
        matches!(stale, Err(RaftError::Kafka { code: 77, .. })),
        "{stale:?}"
    );
    let third = heartbeat_loop(controllers[2].clone(), 3, epochs[2]);
    wait_for(&follower, "broker 3 leading again", |i| {
        !i.brokers[&3].fenced
            && i.topics["forwarded"]
                .partitions
                .values()
                .all(|p| p.leader != -1)
    })
    .await;
    third.abort();
    for b in beats {
        b.abort();
    }
    for c in controllers {
        c.shutdown().await;
    }
    std::fs::remove_dir_all(&base).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_go_on_after_the_leader_stops() {
    let (mut controllers, base) = start_three("failover").await;
    wait_for(&controllers[0], "a leader", |i| i.controller_id > 0).await;
    let mut beats = Vec::new();
    for c in &controllers {
        let epoch = c
            .register_broker(c.node_id(), "127.0.0.1".into(), 9000 + c.node_id(), None)
            .await
            .unwrap();
        beats.push(heartbeat_loop(c.clone(), c.node_id(), epoch));
    }
    let leader = controllers[0].leader_id();
    let pos = controllers
        .iter()
        .position(|c| c.node_id() == leader)
        .unwrap();
    beats.remove(pos).abort();
    controllers.remove(pos).shutdown().await;
    for (n, c) in controllers.iter().enumerate() {
        // Either survivor serves it: the new leader locally, the other by forwarding (it may
        // first answer NOT_CONTROLLER while the election is under way).
        let name = format!("after-failover-{n}");
        let deadline = tokio::time::Instant::now() + LIMIT;
        loop {
            let resp = c
                .create_topics(create(&name), 7, &TopicDefaults::default())
                .await;
            match resp.topics[0].error_code {
                0 => break,
                41 | 7 => {
                    assert!(tokio::time::Instant::now() < deadline, "no new leader");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                other => panic!("unexpected error {other}: {resp:?}"),
            }
        }
    }
    for c in &controllers {
        wait_for(c, "both topics", |i| {
            i.topics.contains_key("after-failover-0") && i.topics.contains_key("after-failover-1")
        })
        .await;
        assert_ne!(c.leader_id(), leader);
    }
    for b in beats {
        b.abort();
    }
    for c in controllers {
        c.shutdown().await;
    }
    std::fs::remove_dir_all(&base).unwrap();
}
