//! Transaction coordinator flows through the sans-IO core: InitProducerId
//! (new id, epoch bumps, fencing, KIP-360 resume, id rotation), adding
//! partitions and offsets, commit and abort through markers, concurrent
//! requests, failures, and the error codes of each.

use vltava_coordinator::{OFFSETS_TOPIC, TxnConfig, TxnState, partition_for, txn_partition_for};
use vltava_protocol::ResponseBody;
use vltava_protocol::messages::add_partitions_to_txn_request::AddPartitionsToTxnTopic;

use crate::txn_harness::TxnHarness;

const T: i32 = 60_000;

fn harness() -> TxnHarness {
    TxnHarness::new(TxnConfig::default())
}

#[test]
fn init_new_id_gets_a_fresh_producer_id_at_epoch_0() {
    let mut h = harness();
    let (code, pid, epoch) = h.init("app-1", T);
    assert_eq!((code, pid, epoch), (0, 1000, 0));
    assert_eq!(h.state("app-1"), Some(TxnState::Empty));
    assert_eq!(h.written_states("app-1"), vec![Some(TxnState::Empty)]);
    // Written to the id's partition, key version 0.
    let (p, k, _) = &h.log[0];
    assert_eq!(*p, txn_partition_for("app-1", 50));
    assert_eq!(&k[..2], &[0, 0]);
}

#[test]
fn reinit_bumps_the_epoch_and_fences_the_older_one() {
    let mut h = harness();
    let (_, pid, e0) = h.init("app", T);
    let (code, pid2, e1) = h.init("app", T);
    assert_eq!((code, pid2, e1), (0, pid, e0 + 1));
    // The older producer is fenced: PRODUCER_FENCED, or
    // INVALID_PRODUCER_EPOCH before AddPartitionsToTxn v2.
    assert_eq!(h.add("app", pid, e0, &[("t", 0)]), 90);
    let id = h.add_v(1, "app", pid, e0, &[("t", 0)]);
    assert_eq!(h.add_resp(id), 47);
    assert_eq!(h.end("app", pid, e0, true), 90);
    assert_eq!(h.add("app", pid, e1, &[("t", 0)]), 0);
}

#[test]
fn commit_writes_markers_then_complete_commit() {
    let mut h = harness();
    let (_, pid, epoch) = h.init("app", T);
    assert_eq!(h.add("app", pid, epoch, &[("a", 0), ("a", 1)]), 0);
    assert_eq!(h.add("app", pid, epoch, &[("b", 3)]), 0);
    // Adding partitions already in the transaction writes nothing.
    let before = h.log.len();
    assert_eq!(h.add("app", pid, epoch, &[("a", 1)]), 0);
    assert_eq!(h.log.len(), before);
    assert_eq!(h.state("app"), Some(TxnState::Ongoing));
    assert_eq!(h.end("app", pid, epoch, true), 0);
    let mut written: Vec<_> = h
        .markers
        .iter()
        .map(|(_, _, c, tp)| (*c, tp.clone()))
        .collect();
    written.sort();
    assert_eq!(
        written,
        vec![
            (true, ("a".to_owned(), 0)),
            (true, ("a".to_owned(), 1)),
            (true, ("b".to_owned(), 3))
        ]
    );
    assert!(
        h.markers
            .iter()
            .all(|(p, e, _, _)| (*p, *e) == (pid, epoch))
    );
    assert_eq!(h.state("app"), Some(TxnState::CompleteCommit));
    assert_eq!(
        h.written_states("app"),
        vec![
            Some(TxnState::Empty),
            Some(TxnState::Ongoing),
            Some(TxnState::Ongoing),
            Some(TxnState::PrepareCommit),
            Some(TxnState::CompleteCommit)
        ]
    );
    assert!(h.snapshot("app").partitions.is_empty());
    // A retried EndTxn(commit) is answered NONE, an abort INVALID_TXN_STATE.
    assert_eq!(h.end("app", pid, epoch, true), 0);
    assert_eq!(h.end("app", pid, epoch, false), 48);
    // The next transaction starts from CompleteCommit.
    assert_eq!(h.add("app", pid, epoch, &[("c", 0)]), 0);
    assert_eq!(h.end("app", pid, epoch, false), 0);
    assert_eq!(h.state("app"), Some(TxnState::CompleteAbort));
    assert_eq!(h.markers.last().map(|m| m.2), Some(false));
}

