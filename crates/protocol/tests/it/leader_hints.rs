//! KIP-951 leader hints on the wire: Produce v10+ carries `CurrentLeader` (partition tag 0)
//! and `NodeEndpoints` (response tag 0); Fetch carries `CurrentLeader` (partition tag 1)
//! from v12 and `NodeEndpoints` (response tag 0) from v16. Older versions drop them.

use bytes::{Bytes, BytesMut};
use vltava_protocol::codec::Source;
use vltava_protocol::messages::{fetch_response, produce_response};
use vltava_protocol::{Decode, Encode};

fn encode<T: Encode>(v: &T, version: i16) -> Bytes {
    let mut out = BytesMut::new();
    v.write(&mut out, version).expect("encodes");
    assert_eq!(out.len(), v.encoded_len(version));
    out.freeze()
}

fn decode<T: Decode>(buf: &Bytes, version: i16) -> T {
    let (rest, v) = T::read(buf, &Source::new(buf), version).expect("decodes");
    assert!(rest.is_empty(), "{} bytes left", rest.len());
    v
}

fn produce_answer() -> produce_response::ProduceResponse {
    produce_response::ProduceResponse {
        responses: vec![produce_response::TopicProduceResponse {
            name: "t".into(),
            partition_responses: vec![produce_response::PartitionProduceResponse {
                index: 0,
                error_code: 6,
                base_offset: -1,
                log_append_time_ms: -1,
                log_start_offset: -1,
                error_message: None,
                current_leader: produce_response::LeaderIdAndEpoch {
                    leader_id: 2,
                    leader_epoch: 7,
                    ..Default::default()
                },
                ..Default::default()
            }],
            ..Default::default()
        }],
        throttle_time_ms: 0,
        node_endpoints: vec![produce_response::NodeEndpoint {
            node_id: 2,
            host: "h".into(),
            port: 9092,
            rack: None,
            ..Default::default()
        }],
        ..Default::default()
    }
}

#[test]
fn produce_v10_carries_current_leader_and_node_endpoints() {
    let mut want = vec![
        0x02, // one topic
        0x02, b't', // name "t"
        0x02, // one partition
        0, 0, 0, 0, // index
        0, 6, // NOT_LEADER_OR_FOLLOWER
    ];
    want.extend([0xff; 24]); // base offset, log append time, log start offset: -1
    want.extend([
        0x01, // no record errors
        0x00, // error message null
        0x01, 0x00, 0x09, // one tagged field: tag 0 (CurrentLeader), 9 bytes
        0, 0, 0, 2, // leader id
        0, 0, 0, 7,    // leader epoch
        0x00, // its tagged fields
        0x00, // topic's tagged fields
        0, 0, 0, 0, // throttle time
        0x01, 0x00, 0x0d, // one tagged field: tag 0 (NodeEndpoints), 13 bytes
        0x02, // one endpoint
        0, 0, 0, 2, // node id
        0x02, b'h', // host
        0, 0, 0x23, 0x84, // port 9092
        0x00, // rack null
        0x00, // its tagged fields
    ]);
    let answer = produce_answer();
    for version in [10, 11] {
        let bytes = encode(&answer, version);
        assert_eq!(&bytes[..], &want[..], "v{version}");
        assert_eq!(
            decode::<produce_response::ProduceResponse>(&bytes, version),
            answer
        );
    }
}

#[test]
fn produce_before_v10_has_no_leader_hints() {
    // The encoder refuses a hint where the schema has none (the broker sets them from v10).
    let answer = produce_answer();
    for version in [3, 9] {
        let err = answer
            .write(&mut BytesMut::new(), version)
            .expect_err("no hints before v10");
        assert!(format!("{err:?}").contains("FieldNotInVersion"), "{err:?}");
    }
    let mut plain = answer.clone();
    plain.node_endpoints.clear();
    plain.responses[0].partition_responses[0].current_leader = Default::default();
    let bytes = encode(&plain, 9);
    // v10 adds tag 0 and its length before each hint (empty tag lists are one byte both ways).
    assert_eq!(bytes.len() + (2 + 9) + (2 + 13), encode(&answer, 10).len());
    assert_eq!(
        decode::<produce_response::ProduceResponse>(&bytes, 9),
        plain
    );
}

fn fetch_answer() -> fetch_response::FetchResponse {
    fetch_response::FetchResponse {
        responses: vec![fetch_response::FetchableTopicResponse {
            topic_id: vltava_protocol::Uuid([9; 16]),
            partitions: vec![fetch_response::PartitionData {
                partition_index: 1,
                error_code: 6,
                high_watermark: -1,
                last_stable_offset: -1,
                log_start_offset: -1,
                current_leader: fetch_response::LeaderIdAndEpoch {
                    leader_id: 1,
                    leader_epoch: 4,
                    ..Default::default()
                },
                records: Some(Bytes::new()),
                ..Default::default()
            }],
            ..Default::default()
        }],
        node_endpoints: vec![fetch_response::NodeEndpoint {
            node_id: 1,
            host: "127.0.0.1".into(),
            port: 30002,
            rack: Some("rack-1".into()),
            ..Default::default()
        }],
        ..Default::default()
    }
}

#[test]
fn fetch_v16_carries_current_leader_and_node_endpoints() {
    let answer = fetch_answer();
    for version in [16, 17] {
        let bytes = encode(&answer, version);
        let back: fetch_response::FetchResponse = decode(&bytes, version);
        assert_eq!(back, answer, "v{version}");
    }
    // v12-15: the partition's CurrentLeader (tag 1) is in the schema, NodeEndpoints is not.
    assert!(answer.write(&mut BytesMut::new(), 15).is_err());
    let mut v15 = answer.clone();
    v15.node_endpoints.clear();
    let back: fetch_response::FetchResponse = decode(&encode(&v15, 15), 15);
    let p = &back.responses[0].partitions[0];
    assert_eq!(
        (p.current_leader.leader_id, p.current_leader.leader_epoch),
        (1, 4)
    );
    assert!(back.node_endpoints.is_empty());
    // v11: neither.
    let mut old = v15;
    old.responses[0].topic = "t".into();
    old.responses[0].topic_id = Default::default();
    assert!(old.write(&mut BytesMut::new(), 11).is_err());
    old.responses[0].partitions[0].current_leader = Default::default();
    assert_eq!(
        decode::<fetch_response::FetchResponse>(&encode(&old, 11), 11),
        old
    );
}
