//! Retention runs on its schedule in a running node (`log.retention.check.interval.ms`):
//! expired records leave the log. The log cleaner (every `log.cleaner.backoff.ms` when
//! idle) compacts: a compacted topic keeps the latest value per key once segments roll,
//! tombstones go after `delete.retention.ms`, and the cleaner's progress is in
//! `cleaner-offset-checkpoint`. Rolled segments are flushed before each pass (as Kafka
//! flushes a segment when it rolls), so compaction does not wait for the checkpoint
//! flush (`log.flush.offset.checkpoint.interval.ms`, 60 s by default). As in Kafka, a
//! compacted topic refuses records without a key (INVALID_RECORD) and DeleteRecords
//! (POLICY_VIOLATION).

#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use crate::support::{Client, start_node_with};
use bytes::Bytes;
use vltava_protocol::messages::ListOffsetsRequest;
use vltava_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use vltava_protocol::{RequestBody, ResponseBody};
use vltava_records::{BatchBuilder, BatchBuilderConfig};

use vltava_records::clock::now_ms;

fn batch(ts: i64, key: &[u8], value: &[u8]) -> Bytes {
    record(ts, key, Some(value))
}

fn record(ts: i64, key: &[u8], value: Option<&[u8]>) -> Bytes {
    let mut b = BatchBuilder::new(BatchBuilderConfig::default());
    b.append(ts, Some(key), value, &[]).unwrap();
    b.build().unwrap()
}

/// Every (offset, key, value) in a partition's log.
fn log_records(
    part: &vltava_broker::partitions::Partition,
) -> Vec<(i64, Vec<u8>, Option<Vec<u8>>)> {
    let log = part.log();
    let info = log
        .read(0, 1 << 30, vltava_storage::FetchIsolation::LogEnd, true)
        .unwrap();
    let Some(slice) = info.slice else {
        return Vec::new();
    };
    let bytes = slice.to_bytes().unwrap();
    let mut out = Vec::new();
    for view in vltava_records::BatchIter::new(&bytes) {
        let view = view.unwrap();
        let h = *view.header();
        for r in view
            .records(&vltava_records::DecodeLimits::default())
            .unwrap()
        {
            out.push((
                r.offset(&h),
                r.key.as_deref().unwrap_or_default().to_vec(),
                r.value.as_deref().map(<[u8]>::to_vec),
            ));
        }
    }
    out
}

