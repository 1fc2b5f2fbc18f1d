//! Coordinator writes to the internal topics go through the replica manager
//! as the leader with acks=all (`offsets_log::InternalWriter`, one process, no
//! network): on a single-replica partition a write is committed at once and
//! reads back (plain, transactional and markers told apart); with a follower
//! in the ISR it waits, the high watermark unmoved, until the follower fetched
//! (here: it times out on the ticker as REQUEST_TIMED_OUT); a non-leader
//! refuses with NOT_LEADER_OR_FOLLOWER and an ISR below `min.insync.replicas`
//! with NOT_ENOUGH_REPLICAS before appending; a partition not hosted cannot be
//! read for loading. Coordinator elections follow the images
//! (`coordinator_leadership`).

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;
use vltava_broker::coordinator_leadership::{Changes, Leadership};
use vltava_broker::metadata_view::MetadataView;
use vltava_broker::offsets_log::{
    InternalWriter, LogEntry, OFFSETS_TOPIC, OffsetsLogError, read_internal,
};
use vltava_broker::partitions::PartitionManager;
use vltava_broker::replica_manager::{AcksOutcome, ReplicaManager};
use vltava_protocol::Uuid;
use vltava_raft::{ConfigResource, MetadataImage, PartitionImage, TopicImage};
use vltava_replication::ReplicaError;
use vltava_storage::LogConfig;

struct Node {
    replicas: Arc<ReplicaManager>,
    partitions: Arc<PartitionManager>,
    _dir: tempfile::TempDir,
}

/// Node 1 with `__consumer_offsets` partitions 0 and 1 open.
fn node() -> Node {
    let dir = tempfile::tempdir().unwrap();
    let partitions = Arc::new(PartitionManager::new(dir.path()).unwrap());
    for p in [0, 1] {
        partitions
            .open(OFFSETS_TOPIC, p, LogConfig::default())
            .unwrap();
    }
    let replicas = Arc::new(ReplicaManager::new(1, partitions.clone(), 30_000, 1));
    Node {
        replicas,
        partitions,
        _dir: dir,
    }
}

/// One partition of an image: index, leader, leader epoch, replicas, ISR.
type Part<'a> = (i32, i32, i32, &'a [i32], &'a [i32]);

/// `__consumer_offsets` with `parts`.
fn image(parts: &[Part<'_>], min_isr: &str) -> MetadataView {
    let mut image = MetadataImage::default();
    for id in [1, 2] {
        image.brokers.insert(id, crate::replica_manager::broker(id));
    }
    let partitions = parts
        .iter()
        .map(|(index, leader, epoch, replicas, isr)| {
            (
                *index,
                PartitionImage {
                    leader_epoch: *epoch,
                    partition_epoch: *epoch,
                    ..PartitionImage::new(*index, *leader, replicas.to_vec(), isr.to_vec())
                },
            )
        })
        .collect();
    let mut configs = BTreeMap::new();
    configs.insert("min.insync.replicas".to_string(), min_isr.to_string());
    let id = Uuid::from_u128(7);
    image.topic_names.insert(id, OFFSETS_TOPIC.into());
    image.topics.insert(
        OFFSETS_TOPIC.into(),
        TopicImage {
            name: OFFSETS_TOPIC.into(),
            id,
            partitions,
        },
    );
    image
        .configs
        .insert(ConfigResource::topic(OFFSETS_TOPIC), configs);
    MetadataView::new(Arc::new(image), 1)
}

fn apply(n: &Node, metadata: &MetadataView) {
    n.replicas.apply_metadata(metadata, &n.partitions.all());
}

fn writer(n: &Node, timeout_ms: u64) -> InternalWriter {
    InternalWriter {
        replicas: n.replicas.clone(),
        topic: OFFSETS_TOPIC,
        timeout_ms,
    }
}

fn rec(k: &'static [u8]) -> (Bytes, Option<Bytes>) {
    (Bytes::from_static(k), Some(Bytes::from_static(b"v")))
}

fn hw(n: &Node, p: i32) -> i64 {
    n.partitions
        .get(OFFSETS_TOPIC, p)
        .unwrap()
        .log()
        .high_watermark()
}

#[tokio::test]
async fn a_single_replica_commits_at_once_and_reads_back() {
    let n = node();
    apply(&n, &image(&[(0, 1, 3, &[1], &[1])], "1"));
    let w = writer(&n, 5_000);
    w.append(0, &[rec(b"plain")], None).await.unwrap();
    w.append(0, &[rec(b"txn")], Some((7, 0))).await.unwrap();
    w.append(0, &[], None).await.unwrap();
    assert_eq!(hw(&n, 0), 2);
    let entries = read_internal(&n.partitions, OFFSETS_TOPIC, 0).unwrap();
    let record = |k: &'static [u8], producer| LogEntry::Record {
        key: Bytes::from_static(k),
        value: Some(Bytes::from_static(b"v")),
        producer,
    };
    assert_eq!(
        entries,
        vec![record(b"plain", None), record(b"txn", Some(7))]
    );
    // The batches carry the leader epoch of the partition.
    let log = n.partitions.get(OFFSETS_TOPIC, 0).unwrap();
    assert_eq!(log.log().leader_epoch_cache().epoch_for_offset(1), Some(3));
    // A partition without a log here cannot be loaded.
    assert!(matches!(
        read_internal(&n.partitions, OFFSETS_TOPIC, 9),
        Err(OffsetsLogError::NotHosted(9))
    ));
}