#[test]
fn abort_writes_abort_markers() {
    let mut h = harness();
    let (_, pid, epoch) = h.init("app", T);
    assert_eq!(h.add("app", pid, epoch, &[("a", 0)]), 0);
    assert_eq!(h.end("app", pid, epoch, false), 0);
    assert_eq!(h.markers, vec![(pid, epoch, false, ("a".to_owned(), 0))]);
    assert_eq!(h.state("app"), Some(TxnState::CompleteAbort));
    assert_eq!(h.end("app", pid, epoch, false), 0);
    assert_eq!(h.end("app", pid, epoch, true), 48);
}

#[test]
fn end_txn_without_a_transaction_is_invalid_txn_state() {
    let mut h = harness();
    let (_, pid, epoch) = h.init("app", T);
    assert_eq!(h.end("app", pid, epoch, true), 48);
    assert_eq!(h.end("app", pid, epoch, false), 48);
    assert_eq!(h.end("app", pid + 1, epoch, true), 49);
    assert_eq!(h.end("nope", pid, epoch, true), 49);
    assert_eq!(h.end("", pid, epoch, true), 42);
}

#[test]
fn requests_during_markers_get_concurrent_transactions() {
    let mut h = harness();
    let (_, pid, epoch) = h.init("app", T);
    assert_eq!(h.add("app", pid, epoch, &[("a", 0)]), 0);
    h.hold_markers = true;
    assert_eq!(h.end("app", pid, epoch, true), 0);
    assert_eq!(h.state("app"), Some(TxnState::PrepareCommit));
    assert_eq!(h.end("app", pid, epoch, true), 51);
    assert_eq!(h.end("app", pid, epoch, false), 48);
    assert_eq!(h.add("app", pid, epoch, &[("a", 1)]), 51);
    assert_eq!(h.add_offsets("app", pid, epoch, "g"), 51);
    assert_eq!(h.init("app", T).0, 51);
    h.hold_markers = false;
    h.release_markers();
    assert_eq!(h.state("app"), Some(TxnState::CompleteCommit));
    assert_eq!(h.init("app", T), (0, pid, epoch + 1));
}

#[test]
fn requests_during_an_append_get_concurrent_transactions() {
    let mut h = harness();
    let (_, pid, epoch) = h.init("app", T);
    assert_eq!(h.add("app", pid, epoch, &[("a", 0)]), 0);
    h.hold_appends = true;
    let end1 = h.end_v(3, "app", pid, epoch, true);
    assert!(
        h.response(end1).is_none(),
        "answered once PrepareCommit is written"
    );
    assert_eq!(h.end("app", pid, epoch, true), 51);
    assert_eq!(h.add("app", pid, epoch, &[("a", 0)]), 51);
    assert_eq!(h.init("app", T).0, 51);
    h.release_appends(true);
    assert_eq!(h.end_resp(end1), 0);
    assert_eq!(h.state("app"), Some(TxnState::CompleteCommit));
}

#[test]
fn reinit_aborts_an_open_transaction_first() {
    let mut h = harness();
    let (_, pid, e0) = h.init("app", T);
    assert_eq!(h.add("app", pid, e0, &[("a", 0), ("b", 1)]), 0);
    // A new producer instance with the same id: the open transaction is
    // aborted under a bumped epoch, and the client is told to retry.
    let (code, _, _) = h.init("app", T);
    assert_eq!(code, 51);
    assert_eq!(h.state("app"), Some(TxnState::CompleteAbort));
    assert_eq!(h.markers.len(), 2);
    assert!(
        h.markers
            .iter()
            .all(|(p, e, c, _)| (*p, *e, *c) == (pid, e0 + 1, false))
    );
    // The zombie is fenced.
    assert_eq!(h.end("app", pid, e0, true), 90);
    let (code, pid2, e2) = h.init("app", T);
    assert_eq!((code, pid2, e2), (0, pid, e0 + 2));
    assert_eq!(
        h.written_states("app"),
        vec![
            Some(TxnState::Empty),
            Some(TxnState::Ongoing),
            Some(TxnState::PrepareAbort),
            Some(TxnState::CompleteAbort),
            Some(TxnState::Empty)
        ]
    );
}

