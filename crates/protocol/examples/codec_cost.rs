//! Decodes the benchmark's Produce request or Fetch/Metadata response many times with either codec, for instruction counts
//! under `valgrind --tool=callgrind` (repeatable where wall-clock timing on a
//! shared machine is not):
//! `valgrind --tool=callgrind target/release/examples/codec_cost vltava metadata 200`

use bytes::BytesMut;
use kafka_protocol::protocol::{Decodable, Encodable};
use std::hint::black_box;
use vltava_protocol::Message;

#[path = "../../../benches/protocol_fixtures.rs"]
mod fixtures;

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
        Some("produce") => run::<_, kafka_protocol::messages::ProduceRequest>(
            fixtures::produce_request(),
            9,
            theirs,
            n,
        ),
        Some("fetch") => run::<_, kafka_protocol::messages::FetchResponse>(
            fixtures::fetch_response(),
            12,
            theirs,
            n,
        ),
        _ => run::<_, kafka_protocol::messages::MetadataResponse>(
            fixtures::metadata_response(),
            12,
            theirs,
            n,
        ),
    }
}
