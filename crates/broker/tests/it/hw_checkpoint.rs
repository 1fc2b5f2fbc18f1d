//! `replication-offset-checkpoint`: the high watermark of every log, written every
//! `replica.high.watermark.checkpoint.interval.ms` and at clean shutdown, is where a
//! replica's high watermark starts after a restart (capped at the log end), so a leader
//! answers ListOffsets latest and consumer fetches up to it before any follower has
//! fetched again. Without it the leader of an RF=3 partition starts at the log start and
//! shows nothing until its ISR has fetched. In-process managers (the harness of
//! `replica_manager`), restarted over the same log dir.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use std::sync::Arc;

use vltava_broker::metadata_view::MetadataView;
use vltava_replication::{Acks, FollowerFetch};
use vltava_storage::OffsetCheckpoint;
use vltava_storage::StdStorage;
use vltava_storage::checkpoint::REPLICATION_OFFSET_CHECKPOINT;

use crate::replica_manager::{Node, TOPIC, apply, batch, broker, image_of, node, replicate, start};

/// Partition 0 of `rm` with replicas 1..=rf, led by 1, every replica in sync.
fn image_rf(rf: i32) -> MetadataView {
    let isr: Vec<i32> = (1..=rf).collect();
    let mut image = image_of(1, 0, 0, &isr, "1");
    for id in 1..=rf {
        image.brokers.entry(id).or_insert_with(|| broker(id));
    }
    image.brokers.retain(|id, _| *id <= rf);
    if let Some(p) = image
        .topics
        .get_mut(TOPIC)
        .and_then(|t| t.partitions.get_mut(&0))
    {
        p.replicas = isr;
    }
    MetadataView::new(Arc::new(image), 1)
}

/// Broker `id` again over the same log dir, after a clean shutdown (`clean`) or a crash
/// (nothing closed; only what the periodic checkpoints wrote).
fn restart(n: Node, id: i32, clean: bool) -> Node {
    if clean {
        assert!(n.partitions.close_all());
    }
    let Node { dir, .. } = n;
    start(id, dir)
}

fn checkpointed(n: &Node) -> Option<i64> {
    OffsetCheckpoint::read(
        &StdStorage,
        &n.dir.path().join(REPLICATION_OFFSET_CHECKPOINT),
    )
    .unwrap()
    .offsets
    .get(&(TOPIC.to_string(), 0))
    .copied()
}

/// A follower fetch on the leader by a replica that has no log here (broker 3 of RF=3).
fn fetch_by(leader: &Node, replica_id: i32, fetch_offset: u64) {
    let fetch = FollowerFetch {
        replica_id,
        fetch_offset,
        last_fetched_epoch: None,
        current_leader_epoch: Some(0),
        broker_epoch: None,
    };
    leader.manager.follower_fetch(TOPIC, 0, &fetch).unwrap();
}

