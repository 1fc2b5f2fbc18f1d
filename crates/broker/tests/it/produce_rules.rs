//! Produce rules against a running node in raw frames: idempotent producers
//! (retries answered with the original offsets, sequence gaps, epoch fencing),
//! compression rules by version, and down-conversion for old fetches.

#![allow(clippy::unwrap_used)]

use crate::support::{Client, start_node};
use bytes::Bytes;
use vltava_protocol::messages::describe_producers_request::{
    DescribeProducersRequest, TopicRequest,
};
use vltava_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use vltava_protocol::messages::offset_for_leader_epoch_request::{
    OffsetForLeaderPartition, OffsetForLeaderTopic,
};
use vltava_protocol::messages::{FetchRequest, InitProducerIdRequest, OffsetForLeaderEpochRequest};
use vltava_protocol::{RequestBody, ResponseBody};
use vltava_records::{BatchBuilder, BatchBuilderConfig, Compression};

fn batch(compression: Compression, pid: i64, epoch: i16, seq: i32, n: usize) -> Bytes {
    let mut b = BatchBuilder::new(BatchBuilderConfig {
        compression,
        producer_id: pid,
        producer_epoch: epoch,
        base_sequence: seq,
        ..BatchBuilderConfig::default()
    });
    // Current timestamps: older ones would be due for time retention (7 days).
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    for i in 0..n {
        b.append(now + i as i64, None, Some(b"value-value-value"), &[])
            .unwrap();
    }
    b.build().unwrap()
}

async fn init_pid(c: &mut Client, pid: i64, epoch: i16) -> (i64, i16) {
    let req = InitProducerIdRequest {
        transactional_id: None,
        transaction_timeout_ms: 60_000,
        producer_id: pid,
        producer_epoch: epoch,
        ..Default::default()
    };
    let ResponseBody::InitProducerId(r) = c.call(4, RequestBody::from(req)).await else {
        panic!()
    };
    assert_eq!(r.error_code, 0);
    (r.producer_id, r.producer_epoch)
}

