//! Codec benchmarks: decoding and encoding a Produce request (1,000 records), a
//! Fetch response (1,000 partitions) and a Metadata response (1,000 partitions),
//! each side by side with the `kafka-protocol` crate on the very same bytes.
//!
//! `cargo bench -p vltava-protocol --bench protocol`

use bytes::{Bytes, BytesMut};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use kafka_protocol::protocol::{Decodable, Encodable};
use std::hint::black_box;
use vltava_protocol::messages::fetch_response::{FetchableTopicResponse, PartitionData};
use vltava_protocol::messages::metadata_response::{
    MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
};
use vltava_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use vltava_protocol::messages::{FetchResponse, MetadataResponse, ProduceRequest};
use vltava_protocol::{Message, SharedStr, Uuid};
use vltava_records::{BatchBuilder, BatchBuilderConfig, Compression};

fn batch(records: usize, value_len: usize) -> Bytes {
    let mut b = BatchBuilder::new(BatchBuilderConfig {
        compression: Compression::None,
        max_batch_bytes: usize::MAX,
        ..BatchBuilderConfig::default()
    });
    let value = vec![b'v'; value_len];
    for i in 0..records {
        let key = format!("key-{i}");
        b.append(
            1_700_000_000_000 + i as i64,
            Some(key.as_bytes()),
            Some(&value),
            &[],
        )
        .expect("append");
    }
    b.build().expect("build")
}

fn produce_request() -> ProduceRequest {
    ProduceRequest {
        acks: -1,
        timeout_ms: 30_000,
        topic_data: vec![TopicProduceData {
            name: "bench-topic".into(),
            partition_data: vec![PartitionProduceData {
                index: 0,
                records: Some(batch(1_000, 100)),
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    }
}

fn fetch_response() -> FetchResponse {
    let small = batch(2, 64);
    FetchResponse {
        responses: (0..10)
            .map(|t| FetchableTopicResponse {
                topic: SharedStr::from(format!("topic-{t}")),
                partitions: (0..100)
                    .map(|p| PartitionData {
                        partition_index: p,
                        high_watermark: 1_000 + i64::from(p),
                        last_stable_offset: 1_000,
                        log_start_offset: 0,
                        records: Some(small.clone()),
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    }
}

fn metadata_response() -> MetadataResponse {
    MetadataResponse {
        brokers: (1..=3)
            .map(|id| MetadataResponseBroker {
                node_id: id,
                host: "127.0.0.1".into(),
                port: 9090 + id,
                ..Default::default()
            })
            .collect(),
        cluster_id: Some("bench-cluster".into()),
        controller_id: 1,
        topics: (0..10)
            .map(|t| MetadataResponseTopic {
                name: Some(SharedStr::from(format!("topic-{t}"))),
                topic_id: Uuid::from_u128(t as u128 + 1),
                partitions: (0..100)
                    .map(|p| MetadataResponsePartition {
                        partition_index: p,
                        leader_id: p % 3 + 1,
                        leader_epoch: 5,
                        replica_nodes: vec![1, 2, 3],
                        isr_nodes: vec![1, 2, 3],
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    }
}

/// Benchmarks decode and encode of `ours` at `version`, and of the same bytes with
/// kafka-protocol's type `T`, after checking kafka-protocol reproduces our bytes.
fn compare<M: Message, T: Decodable + Encodable>(
    c: &mut Criterion,
    name: &str,
    ours: M,
    version: i16,
) {
    let bytes = ours.encode_to_bytes(version).expect("encode");
    let theirs = T::decode(&mut bytes.clone(), version).expect("kafka-protocol decodes our bytes");
    let mut check = BytesMut::new();
    theirs
        .encode(&mut check, version)
        .expect("kafka-protocol encodes");
    assert_eq!(
        check.freeze(),
        bytes,
        "{name}: both codecs must agree on the bytes"
    );

    let mut g = c.benchmark_group(name);
    g.throughput(Throughput::Bytes(bytes.len() as u64));
    g.bench_function("decode/vltava", |b| {
        b.iter(|| M::decode(black_box(&bytes), version).expect("decode"))
    });
    g.bench_function("decode/kafka-protocol", |b| {
        b.iter(|| T::decode(&mut black_box(&bytes).clone(), version).expect("decode"))
    });
    g.bench_function("encode/vltava", |b| {
        b.iter(|| black_box(&ours).encode_to_bytes(version).expect("encode"))
    });
    g.bench_function("encode/kafka-protocol", |b| {
        b.iter(|| {
            let t = black_box(&theirs);
            let mut out = BytesMut::with_capacity(t.compute_size(version).expect("size"));
            t.encode(&mut out, version).expect("encode");
            out
        })
    });
    g.finish();
}

fn benches(c: &mut Criterion) {
    use kafka_protocol::messages as kp;
    compare::<_, kp::ProduceRequest>(c, "produce_request_v9_1000_records", produce_request(), 9);
    compare::<_, kp::FetchResponse>(
        c,
        "fetch_response_v12_1000_partitions",
        fetch_response(),
        12,
    );
    compare::<_, kp::MetadataResponse>(
        c,
        "metadata_response_v12_1000_partitions",
        metadata_response(),
        12,
    );
}

criterion_group!(codec, benches);
criterion_main!(codec);
