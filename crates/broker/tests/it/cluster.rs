//! Three `vltava` processes as one cluster (`vltava_testkit::cluster::TestCluster`): every
//! node registers and sees the others; admin requests sent to any node are forwarded to the
//! active controller; partitions are led across the nodes and a produce sent elsewhere is
//! NOT_LEADER_OR_FOLLOWER; a killed node is fenced after its session (its partitions go
//! offline, LEADER_NOT_AVAILABLE with the node as offline replica) while the quorum goes on,
//! and on restart it leads them again with its acknowledged records; killing the active
//! controller leaves a quorum that still creates topics. A replication factor above the
//! number of brokers is refused. Replicated partitions: `replication.rs`.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use bytes::Bytes;
use vltava_protocol::messages::describe_quorum_request::{PartitionData, TopicData};
use vltava_protocol::messages::metadata_request::MetadataRequestTopic;
use vltava_protocol::messages::{
    DescribeQuorumRequest, DescribeQuorumResponse, MetadataRequest, MetadataResponse,
};
use vltava_protocol::{RequestBody, ResponseBody};
use vltava_records::{BatchBuilder, BatchBuilderConfig};
use vltava_testkit::cluster::TestCluster;

use crate::support::Client;

use vltava_protocol::error_codes::INVALID_REPLICATION_FACTOR;
use vltava_protocol::error_codes::LEADER_NOT_AVAILABLE;
use vltava_protocol::error_codes::NOT_LEADER_OR_FOLLOWER;
/// Session timeout of the test cluster (3 s) plus election and propagation slack.
const FENCE_LIMIT: Duration = Duration::from_secs(30);

pub(crate) async fn metadata(addr: &str, topics: &[&str]) -> MetadataResponse {
    let mut c = Client::connect_addr(addr).await;
    let req = MetadataRequest {
        topics: Some(
            topics
                .iter()
                .map(|t| MetadataRequestTopic {
                    name: Some((*t).into()),
                    ..Default::default()
                })
                .collect(),
        ),
        allow_auto_topic_creation: false,
        ..Default::default()
    };
    let ResponseBody::Metadata(m) = c.call(12, RequestBody::from(req)).await else {
        panic!("not a Metadata response")
    };
    m
}

/// CreateTopics through the node at `addr`, retried on NOT_CONTROLLER as Kafka's admin
/// client retries it (the active controller moved while the request was forwarded; a
/// TOPIC_ALREADY_EXISTS after such a retry means the first attempt took effect).
pub(crate) async fn create(addr: &str, name: &str, partitions: i32, rf: i16) -> i16 {
    use vltava_protocol::error_codes::NOT_CONTROLLER;
    use vltava_protocol::error_codes::TOPIC_ALREADY_EXISTS;
    let mut retried = false;
    for _ in 0..20 {
        let code = Client::connect_addr(addr)
            .await
            .create_topic_answer(name, partitions, rf, &[], 30_000)
            .await
            .error_code;
        match code {
            NOT_CONTROLLER => {
                retried = true;
                tokio::time::sleep(std::time::Duration::from_millis(500)).await;
            }
            TOPIC_ALREADY_EXISTS if retried => return 0,
            other => return other,
        }
    }
    NOT_CONTROLLER
}

