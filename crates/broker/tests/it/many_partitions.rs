//! A node with a few thousand partitions: one open file per partition log, a
//! clean restart that trusts the logs (the clean-shutdown marker) and a restart
//! from a crash image that recovers them, each with every record in place.

#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::time::Instant;

use bytes::Bytes;
use vltava_broker::Node;
use vltava_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use vltava_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use vltava_protocol::messages::{ListOffsetsRequest, MetadataRequest, ProduceRequest};
use vltava_protocol::{RequestBody, ResponseBody};
use vltava_records::{BatchBuilder, BatchBuilderConfig};

use crate::support::{Client, start_node_in};

const PARTITIONS: i32 = 100;

/// Topics of 100 partitions: 20, or `VLTAVA_MANY_TOPICS` (100 for the issue's
/// 10,000 partitions; slow in a debug build).
fn topics() -> usize {
    std::env::var("VLTAVA_MANY_TOPICS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20)
}

/// This process's resident set (the node runs in it), from `/proc/self/status`.
fn rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn topic(i: usize) -> String {
    format!("many-{i:02}")
}

/// Descriptors of this process open on files under `dir` (other tests in the
/// binary use other directories). `None` without `/proc`.
fn fds_under(dir: &Path) -> Option<usize> {
    let dir = dir.canonicalize().ok()?;
    let mut n = 0;
    for e in std::fs::read_dir("/proc/self/fd").ok()? {
        if let Ok(target) = std::fs::read_link(e.ok()?.path()) {
            n += usize::from(target.starts_with(&dir));
        }
    }
    Some(n)
}

fn record(value: &[u8]) -> Bytes {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let mut b = BatchBuilder::new(BatchBuilderConfig::default());
    b.append(now, None, Some(value), &[]).unwrap();
    b.build().unwrap()
}

/// One record into every partition of `name` (one Produce request).
async fn produce_each(c: &mut Client, name: &str) {
    let req = ProduceRequest {
        acks: -1,
        timeout_ms: 5000,
        topic_data: vec![TopicProduceData {
            name: name.into(),
            partition_data: (0..PARTITIONS)
                .map(|p| PartitionProduceData {
                    index: p,
                    records: Some(record(format!("{name}/{p}").as_bytes())),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }],
        ..Default::default()
    };
    let ResponseBody::Produce(r) = c.call(9, RequestBody::from(req)).await else {
        panic!()
    };
    for p in &r.responses[0].partition_responses {
        assert_eq!(p.error_code, 0, "{name}/{}", p.index);
    }
}

/// Every topic is in Metadata with all its partitions led; every partition's
/// log end offset is 1.
async fn check_all(node: &Node) {
    let mut c = Client::connect(node).await;
    let req = MetadataRequest {
        topics: None,
        ..Default::default()
    };
    let ResponseBody::Metadata(m) = c.call(12, RequestBody::from(req)).await else {
        panic!()
    };
    let ours: Vec<_> = m
        .topics
        .iter()
        .filter(|t| t.name.as_deref().is_some_and(|n| n.starts_with("many-")))
        .collect();
    assert_eq!(ours.len(), topics());
    for t in ours {
        assert_eq!(t.error_code, 0);
        assert_eq!(t.partitions.len(), PARTITIONS as usize);
        assert!(t.partitions.iter().all(|p| p.error_code == 0));
    }
    let req = ListOffsetsRequest {
        replica_id: -1,
        topics: (0..topics())
            .map(|i| ListOffsetsTopic {
                name: topic(i).into(),
                partitions: (0..PARTITIONS)
                    .map(|p| ListOffsetsPartition {
                        partition_index: p,
                        timestamp: -1,
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    };
    let ResponseBody::ListOffsets(r) = c.call(7, RequestBody::from(req)).await else {
        panic!()
    };
    for t in &r.topics {
        for p in &t.partitions {
            assert_eq!(
                (p.error_code, p.offset),
                (0, 1),
                "{:?}/{}",
                t.name,
                p.partition_index
            );
        }
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dest = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &dest);
        } else {
            std::fs::copy(e.path(), dest).unwrap();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousands_of_partitions_one_file_each_and_restarts_keep_every_record() {
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("data");
    let node = start_node_in(root.path(), "").await;
    let mut c = Client::connect(&node).await;
    for i in 0..topics() {
        c.create_topic(&topic(i), PARTITIONS).await;
    }
    for i in 0..topics() {
        produce_each(&mut c, &topic(i)).await;
    }
    let n = topics() * PARTITIONS as usize;
    if let Some(fds) = fds_under(&data) {
        // Partition logs plus the metadata quorum's few files.
        assert!(fds * 10 <= n * 12, "{fds} descriptors for {n} partitions");
        eprintln!("{fds} descriptors for {n} partitions");
    }
    // A crash image: the files as a killed process leaves them (no close, no
    // marker, checkpoints possibly behind).
    let crashed = tempfile::tempdir().unwrap();
    copy_dir(&data, &crashed.path().join("data"));
    assert!(!data.join(".kafka_cleanshutdown").exists());

    drop(c);
    node.shutdown().await;
    assert!(data.join(".kafka_cleanshutdown").exists());
    assert_eq!(
        fds_under(&data).unwrap_or(0),
        0,
        "shutdown closed every file"
    );

    let t = Instant::now();
    let node = start_node_in(root.path(), "").await;
    let clean_ms = t.elapsed().as_millis();
    assert!(
        !data.join(".kafka_cleanshutdown").exists(),
        "the marker goes once the logs are open"
    );
    check_all(&node).await;
    if let Some(fds) = fds_under(&data) {
        assert!(fds * 10 <= n * 12, "{fds} descriptors after restart");
    }
    node.shutdown().await;

    let t = Instant::now();
    let node = start_node_in(crashed.path(), "").await;
    let crash_ms = t.elapsed().as_millis();
    check_all(&node).await;
    node.shutdown().await;
    eprintln!(
        "{n} partitions: clean restart {clean_ms} ms, crash restart {crash_ms} ms, RSS {:?} KiB",
        rss_kib()
    );
}
