//! The group side of transactions: TxnOffsetCommit (validation, the
//! transactional append, pending offsets), markers making them visible or
//! dropping them, OffsetFetch `require_stable`, and reload of transactional
//! records and markers.

use crate::common::*;
use vltava_coordinator::{Effect, GroupCoordinator, partition_for};
use vltava_protocol::ResponseBody;
use vltava_protocol::messages::offset_fetch_request::{
    OffsetFetchRequestGroup, OffsetFetchRequestTopic, OffsetFetchRequestTopics,
};
use vltava_protocol::messages::txn_offset_commit_request::{
    TxnOffsetCommitRequestPartition, TxnOffsetCommitRequestTopic,
};
use vltava_protocol::messages::*;

const PID: i64 = 4242;
const EPOCH: i16 = 3;

fn txn_commit(group: &str, pid: i64, parts: &[(i32, i64)]) -> TxnOffsetCommitRequest {
    TxnOffsetCommitRequest {
        transactional_id: "tx".into(),
        group_id: group.into(),
        producer_id: pid,
        producer_epoch: EPOCH,
        generation_id: -1,
        member_id: "".into(),
        group_instance_id: None,
        topics: vec![TxnOffsetCommitRequestTopic {
            name: "t".into(),
            partitions: parts
                .iter()
                .map(|(p, o)| TxnOffsetCommitRequestPartition {
                    partition_index: *p,
                    committed_offset: *o,
                    committed_leader_epoch: 5,
                    committed_metadata: Some("m".into()),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }],
        ..Default::default()
    }
}

fn codes_of(h: &Harness, id: u64) -> Vec<i16> {
    match h.response(id) {
        Some(ResponseBody::TxnOffsetCommit(r)) => r
            .topics
            .iter()
            .flat_map(|t| t.partitions.iter().map(|p| p.error_code))
            .collect(),
        other => panic!("no TxnOffsetCommit response: {other:?}"),
    }
}

/// OffsetFetch v8 for partitions of "t": (offset, error) each.
fn fetch(h: &mut Harness, group: &str, parts: &[i32], require_stable: bool) -> Vec<(i64, i16)> {
    let id = h.send(
        8,
        OffsetFetchRequest {
            groups: vec![OffsetFetchRequestGroup {
                group_id: group.into(),
                topics: Some(vec![OffsetFetchRequestTopics {
                    name: "t".into(),
                    partition_indexes: parts.to_vec(),
                    ..Default::default()
                }]),
                ..Default::default()
            }],
            require_stable,
            ..Default::default()
        },
    );
    match h.response(id) {
        Some(ResponseBody::OffsetFetch(r)) => r.groups[0].topics[0]
            .partitions
            .iter()
            .map(|p| (p.committed_offset, p.error_code))
            .collect(),
        other => panic!("{other:?}"),
    }
}

fn marker(h: &mut Harness, group: &str, pid: i64, commit: bool) {
    let p = partition_for(group, h.c.config().offsets_topic_num_partitions);
    let now = h.now;
    let effects = h.c.complete_txn_marker(p, pid, commit, now);
    h.apply(effects);
}

#[test]
fn txn_offsets_are_pending_until_the_commit_marker() {
    let mut h = Harness::new(test_config());
    let id = h.send(3, txn_commit("g", PID, &[(0, 10), (1, 20)]));
    assert_eq!(codes_of(&h, id), vec![0, 0]);
    // Written as a transactional batch of the producer.
    assert_eq!(h.producers, vec![Some((PID, EPOCH))]);
    assert_eq!(h.log.len(), 2);
    assert!(h.c.has_pending_txn_offset("g", "t", 0));
    // Not visible yet; require_stable says unstable.
    assert_eq!(
        fetch(&mut h, "g", &[0, 1, 2], false),
        vec![(-1, 0), (-1, 0), (-1, 0)]
    );
    assert_eq!(
        fetch(&mut h, "g", &[0, 1, 2], true),
        vec![(-1, 88), (-1, 88), (-1, 0)]
    );
    // A marker of another producer, or on another partition, changes nothing.
    marker(&mut h, "g", PID + 1, true);
    let other = (partition_for("g", 50) + 1) % 50;
    let now = h.now;
    h.c.complete_txn_marker(other, PID, true, now);
    assert!(h.c.has_pending_txn_offset("g", "t", 0));
    marker(&mut h, "g", PID, true);
    assert!(!h.c.has_pending_txn_offset("g", "t", 0));
    assert_eq!(
        fetch(&mut h, "g", &[0, 1, 2], true),
        vec![(10, 0), (20, 0), (-1, 0)]
    );
    let o = &h.c.group("g").expect("group").offsets[&("t".to_owned(), 0)];
    assert_eq!((o.leader_epoch, o.metadata.as_str()), (5, "m"));
}

#[test]
fn aborted_txn_offsets_are_dropped() {
    let mut h = Harness::new(test_config());
    // A committed offset from before stays.
    let id = h.send(3, txn_commit("g", PID, &[(0, 10)]));
    assert_eq!(codes_of(&h, id), vec![0]);
    marker(&mut h, "g", PID, true);
    let id = h.send(3, txn_commit("g", PID, &[(0, 99)]));
    assert_eq!(codes_of(&h, id), vec![0]);
    assert_eq!(fetch(&mut h, "g", &[0], true), vec![(-1, 88)]);
    assert_eq!(fetch(&mut h, "g", &[0], false), vec![(10, 0)]);
    marker(&mut h, "g", PID, false);
    assert_eq!(fetch(&mut h, "g", &[0], true), vec![(10, 0)]);
    assert!(h.c.pending_txn_offsets(PID, "g").is_none());
}

#[test]
fn require_stable_at_offset_fetch_v7() {
    let mut h = Harness::new(test_config());
    h.send(3, txn_commit("g", PID, &[(0, 10)]));
    let send = |h: &mut Harness, v: i16, stable: bool| {
        let id = h.send(
            v,
            OffsetFetchRequest {
                group_id: "g".into(),
                topics: Some(vec![OffsetFetchRequestTopic {
                    name: "t".into(),
                    partition_indexes: vec![0],
                    ..Default::default()
                }]),
                require_stable: stable,
                ..Default::default()
            },
        );
        match h.response(id) {
            Some(ResponseBody::OffsetFetch(r)) => r.topics[0].partitions[0].error_code,
            other => panic!("{other:?}"),
        }
    };
    assert_eq!(send(&mut h, 7, true), 88);
    assert_eq!(send(&mut h, 7, false), 0);
    assert_eq!(send(&mut h, 6, false), 0);
}

#[test]
fn a_failed_transactional_append_answers_its_code_and_keeps_nothing() {
    let mut h = Harness::new(test_config());
    h.fail_code = Some(47); // INVALID_PRODUCER_EPOCH from the log
    let id = h.send(3, txn_commit("g", PID, &[(0, 10)]));
    assert_eq!(codes_of(&h, id), vec![47]);
    assert!(!h.c.has_pending_txn_offset("g", "t", 0));
    h.fail_code = Some(19); // NOT_ENOUGH_REPLICAS -> COORDINATOR_NOT_AVAILABLE
    let id = h.send(3, txn_commit("g", PID, &[(0, 10)]));
    assert_eq!(codes_of(&h, id), vec![15]);
    h.fail_code = Some(10); // MESSAGE_TOO_LARGE -> INVALID_COMMIT_OFFSET_SIZE
    let id = h.send(3, txn_commit("g", PID, &[(0, 10)]));
    assert_eq!(codes_of(&h, id), vec![28]);
    h.fail_code = None;
    marker(&mut h, "g", PID, true);
    assert_eq!(fetch(&mut h, "g", &[0], true), vec![(-1, 0)]);
}

#[test]
fn metadata_too_large_is_refused_per_partition() {
    let mut h = Harness::new(test_config());
    let mut req = txn_commit("g", PID, &[(0, 10), (1, 11)]);
    req.topics[0].partitions[1].committed_metadata = Some("x".repeat(5000).into());
    let id = h.send(3, req);
    assert_eq!(codes_of(&h, id), vec![0, 12]);
    marker(&mut h, "g", PID, true);
    assert_eq!(fetch(&mut h, "g", &[0, 1], false), vec![(10, 0), (-1, 0)]);
}

#[test]
fn v3_member_checks() {
    let mut h = Harness::new(test_config());
    let (join, member) = h.join_dynamic("g", &["t"]);
    let generation = h.join_resp(join).generation_id;
    let leader_sync = h.sync("g", generation, &member, &[(member.as_str(), b"a")]);
    assert_eq!(h.sync_resp(leader_sync).error_code, 0);
    let with = |member: &str, generation: i32, instance: Option<&str>| {
        let mut r = txn_commit("g", PID, &[(0, 1)]);
        r.member_id = member.into();
        r.generation_id = generation;
        r.group_instance_id = instance.map(Into::into);
        r
    };
    let id = h.send(3, with("nobody", generation, None));
    assert_eq!(codes_of(&h, id), vec![25]);
    let id = h.send(3, with(&member, generation + 1, None));
    assert_eq!(codes_of(&h, id), vec![22]);
    let id = h.send(3, with(&member, generation, None));
    assert_eq!(codes_of(&h, id), vec![0]);
    // Before v3 the member fields do not exist: anyone may commit.
    let id = h.send(2, txn_commit("g", PID, &[(1, 1)]));
    assert_eq!(codes_of(&h, id), vec![0]);
    // v3 with no member information at all is also accepted.
    let id = h.send(3, txn_commit("g", PID, &[(2, 1)]));
    assert_eq!(codes_of(&h, id), vec![0]);
    // A member of a group that does not exist.
    let mut r = with(&member, generation, None);
    r.group_id = "other".into();
    let id = h.send(3, r);
    assert_eq!(codes_of(&h, id), vec![25]);
}

#[test]
fn static_member_fencing() {
    let mut h = Harness::new(test_config());
    let first = h.send(5, Harness::join_req("g", "", Some("inst"), &["t"]));
    let r = h.join_resp(first);
    let (member, generation) = (r.member_id.as_str().to_owned(), r.generation_id);
    let mut req = txn_commit("g", PID, &[(0, 1)]);
    req.member_id = "someone-else".into();
    req.generation_id = generation;
    req.group_instance_id = Some("inst".into());
    let id = h.send(3, req);
    assert_eq!(codes_of(&h, id), vec![82]);
    let mut req = txn_commit("g", PID, &[(0, 1)]);
    req.member_id = member.as_str().into();
    req.generation_id = generation;
    req.group_instance_id = Some("inst".into());
    let id = h.send(3, req);
    assert_eq!(codes_of(&h, id), vec![0]);
}

#[test]
fn loading_answers_load_in_progress() {
    let mut h = Harness::new(test_config());
    h.c.begin_load();
    let id = h.send(3, txn_commit("g", PID, &[(0, 1)]));
    assert_eq!(codes_of(&h, id), vec![14]);
}

#[test]
fn reload_keeps_transactional_offsets_pending_until_their_marker() {
    let mut h = Harness::new(test_config());
    h.send(3, txn_commit("g", PID, &[(0, 10)]));
    h.send(3, txn_commit("g2", PID + 1, &[(0, 30)]));
    // A plain commit of another partition, in the same log.
    h.send(
        2,
        OffsetCommitRequest {
            group_id: "g".into(),
            generation_id_or_member_epoch: -1,
            topics: vec![
                vltava_protocol::messages::offset_commit_request::OffsetCommitRequestTopic {
                    name: "t".into(),
                    partitions: vec![
                        vltava_protocol::messages::offset_commit_request::OffsetCommitRequestPartition {
                            partition_index: 5,
                            committed_offset: 55,
                            ..Default::default()
                        },
                    ],
                    ..Default::default()
                },
            ],
            ..Default::default()
        },
    );
    let log = h.log.clone();
    let producers = h.log_producers.clone();
    let mut r = GroupCoordinator::new(test_config());
    r.begin_load();
    for ((_, k, v), p) in log.iter().zip(&producers) {
        match p {
            Some((pid, _)) => r
                .load_transactional(k.clone(), v.clone(), *pid)
                .expect("loads"),
            None => r.load(k.clone(), v.clone()).expect("loads"),
        }
    }
    // The first producer's COMMIT marker is in the log, the second's not.
    r.load_marker(PID, true);
    r.finish_load(h.now);
    let g = r.group("g").expect("group g");
    assert_eq!(g.offsets[&("t".to_owned(), 0)].offset, 10);
    assert_eq!(g.offsets[&("t".to_owned(), 5)].offset, 55);
    assert!(r.has_pending_txn_offset("g2", "t", 0));
    // The second transaction is aborted later (its marker arrives live).
    let p = partition_for("g2", 50);
    let effects: Vec<Effect> = r.complete_txn_marker(p, PID + 1, false, h.now);
    assert!(effects.is_empty());
    assert!(!r.has_pending_txn_offset("g2", "t", 0));
    assert!(r.group("g2").is_none_or(|g| g.offsets.is_empty()));
}

#[test]
fn load_marker_on_resolves_only_its_partition() {
    let mut h = Harness::new(test_config());
    // Two groups on different partitions, one producer.
    let (a, b) = ("g", "other-group");
    assert_ne!(partition_for(a, 50), partition_for(b, 50));
    h.send(3, txn_commit(a, PID, &[(0, 1)]));
    h.send(3, txn_commit(b, PID, &[(0, 2)]));
    let mut r = GroupCoordinator::new(test_config());
    r.begin_load();
    for (_, k, v) in &h.log {
        r.load_transactional(k.clone(), v.clone(), PID)
            .expect("loads");
    }
    r.load_marker_on(partition_for(a, 50), PID, true);
    r.finish_load(h.now);
    assert_eq!(
        r.group(a).expect("a").offsets[&("t".to_owned(), 0)].offset,
        1
    );
    assert!(r.has_pending_txn_offset(b, "t", 0));
}

fn plain_commit(h: &mut Harness, group: &str, partition: i32, offset: i64) {
    use vltava_protocol::messages::offset_commit_request::{
        OffsetCommitRequestPartition, OffsetCommitRequestTopic,
    };
    h.send(
        2,
        OffsetCommitRequest {
            group_id: group.into(),
            generation_id_or_member_epoch: -1,
            topics: vec![OffsetCommitRequestTopic {
                name: "t".into(),
                partitions: vec![OffsetCommitRequestPartition {
                    partition_index: partition,
                    committed_offset: offset,
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        },
    );
}

#[test]
fn a_plain_commit_written_after_the_transactions_offset_wins() {
    let mut h = Harness::new(test_config());
    plain_commit(&mut h, "g", 0, 1); // before: replaced by the transaction
    h.send(3, txn_commit("g", PID, &[(0, 10), (1, 11)]));
    plain_commit(&mut h, "g", 1, 99); // after: stays
    marker(&mut h, "g", PID, true);
    assert_eq!(fetch(&mut h, "g", &[0, 1], false), vec![(10, 0), (99, 0)]);
    // The same order holds when the log is replayed.
    let mut r = GroupCoordinator::new(test_config());
    r.begin_load();
    for ((_, k, v), p) in h.log.iter().zip(&h.log_producers) {
        match p {
            Some((pid, _)) => r
                .load_transactional(k.clone(), v.clone(), *pid)
                .expect("loads"),
            None => r.load(k.clone(), v.clone()).expect("loads"),
        }
    }
    r.load_marker(PID, true);
    r.finish_load(h.now);
    let g = r.group("g").expect("group");
    assert_eq!(g.offsets[&("t".to_owned(), 0)].offset, 10);
    assert_eq!(g.offsets[&("t".to_owned(), 1)].offset, 99);
}

#[test]
fn require_stable_fetch_of_all_topics_marks_pending_committed_partitions() {
    let mut h = Harness::new(test_config());
    plain_commit(&mut h, "g", 0, 1);
    plain_commit(&mut h, "g", 1, 2);
    h.send(3, txn_commit("g", PID, &[(0, 10), (7, 70)]));
    let all = |h: &mut Harness, stable: bool| {
        let id = h.send(
            7,
            OffsetFetchRequest {
                group_id: "g".into(),
                topics: None,
                require_stable: stable,
                ..Default::default()
            },
        );
        match h.response(id) {
            Some(ResponseBody::OffsetFetch(r)) => r.topics[0]
                .partitions
                .iter()
                .map(|p| (p.partition_index, p.committed_offset, p.error_code))
                .collect::<Vec<_>>(),
            other => panic!("{other:?}"),
        }
    };
    // Only committed partitions are listed; those with pending offsets are
    // unstable.
    assert_eq!(all(&mut h, true), vec![(0, -1, 88), (1, 2, 0)]);
    assert_eq!(all(&mut h, false), vec![(0, 1, 0), (1, 2, 0)]);
    marker(&mut h, "g", PID, true);
    assert_eq!(all(&mut h, true), vec![(0, 10, 0), (1, 2, 0), (7, 70, 0)]);
}

#[test]
fn deleting_a_group_drops_its_pending_txn_offsets() {
    let mut h = Harness::new(test_config());
    h.send(3, txn_commit("g", PID, &[(0, 10)]));
    let id = h.send(
        2,
        DeleteGroupsRequest {
            groups_names: vec!["g".into()],
            ..Default::default()
        },
    );
    let Some(ResponseBody::DeleteGroups(r)) = h.response(id) else {
        panic!("no DeleteGroups response")
    };
    assert_eq!(r.results[0].error_code, 0);
    assert!(!h.c.has_pending_txn_offset("g", "t", 0));
    marker(&mut h, "g", PID, true);
    assert!(h.c.group("g").is_none());
}