#[test]
fn init_validation_errors() {
    let mut h = harness();
    assert_eq!(h.init("app", 0).0, 50);
    assert_eq!(h.init("app", 900_001).0, 50);
    assert_eq!(h.init("app", 900_000).0, 0);
    assert_eq!(h.init("", T).0, 42);
    // InitProducerId v4 rejects an epoch it did not give.
    let (_, pid, epoch) = h.init("x", T);
    let id = h.init_v(4, "x", T, pid, epoch + 5);
    assert_eq!(h.init_resp(id).0, 90);
    // ... which older versions see as INVALID_PRODUCER_EPOCH (v3 < 4).
    let id = h.init_v(3, "x", T, pid + 77, epoch);
    assert_eq!(h.init_resp(id).0, 47);
    // A producer id without an epoch, or the reverse, is INVALID_REQUEST (as Kafka).
    let id = h.init_v(4, "x", T, pid, -1);
    assert_eq!(h.init_resp(id).0, 42);
    let id = h.init_v(4, "x", T, -1, epoch);
    assert_eq!(h.init_resp(id).0, 42);
}

#[test]
fn idempotent_producer_gets_an_id_at_epoch_0() {
    let mut h = harness();
    let id = h.send(
        4,
        vltava_protocol::messages::InitProducerIdRequest {
            transactional_id: None,
            transaction_timeout_ms: -1,
            producer_id: -1,
            producer_epoch: -1,
            ..Default::default()
        },
    );
    assert_eq!(h.init_resp(id), (0, 1000, 0));
    assert!(h.log.is_empty());
}

#[test]
fn producer_id_allocation_failure_is_retriable() {
    let mut h = harness();
    for code in [7, 41, -1] {
        h.fail_pid = Some(code);
        assert_eq!(h.init("app", T).0, 14);
    }
    h.fail_pid = None;
    assert_eq!(h.init("app", T), (0, 1000, 0));
}

#[test]
fn kip360_resume_bumps_and_retries_get_the_same_epoch() {
    let mut h = harness();
    let (_, pid, e0) = h.init("app", T);
    // Resume with the current id and epoch: bumped.
    let id = h.init_v(4, "app", T, pid, e0);
    assert_eq!(h.init_resp(id), (0, pid, e0 + 1));
    // Retry of that same call (answer lost): the same epoch again.
    let id = h.init_v(4, "app", T, pid, e0);
    assert_eq!(h.init_resp(id), (0, pid, e0 + 1));
    // Any other epoch is fenced.
    let id = h.init_v(4, "app", T, pid, e0 + 7);
    assert_eq!(h.init_resp(id).0, 90);
    // A producer id that is not the id's.
    let id = h.init_v(4, "app", T, pid + 1, 0);
    assert_eq!(h.init_resp(id).0, 90);
}

#[test]
fn exhausted_epoch_rotates_the_producer_id() {
    let mut h = harness();
    let (_, pid, _) = h.init("app", T);
    // Drive the epoch to the last usable value.
    let mut epoch = 0;
    while epoch < i16::MAX - 1 {
        let (code, p, e) = h.init("app", T);
        assert_eq!((code, p), (0, pid));
        epoch = e;
    }
    let (code, pid2, e2) = h.init("app", T);
    assert_eq!(code, 0);
    assert_ne!(pid2, pid);
    assert_eq!(e2, 0);
    assert_eq!(h.snapshot("app").last_producer_id, pid);
    // Reload keeps the previous id (value version 1).
    let mut r = h.reloaded(TxnConfig::default());
    r.finish_load();
    assert_eq!(r.snapshot("app").last_producer_id, pid);
    assert_eq!(r.snapshot("app").producer_id, pid2);
}

