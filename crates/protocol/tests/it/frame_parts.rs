//! Frames in parts (`frame_parts`): a Fetch response whose record fields are external,
//! put back together, equals the fully encoded frame byte for byte at every Fetch version,
//! and the parts' lengths add up to the declared size.

use bytes::{Bytes, BytesMut};
use vltava_protocol::frame::encode_response;
use vltava_protocol::frame_parts::{FramePart, encode_response_parts};
use vltava_protocol::messages::fetch_response::{
    AbortedTransaction, FetchResponse, FetchableTopicResponse, PartitionData,
};
use vltava_protocol::{ApiKey, ResponseBody, Uuid};

/// Stands in for bytes kept elsewhere (a file): values pointing into it are external.
static EXTERNAL: [u8; 4096] = {
    let mut a = [0u8; 4096];
    let mut i = 0;
    while i < a.len() {
        a[i] = (i % 251) as u8;
        i += 1;
    }
    a
};

fn in_external(v: &[u8]) -> bool {
    let base = EXTERNAL.as_ptr() as usize;
    let p = v.as_ptr() as usize;
    p >= base && p + v.len() <= base + EXTERNAL.len()
}

fn never(_: &[u8]) -> bool {
    false
}

fn partition(index: i32, records: Option<Bytes>) -> PartitionData {
    PartitionData {
        partition_index: index,
        high_watermark: 100 + i64::from(index),
        last_stable_offset: 90,
        log_start_offset: 3,
        aborted_transactions: Some(vec![AbortedTransaction {
            producer_id: 7,
            first_offset: 11,
            ..Default::default()
        }]),
        records,
        ..Default::default()
    }
}

/// A response mixing external records (several sizes, some adjacent), in-memory
/// records, empty and null ones, over two topics.
fn response(version: i16) -> FetchResponse {
    let ext = |from: usize, len: usize| Some(Bytes::from_static(&EXTERNAL[from..from + len]));
    let (t1, t2, id1, id2) = if version >= 13 {
        (
            Default::default(),
            Default::default(),
            Uuid([1; 16]),
            Uuid([2; 16]),
        )
    } else {
        (
            "alpha".into(),
            "beta".into(),
            Uuid::default(),
            Uuid::default(),
        )
    };
    FetchResponse {
        throttle_time_ms: if version >= 1 { 5 } else { 0 },
        session_id: if version >= 7 { 42 } else { 0 },
        responses: vec![
            FetchableTopicResponse {
                topic: t1,
                topic_id: id1,
                partitions: vec![
                    partition(0, ext(0, 1000)),
                    partition(1, ext(1000, 130)),
                    partition(2, Some(Bytes::from_static(b"in memory records"))),
                    partition(3, Some(Bytes::new())),
                ],
                ..Default::default()
            },
            FetchableTopicResponse {
                topic: t2,
                topic_id: id2,
                partitions: vec![
                    partition(0, ext(2000, 2000)),
                    partition(
                        1,
                        if version >= 4 {
                            None
                        } else {
                            Some(Bytes::new())
                        },
                    ),
                    partition(2, ext(5, 1)),
                ],
                ..Default::default()
            },
        ],
        ..Default::default()
    }
}

/// The parts put back together, reading external ones from `EXTERNAL`.
fn join(parts: &[FramePart]) -> Bytes {
    let base = EXTERNAL.as_ptr() as usize;
    let mut out = BytesMut::new();
    for p in parts {
        match p {
            FramePart::Bytes(b) => out.extend_from_slice(b),
            FramePart::External { addr, len } => {
                let from = addr - base;
                out.extend_from_slice(&EXTERNAL[from..from + len]);
            }
        }
    }
    out.freeze()
}

fn versions() -> impl Iterator<Item = i16> {
    let key = ApiKey::Fetch;
    key.min_version()..=key.max_version()
}

#[test]
fn a_frame_in_parts_equals_the_encoded_frame_at_every_fetch_version() {
    for version in versions() {
        let body = ResponseBody::from(response(version));
        let whole = encode_response(9, version, &body).expect("encodes");
        let framed = encode_response_parts(9, version, &body, in_external).expect("parts");
        let externals: Vec<usize> = framed
            .parts
            .iter()
            .filter_map(|p| match p {
                FramePart::External { len, .. } => Some(*len),
                FramePart::Bytes(_) => None,
            })
            .collect();
        assert_eq!(externals, [1000, 130, 2000, 1], "v{version}");
        let encoded: usize = framed
            .parts
            .iter()
            .map(|p| match p {
                FramePart::Bytes(b) => b.len(),
                FramePart::External { .. } => 0,
            })
            .sum();
        assert_eq!(
            encoded + 3131,
            whole.len(),
            "v{version}: only the records are left out"
        );
        assert_eq!(framed.len, whole.len(), "v{version}");
        assert_eq!(join(&framed.parts), whole, "v{version}");
    }
}

#[test]
fn without_external_fields_the_frame_is_one_part() {
    for version in versions() {
        let body = ResponseBody::from(response(version));
        let whole = encode_response(3, version, &body).expect("encodes");
        let framed = encode_response_parts(3, version, &body, never).expect("parts");
        assert_eq!(
            framed.parts,
            vec![FramePart::Bytes(whole.clone())],
            "v{version}"
        );
    }
}

#[test]
fn the_marking_ends_with_the_encoding() {
    let version = ApiKey::Fetch.max_version();
    let body = ResponseBody::from(response(version));
    let framed = encode_response_parts(1, version, &body, in_external).expect("parts");
    assert!(framed.parts.len() > 1);
    // A plain encoding afterwards on the same thread copies every field.
    let whole = encode_response(1, version, &body).expect("encodes");
    assert_eq!(join(&framed.parts), whole);
    let raw = whole.windows(1000).any(|w| w == &EXTERNAL[..1000]);
    assert!(raw, "the external bytes are in the plain encoding");
}