pub(crate) async fn describe_quorum(addr: &str) -> DescribeQuorumResponse {
    let mut c = Client::connect_addr(addr).await;
    let req = DescribeQuorumRequest {
        topics: vec![TopicData {
            topic_name: "__cluster_metadata".into(),
            partitions: vec![PartitionData {
                partition_index: 0,
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    };
    let ResponseBody::DescribeQuorum(r) = c.call(2, RequestBody::from(req)).await else {
        panic!("not a DescribeQuorum response")
    };
    r
}

fn batch(n: usize) -> Bytes {
    let mut b = BatchBuilder::new(BatchBuilderConfig::default());
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    for i in 0..n {
        b.append(now + i as i64, None, Some(b"cluster-record"), &[])
            .unwrap();
    }
    b.build().unwrap()
}

async fn log_end(addr: &str, topic: &str, partition: i32) -> i64 {
    let (code, offset) = Client::connect_addr(addr)
        .await
        .latest_offset(topic, partition)
        .await;
    assert_eq!(code, 0, "ListOffsets {topic}-{partition}");
    offset
}

/// Partition → leader of `topic`, as node `addr` reports it.
async fn leaders(addr: &str, topic: &str) -> BTreeMap<i32, i32> {
    let m = metadata(addr, &[topic]).await;
    m.topics[0]
        .partitions
        .iter()
        .map(|p| (p.partition_index, p.leader_id))
        .collect()
}

/// Polls `check` on node `addr`'s metadata until it holds or `limit` passes.
async fn wait_metadata(addr: &str, what: &str, check: impl Fn(&MetadataResponse) -> bool) {
    let deadline = tokio::time::Instant::now() + FENCE_LIMIT;
    loop {
        let m = metadata(addr, &[]).await;
        if check(&m) {
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "timed out: {what}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The client address of node `id` (node ids are 0..n, in order).
fn addr_of(cluster: &TestCluster, id: i32) -> String {
    cluster.addr(id as usize)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_forward_admin_fence_a_dead_node_and_survive_the_controller() {
    let bin = Path::new(env!("CARGO_BIN_EXE_vltava"));
    let mut cluster =
        tokio::task::spawn_blocking(move || TestCluster::start_with(3, Some(bin), &[]))
            .await
            .unwrap()
            .unwrap();
    // Every node lists every broker once it has applied their registrations (a node is
    // ready when it listens; another's registration may reach its image a moment later).
    for i in 0..3 {
        wait_metadata(&cluster.addr(i), "every broker listed", |m| {
            m.brokers.len() == 3 && m.controller_id >= 0
        })
        .await;
    }
    // Every node describes the quorum (two of them ask the leader): three voters, one leader.
    let mut leaders_seen = Vec::new();
    for i in 0..3 {
        let q = describe_quorum(&cluster.addr(i)).await;
        let p = &q.topics[0].partitions[0];
        assert_eq!(p.error_code, 0, "node {i}: {q:?}");
        let mut voters: Vec<i32> = p.current_voters.iter().map(|v| v.replica_id).collect();
        voters.sort();
        assert_eq!(voters, vec![0, 1, 2]);
        assert_eq!(q.nodes.len(), 3);
        leaders_seen.push(p.leader_id);
    }
    leaders_seen.dedup();
    assert_eq!(leaders_seen.len(), 1, "one leader: {leaders_seen:?}");

    // Topics created through every node: two of them forward to the controller.
    for i in 0..3 {
        assert_eq!(create(&cluster.addr(i), &format!("t{i}"), 6, 1).await, 0);
    }
    // Replication factors up to the number of live brokers are accepted; above, refused.
    assert_eq!(create(&cluster.addr(0), "rf3", 1, 3).await, 0);
    assert_eq!(
        create(&cluster.addr(0), "rf4", 1, 4).await,
        INVALID_REPLICATION_FACTOR
    );

    // Every partition is led by a live broker, all three lead some; a produce goes to the
    // leader, and anywhere else it is NOT_LEADER_OR_FOLLOWER.
    let t0 = leaders(&cluster.addr(1), "t0").await;
    let mut led_by: BTreeMap<i32, Vec<i32>> = BTreeMap::new();
    for (p, l) in &t0 {
        led_by.entry(*l).or_default().push(*p);
    }
    assert_eq!(
        led_by.keys().copied().collect::<Vec<_>>(),
        vec![0, 1, 2],
        "{t0:?}"
    );
    for (p, l) in &t0 {
        let mut at_leader = Client::connect_addr(&addr_of(&cluster, *l)).await;
        let r = at_leader.produce_raw(9, "t0", *p, batch(5)).await;
        assert_eq!(r.error_code, 0, "{r:?}");
        let other = (l + 1) % 3;
        let mut elsewhere = Client::connect_addr(&addr_of(&cluster, other)).await;
        let r = elsewhere.produce_raw(9, "t0", *p, batch(1)).await;
        assert_eq!(r.error_code, NOT_LEADER_OR_FOLLOWER);
    }

    // Kill node 2: after its session it is fenced, its partitions are offline.
    cluster.kill(2).unwrap();
    let a0 = cluster.addr(0);
    wait_metadata(&a0, "node 2 fenced", |m| m.brokers.len() == 2).await;
    let m = metadata(&a0, &["t0"]).await;
    for p in &m.topics[0].partitions {
        if led_by[&2].contains(&p.partition_index) {
            assert_eq!(p.error_code, LEADER_NOT_AVAILABLE);
            assert_eq!(p.leader_id, -1);
            assert_eq!(p.offline_replicas, vec![2]);
        } else {
            assert_eq!(p.error_code, 0);
        }
    }
    // Kafka's tool lists exactly those partitions as unavailable, none as under-replicated.
    let topics_tool = |flag: &str| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_vltava"))
            .args([
                "topics",
                "--bootstrap-server",
                &a0,
                "--describe",
                "--topic",
                "t0",
                flag,
            ])
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        String::from_utf8(out.stdout).unwrap()
    };
    let unavailable = topics_tool("--unavailable-partitions");
    let rows: Vec<&str> = unavailable.lines().collect();
    assert_eq!(rows.len(), led_by[&2].len(), "{unavailable}");
    for p in &led_by[&2] {
        assert!(
            rows.iter()
                .any(|r| r.contains(&format!("Partition: {p}\tLeader: none"))
                    && r.ends_with("Offline: 2")),
            "{unavailable}"
        );
    }
    assert_eq!(topics_tool("--under-replicated-partitions"), "");
    // Two of three voters still make a quorum.
    assert_eq!(create(&cluster.addr(1), "while-2-is-down", 3, 1).await, 0);

    // Node 2 comes back, registers, and leads its partitions again with their records.
    cluster = tokio::task::spawn_blocking(move || {
        cluster.restart(2).unwrap();
        cluster
    })
    .await
    .unwrap();
    wait_metadata(&a0, "node 2 back as leader", |m| m.brokers.len() == 3).await;
    let deadline = tokio::time::Instant::now() + FENCE_LIMIT;
    loop {
        let now = leaders(&a0, "t0").await;
        if now == t0 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "leaders {now:?}, want {t0:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    for p in &led_by[&2] {
        let end = log_end(&addr_of(&cluster, 2), "t0", *p).await;
        assert_eq!(end, 5, "partition {p} kept its records");
    }

    // Kill the active controller: the other two elect a new one and admin requests go on.
    let controller = metadata(&a0, &[]).await.controller_id;
    cluster.kill(controller as usize).unwrap();
    let survivor = (0..3).find(|i| *i != controller).unwrap();
    let deadline = tokio::time::Instant::now() + FENCE_LIMIT;
    loop {
        match create(&addr_of(&cluster, survivor), "after-controller", 3, 1).await {
            0 => break,
            code => {
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "no new controller: error {code}"
                );
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }
    let m = metadata(&addr_of(&cluster, survivor), &["after-controller"]).await;
    assert_eq!(m.topics[0].error_code, 0, "created topic visible: {m:?}");
    assert_ne!(m.controller_id, controller);
    tokio::task::spawn_blocking(move || drop(cluster))
        .await
        .unwrap();
}
