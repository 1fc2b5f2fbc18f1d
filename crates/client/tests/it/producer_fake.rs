//! Connection layer and producer against the in-process test double.
#![allow(clippy::unwrap_used)]

use crate::support::fake_kafka::FakeKafka;
use std::time::Duration;
use vltava_client::producer::partitioner::partition_for_key;
use vltava_client::producer::{
    Acks, ProducerConfig, ProducerRecord, RoundRobinPartitioner, parse_compression,
};
use vltava_client::{ClientConfig, Cluster, Producer};
use vltava_protocol::ApiKey;

fn cfg(addr: &str) -> ProducerConfig {
    let mut c = ProducerConfig::new(addr);
    c.client.request_timeout = Duration::from_secs(5);
    c.client.retry_backoff = Duration::from_millis(5);
    c
}

#[tokio::test]
async fn api_versions_fall_back_when_the_broker_rejects_v3() {
    let fake = FakeKafka::start().await;
    fake.state.lock().unwrap().max_api_versions_version = 2;
    fake.create_topic("t", 1);
    let cluster = Cluster::connect(ClientConfig::new(&fake.addr))
        .await
        .unwrap();
    let conn = cluster.any_connection().await.unwrap();
    assert_eq!(conn.version(ApiKey::ApiVersions).unwrap(), 2);
    let seen = fake.state.lock().unwrap().seen_versions.clone();
    let av: Vec<i16> = seen
        .iter()
        .filter(|(k, _)| *k == ApiKey::ApiVersions)
        .map(|(_, v)| *v)
        .collect();
    assert_eq!(av, vec![3, 2]);
    assert_eq!(conn.version(ApiKey::Metadata).unwrap(), 12);
}

#[tokio::test]
async fn keyed_records_go_to_the_murmur2_partition_with_offsets() {
    let fake = FakeKafka::start().await;
    fake.create_topic("orders", 6);
    let p = Producer::new(cfg(&fake.addr)).await.unwrap();
    assert!(p.producer_id() > 0, "idempotence is on by default");
    let mut futs = Vec::new();
    for i in 0..100 {
        let key = format!("key-{i}");
        let rec = ProducerRecord::new(
            "orders",
            Some(key.as_bytes()),
            Some(format!("v{i}").as_bytes()),
        )
        .with_header("h", Some(b"x"));
        futs.push((key, p.enqueue(rec).await.unwrap()));
    }
    let mut next = [0i64; 6];
    for (key, f) in futs {
        let md = f.await.unwrap();
        assert_eq!(md.partition, partition_for_key(key.as_bytes(), 6));
        assert_eq!(
            md.offset, next[md.partition as usize],
            "offsets in send order per partition"
        );
        next[md.partition as usize] += 1;
    }
    let total: usize = (0..6).map(|i| fake.records("orders", i).len()).sum();
    assert_eq!(total, 100);
    let r = &fake.records("orders", partition_for_key(b"key-7", 6) as usize);
    let rec = r
        .iter()
        .find(|r| r.1.as_deref() == Some(&b"key-7"[..]))
        .unwrap();
    assert_eq!(rec.2.as_deref(), Some(&b"v7"[..]));
    assert_eq!(
        rec.3,
        vec![(
            bytes::Bytes::from_static(b"h"),
            Some(bytes::Bytes::from_static(b"x"))
        )]
    );
    // Batching: far fewer requests than records.
    assert!(fake.state.lock().unwrap().produce_requests < 100);
}

#[tokio::test]
async fn every_compression_codec_roundtrips() {
    for codec in ["gzip", "snappy", "lz4", "zstd"] {
        let fake = FakeKafka::start().await;
        fake.create_topic("c", 1);
        let mut c = cfg(&fake.addr);
        c.compression = parse_compression(codec).unwrap();
        let p = Producer::new(c).await.unwrap();
        let mut futs = Vec::new();
        for i in 0..50 {
            futs.push(
                p.enqueue(ProducerRecord::new(
                    "c",
                    None,
                    Some(format!("value {i} {codec}").as_bytes()),
                ))
                .await
                .unwrap(),
            );
        }
        for f in futs {
            f.await.unwrap();
        }
        let recs = fake.records("c", 0);
        assert_eq!(recs.len(), 50, "{codec}");
        assert_eq!(
            recs[49].2.as_deref(),
            Some(format!("value 49 {codec}").as_bytes())
        );
        let st = fake.state.lock().unwrap();
        let batch = &st.topics["c"][0].batches[0].2;
        let view = vltava_records::BatchView::new(batch).unwrap();
        assert_eq!(
            view.header().attributes.compression(),
            parse_compression(codec),
            "{codec}"
        );
    }
}

