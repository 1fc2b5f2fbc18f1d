//! Golden bytes of the `__consumer_offsets` records, and reading every
//! value version Kafka has written.

use bytes::Bytes;
use vltava_coordinator::records::{
    CoordinatorRecord, decode_record, group_metadata_record, offset_commit_record,
};
use vltava_protocol::coordinator::group_metadata_value::MemberMetadata;
use vltava_protocol::coordinator::{GroupMetadataValue, OffsetCommitValue};

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[test]
fn offset_commit_key_and_value_v3_golden() {
    let value = OffsetCommitValue {
        offset: 42,
        leader_epoch: 5,
        metadata: "m".into(),
        commit_timestamp: 0x0102_0304_0506,
        expire_timestamp: -1,
        unknown_tagged_fields: Vec::new(),
    };
    let (k, v) = offset_commit_record("grp", "topic", 7, Some(&value)).expect("encodes");
    // key version 1 | "grp" | "topic" | partition 7
    assert_eq!(
        hex(&k),
        "0001".to_owned() + "0003677270" + "0005746f706963" + "00000007"
    );
    // value version 3 | offset | leader epoch | "m" | commit timestamp
    assert_eq!(
        hex(&v.expect("value")),
        "0003".to_owned() + "000000000000002a" + "00000005" + "00016d" + "0000010203040506"
    );
}

#[test]
fn offset_commit_value_with_expiry_is_v1() {
    let value = OffsetCommitValue {
        offset: 1,
        leader_epoch: -1,
        metadata: "".into(),
        commit_timestamp: 2,
        expire_timestamp: 3,
        unknown_tagged_fields: Vec::new(),
    };
    let (_, v) = offset_commit_record("g", "t", 0, Some(&value)).expect("encodes");
    assert_eq!(
        hex(&v.expect("value")),
        "0001".to_owned() + "0000000000000001" + "0000" + "0000000000000002" + "0000000000000003"
    );
}

#[test]
fn tombstones_have_no_value() {
    let (k, v) = offset_commit_record("g", "t", 1, None).expect("encodes");
    assert!(v.is_none());
    assert_eq!(
        decode_record(&k, None).expect("decodes"),
        Some(CoordinatorRecord::Offset {
            group: "g".into(),
            topic: "t".into(),
            partition: 1,
            value: None
        })
    );
    let (k, v) = group_metadata_record("g", None).expect("encodes");
    assert!(v.is_none());
    assert_eq!(hex(&k), "0002000167");
}

#[test]
fn group_metadata_v3_golden() {
    let value = GroupMetadataValue {
        protocol_type: "consumer".into(),
        generation: 1,
        protocol: Some("range".into()),
        leader: Some("m1".into()),
        current_state_timestamp: 9,
        members: vec![MemberMetadata {
            member_id: "m1".into(),
            group_instance_id: None,
            client_id: "c".into(),
            client_host: "h".into(),
            rebalance_timeout: 300,
            session_timeout: 100,
            subscription: Bytes::from_static(&[0xAA]),
            assignment: Bytes::from_static(&[0xBB, 0xCC]),
            unknown_tagged_fields: Vec::new(),
        }],
        unknown_tagged_fields: Vec::new(),
    };
    let (k, v) = group_metadata_record("g", Some(&value)).expect("encodes");
    assert_eq!(hex(&k), "0002000167");
    let expected = [
        "0003",                 // value version 3
        "0008636f6e73756d6572", // "consumer"
        "00000001",             // generation
        "000572616e6765",       // "range"
        "00026d31",             // leader "m1"
        "0000000000000009",     // current state timestamp
        "00000001",             // one member
        "00026d31",             // member id
        "ffff",                 // group instance id: null
        "000163",               // client id
        "000168",               // client host
        "0000012c",             // rebalance timeout
        "00000064",             // session timeout
        "00000001aa",           // subscription
        "00000002bbcc",         // assignment
    ]
    .concat();
    let v = v.expect("value");
    assert_eq!(hex(&v), expected);
    assert_eq!(
        decode_record(&k, Some(&v)).expect("decodes"),
        Some(CoordinatorRecord::Group {
            group: "g".into(),
            value: Some(value)
        })
    );
}

#[test]
fn reads_every_offset_value_version() {
    // Key version 0 (same layout as 1).
    let key0 = Bytes::from(hex_to_bytes(
        &("0000".to_owned() + "000167" + "000174" + "00000003"),
    ));
    let versions = [
        // v0: offset, metadata, commit timestamp
        "0000".to_owned() + "0000000000000009" + "0000" + "0000000000000001",
        // v1: + expire timestamp
        "0001".to_owned() + "0000000000000009" + "0000" + "0000000000000001" + "0000000000000002",
        // v2: offset, metadata, commit timestamp
        "0002".to_owned() + "0000000000000009" + "0000" + "0000000000000001",
        // v3: offset, leader epoch, metadata, commit timestamp
        "0003".to_owned() + "0000000000000009" + "00000004" + "0000" + "0000000000000001",
        // v4 (flexible): compact metadata, tagged fields
        "0004".to_owned() + "0000000000000009" + "00000004" + "01" + "0000000000000001" + "00",
    ];
    for v in versions {
        let value = Bytes::from(hex_to_bytes(&v));
        match decode_record(&key0, Some(&value)).expect("decodes") {
            Some(CoordinatorRecord::Offset {
                group,
                topic,
                partition,
                value: Some(o),
            }) => {
                assert_eq!((group.as_str(), topic.as_str(), partition), ("g", "t", 3));
                assert_eq!(o.offset, 9);
                assert_eq!(o.commit_timestamp, 1);
            }
            other => panic!("{v}: {other:?}"),
        }
    }
}

#[test]
fn foreign_and_broken_records() {
    // Key version 3+ belongs to other coordinators' records: skipped.
    let other = Bytes::from_static(&[0, 3, 0, 1, b'g']);
    assert_eq!(decode_record(&other, None).expect("skipped"), None);
    for bad in [
        &[][..],
        &[0][..],
        &[0, 1, 0, 9, b'g'][..],
        &[0xff, 0xff][..],
    ] {
        assert!(
            decode_record(&Bytes::copy_from_slice(bad), None).is_err(),
            "{bad:?}"
        );
    }
    let (k, _) = offset_commit_record("g", "t", 0, None).expect("encodes");
    assert!(decode_record(&k, Some(&Bytes::from_static(&[0, 9, 1]))).is_err());
}

fn hex_to_bytes(s: &str) -> Vec<u8> {
    (0..s.len() / 2)
        .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).expect("hex"))
        .collect()
}