async fn earliest(c: &mut Client, topic: &str) -> i64 {
    let req = ListOffsetsRequest {
        replica_id: -1,
        topics: vec![ListOffsetsTopic {
            name: topic.into(),
            partitions: vec![ListOffsetsPartition {
                partition_index: 0,
                timestamp: -2,
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    };
    let ResponseBody::ListOffsets(r) = c.call(7, RequestBody::from(req)).await else {
        panic!()
    };
    r.topics[0].partitions[0].offset
}

#[tokio::test]
async fn expired_records_are_deleted_on_the_retention_schedule() {
    let (node, _dir) = start_node_with(
        "log.retention.check.interval.ms=100\nlog.flush.offset.checkpoint.interval.ms=100\n",
    )
    .await;
    let mut c = Client::connect(&node).await;
    c.create_topic_with(
        "old",
        1,
        &[("retention.ms", "60000"), ("segment.bytes", "200")],
    )
    .await;
    let day_ago = now_ms() - 86_400_000;
    for i in 0..10u8 {
        let r = c
            .produce_raw(9, "old", 0, batch(day_ago, &[i], b"expired"))
            .await;
        assert_eq!(r.error_code, 0);
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while earliest(&mut c, "old").await < 10 {
        assert!(Instant::now() < deadline, "retention did not run");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    node.shutdown().await;
}

#[tokio::test]
async fn compacted_topics_keep_the_latest_value_per_key() {
    // The checkpoint flush keeps its 60 s default: compaction must not wait for it
    // (found by Kafka Streams' changelog in tests/interop/test_kafka_streams.py).
    let (node, dir) = start_node_with("log.cleaner.backoff.ms=100\n").await;
    let mut c = Client::connect(&node).await;
    c.create_topic_with(
        "compacted",
        1,
        &[("cleanup.policy", "compact"), ("segment.bytes", "200")],
    )
    .await;
    // 40 writes over 2 keys, spread over many small segments. The bytes written are
    // counted here: on a slow machine compaction may already run between the writes.
    let mut size_before = 0u64;
    for i in 0..40u32 {
        let key = if i % 2 == 0 { b"a" } else { b"b" };
        let records = batch(now_ms(), key, &i.to_be_bytes());
        size_before += records.len() as u64;
        let r = c.produce_raw(9, "compacted", 0, records).await;
        assert_eq!(r.error_code, 0);
    }
    let part = node.broker.partitions.get("compacted", 0).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let checkpoint = dir.path().join("data/cleaner-offset-checkpoint");
    loop {
        let size = part.log().size_in_bytes();
        if size < size_before / 2 && checkpoint.exists() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "compaction did not run ({size} of {size_before} bytes)"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Offsets are kept: the log still ends at 40.
    assert_eq!(part.log().log_end_offset(), 40);
    // The cleaner's progress is checkpointed (Kafka's format: version, count, lines).
    let cp = std::fs::read_to_string(&checkpoint).unwrap();
    let lines: Vec<&str> = cp.lines().collect();
    assert_eq!(&lines[..2], &["0", "1"], "{cp}");
    let cleaned_to: i64 = lines[2]
        .strip_prefix("compacted 0 ")
        .unwrap()
        .parse()
        .unwrap();
    assert!(cleaned_to > 0 && cleaned_to <= 40, "{cp}");
    node.shutdown().await;
}

#[tokio::test]
async fn tombstones_vanish_after_delete_retention_ms() {
    let (node, _dir) = start_node_with("log.cleaner.backoff.ms=100\n").await;
    let mut c = Client::connect(&node).await;
    c.create_topic_with(
        "tombs",
        1,
        &[
            ("cleanup.policy", "compact"),
            ("segment.bytes", "200"),
            ("delete.retention.ms", "100"),
            ("min.cleanable.dirty.ratio", "0.01"),
        ],
    )
    .await;
    let produce = |key: &'static [u8], value: Option<&'static [u8]>| record(now_ms(), key, value);
    for (k, v) in [
        (&b"a"[..], Some(&b"1"[..])),
        (b"b", Some(b"2")),
        (b"a", None),
        (b"b", Some(b"3")),
    ] {
        assert_eq!(
            c.produce_raw(9, "tombs", 0, produce(k, v)).await.error_code,
            0
        );
    }
    // Roll the segments holding them (the active segment is never cleaned).
    for _ in 0..10 {
        let r = c
            .produce_raw(9, "tombs", 0, produce(b"c", Some(b"x")))
            .await;
        assert_eq!(r.error_code, 0);
    }
    let part = node.broker.partitions.get("tombs", 0).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let recs = log_records(&part);
        let keys_a = recs.iter().filter(|(_, k, _)| k == b"a").count();
        let values_b: Vec<_> = recs.iter().filter(|(_, k, _)| k == b"b").collect();
        if keys_a == 0 && values_b.len() == 1 {
            assert_eq!(values_b[0].2.as_deref(), Some(&b"3"[..]));
            break;
        }
        assert!(Instant::now() < deadline, "not compacted: {recs:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    node.shutdown().await;
}

/// Kafka's rules for compact-only topics (found by sarama and franz-go against Kafka
/// 4.1.1): a record without a key is refused with INVALID_RECORD (87), DeleteRecords with
/// POLICY_VIOLATION (44); with `compact,delete` DeleteRecords works.
#[tokio::test]
async fn compacted_topics_refuse_keyless_records_and_delete_records() {
    let (node, _dir) = start_node_with("").await;
    let mut c = Client::connect(&node).await;
    c.create_topic_with("compact-only", 1, &[("cleanup.policy", "compact")])
        .await;
    c.create_topic_with("compact-delete", 1, &[("cleanup.policy", "compact,delete")])
        .await;
    let mut b = BatchBuilder::new(BatchBuilderConfig::default());
    b.append(now_ms(), None, Some(b"no key"), &[]).unwrap();
    let keyless = b.build().unwrap();
    for topic in ["compact-only", "compact-delete"] {
        let r = c.produce_raw(9, topic, 0, keyless.clone()).await;
        assert_eq!(r.error_code, 87, "{topic}: keyless record");
        // KIP-467: the keyless record is named, so clients fail only it.
        assert_eq!(r.record_errors.len(), 1, "{topic}: {r:?}");
        assert_eq!(r.record_errors[0].batch_index, 0);
        for i in 0..3u8 {
            let r = c
                .produce_raw(9, topic, 0, batch(now_ms(), &[i], b"v"))
                .await;
            assert_eq!(r.error_code, 0, "{topic}: keyed record");
        }
    }
    assert_eq!(c.delete_records("compact-only", 2).await.0, 44);
    assert_eq!(c.delete_records("compact-delete", 2).await, (0, 2));
    node.shutdown().await;
}
