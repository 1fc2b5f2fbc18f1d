//! Coordinator elections (Kafka's `onElection` / `onResignation`): a group
//! coordinator built `unowned` answers NOT_COORDINATOR for groups of
//! partitions it was not elected for and COORDINATOR_LOAD_IN_PROGRESS while
//! an elected partition loads; after the load, groups and offsets written by
//! the previous coordinator are served; a resignation at a newer epoch unloads
//! the partition's groups and answers their waiting JoinGroups
//! NOT_COORDINATOR, while a stale resignation or election is ignored. The
//! transaction coordinator likewise, and its markers carry the partition's
//! coordinator epoch.

use bytes::Bytes;
use vltava_coordinator::{
    GroupCoordinator, TransactionCoordinator, TxnConfig, TxnEffect, TxnSnapshot, TxnState, codes,
    txn_record,
};
use vltava_protocol::messages::EndTxnRequest;
use vltava_protocol::messages::offset_commit_request::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use vltava_protocol::messages::offset_fetch_request::OffsetFetchRequestTopic;
use vltava_protocol::messages::*;
use vltava_protocol::{RequestBody, ResponseBody};

use crate::common::*;

/// The committed offset of `t`-0 for `group`, or the error of the fetch.
fn fetch_offset(h: &mut Harness, group: &str) -> Result<i64, i16> {
    let id = h.send(
        7,
        OffsetFetchRequest {
            group_id: group.into(),
            topics: Some(vec![OffsetFetchRequestTopic {
                name: "t".into(),
                partition_indexes: vec![0],
                ..Default::default()
            }]),
            ..Default::default()
        },
    );
    let Some(ResponseBody::OffsetFetch(r)) = h.response(id) else {
        panic!("no OffsetFetch response")
    };
    if r.error_code != 0 {
        return Err(r.error_code);
    }
    Ok(r.topics[0].partitions[0].committed_offset)
}