#[test]
fn add_offsets_adds_the_groups_offsets_partition() {
    let mut h = harness();
    let (_, pid, epoch) = h.init("app", T);
    assert_eq!(h.add_offsets("app", pid, epoch, "my-group"), 0);
    let p = partition_for("my-group", 50);
    assert!(
        h.snapshot("app")
            .partitions
            .contains(&(OFFSETS_TOPIC.to_owned(), p))
    );
    assert_eq!(h.add_offsets("app", pid, epoch + 1, "my-group"), 90);
    assert_eq!(h.add_offsets("nope", pid, epoch, "my-group"), 49);
    assert_eq!(h.end("app", pid, epoch, true), 0);
    assert_eq!(
        h.markers,
        vec![(pid, epoch, true, (OFFSETS_TOPIC.to_owned(), p))]
    );
}

#[test]
fn add_partitions_errors() {
    let mut h = harness();
    assert_eq!(h.add("nope", 1, 0, &[("a", 0)]), 49);
    let (_, pid, epoch) = h.init("app", T);
    assert_eq!(h.add("app", pid + 1, epoch, &[("a", 0)]), 49);
    assert_eq!(h.add("", pid, epoch, &[("a", 0)]), 42);
}

#[test]
fn loading_answers_load_in_progress() {
    let mut h = harness();
    h.c.begin_load();
    assert_eq!(h.init("app", T).0, 14);
    assert_eq!(h.add("app", 1, 0, &[("a", 0)]), 14);
    assert_eq!(h.end("app", 1, 0, true), 14);
    h.finish_load();
    assert_eq!(h.init("app", T).0, 0);
}

#[test]
fn failed_appends_answer_coordinator_errors_and_change_nothing() {
    let mut h = harness();
    let (_, pid, epoch) = h.init("app", T);
    h.fail_appends = Some(19); // NOT_ENOUGH_REPLICAS -> COORDINATOR_NOT_AVAILABLE
    assert_eq!(h.add("app", pid, epoch, &[("a", 0)]), 15);
    assert_eq!(h.state("app"), Some(TxnState::Empty));
    h.fail_appends = Some(6); // NOT_LEADER_OR_FOLLOWER -> NOT_COORDINATOR
    assert_eq!(h.init("app", T).0, 16);
    assert_eq!(h.snapshot("app").producer_epoch, epoch);
    h.fail_appends = None;
    assert_eq!(h.add("app", pid, epoch, &[("a", 0)]), 0);
    // A failed fence bumps the epoch once only: the retry reuses it.
    h.fail_appends = Some(7);
    assert_eq!(h.init("app", T).0, 15);
    assert_eq!(h.snapshot("app").producer_epoch, epoch + 1);
    assert_eq!(h.state("app"), Some(TxnState::Ongoing));
    // The old producer is fenced already.
    assert_eq!(h.add("app", pid, epoch, &[("a", 0)]), 90);
    h.fail_appends = None;
    assert_eq!(h.init("app", T).0, 51);
    assert!(h.markers.iter().all(|m| m.1 == epoch + 1));
    assert_eq!(h.state("app"), Some(TxnState::CompleteAbort));
    assert_eq!(h.init("app", T), (0, pid, epoch + 2));
}

#[test]
fn failed_markers_are_written_again_after_the_backoff() {
    let mut h = harness();
    let (_, pid, epoch) = h.init("app", T);
    assert_eq!(
        h.add("app", pid, epoch, &[("a", 0), ("b", 0), ("gone", 0)]),
        0
    );
    h.marker_codes.insert(("b".into(), 0), 6); // NOT_LEADER: retried
    h.marker_codes.insert(("gone".into(), 0), 3); // deleted topic: done
    assert_eq!(h.end("app", pid, epoch, true), 0);
    assert_eq!(h.state("app"), Some(TxnState::PrepareCommit));
    let left: Vec<_> = h.snapshot("app").partitions.into_iter().collect();
    assert_eq!(left, vec![("b".to_owned(), 0)]);
    // Describe lists only the partitions still waiting for markers.
    h.advance(50);
    assert_eq!(h.state("app"), Some(TxnState::PrepareCommit));
    h.marker_codes.clear();
    h.advance(60);
    assert_eq!(h.state("app"), Some(TxnState::CompleteCommit));
    let b: Vec<_> = h.markers.iter().filter(|m| m.3.0 == "b").collect();
    assert_eq!(b.len(), 1);
}