async fn fetch_records(c: &mut Client, version: i16, topic: &str) -> (i16, Bytes) {
    let req = FetchRequest {
        replica_id: -1,
        max_wait_ms: 0,
        min_bytes: 0,
        max_bytes: 1 << 20,
        session_epoch: -1,
        topics: vec![FetchTopic {
            topic: topic.into(),
            partitions: vec![FetchPartition {
                partition: 0,
                fetch_offset: 0,
                partition_max_bytes: 1 << 20,
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    };
    let ResponseBody::Fetch(r) = c.call(version, RequestBody::from(req)).await else {
        panic!()
    };
    let p = &r.responses[0].partitions[0];
    (p.error_code, p.records.clone().unwrap_or_default())
}

#[tokio::test]
async fn idempotent_produce_dedups_checks_sequences_and_fences_epochs() {
    let (node, _dir) = start_node().await;
    let mut c = Client::connect(&node).await;
    c.create_topic("idem", 1).await;
    let (pid, epoch) = init_pid(&mut c, -1, -1).await;
    assert!(pid >= 0);
    assert_eq!(epoch, 0);
    let first = batch(Compression::None, pid, 0, 0, 3);
    let r = c.produce_raw(9, "idem", 0, first.clone()).await;
    assert_eq!((r.error_code, r.base_offset), (0, 0));
    // The retry of the same batch: the original offsets, nothing appended.
    let r = c.produce_raw(9, "idem", 0, first).await;
    assert_eq!((r.error_code, r.base_offset), (0, 0));
    let r = c
        .produce_raw(9, "idem", 0, batch(Compression::None, pid, 0, 3, 1))
        .await;
    assert_eq!((r.error_code, r.base_offset), (0, 3));
    // A gap in the sequence.
    let r = c
        .produce_raw(9, "idem", 0, batch(Compression::None, pid, 0, 9, 1))
        .await;
    assert_eq!(r.error_code, 45);
    // Re-initialising with the current id gets a fresh id, as from Kafka (an
    // idempotent producer bumps its epoch locally instead).
    let (pid2, epoch2) = init_pid(&mut c, pid, 0).await;
    assert_ne!(pid2, pid);
    assert_eq!(epoch2, 0);
    // The locally bumped epoch starts its sequences over; the old epoch is fenced.
    let r = c
        .produce_raw(9, "idem", 0, batch(Compression::None, pid, 1, 0, 1))
        .await;
    assert_eq!((r.error_code, r.base_offset), (0, 4));
    let r = c
        .produce_raw(9, "idem", 0, batch(Compression::None, pid, 0, 4, 1))
        .await;
    assert_eq!(r.error_code, 47);
    // OffsetForLeaderEpoch: epoch 0 ends at the log end; the leader's epoch is current.
    let req = OffsetForLeaderEpochRequest {
        replica_id: -1,
        topics: vec![OffsetForLeaderTopic {
            topic: "idem".into(),
            partitions: vec![OffsetForLeaderPartition {
                partition: 0,
                current_leader_epoch: 0,
                leader_epoch: 0,
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    };
    let ResponseBody::OffsetForLeaderEpoch(r) = c.call(4, RequestBody::from(req)).await else {
        panic!()
    };
    let e = &r.topics[0].partitions[0];
    assert_eq!((e.error_code, e.leader_epoch, e.end_offset), (0, 0, 5));
    // A second producer gets a different id.
    let (other, _) = init_pid(&mut c, -1, -1).await;
    assert_ne!(other, pid);
    node.shutdown().await;
}

#[tokio::test]
async fn compression_and_format_rules_by_version() {
    let (node, _dir) = start_node().await;
    let mut c = Client::connect(&node).await;
    c.create_topic("z", 1).await;
    c.create_topic("g", 1).await;
    // zstd needs Produce v7.
    let r = c
        .produce_raw(6, "z", 0, batch(Compression::Zstd, -1, -1, -1, 2))
        .await;
    assert_eq!(r.error_code, 76);
    let r = c
        .produce_raw(7, "z", 0, batch(Compression::Zstd, -1, -1, -1, 2))
        .await;
    assert_eq!(r.error_code, 0);
    // Fetch below v10 cannot carry zstd.
    let (code9, _) = fetch_records(&mut c, 9, "z").await;
    let (code10, recs10) = fetch_records(&mut c, 10, "z").await;
    assert_eq!(code9, 76);
    assert_eq!(code10, 0);
    assert!(!recs10.is_empty());
    // Produce v0-2 is refused.
    let r = c
        .produce_raw(2, "g", 0, batch(Compression::Gzip, -1, -1, -1, 2))
        .await;
    assert_eq!(r.error_code, 35);
    // A corrupt batch.
    let mut bad = batch(Compression::Gzip, -1, -1, -1, 2).to_vec();
    let last = bad.len() - 1;
    bad[last] ^= 0x55;
    let r = c.produce_raw(9, "g", 0, Bytes::from(bad)).await;
    assert_eq!(r.error_code, 2);
    let r = c
        .produce_raw(9, "g", 0, batch(Compression::Gzip, -1, -1, -1, 2))
        .await;
    assert_eq!(r.error_code, 0);
    // Fetch v3 gets magic 1 messages, v1 magic 0 (byte 16 of a legacy entry).
    let (code, recs) = fetch_records(&mut c, 3, "g").await;
    assert_eq!(code, 0);
    assert_eq!(recs[16], 1);
    let (code, recs) = fetch_records(&mut c, 1, "g").await;
    assert_eq!(code, 0);
    assert_eq!(recs[16], 0);
    // Fetch v4+ gets the stored v2 batch (magic at byte 16 too).
    let (_, recs) = fetch_records(&mut c, 4, "g").await;
    assert_eq!(recs[16], 2);
    node.shutdown().await;
}

#[tokio::test]
async fn describe_producers_lists_the_idempotent_producers_of_a_partition() {
    let (node, _dir) = start_node().await;
    let mut c = Client::connect(&node).await;
    c.create_topic("dp", 1).await;
    let (pid, epoch) = init_pid(&mut c, -1, -1).await;
    let r = c
        .produce_raw(11, "dp", 0, batch(Compression::None, pid, epoch, 0, 3))
        .await;
    assert_eq!(r.error_code, 0);
    let req = DescribeProducersRequest {
        topics: vec![
            TopicRequest {
                name: "dp".into(),
                partition_indexes: vec![0, 5],
                ..Default::default()
            },
            TopicRequest {
                name: "nope".into(),
                partition_indexes: vec![0],
                ..Default::default()
            },
        ],
        ..Default::default()
    };
    let ResponseBody::DescribeProducers(r) = c.call(0, RequestBody::from(req)).await else {
        panic!()
    };
    let p0 = &r.topics[0].partitions[0];
    assert_eq!(p0.error_code, 0);
    assert_eq!(p0.active_producers.len(), 1);
    let s = &p0.active_producers[0];
    assert_eq!(
        (s.producer_id, s.producer_epoch, s.last_sequence),
        (pid, i32::from(epoch), 2)
    );
    assert_eq!(s.current_txn_start_offset, -1);
    assert_eq!(r.topics[0].partitions[1].error_code, 3);
    assert_eq!(r.topics[1].partitions[0].error_code, 3);
    node.shutdown().await;
}
