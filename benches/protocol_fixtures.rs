//! Messages the protocol benchmarks and the `codec_cost` example decode and
//! encode: a Produce request of 1,000 records, and Fetch and Metadata responses
//! of 1,000 partitions (10 topics × 100).

use bytes::Bytes;
use vltava_protocol::messages::fetch_response::{FetchableTopicResponse, PartitionData};
use vltava_protocol::messages::metadata_response::{
    MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
};
use vltava_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use vltava_protocol::messages::{FetchResponse, MetadataResponse, ProduceRequest};
use vltava_protocol::{SharedStr, Uuid};
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

pub fn produce_request() -> ProduceRequest {
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

pub fn fetch_response() -> FetchResponse {
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

pub fn metadata_response() -> MetadataResponse {
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