#[test]
fn failed_completion_record_is_retried() {
    let mut h = harness();
    let (_, pid, epoch) = h.init("app", T);
    assert_eq!(h.add("app", pid, epoch, &[("a", 0)]), 0);
    h.hold_markers = true;
    assert_eq!(h.end("app", pid, epoch, false), 0);
    h.fail_appends = Some(15);
    h.hold_markers = false;
    h.release_markers();
    assert_eq!(h.state("app"), Some(TxnState::PrepareAbort));
    h.fail_appends = None;
    h.advance(200);
    assert_eq!(h.state("app"), Some(TxnState::CompleteAbort));
}

#[test]
fn describe_and_list_transactions() {
    use vltava_protocol::messages::{DescribeTransactionsRequest, ListTransactionsRequest};
    let mut h = harness();
    let (_, p1, e1) = h.init("a", T);
    let (_, p2, _) = h.init("b", T);
    assert_eq!(h.add("a", p1, e1, &[("t", 1), ("t", 0), ("u", 2)]), 0);
    let id = h.send(
        0,
        DescribeTransactionsRequest {
            transactional_ids: vec!["a".into(), "b".into(), "zz".into(), "".into()],
            ..Default::default()
        },
    );
    let Some(ResponseBody::DescribeTransactions(r)) = h.response(id) else {
        panic!("no describe response")
    };
    let a = &r.transaction_states[0];
    assert_eq!((a.error_code, a.transaction_state.as_str()), (0, "Ongoing"));
    assert_eq!(
        (a.producer_id, a.producer_epoch, a.transaction_timeout_ms),
        (p1, e1, T)
    );
    assert_eq!(a.transaction_start_time_ms, h.now);
    assert_eq!(a.topics.len(), 2);
    assert_eq!(a.topics[0].partitions, vec![0, 1]);
    assert_eq!(r.transaction_states[1].transaction_state.as_str(), "Empty");
    assert_eq!(r.transaction_states[1].transaction_start_time_ms, -1);
    assert_eq!(r.transaction_states[2].error_code, 105);
    // An empty id is INVALID_REQUEST, as Kafka answers it.
    assert_eq!(r.transaction_states[3].error_code, 42);

    let list = |h: &mut TxnHarness, v: i16, states: &[&str], pids: &[i64], dur: i64| {
        let id = h.send(
            v,
            ListTransactionsRequest {
                state_filters: states.iter().map(|s| (*s).into()).collect(),
                producer_id_filters: pids.to_vec(),
                duration_filter: if v >= 1 { dur } else { -1 },
                ..Default::default()
            },
        );
        match h.response(id) {
            Some(ResponseBody::ListTransactions(r)) => r.clone(),
            other => panic!("{other:?}"),
        }
    };
    let all = list(&mut h, 0, &[], &[], -1);
    assert_eq!(all.transaction_states.len(), 2);
    let ongoing = list(&mut h, 0, &["Ongoing", "Bogus"], &[], -1);
    assert_eq!(ongoing.transaction_states.len(), 1);
    assert_eq!(ongoing.transaction_states[0].transactional_id.as_str(), "a");
    assert_eq!(ongoing.unknown_state_filters.len(), 1);
    let by_pid = list(&mut h, 0, &[], &[p2], -1);
    assert_eq!(by_pid.transaction_states[0].transactional_id.as_str(), "b");
    let only_unknown = list(&mut h, 0, &["Bogus"], &[], -1);
    assert!(only_unknown.transaction_states.is_empty());
    h.now += 5_000;
    let long = list(&mut h, 1, &["Ongoing"], &[], 1_000);
    assert_eq!(long.transaction_states.len(), 1);
    let longer = list(&mut h, 1, &["Ongoing"], &[], 10_000);
    assert!(longer.transaction_states.is_empty());
}

#[test]
fn unsupported_versions_and_foreign_apis() {
    let mut h = harness();
    let id = h.init_v(4, "app", T, -1, -1);
    assert_eq!(h.init_resp(id).0, 0);
    let effects = h.c.handle(
        999,
        h.now,
        99,
        vltava_protocol::messages::EndTxnRequest::default().into(),
    );
    let Some(vltava_coordinator::TxnEffect::Respond {
        body: ResponseBody::EndTxn(r),
        ..
    }) = effects.first()
    else {
        panic!("{effects:?}")
    };
    assert_eq!(r.error_code, 35);
}

