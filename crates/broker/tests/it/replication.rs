//! Partition replication between three `vltava` processes (`TestCluster`): an RF=3 topic's
//! acks=all records are in the log files of all three nodes when acknowledged; killing the
//! leader (kill -9) elects a new leader from the ISR that serves every acknowledged record
//! and takes new ones; with `min.insync.replicas=3` and a node down, acks=all is refused with
//! NOT_ENOUGH_REPLICAS once the ISR has shrunk while acks=1 goes on, and the restarted node
//! catches up and rejoins the ISR; a follower that was down while the leader's log start
//! passed its log end restarts its log at the leader's log start and rejoins.

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use bytes::Bytes;
use vltava_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use vltava_protocol::messages::metadata_request::MetadataRequestTopic;
use vltava_protocol::messages::{FetchRequest, MetadataRequest, MetadataResponse, ProduceRequest};
use vltava_protocol::{RequestBody, ResponseBody};
use vltava_records::{BatchBuilder, BatchBuilderConfig, BatchIter, DecodeLimits};
use vltava_testkit::cluster::TestCluster;

use crate::support::{Client, produce_request};

use vltava_protocol::error_codes::NOT_ENOUGH_REPLICAS;
/// Upper bound of each wait for the cluster to reach a state (fencing takes the 3 s session).
const LIMIT: Duration = Duration::from_secs(30);

pub(crate) async fn start(properties: &'static [&'static str]) -> TestCluster {
    let bin = Path::new(env!("CARGO_BIN_EXE_vltava"));
    tokio::task::spawn_blocking(move || TestCluster::start_with(3, Some(bin), properties))
        .await
        .unwrap()
        .unwrap()
}

pub(crate) async fn create(addr: &str, name: &str, configs: &[(&str, &str)]) -> i16 {
    Client::connect_addr(addr)
        .await
        .create_topic_answer(name, 1, 3, configs, 30_000)
        .await
        .error_code
}

pub(crate) async fn metadata(addr: &str, topic: &str) -> MetadataResponse {
    let mut c = Client::connect_addr(addr).await;
    let req = MetadataRequest {
        topics: Some(vec![MetadataRequestTopic {
            name: Some(topic.into()),
            ..Default::default()
        }]),
        allow_auto_topic_creation: false,
        ..Default::default()
    };
    let ResponseBody::Metadata(m) = c.call(12, RequestBody::from(req)).await else {
        panic!("not a Metadata response")
    };
    m
}

/// (leader, ISR) of partition 0 of `topic` as node `addr` reports it.
pub(crate) async fn leader_and_isr(addr: &str, topic: &str) -> (i32, Vec<i32>) {
    let m = metadata(addr, topic).await;
    // A node that has not applied the topic yet knows no partition: no leader, no ISR.
    let Some(p) = m.topics.first().and_then(|t| t.partitions.first()) else {
        return (-1, Vec::new());
    };
    let mut isr = p.isr_nodes.clone();
    isr.sort_unstable();
    (p.leader_id, isr)
}

