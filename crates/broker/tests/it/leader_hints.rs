//! KIP-951 in a three-process cluster (`TestCluster`): a node that does not lead a partition
//! answers Produce (v10+) and a consumer's Fetch (v16+) with NOT_LEADER_OR_FOLLOWER carrying
//! the partition's current leader and epoch and that leader's endpoint; older versions carry
//! neither. After the leader is killed, the hint names the new leader in its new epoch.

#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::time::Duration;

use vltava_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use vltava_protocol::messages::metadata_request::MetadataRequestTopic;
use vltava_protocol::messages::{
    FetchRequest, FetchResponse, MetadataRequest, ProduceRequest, ProduceResponse,
};
use vltava_protocol::{RequestBody, ResponseBody, Uuid};
use vltava_records::{BatchBuilder, BatchBuilderConfig};
use vltava_testkit::cluster::TestCluster;

use crate::support::{Client, produce_request};

use vltava_protocol::error_codes::NOT_LEADER_OR_FOLLOWER;
const LIMIT: Duration = Duration::from_secs(30);

/// (leader, leader epoch, topic id) of `topic`-0 as node `addr` reports it.
async fn leader(addr: &str, topic: &str) -> (i32, i32, Uuid) {
    let mut c = Client::connect_addr(addr).await;
    let req = MetadataRequest {
        topics: Some(vec![MetadataRequestTopic {
            name: Some(topic.into()),
            ..Default::default()
        }]),
        ..Default::default()
    };
    let ResponseBody::Metadata(m) = c.call(12, RequestBody::from(req)).await else {
        panic!("not a Metadata response")
    };
    let t = &m.topics[0];
    match t.partitions.first() {
        Some(p) if t.error_code == 0 => (p.leader_id, p.leader_epoch, t.topic_id),
        _ => (-1, -1, t.topic_id),
    }
}

/// Polls every live node until all report a leader other than `not`; its (id, epoch, topic id).
async fn wait_leader(cluster: &TestCluster, nodes: &[usize], not: i32) -> (i32, i32, Uuid) {
    let deadline = tokio::time::Instant::now() + LIMIT;
    loop {
        let mut seen = Vec::new();
        for &n in nodes {
            seen.push(leader(&cluster.addr(n), "hints").await);
        }
        if seen[0].0 >= 0 && seen[0].0 != not && seen.iter().all(|s| *s == seen[0]) {
            return seen[0];
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no agreed leader: {seen:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn produce(addr: &str, version: i16) -> ProduceResponse {
    let mut b = BatchBuilder::new(BatchBuilderConfig::default());
    b.append(0, None, Some(b"v"), &[]).unwrap();
    let req = ProduceRequest {
        acks: 1,
        ..produce_request("hints", 0, b.build().unwrap())
    };
    let mut c = Client::connect_addr(addr).await;
    let ResponseBody::Produce(r) = c.call(version, RequestBody::from(req)).await else {
        panic!("not a Produce response")
    };
    r
}

async fn fetch(addr: &str, version: i16, id: Uuid) -> FetchResponse {
    let req = FetchRequest {
        max_wait_ms: 0,
        min_bytes: 1,
        max_bytes: 1 << 20,
        session_epoch: -1,
        topics: vec![FetchTopic {
            topic: if version < 13 {
                "hints".into()
            } else {
                "".into()
            },
            topic_id: if version < 13 { Uuid::ZERO } else { id },
            partitions: vec![FetchPartition {
                partition: 0,
                current_leader_epoch: -1,
                fetch_offset: 0,
                last_fetched_epoch: -1,
                log_start_offset: -1,
                partition_max_bytes: 1 << 20,
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    };
    let mut c = Client::connect_addr(addr).await;
    let ResponseBody::Fetch(r) = c.call(version, RequestBody::from(req)).await else {
        panic!("not a Fetch response")
    };
    r
}

/// Checks node `at`'s Produce and Fetch answers at every version against the hint
/// (`leader`, `epoch`) and the leader's address.
async fn check_hints(cluster: &TestCluster, at: usize, leader: i32, epoch: i32, id: Uuid) {
    let addr = cluster.addr(at);
    let leader_port: i32 = cluster
        .addr(leader as usize)
        .rsplit(':')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    for version in [9, 10, 11] {
        let r = produce(&addr, version).await;
        let p = &r.responses[0].partition_responses[0];
        assert_eq!(p.error_code, NOT_LEADER_OR_FOLLOWER, "produce v{version}");
        let hint = (p.current_leader.leader_id, p.current_leader.leader_epoch);
        let endpoints: Vec<(i32, &str, i32)> = r
            .node_endpoints
            .iter()
            .map(|e| (e.node_id, e.host.as_str(), e.port))
            .collect();
        if version >= 10 {
            assert_eq!(hint, (leader, epoch), "produce v{version}");
            assert_eq!(endpoints, vec![(leader, "127.0.0.1", leader_port)]);
        } else {
            assert_eq!(hint, (-1, -1), "produce v{version}");
            assert!(endpoints.is_empty());
        }
    }
    for version in [12, 15, 16, 17] {
        let r = fetch(&addr, version, id).await;
        let p = &r.responses[0].partitions[0];
        assert_eq!(p.error_code, NOT_LEADER_OR_FOLLOWER, "fetch v{version}");
        let hint = (p.current_leader.leader_id, p.current_leader.leader_epoch);
        let endpoints: Vec<(i32, &str, i32)> = r
            .node_endpoints
            .iter()
            .map(|e| (e.node_id, e.host.as_str(), e.port))
            .collect();
        if version >= 16 {
            assert_eq!(hint, (leader, epoch), "fetch v{version}");
            assert_eq!(endpoints, vec![(leader, "127.0.0.1", leader_port)]);
        } else {
            assert_eq!(hint, (-1, -1), "fetch v{version}");
            assert!(endpoints.is_empty());
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn not_leader_answers_name_the_current_leader() {
    let bin = Path::new(env!("CARGO_BIN_EXE_vltava"));
    let mut cluster =
        tokio::task::spawn_blocking(move || TestCluster::start_with(3, Some(bin), &[]))
            .await
            .unwrap()
            .unwrap();
    let code = Client::connect_addr(&cluster.addr(0))
        .await
        .create_topic_answer("hints", 1, 3, &[], 30_000)
        .await
        .error_code;
    assert_eq!(code, 0);
    let (first, epoch, id) = wait_leader(&cluster, &[0, 1, 2], -1).await;
    for n in (0..3).filter(|n| *n != first as usize) {
        check_hints(&cluster, n, first, epoch, id).await;
    }

    // The leader dies: once fenced, its partition moves; the others name the new leader.
    cluster.kill(first as usize).unwrap();
    let live: Vec<usize> = (0..3).filter(|n| *n != first as usize).collect();
    let (second, new_epoch, _) = wait_leader(&cluster, &live, first).await;
    assert!(new_epoch > epoch, "{new_epoch} after {epoch}");
    let other = live.into_iter().find(|n| *n != second as usize).unwrap();
    check_hints(&cluster, other, second, new_epoch, id).await;

    tokio::task::spawn_blocking(move || drop(cluster))
        .await
        .unwrap();
}
