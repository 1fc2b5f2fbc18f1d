//! Split-roles clusters (`TestCluster::start_roles`). Three controller-only voters (ids 0-2)
//! and two broker-only observers (ids 3, 4), five processes. Only the brokers are in Metadata
//! and hold replicas (RF 3 is refused with two brokers); the observers are listed by
//! DescribeQuorum; an RF=2 topic takes acks=all records and serves them; after SIGKILL of the
//! active controller the brokers follow the new one (topics are still created, nobody is
//! fenced, acks=all goes on); a broker-only node killed and restarted resumes from its local
//! copy of the metadata, catches up on what it missed before it listens, and rejoins the ISR.
//! One controller-only voter (it serves its controller listener though alone) and two
//! brokers: the observers follow it, an RF=2 topic takes acks=all records.

#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::time::Duration;

use vltava_testkit::cluster::{NodeRole, TestCluster};

use crate::cluster::describe_quorum;
use crate::replication::{consume, expected, leader_and_isr, metadata, produce, wait_for};
use crate::support::Client;

use vltava_protocol::error_codes::INVALID_REPLICATION_FACTOR;
const LIMIT: Duration = Duration::from_secs(30);

async fn create(addr: &str, name: &str, rf: i16) -> i16 {
    Client::connect_addr(addr)
        .await
        .create_topic_answer(name, 1, rf, &[], 30_000)
        .await
        .error_code
}

/// Creates `name` through `addr`, retrying while the controllers elect a new leader.
async fn create_until_done(addr: &str, name: &str, rf: i16) {
    let deadline = tokio::time::Instant::now() + LIMIT;
    loop {
        match create(addr, name, rf).await {
            0 => return,
            41 | 7 => {
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "no controller for {name}"
                );
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            other => panic!("creating {name}: error {other}"),
        }
    }
}

