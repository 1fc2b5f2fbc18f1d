//! `__transaction_state` records byte for byte: the key (version 0), the
//! value (version 0; version 1 when a previous producer id is kept), null
//! partitions for Empty, every state round-tripping, and what a reader
//! tolerates (version-1 tagged fields) or refuses.

use std::collections::BTreeSet;

use bytes::{BufMut, Bytes, BytesMut};
use vltava_coordinator::{TxnSnapshot, TxnState, decode_txn_record, txn_key, txn_record};

fn snapshot(state: TxnState, parts: &[(&str, i32)]) -> TxnSnapshot {
    TxnSnapshot {
        producer_id: 7,
        last_producer_id: -1,
        producer_epoch: 1,
        last_producer_epoch: -1,
        timeout_ms: 60_000,
        state,
        partitions: parts.iter().map(|(t, p)| ((*t).to_owned(), *p)).collect(),
        start_ms: 1_000,
        last_update_ms: 2_000,
    }
}

#[test]
fn key_is_version_0_then_the_string() {
    let k = txn_key("tx").expect("encodes");
    assert_eq!(&k[..], &[0, 0, 0, 2, b't', b'x']);
}

#[test]
fn ongoing_value_bytes() {
    let (_, v) = txn_record(
        "tx",
        Some(&snapshot(TxnState::Ongoing, &[("a", 1), ("a", 0)])),
    )
    .expect("encodes");
    let mut want = BytesMut::new();
    want.put_i16(0); // value version
    want.put_i64(7); // producer id
    want.put_i16(1); // epoch
    want.put_i32(60_000); // timeout
    want.put_i8(1); // Ongoing
    want.put_i32(1); // one topic
    want.put_i16(1);
    want.put_slice(b"a");
    want.put_i32(2); // two partitions, in order
    want.put_i32(0);
    want.put_i32(1);
    want.put_i64(2_000); // last update
    want.put_i64(1_000); // start
    assert_eq!(v.expect("a value"), want.freeze());
}

#[test]
fn empty_has_null_partitions() {
    let mut s = snapshot(TxnState::Empty, &[]);
    s.start_ms = -1;
    let (_, v) = txn_record("tx", Some(&s)).expect("encodes");
    let v = v.expect("value");
    // version(2) pid(8) epoch(2) timeout(4) status(1), then the array length.
    assert_eq!(&v[17..21], &[0xFF, 0xFF, 0xFF, 0xFF]);
    let (_, back) = decode_txn_record(&txn_key("tx").expect("key"), Some(&v)).expect("decodes");
    assert_eq!(back, Some(s));
}

#[test]
fn every_state_round_trips() {
    for state in TxnState::ALL {
        let parts: &[(&str, i32)] = if state == TxnState::Empty {
            &[]
        } else {
            &[("b", 3), ("a", 0)]
        };
        let s = snapshot(state, parts);
        let (k, v) = txn_record("id-1", Some(&s)).expect("encodes");
        let (id, back) = decode_txn_record(&k, v.as_ref()).expect("decodes");
        assert_eq!(id, "id-1");
        assert_eq!(back, Some(s), "{state:?}");
    }
}

#[test]
fn previous_producer_id_uses_value_version_1() {
    let mut s = snapshot(TxnState::Empty, &[]);
    s.last_producer_id = 3;
    let (k, v) = txn_record("tx", Some(&s)).expect("encodes");
    let v = v.expect("value");
    assert_eq!(&v[..2], &[0, 1]);
    let (_, back) = decode_txn_record(&k, Some(&v)).expect("decodes");
    assert_eq!(back.expect("state").last_producer_id, 3);
}

#[test]
fn tombstone_round_trips() {
    let (k, v) = txn_record("gone", None).expect("encodes");
    assert!(v.is_none());
    assert_eq!(
        decode_txn_record(&k, None).expect("decodes"),
        ("gone".to_owned(), None)
    );
}

#[test]
fn version_1_values_with_tagged_fields_are_read() {
    // Version 1 (flexible): compact strings/arrays and tagged fields, as
    // Kafka writes for transaction version 2 clients.
    let mut v = BytesMut::new();
    v.put_i16(1);
    v.put_i64(9);
    v.put_i16(4);
    v.put_i32(1_000);
    v.put_i8(4); // CompleteCommit
    v.put_u8(1); // compact array: 0 entries
    v.put_i64(5);
    v.put_i64(6);
    v.put_u8(2); // two tagged fields
    v.put_u8(2); // tag 2: ClientTransactionVersion
    v.put_u8(2);
    v.put_i16(2);
    v.put_u8(9); // tag 9: unknown
    v.put_u8(1);
    v.put_u8(0xAB);
    let (_, s) = decode_txn_record(&txn_key("x").expect("key"), Some(&v.freeze())).expect("reads");
    let s = s.expect("state");
    assert_eq!(
        (s.producer_id, s.producer_epoch, s.state, s.partitions),
        (9, 4, TxnState::CompleteCommit, BTreeSet::new())
    );
}

#[test]
fn bad_records_are_errors() {
    let key = txn_key("x").expect("key");
    let bad: Vec<(Bytes, Option<Bytes>)> = vec![
        (Bytes::from_static(b"\x00"), None),
        (Bytes::from_static(b"\x00\x01\x00\x01x"), None), // key version 1
        (key.clone(), Some(Bytes::from_static(b"\x00\x05"))), // value version 5
        (key.clone(), Some(Bytes::from_static(b"\x00\x00\x01"))), // truncated
    ];
    for (k, v) in bad {
        assert!(decode_txn_record(&k, v.as_ref()).is_err(), "{k:?} {v:?}");
    }
    // A status byte no state has.
    let (_, v) = txn_record("x", Some(&snapshot(TxnState::Ongoing, &[]))).expect("encodes");
    let mut v = BytesMut::from(&v.expect("value")[..]);
    v[16] = 42;
    assert!(decode_txn_record(&key, Some(&v.freeze())).is_err());
}
