//! Decodes the benchmark's Produce request or Fetch/Metadata response many times with either codec, for instruction counts
//! under `valgrind --tool=callgrind` (repeatable where wall-clock timing on a
//! shared machine is not):
//! `valgrind --tool=callgrind target/release/examples/codec_cost vltava metadata 200`
//! (set `CODEC_COST_ENCODE=1` to count encoding instead).

use bytes::BytesMut;
use kafka_protocol::protocol::{Decodable, Encodable};
use std::hint::black_box;
use vltava_protocol::Message;

#[path = "../../../benches/protocol_fixtures.rs"]
mod fixtures;

fn run<M: Message, T: Decodable + Encodable>(ours: M, version: i16, theirs: bool, n: usize) {
    let bytes = ours.encode_to_bytes(version).expect("encode");
    let their_msg = T::decode(&mut bytes.clone(), version).expect("decode");
    let mut check = BytesMut::new();
    their_msg.encode(&mut check, version).expect("encode");
    assert_eq!(check.freeze(), bytes);
    let encode = std::env::var_os("CODEC_COST_ENCODE").is_some();
    for _ in 0..n {
        match (theirs, encode) {
            (true, false) => {
                black_box(T::decode(&mut black_box(&bytes).clone(), version).expect("decode"));
            }
            (false, false) => {
                black_box(M::decode(black_box(&bytes), version).expect("decode"));
            }
            (true, true) => {
                let t = black_box(&their_msg);
                let mut out = BytesMut::with_capacity(t.compute_size(version).expect("size"));
                t.encode(&mut out, version).expect("encode");
                black_box(out);
            }
            (false, true) => {
                black_box(black_box(&ours).encode_to_bytes(version).expect("encode"));
            }
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