/// The brokers node `addr` lists, once they are `want` (each broker listens once it has
/// registered itself, maybe before it sees the others).
async fn wait_brokers(addr: &str, want: &[i32]) {
    let deadline = tokio::time::Instant::now() + LIMIT;
    loop {
        let ids = broker_ids(addr).await;
        if ids == want {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{addr} lists {ids:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn broker_ids(addr: &str) -> Vec<i32> {
    let mut ids: Vec<i32> = metadata(addr, "no-such-topic")
        .await
        .brokers
        .iter()
        .map(|b| b.node_id)
        .collect();
    ids.sort_unstable();
    ids
}

/// (leader, voters, observers) as DescribeQuorum through `addr` reports them.
async fn quorum(addr: &str) -> (i32, Vec<i32>, Vec<i32>) {
    let q = describe_quorum(addr).await;
    let p = &q.topics[0].partitions[0];
    assert_eq!(p.error_code, 0, "{q:?}");
    let ids = |r: &[vltava_protocol::messages::describe_quorum_response::ReplicaState]| {
        let mut v: Vec<i32> = r.iter().map(|r| r.replica_id).collect();
        v.sort_unstable();
        v
    };
    (p.leader_id, ids(&p.current_voters), ids(&p.observers))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn controller_only_voters_and_broker_only_observers() {
    let bin = Path::new(env!("CARGO_BIN_EXE_vltava"));
    let roles = [
        NodeRole::Controller,
        NodeRole::Controller,
        NodeRole::Controller,
        NodeRole::Broker,
        NodeRole::Broker,
    ];
    let mut cluster =
        tokio::task::spawn_blocking(move || TestCluster::start_roles(&roles, Some(bin), &[]))
            .await
            .unwrap()
            .unwrap();
    assert_eq!(cluster.brokers(), vec![3, 4]);
    let addrs: Vec<String> = (0..cluster.len()).map(|i| cluster.addr(i)).collect();
    let addr = |i: usize| addrs[i].clone();
    for b in [3, 4] {
        wait_brokers(&addr(b), &[3, 4]).await;
        let m = metadata(&addr(b), "no-such-topic").await;
        assert!([3, 4].contains(&m.controller_id), "{}", m.controller_id);
    }
    let deadline = tokio::time::Instant::now() + LIMIT;
    let first_leader = loop {
        let (leader, voters, observers) = quorum(&addr(3)).await;
        assert_eq!(voters, vec![0, 1, 2]);
        if observers == vec![3, 4] {
            assert!((0..3).contains(&leader));
            break leader;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "observers {observers:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };

    // Replicas only on brokers: RF 2 fits, RF 3 does not (the controllers hold none).
    assert_eq!(create(&addr(4), "split", 2).await, 0);
    assert_eq!(create(&addr(3), "rf3", 3).await, INVALID_REPLICATION_FACTOR);
    let (leader, _) = wait_for(&addr(3), "split", "ISR of both brokers", |l, isr| {
        l >= 3 && isr == [3, 4]
    })
    .await;
    let leader_addr = addr(leader as usize);
    assert_eq!(produce(&leader_addr, "split", -1, 5, "a").await.0, 0);
    let (code, values, _) = consume(&leader_addr, "split").await;
    assert_eq!(code, 0);
    assert_eq!(values, expected(&["a"], 5));

    // The active controller dies: the observers follow the new leader.
    cluster.kill(first_leader as usize).unwrap();
    create_until_done(&addr(3), "after-kill", 2).await;
    // Longer than the 3 s session: heartbeats reach the new controller, nobody is fenced.
    tokio::time::sleep(Duration::from_secs(4)).await;
    let (new_leader, _, observers) = quorum(&addr(4)).await;
    assert_ne!(new_leader, first_leader);
    assert_eq!(observers, vec![3, 4]);
    assert_eq!(broker_ids(&addr(3)).await, vec![3, 4]);
    assert_eq!(
        leader_and_isr(&addr(4), "split").await,
        (leader, vec![3, 4])
    );
    assert_eq!(produce(&leader_addr, "split", -1, 5, "b").await.0, 0);

    // A broker-only node restarts and catches up on the metadata it missed.
    let follower = if leader == 3 { 4 } else { 3 };
    cluster.kill(follower).unwrap();
    // It keeps its copy of the metadata where a voter keeps the log, and resumes from it.
    let copy = cluster
        .config_path(follower)
        .parent()
        .unwrap()
        .join("data/__cluster_metadata-0")
        .join(vltava_raft::observer_store::FILE);
    assert!(copy.exists(), "{}", copy.display());
    create_until_done(&leader_addr, "while-down", 1).await;
    let cluster = tokio::task::spawn_blocking(move || {
        cluster.restart(follower).unwrap();
        cluster
    })
    .await
    .unwrap();
    let back = addr(follower);
    let m = metadata(&back, "while-down").await;
    assert_eq!(
        m.topics[0].error_code, 0,
        "the restarted broker knows the new topic"
    );
    assert_eq!(metadata(&back, "after-kill").await.topics[0].error_code, 0);
    wait_for(
        &back,
        "split",
        "the restarted broker back in the ISR",
        |_, isr| isr == [3, 4],
    )
    .await;
    let (code, values, _) = consume(&leader_addr, "split").await;
    assert_eq!(code, 0);
    assert_eq!(values, expected(&["a", "b"], 5));
    assert_eq!(produce(&leader_addr, "split", -1, 5, "c").await.0, 0);
    drop(cluster);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_controller_only_voter_serves_two_brokers() {
    let bin = Path::new(env!("CARGO_BIN_EXE_vltava"));
    let roles = [NodeRole::Controller, NodeRole::Broker, NodeRole::Broker];
    let cluster =
        tokio::task::spawn_blocking(move || TestCluster::start_roles(&roles, Some(bin), &[]))
            .await
            .unwrap()
            .unwrap();
    let (b1, b2) = (cluster.addr(1), cluster.addr(2));
    wait_brokers(&b2, &[1, 2]).await;
    let deadline = tokio::time::Instant::now() + LIMIT;
    loop {
        let (leader, voters, observers) = quorum(&b1).await;
        assert_eq!((leader, voters), (0, vec![0]));
        if observers == vec![1, 2] {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "observers {observers:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(create(&b2, "one-controller", 2).await, 0);
    let (leader, _) = wait_for(&b1, "one-controller", "ISR of both brokers", |l, isr| {
        l >= 1 && isr == [1, 2]
    })
    .await;
    let leader_addr = cluster.addr(leader as usize);
    assert_eq!(
        produce(&leader_addr, "one-controller", -1, 3, "x").await.0,
        0
    );
    let (code, values, _) = consume(&leader_addr, "one-controller").await;
    assert_eq!(code, 0);
    assert_eq!(values, expected(&["x"], 3));
}