#[test]
fn every_version_of_every_api_answers_and_encodes() {
    use vltava_protocol::messages::add_partitions_to_txn_request::AddPartitionsToTxnTransaction;
    use vltava_protocol::messages::{
        AddOffsetsToTxnRequest, AddPartitionsToTxnRequest, DescribeTransactionsRequest,
        ListTransactionsRequest,
    };
    let mut h = harness();
    // The harness checks that every response encodes at its version.
    for v in 0..=5i16 {
        let tid = format!("v{v}");
        let id = h.init_v(v, &tid, T, -1, -1);
        let (code, pid, epoch) = h.init_resp(id);
        assert_eq!(code, 0, "InitProducerId v{v}");
        for av in 0..=3i16 {
            let id = h.add_v(av, &tid, pid, epoch, &[("t", i32::from(av))]);
            assert_eq!(h.add_resp(id), 0, "AddPartitionsToTxn v{av}");
        }
        for ov in 0..=4i16 {
            h.send(
                ov,
                AddOffsetsToTxnRequest {
                    transactional_id: tid.as_str().into(),
                    producer_id: pid,
                    producer_epoch: epoch,
                    group_id: "g".into(),
                    ..Default::default()
                },
            );
        }
        let ev = v.min(5);
        let id = h.end_v(ev, &tid, pid, epoch, v % 2 == 0);
        assert_eq!(h.end_resp(id), 0, "EndTxn v{ev}");
        if ev >= 5 {
            let Some(ResponseBody::EndTxn(r)) = h.response(id) else {
                panic!()
            };
            assert_eq!((r.producer_id, r.producer_epoch), (pid, epoch));
        }
    }
    // AddPartitionsToTxn v4/v5: verify-only entries, per transaction.
    let (_, pid, epoch) = h.init("verify", T);
    assert_eq!(h.add("verify", pid, epoch, &[("t", 0)]), 0);
    for v in 4..=5i16 {
        let id = h.send(
            v,
            AddPartitionsToTxnRequest {
                transactions: vec![
                    AddPartitionsToTxnTransaction {
                        transactional_id: "verify".into(),
                        producer_id: pid,
                        producer_epoch: epoch,
                        verify_only: true,
                        topics: vec![AddPartitionsToTxnTopic {
                            name: "t".into(),
                            partitions: vec![0, 1],
                            ..Default::default()
                        }],
                        ..Default::default()
                    },
                    AddPartitionsToTxnTransaction {
                        transactional_id: "verify".into(),
                        producer_id: pid,
                        producer_epoch: epoch,
                        verify_only: false,
                        topics: vec![AddPartitionsToTxnTopic {
                            name: "t".into(),
                            partitions: vec![2],
                            ..Default::default()
                        }],
                        ..Default::default()
                    },
                    AddPartitionsToTxnTransaction {
                        transactional_id: "nope".into(),
                        producer_id: pid,
                        producer_epoch: epoch,
                        verify_only: true,
                        topics: vec![AddPartitionsToTxnTopic {
                            name: "t".into(),
                            partitions: vec![0],
                            ..Default::default()
                        }],
                        ..Default::default()
                    },
                ],
                ..Default::default()
            },
        );
        let Some(ResponseBody::AddPartitionsToTxn(r)) = h.response(id) else {
            panic!("no v{v} response")
        };
        let codes: Vec<Vec<i16>> = r
            .results_by_transaction
            .iter()
            .map(|t| {
                t.topic_results[0]
                    .results_by_partition
                    .iter()
                    .map(|p| p.partition_error_code)
                    .collect()
            })
            .collect();
        assert_eq!(codes, vec![vec![0, 48], vec![42], vec![49]], "v{v}");
    }
    // Describe/List at their versions.
    h.send(0, DescribeTransactionsRequest::default());
    h.send(0, ListTransactionsRequest::default());
    h.send(1, ListTransactionsRequest::default());
}
