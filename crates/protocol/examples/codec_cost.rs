//! Decodes the same bytes many times with either codec, for instruction counts
//! under `valgrind --tool=callgrind` (repeatable where wall-clock timing on a
//! shared machine is not):
//! `valgrind --tool=callgrind target/release/examples/codec_cost vltava metadata 200`

use bytes::BytesMut;
use kafka_protocol::protocol::{Decodable, Encodable};
use std::hint::black_box;
use vltava_protocol::Message;
use vltava_protocol::messages::fetch_response::{FetchableTopicResponse, PartitionData};
use vltava_protocol::messages::metadata_response::{
    MetadataResponsePartition, MetadataResponseTopic,
};
use vltava_protocol::messages::{FetchResponse, MetadataResponse};

fn metadata() -> MetadataResponse {
    MetadataResponse {
        topics: (0..10)
            .map(|t| MetadataResponseTopic {
                name: Some(format!("topic-{t}").into()),
                partitions: (0..100)
                    .map(|p| MetadataResponsePartition {
                        partition_index: p,
                        leader_id: 1,
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

fn fetch() -> FetchResponse {
    FetchResponse {
        responses: (0..10)
            .map(|t| FetchableTopicResponse {
                topic: format!("topic-{t}").into(),
                partitions: (0..100)
                    .map(|p| PartitionData {
                        partition_index: p,
                        records: Some(bytes::Bytes::from_static(&[0; 128])),
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    }
}

fn run<M: Message, T: Decodable + Encodable>(ours: M, version: i16, theirs: bool, n: usize) {
    let bytes = ours.encode_to_bytes(version).expect("encode");
    let mut check = BytesMut::new();
    T::decode(&mut bytes.clone(), version)
        .expect("decode")
        .encode(&mut check, version)
        .expect("encode");
    assert_eq!(check.freeze(), bytes);
    for _ in 0..n {
        if theirs {
            black_box(T::decode(&mut black_box(&bytes).clone(), version).expect("decode"));
        } else {
            black_box(M::decode(black_box(&bytes), version).expect("decode"));
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let theirs = args.get(1).map(String::as_str) == Some("kafka-protocol");
    let n = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(100);
    match args.get(2).map(String::as_str) {
        Some("fetch") => run::<_, kafka_protocol::messages::FetchResponse>(fetch(), 12, theirs, n),
        _ => run::<_, kafka_protocol::messages::MetadataResponse>(metadata(), 12, theirs, n),
    }
}