/// Polls node `addr` until `check(leader, isr)` holds; returns them.
pub(crate) async fn wait_for(
    addr: &str,
    topic: &str,
    what: &str,
    check: impl Fn(i32, &[i32]) -> bool,
) -> (i32, Vec<i32>) {
    let deadline = tokio::time::Instant::now() + LIMIT;
    loop {
        let (leader, isr) = leader_and_isr(addr, topic).await;
        if check(leader, &isr) {
            return (leader, isr);
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}: leader {leader}, isr {isr:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A batch of `n` records `tag-0`, `tag-1`, ... stamped now (older ones would fall to the
/// retention check a restarted node runs at once).
fn batch(n: usize, tag: &str) -> Bytes {
    let mut b = BatchBuilder::new(BatchBuilderConfig::default());
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    for i in 0..n {
        let value = format!("{tag}-{i}");
        b.append(now, None, Some(value.as_bytes()), &[]).unwrap();
    }
    b.build().unwrap()
}

/// Produces one batch of `n` records with `acks`; (error code, base offset).
pub(crate) async fn produce(addr: &str, topic: &str, acks: i16, n: usize, tag: &str) -> (i16, i64) {
    let mut c = Client::connect_addr(addr).await;
    let req = ProduceRequest {
        acks,
        ..produce_request(topic, 0, batch(n, tag))
    };
    let ResponseBody::Produce(r) = c.call(9, RequestBody::from(req)).await else {
        panic!("not a Produce response")
    };
    let p = &r.responses[0].partition_responses[0];
    (p.error_code, p.base_offset)
}

/// Every record value of partition 0 a consumer reads from node `addr` (its leader), from
/// offset 0 up to the high watermark; (error code, values in offset order, high watermark).
pub(crate) async fn consume(addr: &str, topic: &str) -> (i16, Vec<String>, i64) {
    let mut c = Client::connect_addr(addr).await;
    let mut values = Vec::new();
    let mut offset = 0;
    loop {
        let req = FetchRequest {
            replica_id: -1,
            max_wait_ms: 0,
            min_bytes: 1,
            max_bytes: 1 << 20,
            isolation_level: 0,
            session_epoch: -1,
            topics: vec![FetchTopic {
                topic: topic.into(),
                partitions: vec![FetchPartition {
                    partition: 0,
                    current_leader_epoch: -1,
                    fetch_offset: offset,
                    last_fetched_epoch: -1,
                    log_start_offset: -1,
                    partition_max_bytes: 1 << 20,
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        };
        let ResponseBody::Fetch(r) = c.call(12, RequestBody::from(req)).await else {
            panic!("not a Fetch response")
        };
        let p = &r.responses[0].partitions[0];
        if p.error_code != 0 {
            return (p.error_code, values, -1);
        }
        let bytes = p.records.clone().unwrap_or_default();
        for b in BatchIter::new(&bytes) {
            let b = b.unwrap();
            for r in b.records(&DecodeLimits::default()).unwrap() {
                values.push(String::from_utf8(r.value.unwrap().to_vec()).unwrap());
            }
            offset = b.header().next_offset();
        }
        if bytes.is_empty() || offset >= p.high_watermark {
            return (0, values, p.high_watermark);
        }
    }
}

/// The partition directory of `topic`-0 on node `i`.
fn partition_dir(cluster: &TestCluster, i: usize, topic: &str) -> PathBuf {
    cluster
        .config_path(i)
        .parent()
        .unwrap()
        .join("data")
        .join(format!("{topic}-0"))
}

/// The record values in node `i`'s log files of `topic`-0, in offset order.
pub(crate) fn values_on_disk(cluster: &TestCluster, i: usize, topic: &str) -> Vec<String> {
    let dir = partition_dir(cluster, i, topic);
    let mut segments: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "log"))
        .collect();
    segments.sort();
    let mut values = Vec::new();
    for s in segments {
        let bytes = std::fs::read(&s).unwrap();
        for b in BatchIter::new(&bytes) {
            let Ok(b) = b else { break };
            if b.header().attributes.is_control() {
                continue;
            }
            for r in b.records(&DecodeLimits::default()).unwrap() {
                values.push(String::from_utf8(r.value.unwrap().to_vec()).unwrap());
            }
        }
    }
    values
}

pub(crate) fn expected(tags: &[&str], per_batch: usize) -> Vec<String> {
    tags.iter()
        .flat_map(|t| (0..per_batch).map(move |i| format!("{t}-{i}")))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acks_all_records_are_on_every_replica_and_survive_the_leader() {
    let mut cluster = start(&[]).await;
    let a0 = cluster.addr(0);
    assert_eq!(create(&a0, "r3", &[]).await, 0);
    let (leader, isr) = wait_for(&a0, "r3", "a leader", |l, isr| l >= 0 && isr.len() == 3).await;
    assert_eq!(isr, vec![0, 1, 2]);

    // Ten acks=all batches at the leader: acknowledged in order, in every node's log files.
    let tags: Vec<String> = (0..10).map(|i| format!("a{i}")).collect();
    let tags: Vec<&str> = tags.iter().map(String::as_str).collect();
    for (i, tag) in tags.iter().enumerate() {
        let (code, base) = produce(&cluster.addr(leader as usize), "r3", -1, 5, tag).await;
        assert_eq!((code, base), (0, 5 * i as i64), "batch {tag}");
    }
    let acknowledged = expected(&tags, 5);
    for node in 0..3 {
        assert_eq!(
            values_on_disk(&cluster, node, "r3"),
            acknowledged,
            "node {node} holds every acknowledged record"
        );
    }
    let (code, values, hw) = consume(&cluster.addr(leader as usize), "r3").await;
    assert_eq!((code, hw), (0, 50));
    assert_eq!(values, acknowledged);

    // kill -9 the leader: a new leader from the ISR serves every acknowledged record.
    cluster.kill(leader as usize).unwrap();
    let survivor = cluster.addr(((leader + 1) % 3) as usize);
    let (new_leader, isr) = wait_for(&survivor, "r3", "a new leader", |l, isr| {
        l >= 0 && l != leader && !isr.contains(&leader)
    })
    .await;
    assert_eq!(isr.len(), 2, "the dead leader left the ISR: {isr:?}");
    let new_addr = cluster.addr(new_leader as usize);
    let deadline = tokio::time::Instant::now() + LIMIT;
    let (values, hw) = loop {
        let (code, values, hw) = consume(&new_addr, "r3").await;
        // The new leader serves once its own metadata names it.
        if code == 0 && hw >= 50 {
            break (values, hw);
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "new leader never served: {code}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(hw, 50);
    assert_eq!(values, acknowledged, "nothing acknowledged was lost");

    // Produce goes on at the new leader, replicated to the other survivor.
    let (code, base) = produce(&new_addr, "r3", -1, 5, "b0").await;
    assert_eq!((code, base), (0, 50));
    let mut all = acknowledged.clone();
    all.extend(expected(&["b0"], 5));
    for node in (0..3).filter(|n| *n != leader as usize) {
        assert_eq!(values_on_disk(&cluster, node, "r3"), all, "node {node}");
    }

    tokio::task::spawn_blocking(move || drop(cluster))
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn min_insync_replicas_with_a_node_down_then_it_catches_up_and_rejoins() {
    let mut cluster = start(&["replica.lag.time.max.ms=1500"]).await;
    let a0 = cluster.addr(0);
    assert_eq!(create(&a0, "mis", &[("min.insync.replicas", "3")]).await, 0);
    let (leader, _) = wait_for(&a0, "mis", "a leader", |l, isr| l >= 0 && isr.len() == 3).await;
    let leader_addr = cluster.addr(leader as usize);
    assert_eq!(produce(&leader_addr, "mis", -1, 5, "c0").await, (0, 0));

    // A follower dies: once the ISR has shrunk to two, acks=all is refused, acks=1 goes on.
    let follower = (leader + 1) % 3;
    cluster.kill(follower as usize).unwrap();
    wait_for(&leader_addr, "mis", "the ISR to shrink", |l, isr| {
        l == leader && isr.len() == 2
    })
    .await;
    let deadline = tokio::time::Instant::now() + LIMIT;
    loop {
        let (code, _) = produce(&leader_addr, "mis", -1, 5, "refused").await;
        if code == NOT_ENOUGH_REPLICAS {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "acks=all answered {code}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (code, _) = produce(&leader_addr, "mis", 1, 5, "c1").await;
    assert_eq!(code, 0, "acks=1 is not held to min.insync.replicas");

    // The follower returns, catches up and rejoins the ISR; acks=all works again.
    cluster = tokio::task::spawn_blocking(move || {
        cluster.restart(follower as usize).unwrap();
        cluster
    })
    .await
    .unwrap();
    let (_, isr) = wait_for(&leader_addr, "mis", "the ISR to grow back", |l, isr| {
        l == leader && isr.len() == 3
    })
    .await;
    assert_eq!(isr, vec![0, 1, 2]);
    let on_leader = values_on_disk(&cluster, leader as usize, "mis");
    assert!(on_leader.starts_with(&expected(&["c0"], 5)));
    assert!(on_leader.ends_with(&expected(&["c1"], 5)));
    let (code, _) = produce(&leader_addr, "mis", -1, 5, "c2").await;
    assert_eq!(code, 0, "acks=all with the ISR back at three");
    let mut all = on_leader.clone();
    all.extend(expected(&["c2"], 5));
    assert_eq!(
        values_on_disk(&cluster, follower as usize, "mis"),
        all,
        "the returned follower holds everything the leader has"
    );

    tokio::task::spawn_blocking(move || drop(cluster))
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_follower_below_the_leaders_log_start_restarts_its_log_there_and_rejoins() {
    let mut cluster = start(&["replica.lag.time.max.ms=1500"]).await;
    let a0 = cluster.addr(0);
    let configs = [("min.insync.replicas", "1"), ("segment.bytes", "1024")];
    assert_eq!(create(&a0, "behind", &configs).await, 0);
    let (leader, _) = wait_for(&a0, "behind", "a leader", |l, isr| l >= 0 && isr.len() == 3).await;
    let leader_addr = cluster.addr(leader as usize);
    let (follower, other) = (((leader + 1) % 3) as usize, ((leader + 2) % 3) as usize);
    cluster.kill(follower).unwrap();
    wait_for(&leader_addr, "behind", "the ISR to shrink", |l, isr| {
        l == leader && isr.len() == 2
    })
    .await;
    let tags: Vec<String> = (0..20).map(|i| format!("b{i}")).collect();
    for tag in &tags {
        assert_eq!(produce(&leader_addr, "behind", -1, 10, tag).await.0, 0);
    }
    // The leader's log now starts at 150, past the dead follower's log end (0).
    assert_eq!(
        Client::connect_addr(&leader_addr)
            .await
            .delete_records("behind", 150)
            .await,
        (0, 150)
    );

    cluster = tokio::task::spawn_blocking(move || {
        cluster.restart(follower).unwrap();
        cluster
    })
    .await
    .unwrap();
    wait_for(&leader_addr, "behind", "the ISR to grow back", |l, isr| {
        l == leader && isr.len() == 3
    })
    .await;
    assert_eq!(produce(&leader_addr, "behind", -1, 10, "after").await.0, 0);
    let tail: Vec<&str> = tags[15..]
        .iter()
        .map(String::as_str)
        .chain(["after"])
        .collect();
    let deadline = tokio::time::Instant::now() + LIMIT;
    loop {
        let on_follower = values_on_disk(&cluster, follower, "behind");
        if on_follower == expected(&tail, 10) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the restarted follower holds {} records, first {:?}",
            on_follower.len(),
            on_follower.first()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The follower that stayed up moved its log start with the leader's: the segments wholly
    // below offset 150 are gone from its disk too.
    let kept = values_on_disk(&cluster, other, "behind");
    assert!(
        !kept.contains(&"b0-0".to_string()),
        "the other follower still holds offset 0"
    );
    assert!(kept.ends_with(&expected(&tail, 10)));

    tokio::task::spawn_blocking(move || drop(cluster))
        .await
        .unwrap();
}