/// A group "g" with one member at generation 1 and offset 42 for `t`-0,
/// written by a coordinator that serves everything; its records.
fn previous_term() -> (Vec<(i32, Bytes, Option<Bytes>)>, String) {
    let mut h = Harness::new(test_config());
    let (join, member) = h.join_dynamic("g", &["t"]);
    assert_eq!(h.join_resp(join).error_code, 0);
    let sync = h.sync("g", 1, &member, &[(&member, b"a")]);
    assert_eq!(h.sync_resp(sync).error_code, 0);
    let commit = h.send(
        8,
        OffsetCommitRequest {
            group_id: "g".into(),
            generation_id_or_member_epoch: 1,
            member_id: member.as_str().into(),
            topics: vec![OffsetCommitRequestTopic {
                name: "t".into(),
                partitions: vec![OffsetCommitRequestPartition {
                    partition_index: 0,
                    committed_offset: 42,
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        },
    );
    assert!(h.response(commit).is_some());
    (h.log, member)
}

#[test]
fn group_partitions_load_on_election_and_unload_on_resignation() {
    let (records, member) = previous_term();
    // A new coordinator process draws another member id seed.
    let cfg = vltava_coordinator::GroupConfig {
        member_id_seed: 99,
        ..test_config()
    };
    let mut h = Harness::new(cfg.clone());
    h.c = GroupCoordinator::unowned(cfg);
    let p = h.c.partition_of("g");
    assert_eq!(fetch_offset(&mut h, "g"), Err(codes::NOT_COORDINATOR));
    assert_eq!(h.heartbeat("g", 1, &member), codes::NOT_COORDINATOR);

    let dropped = h.c.elect(p, 5).expect("a new election");
    assert!(dropped.is_empty());
    assert_eq!(h.c.partition_epoch(p), Some(5));
    assert_eq!(
        h.heartbeat("g", 1, &member),
        codes::COORDINATOR_LOAD_IN_PROGRESS
    );
    assert_eq!(
        fetch_offset(&mut h, "g"),
        Err(codes::COORDINATOR_LOAD_IN_PROGRESS)
    );
    for (part, k, v) in records.into_iter().filter(|(part, _, _)| *part == p) {
        assert_eq!(part, p);
        h.c.load(k, v).expect("a record of the previous term");
    }
    let now = h.now;
    h.c.finish_partition_load(p, 5, now);
    assert_eq!(fetch_offset(&mut h, "g"), Ok(42));
    assert_eq!(h.heartbeat("g", 1, &member), codes::NONE);
    // Another partition is still not served here.
    let other = (0..50)
        .map(|i| format!("other-{i}"))
        .find(|g| h.c.partition_of(g) != p)
        .expect("a group of another partition");
    assert_eq!(fetch_offset(&mut h, &other), Err(codes::NOT_COORDINATOR));

    // A second member starts a rebalance; its JoinGroup waits.
    let first = h.send(9, Harness::join_req("g", "", None, &["t"]));
    let new_member = h.join_resp(first).member_id.as_str().to_owned();
    let waiting = h.send(9, Harness::join_req("g", &new_member, None, &["t"]));
    assert!(h.response(waiting).is_none(), "{:?}", h.response(waiting));
    // A resignation older than the served epoch changes nothing.
    let effects = h.c.resign(p, Some(4));
    assert!(effects.is_empty());
    assert!(h.response(waiting).is_none());
    // The partition moves on at epoch 6: its groups go, the waiter is answered.
    let effects = h.c.resign(p, Some(6));
    h.apply(effects);
    assert_eq!(h.join_resp(waiting).error_code, codes::NOT_COORDINATOR);
    assert_eq!(fetch_offset(&mut h, "g"), Err(codes::NOT_COORDINATOR));
    assert!(h.c.group("g").is_none());
    // An election older than the resignation is stale.
    assert!(h.c.elect(p, 5).is_none());
    assert_eq!(fetch_offset(&mut h, "g"), Err(codes::NOT_COORDINATOR));
}

fn end_txn(c: &mut TransactionCoordinator, request_id: u64, id: &str) -> Vec<TxnEffect> {
    let req = EndTxnRequest {
        transactional_id: id.into(),
        producer_id: 7,
        producer_epoch: 0,
        committed: true,
        ..Default::default()
    };
    c.handle(request_id, 1_000, 3, RequestBody::from(req))
}

fn code_of(effects: &[TxnEffect]) -> i16 {
    match effects.first() {
        Some(TxnEffect::Respond {
            body: ResponseBody::EndTxn(r),
            ..
        }) => r.error_code,
        other => panic!("no EndTxn answer: {other:?}"),
    }
}

#[test]
fn txn_partitions_load_on_election_and_markers_carry_the_coordinator_epoch() {
    let cfg = TxnConfig::default();
    let mut c = TransactionCoordinator::unowned(cfg.clone());
    let p = c.partition_of("tx");
    assert_eq!(code_of(&end_txn(&mut c, 1, "tx")), codes::NOT_COORDINATOR);
    assert!(c.elect(p, 9));
    assert!(!c.elect(p, 9), "a repeated election loads nothing");
    assert_eq!(
        code_of(&end_txn(&mut c, 2, "tx")),
        codes::COORDINATOR_LOAD_IN_PROGRESS
    );
    // The previous coordinator wrote PrepareCommit and died before the markers.
    let prepared = TxnSnapshot {
        producer_id: 7,
        last_producer_id: -1,
        producer_epoch: 0,
        last_producer_epoch: -1,
        timeout_ms: 60_000,
        state: TxnState::PrepareCommit,
        partitions: [("t".to_string(), 0)].into_iter().collect(),
        start_ms: 500,
        last_update_ms: 600,
    };
    let (k, v) = txn_record("tx", Some(&prepared)).expect("encodes");
    c.load(k, v).expect("decodes");
    let effects = c.finish_partition_load(p, 9, 1_000);
    let markers: Vec<i32> = effects
        .iter()
        .filter_map(|e| match e {
            TxnEffect::WriteMarkers {
                coordinator_epoch,
                commit: true,
                ..
            } => Some(*coordinator_epoch),
            _ => None,
        })
        .collect();
    assert_eq!(markers, vec![9], "{effects:?}");
    assert_eq!(
        c.txn("tx").map(|m| m.state()),
        Some(TxnState::PrepareCommit)
    );
    // Losing the partition drops its ids; a stale resignation does not.
    c.resign(p, Some(8));
    assert!(c.txn("tx").is_some());
    c.resign(p, Some(10));
    assert!(c.txn("tx").is_none());
    assert_eq!(code_of(&end_txn(&mut c, 3, "tx")), codes::NOT_COORDINATOR);
}

/// The code of a simple commit of offset 1 for `t`-0 while writes fail with `code`.
fn commit_failing_with(code: i16) -> i16 {
    let mut h = Harness::new(test_config());
    h.fail_code = Some(code);
    let id = h.send(
        8,
        OffsetCommitRequest {
            group_id: "simple".into(),
            generation_id_or_member_epoch: -1,
            topics: vec![OffsetCommitRequestTopic {
                name: "t".into(),
                partitions: vec![OffsetCommitRequestPartition {
                    partition_index: 0,
                    committed_offset: 1,
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        },
    );
    match h.response(id) {
        Some(ResponseBody::OffsetCommit(r)) => r.topics[0].partitions[0].error_code,
        other => panic!("no OffsetCommit response: {other:?}"),
    }
}

#[test]
fn failed_writes_answer_kafkas_coordinator_errors() {
    // The partition moved away: clients look the coordinator up again.
    assert_eq!(commit_failing_with(6), codes::NOT_COORDINATOR);
    assert_eq!(commit_failing_with(56), codes::NOT_COORDINATOR);
    // Too few in-sync replicas or a timed-out wait: retried on this coordinator.
    for code in [19, 20, 7, 3] {
        assert_eq!(commit_failing_with(code), codes::COORDINATOR_NOT_AVAILABLE);
    }
    // The leader's SyncGroup whose assignment cannot be written.
    let mut h = Harness::new(test_config());
    let (join, member) = h.join_dynamic("g", &["t"]);
    assert_eq!(h.join_resp(join).error_code, 0);
    h.fail_code = Some(6);
    let sync = h.sync("g", 1, &member, &[(&member, b"a")]);
    assert_eq!(h.sync_resp(sync).error_code, codes::NOT_COORDINATOR);
}
