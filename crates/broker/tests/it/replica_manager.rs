//! The replica manager in one process, without a network: two brokers' managers (node 1
//! leads, node 2 follows) over their own log dirs, the follower's fetches carried by hand
//! (the leader's `follower_fetch` + a log read, the follower's `on_fetch_data`). Checks that
//! an acks=all produce waits until the follower has fetched past it and that the high
//! watermark a consumer reads up to only then moves; that the follower's log receives the
//! leader's batches at their offsets; that `min.insync.replicas` above the ISR refuses
//! acks=all before appending; that a non-leader refuses produce; and that a follower whose
//! log has records of an epoch the leader never wrote truncates them on the diverging epoch.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;
use vltava_broker::metadata_view::MetadataView;
use vltava_broker::partitions::{Partition, PartitionManager};
use vltava_broker::replica_manager::follower::FollowOutcome;
use vltava_broker::replica_manager::leader::AcksOutcome;
use vltava_broker::replica_manager::{ReplicaManager, ReplicaRequestError};
use vltava_protocol::Uuid;
use vltava_protocol::messages::fetch_response::{EpochEndOffset, PartitionData};
use vltava_raft::{BrokerImage, MetadataImage, PartitionImage, TopicImage};
use vltava_records::{BatchBuilder, BatchBuilderConfig};
use vltava_replication::{Acks, FollowerFetch, ReplicaError};
use vltava_storage::{FetchIsolation, LogConfig};

pub(crate) const TOPIC: &str = "rm";

pub(crate) struct Node {
    pub(crate) manager: ReplicaManager,
    pub(crate) partitions: Arc<PartitionManager>,
    pub(crate) log: Arc<Partition>,
    pub(crate) dir: tempfile::TempDir,
}

pub(crate) fn node(id: i32) -> Node {
    start(id, tempfile::tempdir().unwrap())
}

/// Broker `id`'s partition manager and replica manager over `dir`, the log of `rm-0` open.
pub(crate) fn start(id: i32, dir: tempfile::TempDir) -> Node {
    let partitions = Arc::new(PartitionManager::new(dir.path()).unwrap());
    let log = partitions.open(TOPIC, 0, LogConfig::default()).unwrap();
    let manager = ReplicaManager::new(id, partitions.clone(), 30_000, 1);
    Node {
        manager,
        partitions,
        log,
        dir,
    }
}

/// Alive broker `id` at `127.0.0.1:9000+id`.
pub(crate) fn broker(id: i32) -> BrokerImage {
    BrokerImage {
        id,
        host: "127.0.0.1".into(),
        port: 9000 + id,
        endpoints: Vec::new(),
        rack: None,
        fenced: false,
        epoch: 1,
    }
}

/// Partition 0 of `rm`: replicas [1, 2], the given leader, epochs and ISR.
pub(crate) fn image_of(
    leader: i32,
    leader_epoch: i32,
    partition_epoch: i32,
    isr: &[i32],
    min_isr: &str,
) -> MetadataImage {
    let mut image = MetadataImage::default();
    for id in [1, 2] {
        image.brokers.insert(id, broker(id));
    }
    let mut partitions = BTreeMap::new();
    partitions.insert(
        0,
        PartitionImage {
            leader_epoch,
            partition_epoch,
            ..PartitionImage::new(0, leader, vec![1, 2], isr.to_vec())
        },
    );
    let id = Uuid::from_u128(42);
    image.topic_names.insert(id, TOPIC.into());
    image.topics.insert(
        TOPIC.into(),
        TopicImage {
            name: TOPIC.into(),
            id,
            partitions,
        },
    );
    let mut configs = BTreeMap::new();
    configs.insert("min.insync.replicas".to_string(), min_isr.to_string());
    image
        .configs
        .insert(vltava_raft::ConfigResource::topic(TOPIC), configs);
    image
}

