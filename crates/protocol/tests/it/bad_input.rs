//! Decoding hostile input: random bytes, truncated and bit-flipped valid
//! frames, and forged lengths never panic, and never allocate beyond what the
//! input could hold (forged counts are rejected before allocating).

use bytes::{Bytes, BytesMut};
use proptest::prelude::*;
use vltava_protocol::frame::{decode_request, decode_response, encode_request, encode_response};
use vltava_protocol::messages::RequestHeader;
use vltava_protocol::testing::Gen;
use vltava_protocol::{ApiKey, DecodeError, EncodeError, Message, RequestBody, ResponseBody};

/// A valid request frame (without size prefix) for a seed.
fn valid_request(seed: u64) -> (Bytes, ApiKey, i16) {
    let mut g = Gen::new(seed);
    let key = ApiKey::ALL[g.below(ApiKey::ALL.len() as u64) as usize];
    let span = (key.max_version() - key.min_version()) as u64 + 1;
    let version = key.min_version() + g.below(span) as i16;
    let body = RequestBody::random(key, &mut g, version);
    let header = RequestHeader {
        request_api_key: key.as_i16(),
        request_api_version: version,
        correlation_id: 1,
        client_id: Some("fuzz".into()),
        ..Default::default()
    };
    let framed = encode_request(&header, &body).expect("valid request encodes");
    (framed.slice(4..), key, version)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..512)) {
        let frame = Bytes::from(data);
        let _ = decode_request(&frame);
        for key in [ApiKey::Produce, ApiKey::Fetch, ApiKey::Metadata, ApiKey::ApiVersions] {
            let _ = decode_response(&frame, key, key.max_version());
        }
    }

    #[test]
    fn random_body_after_a_valid_prefix_never_panics(
        key in 0usize..88, version in 0i16..20, body in proptest::collection::vec(any::<u8>(), 0..256)
    ) {
        let key = ApiKey::ALL[key % ApiKey::ALL.len()];
        let mut frame = BytesMut::new();
        frame.extend_from_slice(&key.as_i16().to_be_bytes());
        frame.extend_from_slice(&version.to_be_bytes());
        frame.extend_from_slice(&7i32.to_be_bytes());
        frame.extend_from_slice(&[0, 1, b'c', 0]);
        frame.extend_from_slice(&body);
        let _ = decode_request(&frame.freeze());
    }

    #[test]
    fn truncated_valid_frames_are_errors(seed in any::<u64>(), cut in any::<prop::sample::Index>()) {
        let (frame, _, _) = valid_request(seed);
        let at = cut.index(frame.len());
        prop_assert!(decode_request(&frame.slice(..at)).is_err(), "a strict prefix decoded");
    }

    #[test]
    fn flipped_bytes_never_panic(seed in any::<u64>(), at in any::<prop::sample::Index>(), bit in 0u8..8) {
        let (frame, _, _) = valid_request(seed);
        let mut v = frame.to_vec();
        let i = at.index(v.len());
        v[i] ^= 1 << bit;
        let _ = decode_request(&Bytes::from(v));
    }
}

#[test]
fn forged_huge_array_in_tiny_frame_is_an_error() {
    // Metadata v1: topics array claiming 2^31-1 entries in a 20-byte frame.
    let mut f = vec![0, 3, 0, 1, 0, 0, 0, 1, 0, 1, b'c'];
    f.extend_from_slice(&[0x7f, 0xff, 0xff, 0xff, 0, 1, b't']);
    let err = decode_request(&Bytes::from(f)).expect_err("must not decode");
    assert!(matches!(err, DecodeError::ArrayTooLong { .. }), "{err:?}");
}

#[test]
fn forged_compact_lengths_are_errors() {
    // Metadata v12 (flexible): compact topics array claiming u32::MAX-1 entries.
    let mut f = vec![0, 3, 0, 12, 0, 0, 0, 1, 0, 1, b'c', 0];
    f.extend_from_slice(&[0xff, 0xff, 0xff, 0xff, 0x0f]);
    assert!(decode_request(&Bytes::from(f)).is_err());
}

#[test]
fn a_field_the_version_lacks_is_an_encode_error_unless_ignorable() {
    use vltava_protocol::messages::{FetchResponse, MetadataRequest, ProduceRequest};
    // AllowAutoTopicCreation is not ignorable and appears in v4.
    let m = MetadataRequest {
        allow_auto_topic_creation: false,
        ..Default::default()
    };
    assert!(matches!(
        m.encode_to_bytes(3),
        Err(EncodeError::FieldNotInVersion { .. })
    ));
    assert!(m.encode_to_bytes(4).is_ok());
    // At its default the field is simply omitted.
    assert!(MetadataRequest::default().encode_to_bytes(3).is_ok());
    // TransactionalId (v3+) is set: v2 cannot carry it.
    let p = ProduceRequest {
        transactional_id: Some("tx".into()),
        ..Default::default()
    };
    assert!(matches!(
        p.encode_to_bytes(2),
        Err(EncodeError::FieldNotInVersion { .. })
    ));
    // ThrottleTimeMs is ignorable: v0 silently drops it.
    let f = FetchResponse {
        throttle_time_ms: 100,
        ..Default::default()
    };
    let b = f.encode_to_bytes(0).expect("ignorable field dropped");
    assert_eq!(
        FetchResponse::decode(&b, 0)
            .expect("decodes")
            .throttle_time_ms,
        0
    );
}

#[test]
fn null_where_the_version_forbids_it_is_an_encode_error() {
    use vltava_protocol::messages::MetadataRequest;
    // Topics is nullable from v1 only.
    let m = MetadataRequest {
        topics: None,
        ..Default::default()
    };
    assert!(matches!(
        m.encode_to_bytes(0),
        Err(EncodeError::NullNotAllowed { .. })
    ));
    assert!(m.encode_to_bytes(1).is_ok());
}

#[test]
fn responses_use_the_header_version_kafka_uses() {
    use vltava_protocol::messages::{ApiVersionsResponse, MetadataResponse};
    // ApiVersions v3 is flexible but its response header stays v0: no tag byte.
    let r = encode_response(5, 3, &ResponseBody::from(ApiVersionsResponse::default()))
        .expect("encodes");
    let body_len = ApiVersionsResponse::default()
        .encode_to_bytes(3)
        .expect("encodes")
        .len();
    assert_eq!(r.len(), 4 + 4 + body_len);
    // Metadata v9+ uses response header v1: correlation id plus an empty tag section.
    let r =
        encode_response(5, 9, &ResponseBody::from(MetadataResponse::default())).expect("encodes");
    let body_len = MetadataResponse::default()
        .encode_to_bytes(9)
        .expect("encodes")
        .len();
    assert_eq!(r.len(), 4 + 4 + 1 + body_len);
    let (h, _) = decode_response(&r.slice(4..), ApiKey::Metadata, 9).expect("decodes");
    assert_eq!(h.correlation_id, 5);
}