#[tokio::test]
async fn writes_wait_for_the_isr_and_refuse_without_leadership_or_enough_replicas() {
    let n = node();
    // Partition 0: led here with node 2 in the ISR. Partition 1: led by node 2.
    apply(
        &n,
        &image(
            &[(0, 1, 1, &[1, 2], &[1, 2]), (1, 2, 1, &[1, 2], &[1, 2])],
            "1",
        ),
    );
    let w = writer(&n, 0);
    let outcome = w.write(0, &[rec(b"a")], None).unwrap();
    assert!(matches!(outcome, AcksOutcome::Waiting(_)));
    assert_eq!(hw(&n, 0), 0, "not committed before the follower fetched");
    // Its deadline (now + 0) has passed at the next tick.
    n.replicas.tick();
    assert!(matches!(
        outcome.result().await,
        Err(ReplicaError::RequestTimedOut)
    ));
    let refused = w.append(1, &[rec(b"b")], None).await.unwrap_err();
    assert_eq!(refused.code(), 6, "{refused}");
    // min.insync.replicas above the ISR: refused before appending.
    apply(&n, &image(&[(0, 1, 1, &[1, 2], &[1, 2])], "3"));
    let end = n
        .partitions
        .get(OFFSETS_TOPIC, 0)
        .unwrap()
        .log()
        .log_end_offset();
    let refused = w.append(0, &[rec(b"c")], None).await.unwrap_err();
    assert_eq!(refused.code(), 19, "{refused}");
    assert_eq!(
        n.partitions
            .get(OFFSETS_TOPIC, 0)
            .unwrap()
            .log()
            .log_end_offset(),
        end
    );
}

#[test]
fn elections_and_resignations_follow_the_images() {
    let n = node();
    let mut led = Leadership::default();
    apply(
        &n,
        &image(&[(0, 1, 1, &[1], &[1]), (1, 2, 1, &[1, 2], &[2])], "1"),
    );
    let metadata = image(&[(0, 1, 1, &[1], &[1]), (1, 2, 1, &[1, 2], &[2])], "1");
    assert_eq!(
        led.update(&metadata, &n.replicas, OFFSETS_TOPIC),
        Changes {
            elected: vec![(0, 1)],
            resigned: vec![],
        }
    );
    assert_eq!(
        led.update(&metadata, &n.replicas, OFFSETS_TOPIC),
        Changes::default()
    );
    // Partition 0 moves to node 2, partition 1 comes here.
    let metadata = image(&[(0, 2, 2, &[1, 2], &[2]), (1, 1, 2, &[1, 2], &[1])], "1");
    apply(&n, &metadata);
    assert_eq!(
        led.update(&metadata, &n.replicas, OFFSETS_TOPIC),
        Changes {
            elected: vec![(1, 2)],
            resigned: vec![(0, Some(2))],
        }
    );
}