/// [`image_of`] as node 1 reads it.
pub(crate) fn image(
    leader: i32,
    leader_epoch: i32,
    partition_epoch: i32,
    isr: &[i32],
    min_isr: &str,
) -> MetadataView {
    let image = image_of(leader, leader_epoch, partition_epoch, isr, min_isr);
    MetadataView::new(Arc::new(image), 1)
}

pub(crate) fn batch(n: usize) -> Vec<u8> {
    let mut b = BatchBuilder::new(BatchBuilderConfig::default());
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    for _ in 0..n {
        b.append(now, None, Some(b"v"), &[]).unwrap();
    }
    b.build().unwrap().to_vec()
}

/// One round trip of the follower's fetch: the leader's checks, a read to its log end, the
/// follower applying the answer.
pub(crate) fn replicate(leader: &Node, follower: &Node) -> FollowOutcome {
    let target = follower.manager.fetch_targets(1).pop().unwrap();
    let fetch = FollowerFetch {
        replica_id: 2,
        fetch_offset: target.position.fetch_offset,
        last_fetched_epoch: target.position.last_fetched_epoch,
        current_leader_epoch: Some(target.position.current_leader_epoch),
        broker_epoch: None,
    };
    let diverging = leader.manager.follower_fetch(TOPIC, 0, &fetch).unwrap();
    let log = leader.log.log();
    let mut data = PartitionData {
        partition_index: 0,
        high_watermark: log.high_watermark(),
        records: Some(Bytes::new()),
        ..Default::default()
    };
    match diverging {
        Some(d) => {
            data.diverging_epoch = EpochEndOffset {
                epoch: d.epoch,
                end_offset: d.end_offset as i64,
                ..Default::default()
            }
        }
        None => {
            let read = log
                .read(
                    fetch.fetch_offset as i64,
                    1 << 20,
                    FetchIsolation::LogEnd,
                    true,
                )
                .unwrap();
            data.records = Some(
                read.slice
                    .map(|s| s.to_bytes().unwrap())
                    .unwrap_or_default(),
            );
        }
    }
    drop(log);
    follower.manager.on_fetch_data(&target, &data).unwrap()
}

pub(crate) fn apply(n: &Node, metadata: &MetadataView) {
    n.manager
        .apply_metadata(metadata, std::slice::from_ref(&n.log));
}

#[tokio::test]
async fn acks_all_waits_for_the_follower_and_the_high_watermark_follows_it() {
    let (leader, follower) = (node(1), node(2));
    let metadata = image(1, 0, 0, &[1, 2], "2");
    apply(&leader, &metadata);
    apply(&follower, &metadata);
    assert_eq!(
        follower
            .manager
            .leaders_to_follow()
            .into_iter()
            .collect::<Vec<_>>(),
        vec![1]
    );

    let appended = leader
        .manager
        .append_produce(TOPIC, 0, &mut batch(3), Acks::All, 10_000)
        .unwrap();
    assert_eq!(appended.info.first_offset, 0);
    let AcksOutcome::Waiting(mut wait) = appended.outcome else {
        panic!("acks=all answered before the follower had the records")
    };
    assert_eq!(
        leader.log.log().high_watermark(),
        0,
        "consumers see nothing yet"
    );
    assert!(wait.try_recv().is_err());

    // First fetch (from 0) carries the records; the HW moves once the follower asks from 3.
    assert_eq!(
        replicate(&leader, &follower),
        FollowOutcome::Appended {
            bytes: batch(3).len()
        }
    );
    assert_eq!(follower.log.log().log_end_offset(), 3);
    assert_eq!(leader.log.log().high_watermark(), 0);
    assert_eq!(
        replicate(&leader, &follower),
        FollowOutcome::Appended { bytes: 0 }
    );
    assert_eq!(leader.log.log().high_watermark(), 3);
    assert_eq!(AcksOutcome::Waiting(wait).result().await, Ok(()));
    // The next fetch brings the leader's HW to the follower.
    replicate(&leader, &follower);
    assert_eq!(follower.log.log().high_watermark(), 3);

    // acks=1 is answered at once; the follower never leads.
    let one = leader
        .manager
        .append_produce(TOPIC, 0, &mut batch(1), Acks::Leader, 10_000)
        .unwrap();
    assert!(matches!(one.outcome, AcksOutcome::Done(Ok(()))));
    let refused = follower
        .manager
        .append_produce(TOPIC, 0, &mut batch(1), Acks::Leader, 10_000);
    assert!(matches!(
        refused,
        Err(ReplicaRequestError::Replica(
            ReplicaError::NotLeaderOrFollower { .. }
        ))
    ));
    drop(leader.partitions);
}

