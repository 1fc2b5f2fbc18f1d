//! Offsets (commit, fetch in every form, delete, expiry) and group
//! administration (describe, list, delete), plus reload from the records.

use crate::common::*;
use vltava_coordinator::{GroupConfig, GroupCoordinator, GroupState, codes};
use vltava_protocol::ResponseBody;
use vltava_protocol::messages::offset_commit_request::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use vltava_protocol::messages::offset_delete_request::{
    OffsetDeleteRequestPartition, OffsetDeleteRequestTopic,
};
use vltava_protocol::messages::offset_fetch_request::{
    OffsetFetchRequestGroup, OffsetFetchRequestTopic, OffsetFetchRequestTopics,
};
use vltava_protocol::messages::*;

fn commit_req(
    group: &str,
    generation: i32,
    member: &str,
    topic: &str,
    parts: &[(i32, i64)],
) -> OffsetCommitRequest {
    OffsetCommitRequest {
        group_id: group.into(),
        generation_id_or_member_epoch: generation,
        member_id: member.into(),
        topics: vec![OffsetCommitRequestTopic {
            name: topic.into(),
            partitions: parts
                .iter()
                .map(|(p, o)| OffsetCommitRequestPartition {
                    partition_index: *p,
                    committed_offset: *o,
                    committed_metadata: Some("md".into()),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }],
        ..Default::default()
    }
}

fn commit_codes(h: &Harness, id: u64) -> Vec<i16> {
    match h.response(id) {
        Some(ResponseBody::OffsetCommit(r)) => r
            .topics
            .iter()
            .flat_map(|t| t.partitions.iter().map(|p| p.error_code))
            .collect(),
        other => panic!("{other:?}"),
    }
}

/// Committed offsets of `group` for `topic` partitions, via OffsetFetch v8.
fn fetch(h: &mut Harness, group: &str, topic: &str, parts: &[i32]) -> Vec<i64> {
    let id = h.send(
        8,
        OffsetFetchRequest {
            groups: vec![OffsetFetchRequestGroup {
                group_id: group.into(),
                topics: Some(vec![OffsetFetchRequestTopics {
                    name: topic.into(),
                    partition_indexes: parts.to_vec(),
                    ..Default::default()
                }]),
                ..Default::default()
            }],
            ..Default::default()
        },
    );
    match h.response(id) {
        Some(ResponseBody::OffsetFetch(r)) => {
            assert_eq!(r.groups[0].error_code, 0);
            r.groups[0].topics[0]
                .partitions
                .iter()
                .map(|p| p.committed_offset)
                .collect()
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn simple_commit_and_fetch_all_versions() {
    let mut h = Harness::new(test_config());
    let c = h.send(2, commit_req("s", -1, "", "t", &[(0, 10), (1, 20)]));
    assert_eq!(commit_codes(&h, c), vec![0, 0]);
    assert_eq!(fetch(&mut h, "s", "t", &[0, 1, 2]), vec![10, 20, -1]);
    assert_eq!(fetch(&mut h, "unknown", "t", &[0]), vec![-1]);
    // The simple group exists, Empty, without protocol type.
    assert_eq!(h.c.group("s").map(|g| g.state), Some(GroupState::Empty));
    for v in 0..=7i16 {
        let id = h.send(
            v,
            OffsetFetchRequest {
                group_id: "s".into(),
                topics: Some(vec![OffsetFetchRequestTopic {
                    name: "t".into(),
                    partition_indexes: vec![1],
                    ..Default::default()
                }]),
                ..Default::default()
            },
        );
        match h.response(id) {
            Some(ResponseBody::OffsetFetch(r)) => {
                assert_eq!(r.topics[0].partitions[0].committed_offset, 20, "v{v}");
                assert_eq!(
                    r.topics[0].partitions[0]
                        .metadata
                        .as_ref()
                        .map(|s| s.as_str()),
                    Some("md")
                );
            }
            other => panic!("{other:?}"),
        }
    }
    // All topics (null topics, v2+).
    let id = h.send(
        7,
        OffsetFetchRequest {
            group_id: "s".into(),
            topics: None,
            ..Default::default()
        },
    );
    match h.response(id) {
        Some(ResponseBody::OffsetFetch(r)) => {
            assert_eq!(r.topics.len(), 1);
            assert_eq!(r.topics[0].partitions.len(), 2);
        }
        other => panic!("{other:?}"),
    }
    // Every commit version is accepted for a simple group.
    for v in 0..=9i16 {
        let c = h.send(v, commit_req("s", -1, "", "u", &[(0, i64::from(v))]));
        assert_eq!(commit_codes(&h, c), vec![0], "v{v}");
        assert_eq!(fetch(&mut h, "s", "u", &[0]), vec![i64::from(v)]);
    }
}

#[test]
fn multi_group_fetch_v8() {
    let mut h = Harness::new(test_config());
    let c = h.send(8, commit_req("a", -1, "", "t", &[(0, 1)]));
    assert_eq!(commit_codes(&h, c), vec![0]);
    let c = h.send(8, commit_req("b", -1, "", "t", &[(0, 2)]));
    assert_eq!(commit_codes(&h, c), vec![0]);
    let id = h.send(
        9,
        OffsetFetchRequest {
            groups: vec![
                OffsetFetchRequestGroup {
                    group_id: "a".into(),
                    topics: None,
                    ..Default::default()
                },
                OffsetFetchRequestGroup {
                    group_id: "b".into(),
                    topics: None,
                    ..Default::default()
                },
                OffsetFetchRequestGroup {
                    group_id: "".into(),
                    topics: None,
                    ..Default::default()
                },
            ],
            require_stable: true,
            ..Default::default()
        },
    );
    match h.response(id) {
        Some(ResponseBody::OffsetFetch(r)) => {
            assert_eq!(r.groups[0].topics[0].partitions[0].committed_offset, 1);
            assert_eq!(r.groups[1].topics[0].partitions[0].committed_offset, 2);
            // The empty group id is a group like any other here, as in Kafka.
            assert_eq!(r.groups[2].error_code, 0);
            assert!(r.groups[2].topics.is_empty());
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn group_commit_generation_and_member_checks() {
    let mut h = Harness::new(test_config());
    let (j, m) = h.join_dynamic("g", &["t"]);
    assert_eq!(h.join_resp(j).generation_id, 1);
    // CompletingRebalance: commits wait for the assignment.
    let c = h.send(8, commit_req("g", 1, &m, "t", &[(0, 5)]));
    assert_eq!(commit_codes(&h, c), vec![codes::REBALANCE_IN_PROGRESS]);
    let s = h.sync("g", 1, &m, &[(&m, b"a")]);
    assert_eq!(h.sync_resp(s).error_code, 0);
    let c = h.send(8, commit_req("g", 1, &m, "t", &[(0, 5)]));
    assert_eq!(commit_codes(&h, c), vec![0]);
    let c = h.send(8, commit_req("g", 0, &m, "t", &[(0, 6)]));
    assert_eq!(commit_codes(&h, c), vec![codes::ILLEGAL_GENERATION]);
    let c = h.send(8, commit_req("g", 1, "ghost", "t", &[(0, 6)]));
    assert_eq!(commit_codes(&h, c), vec![codes::UNKNOWN_MEMBER_ID]);
    let c = h.send(8, commit_req("g", -1, "", "t", &[(0, 6)]));
    assert_eq!(
        commit_codes(&h, c),
        vec![codes::UNKNOWN_MEMBER_ID],
        "simple commit to a live group"
    );
    let c = h.send(8, commit_req("nogroup", 3, "m", "t", &[(0, 6)]));
    assert_eq!(commit_codes(&h, c), vec![codes::ILLEGAL_GENERATION]);
    assert_eq!(fetch(&mut h, "g", "t", &[0]), vec![5]);
    // Metadata over offset.metadata.max.bytes fails only its partition.
    let mut req = commit_req("g", 1, &m, "t", &[(1, 7), (2, 8)]);
    req.topics[0].partitions[0].committed_metadata = Some("x".repeat(4097).into());
    let c = h.send(8, req);
    assert_eq!(
        commit_codes(&h, c),
        vec![codes::OFFSET_METADATA_TOO_LARGE, 0]
    );
    assert_eq!(fetch(&mut h, "g", "t", &[1, 2]), vec![-1, 8]);
}

#[test]
fn failed_commit_is_not_visible() {
    let mut h = Harness::new(test_config());
    h.fail_appends = true;
    let c = h.send(8, commit_req("s", -1, "", "t", &[(0, 10)]));
    assert_eq!(commit_codes(&h, c), vec![codes::COORDINATOR_NOT_AVAILABLE]);
    h.fail_appends = false;
    assert_eq!(fetch(&mut h, "s", "t", &[0]), vec![-1]);
}

#[test]
fn commit_visible_only_after_append_completes() {
    let mut h = Harness::new(test_config());
    h.hold_appends = true;
    let c = h.send(8, commit_req("s", -1, "", "t", &[(0, 10)]));
    assert!(h.response(c).is_none());
    assert_eq!(fetch(&mut h, "s", "t", &[0]), vec![-1]);
    h.hold_appends = false;
    h.release_held(true);
    assert_eq!(commit_codes(&h, c), vec![0]);
    assert_eq!(fetch(&mut h, "s", "t", &[0]), vec![10]);
}

fn offset_delete(h: &mut Harness, group: &str, topic: &str, parts: &[i32]) -> (i16, Vec<i16>) {
    let id = h.send(
        0,
        OffsetDeleteRequest {
            group_id: group.into(),
            topics: vec![OffsetDeleteRequestTopic {
                name: topic.into(),
                partitions: parts
                    .iter()
                    .map(|p| OffsetDeleteRequestPartition {
                        partition_index: *p,
                    })
                    .collect(),
            }],
        },
    );
    match h.response(id) {
        Some(ResponseBody::OffsetDelete(r)) => (
            r.error_code,
            r.topics
                .iter()
                .flat_map(|t| t.partitions.iter().map(|p| p.error_code))
                .collect(),
        ),
        other => panic!("{other:?}"),
    }
}

#[test]
fn offset_delete_respects_subscriptions() {
    let mut h = Harness::new(test_config());
    let (j, m) = h.join_dynamic("g", &["subscribed"]);
    assert_eq!(h.join_resp(j).generation_id, 1);
    let s = h.sync("g", 1, &m, &[(&m, b"a")]);
    assert_eq!(h.sync_resp(s).error_code, 0);
    for t in ["subscribed", "other"] {
        let c = h.send(8, commit_req("g", 1, &m, t, &[(0, 3)]));
        assert_eq!(commit_codes(&h, c), vec![0]);
    }
    assert_eq!(
        offset_delete(&mut h, "g", "subscribed", &[0]),
        (0, vec![codes::GROUP_SUBSCRIBED_TO_TOPIC])
    );
    assert_eq!(offset_delete(&mut h, "g", "other", &[0]), (0, vec![0]));
    assert_eq!(fetch(&mut h, "g", "other", &[0]), vec![-1]);
    assert_eq!(fetch(&mut h, "g", "subscribed", &[0]), vec![3]);
    assert_eq!(
        offset_delete(&mut h, "nope", "t", &[0]).0,
        codes::GROUP_ID_NOT_FOUND
    );
    // A tombstone was written for the deleted offset.
    assert!(h.log.iter().any(|(_, _, v)| v.is_none()));
}

#[test]
fn delete_groups_rules() {
    let mut h = Harness::new(test_config());
    let (j, _m) = h.join_dynamic("live", &["t"]);
    assert_eq!(h.join_resp(j).generation_id, 1);
    let c = h.send(8, commit_req("idle", -1, "", "t", &[(0, 1), (1, 2)]));
    assert_eq!(commit_codes(&h, c), vec![0, 0]);
    let before = h.log.len();
    let d = h.send(
        2,
        DeleteGroupsRequest {
            groups_names: vec!["live".into(), "idle".into(), "missing".into()],
            ..Default::default()
        },
    );
    match h.response(d) {
        Some(ResponseBody::DeleteGroups(r)) => {
            let got: Vec<i16> = r.results.iter().map(|r| r.error_code).collect();
            assert_eq!(
                got,
                vec![codes::NON_EMPTY_GROUP, 0, codes::GROUP_ID_NOT_FOUND]
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(h.c.group("idle").is_none());
    // Two offset tombstones and a group tombstone.
    let tombstones = h.log[before..]
        .iter()
        .filter(|(_, _, v)| v.is_none())
        .count();
    assert_eq!(tombstones, 3);
    assert_eq!(fetch(&mut h, "idle", "t", &[0]), vec![-1]);
}

#[test]
fn describe_and_list_groups() {
    let mut h = Harness::new(test_config());
    let (j, m) = h.join_dynamic("stable", &["t"]);
    assert_eq!(h.join_resp(j).generation_id, 1);
    let s = h.sync("stable", 1, &m, &[(&m, b"asg")]);
    assert_eq!(h.sync_resp(s).error_code, 0);
    let (_j, _) = h.join_dynamic("joining", &["t"]);
    let c = h.send(8, commit_req("simple", -1, "", "t", &[(0, 1)]));
    assert_eq!(commit_codes(&h, c), vec![0]);

    let d = h.send(
        5,
        DescribeGroupsRequest {
            groups: vec!["stable".into(), "missing".into()],
            include_authorized_operations: true,
            ..Default::default()
        },
    );
    match h.response(d) {
        Some(ResponseBody::DescribeGroups(r)) => {
            let g = &r.groups[0];
            assert_eq!(g.group_state.as_str(), "Stable");
            assert_eq!(g.protocol_type.as_str(), "consumer");
            assert_eq!(g.protocol_data.as_str(), "range");
            assert_eq!(g.members.len(), 1);
            assert_eq!(g.members[0].client_id.as_str(), "client");
            assert_eq!(&g.members[0].member_assignment[..], b"asg");
            assert_eq!(g.members[0].member_metadata, subscription(&["t"]));
            assert_eq!(r.groups[1].group_state.as_str(), "Dead");
            assert_eq!(r.groups[1].error_code, 0);
        }
        other => panic!("{other:?}"),
    }
    let list =
        |h: &mut Harness, v: i16, states: &[&str], types: &[&str]| -> Vec<(String, String)> {
            let id = h.send(
                v,
                ListGroupsRequest {
                    states_filter: states.iter().map(|s| (*s).into()).collect(),
                    types_filter: types.iter().map(|s| (*s).into()).collect(),
                    ..Default::default()
                },
            );
            match h.response(id) {
                Some(ResponseBody::ListGroups(r)) => r
                    .groups
                    .iter()
                    .map(|g| {
                        (
                            g.group_id.as_str().to_owned(),
                            g.group_state.as_str().to_owned(),
                        )
                    })
                    .collect(),
                other => panic!("{other:?}"),
            }
        };
    let all = list(&mut h, 0, &[], &[]);
    assert_eq!(all.len(), 3);
    let stable = list(&mut h, 4, &["stable"], &[]);
    assert_eq!(stable, vec![("stable".to_owned(), "Stable".to_owned())]);
    assert_eq!(list(&mut h, 4, &["Empty"], &[]).len(), 1);
    assert_eq!(list(&mut h, 5, &[], &["classic"]).len(), 3);
    assert_eq!(list(&mut h, 5, &[], &["consumer"]).len(), 0);
}

#[test]
fn offsets_of_empty_groups_expire() {
    let cfg = GroupConfig {
        offsets_retention_minutes: 1,
        offsets_retention_check_interval_ms: 10_000,
        ..test_config()
    };
    let mut h = Harness::new(cfg);
    let c = h.send(8, commit_req("s", -1, "", "t", &[(0, 1)]));
    assert_eq!(commit_codes(&h, c), vec![0]);
    h.advance_by_steps(50_000, 10_000);
    assert_eq!(fetch(&mut h, "s", "t", &[0]), vec![1]);
    h.advance_by_steps(30_000, 10_000);
    assert_eq!(fetch(&mut h, "s", "t", &[0]), vec![-1]);
    assert!(
        h.c.group("s").is_none(),
        "empty group without offsets is dropped"
    );
}

/// Replays the harness's log into a fresh coordinator.
fn reload(h: &Harness) -> Harness {
    let mut h2 = Harness::new(test_config());
    h2.now = h.now;
    h2.c.begin_load();
    for (_, k, v) in &h.log {
        h2.c.load(k.clone(), v.clone())
            .expect("every written record loads");
    }
    h2.c.finish_load(h2.now);
    h2
}

#[test]
fn reload_restores_offsets_and_groups() {
    let mut h = Harness::new(test_config());
    let (ms, generation) = {
        let (j, a) = h.join_dynamic("g", &["t"]);
        assert_eq!(h.join_resp(j).generation_id, 1);
        let s = h.sync("g", 1, &a, &[(&a, b"A")]);
        assert_eq!(h.sync_resp(s).error_code, 0);
        (vec![a], 1)
    };
    let c = h.send(
        8,
        commit_req("g", generation, &ms[0], "t", &[(0, 100), (1, 200)]),
    );
    assert_eq!(commit_codes(&h, c), vec![0, 0]);
    let c = h.send(8, commit_req("g", generation, &ms[0], "t", &[(0, 150)]));
    assert_eq!(commit_codes(&h, c), vec![0]);
    assert_eq!(offset_delete(&mut h, "g", "u", &[0]).0, 0);
    let c = h.send(8, commit_req("simple", -1, "", "t", &[(3, 7)]));
    assert_eq!(commit_codes(&h, c), vec![0]);
    let c = h.send(8, commit_req("gone", -1, "", "t", &[(0, 1)]));
    assert_eq!(commit_codes(&h, c), vec![0]);
    let d = h.send(
        2,
        DeleteGroupsRequest {
            groups_names: vec!["gone".into()],
            ..Default::default()
        },
    );
    assert!(h.response(d).is_some());

    let mut h2 = reload(&h);
    assert_eq!(fetch(&mut h2, "g", "t", &[0, 1]), vec![150, 200]);
    assert_eq!(fetch(&mut h2, "simple", "t", &[3]), vec![7]);
    assert!(h2.c.group("gone").is_none());
    let g = h2.c.group("g").expect("group reloaded");
    assert_eq!(g.state, GroupState::Stable);
    assert_eq!(g.generation, 1);
    assert_eq!(g.leader.as_deref(), Some(ms[0].as_str()));
    assert_eq!(g.protocol_name.as_deref(), Some("range"));
    assert_eq!(&g.members[&ms[0]].assignment[..], b"A");
    // The member carries on in its generation.
    assert_eq!(h2.heartbeat("g", 1, &ms[0]), codes::NONE);
    let s = h2.sync("g", 1, &ms[0], &[]);
    assert_eq!(&h2.sync_resp(s).assignment[..], b"A");
}

#[test]
fn reload_of_group_that_emptied() {
    let mut h = Harness::new(test_config());
    let (j, a) = h.join_dynamic("g", &["t"]);
    assert_eq!(h.join_resp(j).generation_id, 1);
    let s = h.sync("g", 1, &a, &[(&a, b"A")]);
    assert_eq!(h.sync_resp(s).error_code, 0);
    let l = h.send(
        1,
        LeaveGroupRequest {
            group_id: "g".into(),
            member_id: a.as_str().into(),
            ..Default::default()
        },
    );
    assert!(h.response(l).is_some());
    assert_eq!(
        h.c.group("g").map(|g| (g.state, g.generation)),
        Some((GroupState::Empty, 2))
    );
    let h2 = reload(&h);
    let g = h2.c.group("g").expect("group");
    assert_eq!((g.state, g.generation), (GroupState::Empty, 2));
    assert_eq!(g.protocol_type.as_deref(), Some("consumer"));
    // A reloaded coordinator is the same machine: the next rebalance is generation 3.
    let mut h2 = h2;
    let (j, _) = h2.join_dynamic("g", &["t"]);
    assert_eq!(h2.join_resp(j).generation_id, 3);
    let _ = GroupCoordinator::APIS;
}

#[test]
fn live_group_keeps_subscribed_offsets_and_ages_out_the_rest() {
    let cfg = GroupConfig {
        offsets_retention_minutes: 1,
        offsets_retention_check_interval_ms: 5_000,
        ..test_config()
    };
    let mut h = Harness::new(cfg);
    let (j, m) = h.join_dynamic("g", &["t"]);
    assert_eq!(h.join_resp(j).generation_id, 1);
    let s = h.sync("g", 1, &m, &[(&m, b"a")]);
    assert_eq!(h.sync_resp(s).error_code, 0);
    for t in ["t", "old"] {
        let c = h.send(8, commit_req("g", 1, &m, t, &[(0, 9)]));
        assert_eq!(commit_codes(&h, c), vec![0]);
    }
    for _ in 0..14 {
        h.advance(5_000);
        assert_eq!(h.heartbeat("g", 1, &m), codes::NONE);
    }
    assert_eq!(fetch(&mut h, "g", "t", &[0]), vec![9]);
    assert_eq!(fetch(&mut h, "g", "old", &[0]), vec![-1]);
}

#[test]
fn load_applies_latest_record_and_tombstones() {
    use vltava_coordinator::records::{group_metadata_record, offset_commit_record};
    use vltava_protocol::coordinator::{GroupMetadataValue, OffsetCommitValue};
    let offset = |o: i64| OffsetCommitValue {
        offset: o,
        commit_timestamp: 1,
        ..Default::default()
    };
    let group = |generation: i32| GroupMetadataValue {
        protocol_type: "consumer".into(),
        generation,
        protocol: None,
        leader: None,
        current_state_timestamp: 5,
        members: Vec::new(),
        unknown_tagged_fields: Vec::new(),
    };
    let records = vec![
        offset_commit_record("a", "t", 0, Some(&offset(1))),
        offset_commit_record("a", "t", 0, Some(&offset(2))),
        offset_commit_record("a", "t", 1, Some(&offset(3))),
        offset_commit_record("a", "t", 1, None),
        group_metadata_record("a", Some(&group(4))),
        group_metadata_record("a", Some(&group(6))),
        // b: metadata then a group tombstone; its offset survives.
        offset_commit_record("b", "t", 0, Some(&offset(9))),
        group_metadata_record("b", Some(&group(2))),
        group_metadata_record("b", None),
        // c: everything deleted.
        offset_commit_record("c", "t", 0, Some(&offset(1))),
        offset_commit_record("c", "t", 0, None),
        group_metadata_record("c", Some(&group(1))),
        group_metadata_record("c", None),
    ];
    let mut h = Harness::new(test_config());
    h.c.begin_load();
    for r in records {
        let (k, v) = r.expect("encodes");
        h.c.load(k, v).expect("loads");
    }
    h.c.finish_load(h.now);
    assert_eq!(fetch(&mut h, "a", "t", &[0, 1]), vec![2, -1]);
    let a = h.c.group("a").expect("a");
    assert_eq!((a.state, a.generation), (GroupState::Empty, 6));
    assert_eq!(fetch(&mut h, "b", "t", &[0]), vec![9]);
    assert_eq!(h.c.group("b").map(|g| g.generation), Some(0));
    assert!(h.c.group("c").is_none());
    // A record that cannot be decoded is refused and counted.
    assert!(
        h.c.load(bytes::Bytes::from_static(&[0, 1, 0]), None)
            .is_err()
    );
    assert_eq!(h.c.load_errors(), 1);
}

#[test]
fn consumer_group_describe_sends_clients_back_to_describe_groups() {
    let mut h = Harness::new(test_config());
    let c = h.send(8, commit_req("classic", -1, "", "t", &[(0, 1)]));
    assert_eq!(commit_codes(&h, c), vec![0]);
    let id = h.send(
        0,
        ConsumerGroupDescribeRequest {
            group_ids: vec!["classic".into(), "none".into()],
            ..Default::default()
        },
    );
    match h.response(id) {
        Some(ResponseBody::ConsumerGroupDescribe(r)) => {
            assert!(
                r.groups
                    .iter()
                    .all(|g| g.error_code == codes::GROUP_ID_NOT_FOUND)
            );
            assert_eq!(
                r.groups[0].error_message.as_ref().map(|m| m.as_str()),
                Some("Group classic is not a consumer group.")
            );
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn empty_group_id_is_valid_for_commit_fetch_describe_delete_only() {
    let mut h = Harness::new(test_config());
    let c = h.send(2, commit_req("", -1, "", "t", &[(0, 4)]));
    assert_eq!(commit_codes(&h, c), vec![0]);
    assert_eq!(fetch(&mut h, "", "t", &[0]), vec![4]);
    let j = h.send(9, Harness::join_req("", "", None, &["t"]));
    assert_eq!(h.join_resp(j).error_code, codes::INVALID_GROUP_ID);
    assert_eq!(
        offset_delete(&mut h, "", "t", &[0]).0,
        codes::INVALID_GROUP_ID
    );
    let d = h.send(
        2,
        DeleteGroupsRequest {
            groups_names: vec!["".into()],
            ..Default::default()
        },
    );
    match h.response(d) {
        Some(ResponseBody::DeleteGroups(r)) => assert_eq!(r.results[0].error_code, 0),
        other => panic!("{other:?}"),
    }
    assert_eq!(fetch(&mut h, "", "t", &[0]), vec![-1]);
}

#[test]
fn static_member_rejoins_a_reloaded_group_without_rebalance() {
    let mut h = Harness::new(test_config());
    let mut req = Harness::join_req("g", "", Some("i"), &["t"]);
    req.protocols.push(
        vltava_protocol::messages::join_group_request::JoinGroupRequestProtocol {
            name: "roundrobin".into(),
            metadata: subscription(&["t"]),
            ..Default::default()
        },
    );
    let j = h.send(9, req.clone());
    let old = h.join_resp(j).member_id.as_str().to_owned();
    let s = h.sync("g", 1, &old, &[(&old, b"mine")]);
    assert_eq!(h.sync_resp(s).error_code, 0);
    let mut h2 = reload(&h);
    // The restarted client offers both protocols again; the chosen one's
    // metadata is unchanged, so it takes its old place without a rebalance.
    let j = h2.send(9, req);
    let r = h2.join_resp(j);
    assert_eq!((r.error_code, r.generation_id), (0, 1));
    let s = h2.sync("g", 1, r.member_id.as_str(), &[]);
    assert_eq!(&h2.sync_resp(s).assignment[..], b"mine");
    assert_eq!(h2.c.group("g").map(|g| g.state), Some(GroupState::Stable));
}
