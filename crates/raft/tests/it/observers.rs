//! Observers (broker-only nodes) following three voters over TCP: an observer started after
//! the leader compacted its log loads the leader's snapshot and then the tail, so its image
//! equals the voters'; it forwards admin requests, registration and heartbeats to the leader,
//! is listed among DescribeQuorum's observers, follows a new leader after the old one stops,
//! catches up again after its own restart (from its local copy), and finds the quorum from
//! `controller.quorum.bootstrap.servers` alone. A voter cannot be an observer, and an
//! observer of another cluster id is refused (INCONSISTENT_CLUSTER_ID).

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use vltava_protocol::messages::CreateTopicsRequest;
use vltava_protocol::messages::create_topics_request::CreatableTopic;
use vltava_raft::{Controller, MetadataImage, QuorumConfig, RaftError, TopicDefaults, Voter};

use crate::support::{LIMIT, start_voters, temp_dir, wait_for};

const OBSERVER: i32 = 7;

/// Three voters (ids 1..=3) that snapshot and compact every 4 entries.
async fn start_three(base: &std::path::Path) -> (Vec<Controller>, Vec<Voter>) {
    start_voters(3, |id| {
        let mut cfg = QuorumConfig::single_node(id, base.join(format!("node-{id}")), "obs");
        cfg.tick_interval = Duration::from_millis(20);
        cfg.snapshot_every_entries = 4;
        // One broker is registered below and never heartbeats: keep it unfenced.
        cfg.broker_session_timeout = Duration::from_secs(600);
        cfg
    })
    .await
}

fn observer_config(base: &std::path::Path, voters: &[Voter]) -> QuorumConfig {
    let mut cfg = QuorumConfig::single_node(OBSERVER, base.join("observer"), "obs");
    cfg.voters = voters.to_vec();
    cfg
}

fn create(name: &str) -> CreateTopicsRequest {
    CreateTopicsRequest {
        topics: vec![CreatableTopic {
            name: name.into(),
            num_partitions: 1,
            replication_factor: 1,
            ..Default::default()
        }],
        timeout_ms: 30_000,
        ..Default::default()
    }
}

/// Creates `name` through `c`, retrying while a new leader is being elected.
async fn create_until_done(c: &Controller, name: &str) {
    let deadline = tokio::time::Instant::now() + LIMIT;
    loop {
        let resp = c
            .create_topics(create(name), 7, &TopicDefaults::default())
            .await;
        match resp.topics[0].error_code {
            0 => return,
            41 | 7 => {
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "no leader: {resp:?}"
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            other => panic!("unexpected error {other}: {resp:?}"),
        }
    }
}

fn topic_names(i: &MetadataImage) -> Vec<String> {
    i.topics.keys().cloned().collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_observer_follows_snapshots_leader_changes_and_its_own_restart() {
    let base = temp_dir("follow");
    let (mut controllers, voters) = start_three(&base).await;
    wait_for(&controllers[0], "a leader", |i| i.controller_id > 0).await;
    controllers[0]
        .register_broker(100, "127.0.0.1".into(), 9100, None)
        .await
        .unwrap();
    // Enough entries that the leader's log no longer starts at the first one: the observer
    // can only get the first topics from the snapshot.
    for n in 0..12 {
        create_until_done(&controllers[0], &format!("early-{n}")).await;
    }

    let mut as_voter = observer_config(&base, &voters);
    as_voter.node_id = 2;
    assert!(matches!(
        Controller::start_observer(as_voter).await,
        Err(RaftError::Config(_))
    ));
    let mut stranger = observer_config(&base, &voters);
    stranger.cluster_id = "another-cluster".into();
    stranger.metadata_dir = base.join("stranger");
    let started = tokio::time::Instant::now();
    assert!(matches!(
        Controller::start_observer(stranger).await,
        Err(RaftError::Kafka { code: 104, .. })
    ));
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "refused at once"
    );

    let observer = Controller::start_observer(observer_config(&base, &voters))
        .await
        .unwrap();
    let leader_image = controllers[0].image();
    let image = observer.image();
    assert_eq!(topic_names(&image), topic_names(&leader_image));
    assert!(image.offset >= 12, "offset {}", image.offset);
    assert!(image.controller_id > 0);

    // Registration, heartbeats and admin requests go to the leader.
    let epoch = observer
        .register_broker(OBSERVER, "127.0.0.1".into(), 9099, None)
        .await
        .unwrap();
    let hb = observer
        .heartbeat(OBSERVER, epoch, false, false)
        .await
        .unwrap();
    assert!(!hb.should_shut_down);
    wait_for(&observer, "itself registered", |i| {
        i.brokers.get(&OBSERVER).is_some_and(|b| b.epoch == epoch)
    })
    .await;
    create_until_done(&observer, "through-observer").await;
    assert!(observer.image().topics.contains_key("through-observer"));
    for c in &controllers {
        wait_for(c, "the observer's topic", |i| {
            i.topics.contains_key("through-observer")
        })
        .await;
    }
    let q = observer.describe_quorum().await.unwrap();
    assert_eq!(q.voters.len(), 3);
    assert_eq!(
        q.observers.iter().map(|o| o.replica_id).collect::<Vec<_>>(),
        vec![OBSERVER]
    );
    assert!(q.observers[0].log_end_offset > 0);

    // The leader stops: the observer finds the new one and forwards to it.
    let leader = observer.leader_id();
    let pos = controllers
        .iter()
        .position(|c| c.node_id() == leader)
        .unwrap();
    controllers.remove(pos).shutdown().await;
    create_until_done(&observer, "after-leader-change").await;
    assert!(observer.image().topics.contains_key("after-leader-change"));
    assert_ne!(observer.leader_id(), leader);

    // Restarted, it resumes from its local copy and fetches what it missed.
    observer.shutdown().await;
    let copy = vltava_raft::observer_store::load(
        &base
            .join("observer")
            .join(vltava_raft::observer_store::FILE),
        "obs",
    )
    .expect("the observer's local copy");
    assert!(
        copy.offset > 0 && copy.topics.contains_key("early-0"),
        "{}",
        copy.offset
    );
    create_until_done(&controllers[0], "while-observer-down").await;
    let observer = Controller::start_observer(observer_config(&base, &voters))
        .await
        .unwrap();
    let names = topic_names(&observer.image());
    assert!(
        names.contains(&"while-observer-down".to_string()),
        "{names:?}"
    );
    assert!(names.contains(&"early-0".to_string()), "{names:?}");

    // controller.quorum.bootstrap.servers alone: the voters are learnt from the leader.
    let mut by_bootstrap = observer_config(&base, &[]);
    by_bootstrap.node_id = OBSERVER + 1;
    by_bootstrap.metadata_dir = base.join("second-observer");
    by_bootstrap.bootstrap_servers = controllers
        .iter()
        .map(|c| voters.iter().find(|v| v.id == c.node_id()).unwrap().addr)
        .collect();
    let second = Controller::start_observer(by_bootstrap).await.unwrap();
    assert_eq!(topic_names(&second.image()), topic_names(&observer.image()));
    create_until_done(&second, "through-bootstrap").await;

    second.shutdown().await;
    observer.shutdown().await;
    for c in controllers {
        c.shutdown().await;
    }
    std::fs::remove_dir_all(&base).unwrap();
}