#[tokio::test]
async fn min_insync_replicas_above_the_isr_refuses_before_appending() {
    let leader = node(1);
    apply(&leader, &image(1, 0, 0, &[1], "2"));
    let refused = leader
        .manager
        .append_produce(TOPIC, 0, &mut batch(1), Acks::All, 10_000);
    assert!(matches!(
        refused,
        Err(ReplicaRequestError::Replica(
            ReplicaError::NotEnoughReplicas
        ))
    ));
    assert_eq!(leader.log.log().log_end_offset(), 0, "nothing appended");
    let one = leader
        .manager
        .append_produce(TOPIC, 0, &mut batch(1), Acks::Leader, 10_000)
        .unwrap();
    assert!(matches!(one.outcome, AcksOutcome::Done(Ok(()))));
    assert_eq!(
        leader.log.log().high_watermark(),
        1,
        "a lone ISR member is the HW"
    );
}

#[tokio::test]
async fn a_follower_truncates_what_the_new_leader_never_had() {
    let (leader, follower) = (node(1), node(2));
    // The follower once led epoch 0 and wrote 2 records no one else has.
    apply(&follower, &image(2, 0, 0, &[2], "1"));
    follower
        .manager
        .append_produce(TOPIC, 0, &mut batch(2), Acks::Leader, 10_000)
        .unwrap();
    // Node 1 leads epoch 1 from an empty log and takes 3 records.
    let metadata = image(1, 1, 1, &[1, 2], "1");
    apply(&leader, &metadata);
    leader
        .manager
        .append_produce(TOPIC, 0, &mut batch(3), Acks::Leader, 10_000)
        .unwrap();
    apply(&follower, &metadata);
    assert_eq!(replicate(&leader, &follower), FollowOutcome::Truncated);
    assert_eq!(
        follower.log.log().log_end_offset(),
        0,
        "epoch 0 ended at 0 on the leader"
    );
    assert_eq!(
        replicate(&leader, &follower),
        FollowOutcome::Appended {
            bytes: batch(3).len()
        }
    );
    assert_eq!(follower.log.log().log_end_offset(), 3);
    assert_eq!(
        follower
            .log
            .log()
            .leader_epoch_cache()
            .latest()
            .map(|e| e.epoch),
        Some(1)
    );
}

#[tokio::test]
async fn only_a_leaders_high_watermark_wakes_parked_fetches() {
    let (leader, follower) = (node(1), node(2));
    let metadata = image(1, 0, 0, &[1, 2], "1");
    apply(&leader, &metadata);
    apply(&follower, &metadata);
    leader
        .manager
        .append_produce(TOPIC, 0, &mut batch(3), Acks::Leader, 10_000)
        .unwrap();
    replicate(&leader, &follower);
    assert_eq!(follower.log.log().high_watermark(), 0);
    let mut on_leader = leader.partitions.subscribe_appends();
    on_leader.borrow_and_update();
    let mut on_follower = follower.partitions.subscribe_appends();
    on_follower.borrow_and_update();
    // This fetch moves the leader's HW to 3 and brings it to the follower.
    replicate(&leader, &follower);
    assert_eq!(leader.log.log().high_watermark(), 3);
    assert!(
        on_leader.has_changed().unwrap(),
        "consumers wait for the leader's HW"
    );
    assert_eq!(
        follower.log.log().high_watermark(),
        3,
        "the follower's HW moved"
    );
    assert!(
        !on_follower.has_changed().unwrap(),
        "nothing waits for a follower's HW"
    );
}
