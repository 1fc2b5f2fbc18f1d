//! Client quotas on a running node, in raw frames: quotas survive a restart (they are
//! metadata records), a request_percentage holds a client's next request back for the
//! throttle time its answer reports, and a Fetch over its consumer_byte_rate comes back
//! without records (the offsets and high watermark still there) and with throttle_time_ms.

#![allow(clippy::unwrap_used)]

use std::time::Instant;

use vltava_protocol::messages::alter_client_quotas_request::{EntityData, EntryData, OpData};
use vltava_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use vltava_protocol::messages::{
    AlterClientQuotasRequest, DescribeClientQuotasRequest, FetchRequest, MetadataRequest,
};
use vltava_protocol::{RequestBody, ResponseBody};
use vltava_records::{BatchBuilder, BatchBuilderConfig};

use crate::support::{Client, start_node_in};

/// The client id `Client` sends.
const CLIENT_ID: &str = "raw-test";

async fn set_quota(c: &mut Client, key: &str, value: f64) {
    let req = AlterClientQuotasRequest {
        entries: vec![EntryData {
            entity: vec![EntityData {
                entity_type: "client-id".into(),
                entity_name: Some(CLIENT_ID.into()),
                ..Default::default()
            }],
            ops: vec![OpData {
                key: key.into(),
                value,
                remove: false,
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    };
    let ResponseBody::AlterClientQuotas(r) = c.call(1, RequestBody::from(req)).await else {
        panic!()
    };
    assert_eq!(r.entries[0].error_code, 0, "{r:?}");
}

async fn quotas(c: &mut Client) -> Vec<(String, f64)> {
    let ResponseBody::DescribeClientQuotas(r) = c
        .call(1, RequestBody::from(DescribeClientQuotasRequest::default()))
        .await
    else {
        panic!()
    };
    assert_eq!(r.error_code, 0);
    let mut v: Vec<(String, f64)> = r
        .entries
        .unwrap_or_default()
        .iter()
        .flat_map(|e| e.values.iter().map(|v| (v.key.to_string(), v.value)))
        .collect();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quotas_survive_a_restart_and_a_request_quota_holds_the_connection() {
    let dir = tempfile::tempdir().unwrap();
    let node = start_node_in(dir.path(), "").await;
    let mut c = Client::connect(&node).await;
    set_quota(&mut c, "consumer_byte_rate", 2048.0).await;
    drop(c);
    node.shutdown().await;
    let node = start_node_in(dir.path(), "").await;
    let mut c = Client::connect(&node).await;
    assert_eq!(
        quotas(&mut c).await,
        vec![("consumer_byte_rate".into(), 2048.0)]
    );

    // 1% of a thread: 100 ms of handler time over the first 10 s; a few hundred metadata
    // requests exceed it, the last one by a fraction of a millisecond, so the wait is short.
    set_quota(&mut c, "request_percentage", 1.0).await;
    let mut throttle = 0;
    for _ in 0..20_000 {
        let ResponseBody::Metadata(r) = c
            .call(12, RequestBody::from(MetadataRequest::default()))
            .await
        else {
            panic!()
        };
        if r.throttle_time_ms > 0 {
            throttle = r.throttle_time_ms;
            break;
        }
    }
    assert!(throttle > 0, "no request was throttled");
    // The connection runs nothing more until the wait is over.
    let started = Instant::now();
    let _ = c
        .call(12, RequestBody::from(MetadataRequest::default()))
        .await;
    let waited = started.elapsed().as_millis() as i32;
    assert!(
        waited >= throttle - 5,
        "answered after {waited} ms, throttle {throttle} ms"
    );
    node.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fetch_over_its_byte_rate_comes_back_without_records() {
    let dir = tempfile::tempdir().unwrap();
    let node = start_node_in(dir.path(), "").await;
    let mut c = Client::connect(&node).await;
    let topic_id = c.create_topic("quota-fetch", 1).await;
    let mut b = BatchBuilder::new(BatchBuilderConfig::default());
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let value = vec![7u8; 200_000];
    b.append(now, None, Some(&value), &[]).unwrap();
    let p = c.produce_raw(9, "quota-fetch", 0, b.build().unwrap()).await;
    assert_eq!(p.error_code, 0);
    // 10 kB/s: 100 kB over the 10 s a fresh meter counts; a 200 kB answer is over.
    set_quota(&mut c, "consumer_byte_rate", 10_000.0).await;
    let req = FetchRequest {
        replica_id: -1,
        max_wait_ms: 0,
        max_bytes: 1 << 20,
        session_id: 0,
        session_epoch: -1,
        topics: vec![FetchTopic {
            topic_id,
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
    let ResponseBody::Fetch(r) = c.call(13, RequestBody::from(req)).await else {
        panic!()
    };
    assert!(r.throttle_time_ms > 0, "{}", r.throttle_time_ms);
    let part = &r.responses[0].partitions[0];
    assert_eq!(part.error_code, 0);
    assert_eq!(part.high_watermark, 1);
    assert!(
        part.records.as_ref().is_none_or(|b| b.is_empty()),
        "records sent"
    );
    node.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn topic_creations_over_the_mutation_rate_are_refused_with_throttling_quota_exceeded() {
    let dir = tempfile::tempdir().unwrap();
    let node = start_node_in(dir.path(), "").await;
    let mut c = Client::connect(&node).await;
    // One partition a second: 10 over the first 10 s. 6 + 6 are admitted (the second goes
    // over), the third request is refused while the client is over.
    set_quota(&mut c, "controller_mutation_rate", 1.0).await;
    for name in ["mut-a", "mut-b"] {
        let r = c.create_topic_answer(name, 6, 1, &[], 30_000).await;
        assert_eq!(r.error_code, 0, "{r:?}");
    }
    let r = c.create_topic_answer("mut-c", 6, 1, &[], 30_000).await;
    assert_eq!(r.error_code, 89, "{r:?}");
    let ResponseBody::Metadata(m) = c
        .call(
            12,
            RequestBody::from(MetadataRequest {
                topics: None,
                ..Default::default()
            }),
        )
        .await
    else {
        panic!()
    };
    let names: Vec<String> = m
        .topics
        .iter()
        .filter_map(|t| t.name.as_ref().map(|n| n.to_string()))
        .collect();
    assert!(
        names.contains(&"mut-b".to_string()) && !names.contains(&"mut-c".to_string()),
        "{names:?}"
    );
    node.shutdown().await;
}