#[tokio::test]
async fn retriable_errors_are_retried_and_fatal_ones_reported() {
    let fake = FakeKafka::start().await;
    fake.create_topic("r", 1);
    fake.state.lock().unwrap().produce_errors = vec![6, 6];
    let p = Producer::new(cfg(&fake.addr)).await.unwrap();
    let md = p
        .send(ProducerRecord::new("r", None, Some(b"x")))
        .await
        .unwrap();
    assert_eq!(md.offset, 0);
    assert_eq!(fake.state.lock().unwrap().produce_requests, 3);
    // 87 = INVALID_RECORD: not retriable.
    fake.state.lock().unwrap().produce_errors = vec![87];
    let err = p
        .send(ProducerRecord::new("r", None, Some(b"y")))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(87));
}

/// A refused batch is re-sent after `retry.backoff.ms`, doubling per attempt (it was re-sent
/// at once: under faults, thousands of requests a second for a batch whose predecessor was
/// missing).
#[tokio::test]
async fn retries_wait_a_growing_backoff() {
    let fake = FakeKafka::start().await;
    fake.create_topic("b", 1);
    // OUT_OF_ORDER_SEQUENCE_NUMBER: an idempotent producer retries it.
    fake.state.lock().unwrap().produce_errors = vec![45, 45, 45];
    let mut c = cfg(&fake.addr);
    c.client.retry_backoff = Duration::from_millis(50);
    let p = Producer::new(c).await.unwrap();
    let started = std::time::Instant::now();
    let md = p
        .send(ProducerRecord::new("b", None, Some(b"x")))
        .await
        .unwrap();
    assert_eq!(md.offset, 0);
    assert_eq!(fake.state.lock().unwrap().produce_requests, 4);
    // 50 + 100 + 200 ms of backoff at least.
    assert!(
        started.elapsed() >= Duration::from_millis(350),
        "three retries after {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn acks_zero_and_round_robin() {
    let fake = FakeKafka::start().await;
    fake.create_topic("z", 3);
    let mut c = cfg(&fake.addr);
    c.acks = Acks::None;
    c.enable_idempotence = false;
    c.linger = Duration::ZERO;
    c.partitioner = std::sync::Arc::new(RoundRobinPartitioner::default());
    let p = Producer::new(c).await.unwrap();
    let mut parts = Vec::new();
    for _ in 0..3 {
        let md = p
            .send(ProducerRecord::new("z", Some(b"same"), Some(b"v")))
            .await
            .unwrap();
        assert_eq!(md.offset, -1);
        parts.push(md.partition);
    }
    parts.sort();
    assert_eq!(parts, vec![0, 1, 2]);
}

#[tokio::test]
async fn idempotence_requires_acks_all() {
    let fake = FakeKafka::start().await;
    let mut c = cfg(&fake.addr);
    c.acks = Acks::Leader;
    assert!(Producer::new(c).await.is_err());
}

#[tokio::test]
async fn buffer_memory_applies_back_pressure_and_delivery_timeout_fails() {
    let fake = FakeKafka::start().await;
    fake.create_topic("b", 1);
    // Every produce fails with a retriable error: records stay buffered.
    fake.state.lock().unwrap().produce_errors = vec![6; 10_000];
    let mut c = cfg(&fake.addr);
    c.buffer_memory = 4096;
    c.max_block = Duration::from_millis(200);
    c.delivery_timeout = Duration::from_millis(300);
    let p = Producer::new(c).await.unwrap();
    let big = vec![7u8; 3000];
    let first = p
        .enqueue(ProducerRecord::new("b", None, Some(&big)))
        .await
        .unwrap();
    let blocked = p.enqueue(ProducerRecord::new("b", None, Some(&big))).await;
    assert!(
        blocked.is_err(),
        "second record must wait for memory and time out"
    );
    let e = first.await.unwrap_err();
    assert!(e.to_string().contains("delivery.timeout"), "{e}");
    // Memory is released after the failure.
    fake.state.lock().unwrap().produce_errors.clear();
    p.send(ProducerRecord::new("b", None, Some(&big)))
        .await
        .unwrap();
}

#[tokio::test]
async fn unknown_topic_is_an_error() {
    let fake = FakeKafka::start().await;
    let p = Producer::new(cfg(&fake.addr)).await.unwrap();
    assert!(
        p.send(ProducerRecord::new("missing", None, Some(b"x")))
            .await
            .is_err()
    );
}

#[tokio::test]
async fn idempotent_sequences_keep_growing_across_sequential_sends() {
    let fake = FakeKafka::start().await;
    fake.create_topic("seq", 1);
    let p = Producer::new(cfg(&fake.addr)).await.unwrap();
    for _ in 0..5 {
        p.send(ProducerRecord::new("seq", None, Some(b"x")))
            .await
            .unwrap();
        // Let the sender prune the idle partition queue between sends.
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let st = fake.state.lock().unwrap();
    let seqs: Vec<i32> = st.topics["seq"][0]
        .batches
        .iter()
        .map(|(_, _, b)| {
            vltava_records::BatchView::new(b)
                .unwrap()
                .header()
                .base_sequence
        })
        .collect();
    assert_eq!(seqs, vec![0, 1, 2, 3, 4]);
}

#[tokio::test]
async fn a_failed_first_batch_is_not_overtaken_by_later_ones() {
    let fake = FakeKafka::start().await;
    fake.create_topic("order", 1);
    // The first produce fails retriably; the fake then accepts any first sequence
    // and refuses gaps (as a broker with no state for the producer would).
    fake.state.lock().unwrap().produce_errors = vec![6];
    let mut c = cfg(&fake.addr);
    c.batch_size = 1024;
    c.linger = Duration::ZERO;
    let p = Producer::new(c).await.unwrap();
    let mut futs = Vec::new();
    for i in 0..500 {
        futs.push(
            p.enqueue(ProducerRecord::new(
                "order",
                None,
                Some(format!("{i:0>200}").as_bytes()),
            ))
            .await
            .unwrap(),
        );
    }
    for (i, f) in futs.into_iter().enumerate() {
        let md = tokio::time::timeout(Duration::from_secs(10), f)
            .await
            .expect("delivered")
            .unwrap();
        assert_eq!(md.offset, i as i64);
    }
    let values: Vec<_> = fake
        .records("order", 0)
        .into_iter()
        .map(|r| r.2.unwrap())
        .collect();
    assert_eq!(values.len(), 500);
    assert_eq!(&values[499][..], format!("{:0>200}", 499).as_bytes());
}

#[tokio::test]
async fn unanswered_requests_time_out_and_are_retried_until_the_delivery_timeout() {
    let fake = FakeKafka::start().await;
    fake.create_topic("slow", 1);
    fake.state.lock().unwrap().stall_produce = true;
    let mut c = cfg(&fake.addr);
    c.client.request_timeout = Duration::from_millis(200);
    c.delivery_timeout = Duration::from_millis(1500);
    let p = Producer::new(c).await.unwrap();
    let started = std::time::Instant::now();
    let err = p
        .send(ProducerRecord::new("slow", None, Some(b"x")))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("delivery.timeout"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(
        fake.state.lock().unwrap().produce_requests >= 2,
        "timed-out requests are retried"
    );
    // Once the broker answers again, the producer recovers (new connection).
    fake.state.lock().unwrap().stall_produce = false;
    p.send(ProducerRecord::new("slow", None, Some(b"y")))
        .await
        .unwrap();
}

#[tokio::test]
async fn records_buffered_when_the_producer_is_dropped_are_still_delivered() {
    let fake = FakeKafka::start().await;
    fake.create_topic("drop", 1);
    let mut c = cfg(&fake.addr);
    c.linger = Duration::from_millis(200);
    let p = Producer::new(c).await.unwrap();
    let clone = p.clone();
    let f = p
        .enqueue(ProducerRecord::new("drop", None, Some(b"x")))
        .await
        .unwrap();
    drop(p);
    // A clone keeps the producer open; dropping the last one closes it.
    clone
        .send(ProducerRecord::new("drop", None, Some(b"y")))
        .await
        .unwrap();
    let g = clone
        .enqueue(ProducerRecord::new("drop", None, Some(b"z")))
        .await
        .unwrap();
    drop(clone);
    assert_eq!(f.await.unwrap().offset, 0);
    assert_eq!(g.await.unwrap().offset, 2);
    assert_eq!(fake.records("drop", 0).len(), 3);
}