#[tokio::test]
async fn rf3_leader_and_follower_start_from_the_checkpointed_high_watermark() {
    let metadata = image_rf(3);
    let (leader, follower) = (node(1), node(2));
    apply(&leader, &metadata);
    apply(&follower, &metadata);
    leader
        .manager
        .append_produce(TOPIC, 0, &mut batch(5), Acks::Leader, 10_000)
        .unwrap();
    replicate(&leader, &follower);
    fetch_by(&leader, 3, 5);
    replicate(&leader, &follower);
    assert_eq!(leader.log.log().high_watermark(), 5);
    replicate(&leader, &follower);
    assert_eq!(follower.log.log().high_watermark(), 5);
    // Three more records only the leader has: the HW stays at 5, the log ends at 8.
    leader
        .manager
        .append_produce(TOPIC, 0, &mut batch(3), Acks::Leader, 10_000)
        .unwrap();

    // A crash after the periodic write: only the checkpoint knows the HW.
    leader.partitions.write_high_watermarks().unwrap();
    follower.partitions.write_high_watermarks().unwrap();
    assert_eq!(checkpointed(&leader), Some(5));
    let leader = restart(leader, 1, false);
    let follower = restart(follower, 2, false);
    assert_eq!(leader.log.log().log_end_offset(), 8);
    apply(&leader, &metadata);
    apply(&follower, &metadata);
    // Before any follower fetched: ListOffsets latest and a consumer's fetch stop at 5.
    assert_eq!(leader.log.log().high_watermark(), 5, "leader's HW at once");
    let hosted = leader.manager.get(TOPIC, 0).unwrap();
    assert_eq!(hosted.lock().replica.high_watermark(), 5);
    assert_eq!(follower.log.log().high_watermark(), 5, "follower's HW");
    drop(hosted);

    // A clean shutdown writes the checkpoint too.
    replicate(&leader, &follower);
    fetch_by(&leader, 3, 8);
    replicate(&leader, &follower);
    assert_eq!(leader.log.log().high_watermark(), 8);
    let leader = restart(leader, 1, true);
    apply(&leader, &metadata);
    assert_eq!(leader.log.log().high_watermark(), 8);
}

#[tokio::test]
async fn rf1_high_watermark_is_right_after_a_restart_and_capped_at_the_log_end() {
    let metadata = image_rf(1);
    let n = node(1);
    apply(&n, &metadata);
    n.manager
        .append_produce(TOPIC, 0, &mut batch(4), Acks::Leader, 10_000)
        .unwrap();
    assert_eq!(n.log.log().high_watermark(), 4);
    let n = restart(n, 1, true);
    assert_eq!(checkpointed(&n), Some(4));
    assert_eq!(
        n.log.log().high_watermark(),
        4,
        "from the checkpoint at open"
    );
    apply(&n, &metadata);
    assert_eq!(n.log.log().high_watermark(), 4);

    // A checkpoint past the log end (the tail was lost) is capped at the log end.
    let mut c = OffsetCheckpoint::default();
    c.offsets.insert((TOPIC.to_string(), 0), 100);
    drop(n.log.clone());
    let Node { dir, .. } = n;
    c.write(&StdStorage, &dir.path().join(REPLICATION_OFFSET_CHECKPOINT))
        .unwrap();
    let n = start(1, dir);
    assert_eq!(n.log.log().high_watermark(), 4);
}

#[tokio::test]
async fn a_log_never_checkpointed_starts_at_its_log_start() {
    let metadata = image_rf(3);
    let (leader, follower) = (node(1), node(2));
    apply(&leader, &metadata);
    apply(&follower, &metadata);
    leader
        .manager
        .append_produce(TOPIC, 0, &mut batch(2), Acks::Leader, 10_000)
        .unwrap();
    replicate(&leader, &follower);
    // The follower crashes before any checkpoint: it may hold records no other replica
    // has, so its HW must not start at its log end.
    let follower = restart(follower, 2, false);
    assert_eq!(follower.log.log().log_end_offset(), 2);
    assert_eq!(follower.log.log().high_watermark(), 0);
    drop(leader);
}

#[tokio::test]
async fn the_checkpoint_is_written_every_interval() {
    let metadata = image_rf(1);
    let n = node(1);
    apply(&n, &metadata);
    n.manager
        .append_produce(TOPIC, 0, &mut batch(3), Acks::Leader, 10_000)
        .unwrap();
    let long = Duration::from_secs(3600);
    let task = n
        .partitions
        .spawn_background(long, long, Duration::from_millis(20));
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while checkpointed(&n) != Some(3) {
        assert!(
            std::time::Instant::now() < deadline,
            "no checkpoint in 10 s"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    n.manager
        .append_produce(TOPIC, 0, &mut batch(2), Acks::Leader, 10_000)
        .unwrap();
    while checkpointed(&n) != Some(5) {
        assert!(
            std::time::Instant::now() < deadline,
            "the checkpoint did not follow the HW"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    task.abort();
}
