//! Codec benchmarks: decoding and encoding a Produce request (1,000 records), a
//! Fetch response (1,000 partitions) and a Metadata response (1,000 partitions),
//! each side by side with the `kafka-protocol` crate on the very same bytes.
//!
//! `cargo bench -p vltava-protocol --bench protocol`

use bytes::BytesMut;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use kafka_protocol::protocol::{Decodable, Encodable};
use std::hint::black_box;
use vltava_protocol::Message;

#[path = "protocol_fixtures.rs"]
mod fixtures;
use fixtures::{fetch_response, metadata_response, produce_request};

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
