//! Data-driven tests of the group state machine: join/sync/heartbeat flows,
//! leader changes, timeouts, static members, generation fencing.

use crate::common::*;
use vltava_coordinator::{GroupConfig, GroupState, codes};
use vltava_protocol::ResponseBody;
use vltava_protocol::messages::leave_group_request::MemberIdentity;
use vltava_protocol::messages::*;

fn state(h: &Harness, g: &str) -> GroupState {
    h.c.group(g).map(|g| g.state).expect("group exists")
}

/// One member: MEMBER_ID_REQUIRED, join, lead, sync, heartbeat.
#[test]
fn single_member_flow() {
    let mut h = Harness::new(test_config());
    let (join, m) = h.join_dynamic("g", &["t"]);
    let r = h.join_resp(join);
    assert_eq!(r.error_code, 0);
    assert_eq!(r.generation_id, 1);
    assert_eq!(r.leader.as_str(), m);
    assert_eq!(r.member_id.as_str(), m);
    assert_eq!(r.protocol_name.as_ref().map(|s| s.as_str()), Some("range"));
    assert_eq!(
        r.protocol_type.as_ref().map(|s| s.as_str()),
        Some("consumer")
    );
    assert_eq!(r.members.len(), 1);
    assert_eq!(state(&h, "g"), GroupState::CompletingRebalance);
    let s = h.sync("g", 1, &m, &[(&m, b"a1")]);
    let sr = h.sync_resp(s);
    assert_eq!(sr.error_code, 0);
    assert_eq!(&sr.assignment[..], b"a1");
    assert_eq!(sr.protocol_name.as_ref().map(|s| s.as_str()), Some("range"));
    assert_eq!(state(&h, "g"), GroupState::Stable);
    assert_eq!(h.heartbeat("g", 1, &m), codes::NONE);
    // The assignment was written to __consumer_offsets.
    assert!(h.log.iter().any(|(_, _, v)| v.is_some()));
}

/// Two members: the second join rebalances, the leader gets both, the
/// follower's SyncGroup waits for the leader's.
#[test]
fn two_members_rebalance_and_sync_wait() {
    let mut h = Harness::new(test_config());
    let (j1, a) = h.join_dynamic("g", &["t"]);
    assert_eq!(h.join_resp(j1).generation_id, 1);
    let s = h.sync("g", 1, &a, &[(&a, b"all")]);
    assert_eq!(h.sync_resp(s).error_code, 0);

    let (j2, b) = h.join_dynamic("g", &["t"]);
    assert!(h.response(j2).is_none(), "B waits for A to rejoin");
    assert_eq!(state(&h, "g"), GroupState::PreparingRebalance);
    assert_eq!(h.heartbeat("g", 1, &a), codes::REBALANCE_IN_PROGRESS);
    let ja = h.send(9, Harness::join_req("g", &a, None, &["t"]));
    let ra = h.join_resp(ja);
    let rb = h.join_resp(j2);
    assert_eq!((ra.generation_id, rb.generation_id), (2, 2));
    assert_eq!(ra.leader.as_str(), a);
    assert_eq!(rb.leader.as_str(), a);
    assert_eq!(ra.members.len(), 2, "leader sees every member");
    assert!(rb.members.is_empty(), "followers see none");

    let sb = h.sync("g", 2, &b, &[]);
    assert!(h.response(sb).is_none(), "follower waits for the leader");
    let sa = h.sync("g", 2, &a, &[(&a, b"p0"), (&b, b"p1")]);
    assert_eq!(&h.sync_resp(sa).assignment[..], b"p0");
    assert_eq!(&h.sync_resp(sb).assignment[..], b"p1");
    assert_eq!(state(&h, "g"), GroupState::Stable);
    // Old generation is fenced.
    assert_eq!(h.heartbeat("g", 1, &b), codes::ILLEGAL_GENERATION);
    assert_eq!(h.heartbeat("g", 2, &b), codes::NONE);
    assert_eq!(h.heartbeat("g", 2, "nobody"), codes::UNKNOWN_MEMBER_ID);
}

/// Stable group of three; `stable_group` returns their member ids, leader first.
fn stable_group(h: &mut Harness, n: usize) -> (Vec<String>, i32) {
    let mut joins = Vec::new();
    let mut members = Vec::new();
    for _ in 0..n {
        let (j, m) = h.join_dynamic("g", &["t"]);
        joins.push(j);
        members.push(m);
    }
    // Everyone but the first joined during the first rebalance or later:
    // let earlier ones rejoin until all are in one generation.
    loop {
        let pending: Vec<usize> = (0..n).filter(|i| h.response(joins[*i]).is_some()).collect();
        if pending.is_empty() {
            break;
        }
        let gen_done = joins.iter().all(
            |j| matches!(h.response(*j), Some(ResponseBody::JoinGroup(r)) if r.error_code == 0),
        );
        let g = h.c.group("g").expect("group");
        if gen_done && g.state == GroupState::CompletingRebalance && g.members.len() == n {
            let gens: Vec<i32> = joins
                .iter()
                .map(|j| h.join_resp(*j).generation_id)
                .collect();
            if gens.iter().all(|x| *x == g.generation) {
                break;
            }
        }
        for i in 0..n {
            if h.response(joins[i]).is_some() {
                let generation = h.c.group("g").map(|g| g.generation).unwrap_or(0);
                let done = h.join_resp(joins[i]).generation_id == generation
                    && h.c
                        .group("g")
                        .is_some_and(|g| g.state == GroupState::CompletingRebalance);
                if !done {
                    joins[i] = h.send(9, Harness::join_req("g", &members[i], None, &["t"]));
                }
            }
        }
    }
    let generation = h.c.group("g").expect("group").generation;
    let leader =
        h.c.group("g")
            .and_then(|g| g.leader.clone())
            .expect("leader");
    let assignments: Vec<(&str, &[u8])> = members.iter().map(|m| (m.as_str(), &b"x"[..])).collect();
    let mut syncs = Vec::new();
    for m in &members {
        if *m != leader {
            syncs.push(h.sync("g", generation, m, &[]));
        }
    }
    let ls = h.sync("g", generation, &leader, &assignments);
    syncs.push(ls);
    for s in syncs {
        assert_eq!(h.sync_resp(s).error_code, 0);
    }
    assert_eq!(state(h, "g"), GroupState::Stable);
    let mut ordered = vec![leader.clone()];
    ordered.extend(members.into_iter().filter(|m| *m != leader));
    (ordered, generation)
}

#[test]
fn three_members_leader_leaves_new_leader_elected() {
    let mut h = Harness::new(test_config());
    let (ms, generation) = stable_group(&mut h, 3);
    let leave = h.send(
        5,
        LeaveGroupRequest {
            group_id: "g".into(),
            members: vec![MemberIdentity {
                member_id: ms[0].as_str().into(),
                ..Default::default()
            }],
            ..Default::default()
        },
    );
    match h.response(leave) {
        Some(ResponseBody::LeaveGroup(r)) => {
            assert_eq!(r.error_code, 0);
            assert_eq!(r.members[0].error_code, 0);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(state(&h, "g"), GroupState::PreparingRebalance);
    assert_eq!(
        h.heartbeat("g", generation, &ms[1]),
        codes::REBALANCE_IN_PROGRESS
    );
    let j1 = h.send(9, Harness::join_req("g", &ms[1], None, &["t"]));
    assert!(h.response(j1).is_none());
    let j2 = h.send(9, Harness::join_req("g", &ms[2], None, &["t"]));
    let (r1, r2) = (h.join_resp(j1), h.join_resp(j2));
    assert_eq!(r1.generation_id, generation + 1);
    assert_eq!(r1.leader, r2.leader);
    assert!(r1.leader.as_str() == ms[1] || r1.leader.as_str() == ms[2]);
    assert_ne!(r1.leader.as_str(), ms[0]);
}

#[test]
fn session_timeout_removes_member_and_rebalances() {
    let mut h = Harness::new(test_config());
    let (ms, generation) = stable_group(&mut h, 2);
    // Only the leader heartbeats.
    for _ in 0..3 {
        h.advance(3_000);
        assert_eq!(
            h.heartbeat("g", generation, &ms[0]),
            codes::NONE,
            "before expiry"
        );
    }
    h.advance(1_000);
    assert_eq!(
        state(&h, "g"),
        GroupState::PreparingRebalance,
        "follower's session ended"
    );
    assert!(h.c.group("g").expect("g").members.contains_key(&ms[0]));
    assert!(
        !h.c.group("g").expect("g").members.contains_key(&ms[1]),
        "follower expired"
    );
    assert_eq!(state(&h, "g"), GroupState::PreparingRebalance);
    assert_eq!(
        h.heartbeat("g", generation, &ms[1]),
        codes::UNKNOWN_MEMBER_ID
    );
    let j = h.send(9, Harness::join_req("g", &ms[0], None, &["t"]));
    let r = h.join_resp(j);
    assert_eq!(r.generation_id, generation + 1);
    assert_eq!(r.members.len(), 1);
}

#[test]
fn rebalance_timeout_drops_members_that_do_not_rejoin() {
    let mut h = Harness::new(test_config());
    let (ms, generation) = stable_group(&mut h, 2);
    // A third member joins; the follower keeps heartbeating but never rejoins.
    let (j3, _c) = h.join_dynamic("g", &["t"]);
    let ja = h.send(9, Harness::join_req("g", &ms[0], None, &["t"]));
    assert!(h.response(ja).is_none());
    let mut t = 0;
    while h.response(ja).is_none() {
        h.advance(2_000);
        t += 2_000;
        let _ = h.heartbeat("g", generation, &ms[1]);
        assert!(
            t <= i64::from(REBALANCE) + 2_000,
            "join phase ends at the rebalance timeout"
        );
    }
    assert!(t >= i64::from(REBALANCE));
    let r = h.join_resp(ja);
    assert_eq!(r.generation_id, generation + 1);
    assert_eq!(r.members.len(), 2, "the member that did not rejoin is gone");
    assert_eq!(h.join_resp(j3).generation_id, generation + 1);
    assert!(!h.c.group("g").expect("g").members.contains_key(&ms[1]));
}

#[test]
fn sync_timeout_drops_members_that_never_sync() {
    let mut h = Harness::new(test_config());
    let (j, m) = h.join_dynamic("g", &["t"]);
    assert_eq!(h.join_resp(j).generation_id, 1);
    h.advance_by_steps(i64::from(REBALANCE) + 1, 1_000);
    assert!(
        h.c.group("g").expect("g").members.is_empty(),
        "{m} never synced"
    );
    assert_eq!(state(&h, "g"), GroupState::Empty);
}

#[test]
fn static_member_rejoins_without_rebalance() {
    let mut h = Harness::new(test_config());
    let j = h.send(9, Harness::join_req("g", "", Some("inst-1"), &["t"]));
    let r = h.join_resp(j);
    assert_eq!(r.error_code, 0, "static members skip MEMBER_ID_REQUIRED");
    let old = r.member_id.as_str().to_owned();
    assert!(old.starts_with("inst-1-"));
    let s = h.sync("g", 1, &old, &[(&old, b"mine")]);
    assert_eq!(h.sync_resp(s).error_code, 0);

    // Restart: same instance id, no member id, same protocols.
    let j2 = h.send(9, Harness::join_req("g", "", Some("inst-1"), &["t"]));
    let r2 = h.join_resp(j2);
    assert_eq!(r2.error_code, 0);
    assert_eq!(r2.generation_id, 1, "no rebalance");
    let new = r2.member_id.as_str().to_owned();
    assert_ne!(new, old);
    assert!(
        r2.skip_assignment,
        "the static leader at v9 skips assignment"
    );
    assert_eq!(state(&h, "g"), GroupState::Stable);
    // The new id gets the old member's assignment; the old id is fenced.
    let s2 = h.sync("g", 1, &new, &[]);
    assert_eq!(&h.sync_resp(s2).assignment[..], b"mine");
    let hb = h.send(
        4,
        HeartbeatRequest {
            group_id: "g".into(),
            generation_id: 1,
            member_id: old.as_str().into(),
            group_instance_id: Some("inst-1".into()),
            ..Default::default()
        },
    );
    match h.response(hb) {
        Some(ResponseBody::Heartbeat(r)) => assert_eq!(r.error_code, codes::FENCED_INSTANCE_ID),
        other => panic!("{other:?}"),
    }
}

#[test]
fn static_member_with_new_protocols_rebalances() {
    let mut h = Harness::new(test_config());
    let j = h.send(9, Harness::join_req("g", "", Some("i"), &["t"]));
    let old = h.join_resp(j).member_id.as_str().to_owned();
    let s = h.sync("g", 1, &old, &[(&old, b"x")]);
    assert_eq!(h.sync_resp(s).error_code, 0);
    let mut req = Harness::join_req("g", "", Some("i"), &["t"]);
    req.protocols[0].name = "roundrobin".into();
    // The lone member's new protocol is not one the group runs: refused.
    let j2 = h.send(9, req);
    assert_eq!(
        h.join_resp(j2).error_code,
        codes::INCONSISTENT_GROUP_PROTOCOL
    );
    // Same protocol name, other metadata: a rebalance, completed at once.
    let j3 = h.send(9, Harness::join_req("g", "", Some("i"), &["t", "u"]));
    let r3 = h.join_resp(j3);
    assert_eq!(r3.error_code, 0);
    assert_eq!(r3.generation_id, 2);
}

#[test]
fn join_validation_errors() {
    let mut h = Harness::new(test_config());
    let mut req = Harness::join_req("g", "", None, &["t"]);
    req.session_timeout_ms = 5_999;
    let j = h.send(9, req.clone());
    assert_eq!(h.join_resp(j).error_code, codes::INVALID_SESSION_TIMEOUT);
    req.session_timeout_ms = 1_800_001;
    let j = h.send(9, req);
    assert_eq!(h.join_resp(j).error_code, codes::INVALID_SESSION_TIMEOUT);
    let j = h.send(9, Harness::join_req("", "", None, &["t"]));
    assert_eq!(h.join_resp(j).error_code, codes::INVALID_GROUP_ID);
    let j = h.send(9, Harness::join_req("g", "ghost", None, &["t"]));
    assert_eq!(h.join_resp(j).error_code, codes::UNKNOWN_MEMBER_ID);
    let mut req = Harness::join_req("g2", "", None, &["t"]);
    req.protocol_type = "".into();
    let j = h.send(3, req);
    assert_eq!(
        h.join_resp(j).error_code,
        codes::INCONSISTENT_GROUP_PROTOCOL
    );
    // A connect-type member cannot join a consumer group.
    let (j, _) = h.join_dynamic("g3", &["t"]);
    assert_eq!(h.join_resp(j).error_code, 0);
    let mut req = Harness::join_req("g3", "", None, &["t"]);
    req.protocol_type = "connect".into();
    let j = h.send(3, req);
    assert_eq!(
        h.join_resp(j).error_code,
        codes::INCONSISTENT_GROUP_PROTOCOL
    );
}

#[test]
fn join_v0_needs_no_member_id_round_and_uses_session_as_rebalance_timeout() {
    let mut h = Harness::new(test_config());
    let mut req = Harness::join_req("g", "", None, &["t"]);
    req.rebalance_timeout_ms = -1;
    req.group_instance_id = None;
    let j = h.send(0, req);
    let r = h.join_resp(j);
    assert_eq!(r.error_code, 0);
    assert_eq!(r.generation_id, 1);
    let m = r.member_id.as_str().to_owned();
    assert!(m.starts_with("client-"));
    let member = &h.c.group("g").expect("g").members[&m];
    assert_eq!(member.rebalance_timeout_ms, SESSION);
}

#[test]
fn initial_rebalance_delay_gathers_members() {
    let cfg = GroupConfig {
        initial_rebalance_delay_ms: 3_000,
        ..GroupConfig::default()
    };
    let mut h = Harness::new(cfg);
    let (j1, _) = h.join_dynamic("g", &["t"]);
    h.advance(2_000);
    let (j2, _) = h.join_dynamic("g", &["t"]);
    h.advance(1_500);
    // A member came during the delay: it is extended once more.
    assert!(h.response(j1).is_none());
    h.advance(3_000);
    let (r1, r2) = (h.join_resp(j1), h.join_resp(j2));
    assert_eq!((r1.generation_id, r2.generation_id), (1, 1));
    assert_eq!(r1.members.len() + r2.members.len(), 2);
}

#[test]
fn sync_errors_and_protocol_checks() {
    let mut h = Harness::new(test_config());
    let (j, m) = h.join_dynamic("g", &["t"]);
    assert_eq!(h.join_resp(j).generation_id, 1);
    let s = h.sync("g", 7, &m, &[]);
    assert_eq!(h.sync_resp(s).error_code, codes::ILLEGAL_GENERATION);
    let s = h.sync("g", 1, "ghost", &[]);
    assert_eq!(h.sync_resp(s).error_code, codes::UNKNOWN_MEMBER_ID);
    let s = h.sync("nope", 1, &m, &[]);
    assert_eq!(h.sync_resp(s).error_code, codes::UNKNOWN_MEMBER_ID);
    let s = h.send(
        5,
        SyncGroupRequest {
            group_id: "g".into(),
            generation_id: 1,
            member_id: m.as_str().into(),
            protocol_name: Some("roundrobin".into()),
            ..Default::default()
        },
    );
    assert_eq!(
        h.sync_resp(s).error_code,
        codes::INCONSISTENT_GROUP_PROTOCOL
    );
}

#[test]
fn failed_assignment_write_fails_sync_and_rebalances() {
    let mut h = Harness::new(test_config());
    let (j, m) = h.join_dynamic("g", &["t"]);
    assert_eq!(h.join_resp(j).generation_id, 1);
    h.fail_appends = true;
    let s = h.sync("g", 1, &m, &[(&m, b"x")]);
    assert_eq!(h.sync_resp(s).error_code, codes::COORDINATOR_NOT_AVAILABLE);
    assert_eq!(state(&h, "g"), GroupState::PreparingRebalance);
    h.fail_appends = false;
    let j = h.send(9, Harness::join_req("g", &m, None, &["t"]));
    assert_eq!(h.join_resp(j).generation_id, 2);
}

#[test]
fn rebalance_during_sync_answers_waiting_followers() {
    let mut h = Harness::new(test_config());
    let (ms, generation) = stable_group(&mut h, 2);
    // Leader rejoins: rebalance; follower rejoins: next generation.
    let ja = h.send(9, Harness::join_req("g", &ms[0], None, &["t"]));
    let jb = h.send(9, Harness::join_req("g", &ms[1], None, &["t"]));
    assert_eq!(h.join_resp(ja).generation_id, generation + 1);
    assert_eq!(h.join_resp(jb).generation_id, generation + 1);
    let sb = h.sync("g", generation + 1, &ms[1], &[]);
    assert!(h.response(sb).is_none());
    // A new member arrives before the leader syncs.
    let (_j3, _) = h.join_dynamic("g", &["t"]);
    assert_eq!(h.sync_resp(sb).error_code, codes::REBALANCE_IN_PROGRESS);
}

#[test]
fn leave_group_versions() {
    let mut h = Harness::new(test_config());
    let (ms, _) = stable_group(&mut h, 3);
    // v0: one member, top-level error.
    let l = h.send(
        0,
        LeaveGroupRequest {
            group_id: "g".into(),
            member_id: "ghost".into(),
            ..Default::default()
        },
    );
    match h.response(l) {
        Some(ResponseBody::LeaveGroup(r)) => assert_eq!(r.error_code, codes::UNKNOWN_MEMBER_ID),
        other => panic!("{other:?}"),
    }
    // v3: a batch with one unknown member.
    let l = h.send(
        3,
        LeaveGroupRequest {
            group_id: "g".into(),
            members: vec![
                MemberIdentity {
                    member_id: ms[1].as_str().into(),
                    ..Default::default()
                },
                MemberIdentity {
                    member_id: "ghost".into(),
                    ..Default::default()
                },
                MemberIdentity {
                    member_id: ms[2].as_str().into(),
                    ..Default::default()
                },
            ],
            ..Default::default()
        },
    );
    match h.response(l) {
        Some(ResponseBody::LeaveGroup(r)) => {
            let codes_: Vec<i16> = r.members.iter().map(|m| m.error_code).collect();
            assert_eq!(codes_, vec![0, codes::UNKNOWN_MEMBER_ID, 0]);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(h.c.group("g").expect("g").members.len(), 1);
}

#[test]
fn requests_while_loading_get_load_in_progress() {
    let mut h = Harness::new(test_config());
    h.c.begin_load();
    let j = h.send(9, Harness::join_req("g", "", None, &["t"]));
    assert_eq!(
        h.join_resp(j).error_code,
        codes::COORDINATOR_LOAD_IN_PROGRESS
    );
    assert_eq!(
        h.heartbeat("g", 1, "m"),
        codes::COORDINATOR_LOAD_IN_PROGRESS
    );
    let f = h.send(
        8,
        OffsetFetchRequest {
            groups: vec![
                vltava_protocol::messages::offset_fetch_request::OffsetFetchRequestGroup {
                    group_id: "g".into(),
                    topics: None,
                    ..Default::default()
                },
            ],
            ..Default::default()
        },
    );
    match h.response(f) {
        Some(ResponseBody::OffsetFetch(r)) => {
            assert_eq!(r.groups[0].error_code, codes::COORDINATOR_LOAD_IN_PROGRESS)
        }
        other => panic!("{other:?}"),
    }
    h.c.finish_load(h.now);
    let j = h.send(9, Harness::join_req("g", "", None, &["t"]));
    assert_eq!(h.join_resp(j).error_code, codes::MEMBER_ID_REQUIRED);
}

#[test]
fn pending_member_id_expires() {
    let mut h = Harness::new(test_config());
    let j = h.send(9, Harness::join_req("g", "", None, &["t"]));
    let m = h.join_resp(j).member_id.as_str().to_owned();
    h.advance(i64::from(SESSION) + 1);
    let j = h.send(9, Harness::join_req("g", &m, None, &["t"]));
    assert_eq!(h.join_resp(j).error_code, codes::UNKNOWN_MEMBER_ID);
}

#[test]
fn every_version_of_join_sync_heartbeat_works() {
    for v in 0..=9i16 {
        let mut h = Harness::new(test_config());
        let mut req = Harness::join_req("g", "", None, &["t"]);
        if v < 5 {
            req.group_instance_id = None;
        }
        if v < 1 {
            req.rebalance_timeout_ms = -1;
        }
        let mut j = h.send(v, req.clone());
        if v >= 4 {
            let m = h.join_resp(j).member_id.clone();
            req.member_id = m;
            j = h.send(v, req);
        }
        let r = h.join_resp(j);
        assert_eq!(r.error_code, 0, "v{v}");
        let m = r.member_id.as_str().to_owned();
        for sv in 0..=5i16 {
            let s = h.send(
                sv,
                SyncGroupRequest {
                    group_id: "g".into(),
                    generation_id: 1,
                    member_id: m.as_str().into(),
                    assignments: vec![
                        vltava_protocol::messages::sync_group_request::SyncGroupRequestAssignment {
                            member_id: m.as_str().into(),
                            assignment: bytes::Bytes::from_static(b"a"),
                            ..Default::default()
                        },
                    ],
                    ..Default::default()
                },
            );
            assert_eq!(h.sync_resp(s).error_code, 0, "join v{v} sync v{sv}");
            assert_eq!(&h.sync_resp(s).assignment[..], b"a");
        }
        for hv in 0..=4i16 {
            let b = h.send(
                hv,
                HeartbeatRequest {
                    group_id: "g".into(),
                    generation_id: 1,
                    member_id: m.as_str().into(),
                    ..Default::default()
                },
            );
            assert!(matches!(h.response(b), Some(ResponseBody::Heartbeat(r)) if r.error_code == 0));
        }
    }
}

#[test]
fn pending_dynamic_id_cannot_take_a_static_instance() {
    let mut h = Harness::new(test_config());
    let j = h.send(9, Harness::join_req("g", "", Some("i"), &["t"]));
    assert_eq!(h.join_resp(j).error_code, 0);
    let j = h.send(9, Harness::join_req("g", "", None, &["t"]));
    let pending = h.join_resp(j).member_id.as_str().to_owned();
    let j = h.send(9, Harness::join_req("g", &pending, Some("i"), &["t"]));
    assert_eq!(h.join_resp(j).error_code, codes::FENCED_INSTANCE_ID);
    let g = h.c.group("g").expect("g");
    assert_eq!(g.members.len(), 1);
}

#[test]
fn static_member_that_misses_a_rebalance_stays_then_drops_without_sync() {
    let mut h = Harness::new(test_config());
    let ja = h.send(9, Harness::join_req("g", "", Some("a"), &["t"]));
    let a = h.join_resp(ja).member_id.as_str().to_owned();
    // b's session outlasts a rebalance.
    let mut req_b = Harness::join_req("g", "", Some("b"), &["t"]);
    req_b.session_timeout_ms = 60_000;
    let jb = h.send(9, req_b);
    assert!(h.response(jb).is_none(), "b waits for a to rejoin");
    let ja = h.send(9, Harness::join_req("g", &a, Some("a"), &["t"]));
    let b = h.join_resp(jb).member_id.as_str().to_owned();
    assert_eq!(h.join_resp(ja).generation_id, 2);
    let sb = h.sync("g", 2, &b, &[]);
    let sa = h.sync("g", 2, &a, &[(&a, b"A"), (&b, b"B")]);
    assert_eq!(h.sync_resp(sa).error_code, 0);
    assert_eq!(h.sync_resp(sb).error_code, 0);

    // A dynamic member arrives; static b is offline and never rejoins.
    let (jc, _c) = h.join_dynamic("g", &["t"]);
    let ja = h.send(9, Harness::join_req("g", &a, Some("a"), &["t"]));
    h.advance_by_steps(i64::from(REBALANCE), 1_000);
    let ra = h.join_resp(ja);
    assert_eq!(ra.generation_id, 3);
    assert_eq!(h.join_resp(jc).generation_id, 3);
    // b is still a member of generation 3 (static members are not dropped
    // at the end of a join phase) and the leader assigns to it.
    assert_eq!(ra.members.len(), 3);
    assert!(h.c.group("g").expect("g").members.contains_key(&b));
    // It does not sync in generation 3: at the sync deadline it is dropped
    // and the group rebalances, while a and c keep heartbeating.
    let c_id = h.join_resp(jc).member_id.as_str().to_owned();
    let all: Vec<(&str, &[u8])> = vec![(&a, b"A"), (&b, b"B"), (&c_id, b"C")];
    let sc = h.sync("g", 3, &c_id, &[]);
    let sa = h.sync("g", 3, &a, &all);
    assert_eq!(h.sync_resp(sa).error_code, 0);
    assert_eq!(&h.sync_resp(sc).assignment[..], b"C");
    for _ in 0..10 {
        h.advance(3_100);
        let _ = h.heartbeat("g", 3, &a);
        let _ = h.heartbeat("g", 3, &c_id);
    }
    let g = h.c.group("g").expect("g");
    assert!(!g.members.contains_key(&b));
    assert!(g.static_member("b").is_none());
    assert_eq!(g.members.len(), 2);
    assert_eq!(g.state, GroupState::PreparingRebalance);
}

#[test]
fn join_phase_waits_while_only_absent_static_members_remain() {
    let mut h = Harness::new(test_config());
    let ja = h.send(9, Harness::join_req("g", "", Some("a"), &["t"]));
    let a = h.join_resp(ja).member_id.as_str().to_owned();
    let sa = h.sync("g", 1, &a, &[(&a, b"A")]);
    assert_eq!(h.sync_resp(sa).error_code, 0);
    // A dynamic member joins and leaves again before anyone rejoins.
    let (jb, b) = h.join_dynamic("g", &["t"]);
    let leave = h.send(
        3,
        LeaveGroupRequest {
            group_id: "g".into(),
            members: vec![MemberIdentity {
                member_id: b.as_str().into(),
                ..Default::default()
            }],
            ..Default::default()
        },
    );
    assert!(h.response(leave).is_some());
    assert_eq!(h.join_resp(jb).error_code, codes::UNKNOWN_MEMBER_ID);
    // The static member never rejoins; the join phase is re-armed instead of
    // completing with nobody, until the member's session ends.
    h.advance_by_steps(i64::from(SESSION) - 1_000, 1_000);
    assert_eq!(
        h.c.group("g").map(|g| g.state),
        Some(GroupState::PreparingRebalance)
    );
    h.advance_by_steps(2_000, 1_000);
    let g = h.c.group("g").expect("g");
    assert_eq!((g.state, g.generation), (GroupState::Empty, 2));
    assert!(g.members.is_empty());
}

#[test]
fn an_unused_member_id_expiring_does_not_rebalance() {
    let mut h = Harness::new(test_config());
    let (j, a) = h.join_dynamic("g", &["t"]);
    assert_eq!(h.join_resp(j).generation_id, 1);
    let s = h.sync("g", 1, &a, &[(&a, b"A")]);
    assert_eq!(h.sync_resp(s).error_code, 0);
    // Someone asks for a member id and never comes back.
    let p = h.send(9, Harness::join_req("g", "", None, &["t"]));
    assert_eq!(h.join_resp(p).error_code, codes::MEMBER_ID_REQUIRED);
    for _ in 0..4 {
        h.advance(3_000);
        assert_eq!(h.heartbeat("g", 1, &a), codes::NONE);
    }
    assert!(h.c.group("g").expect("g").pending_members.is_empty());
    assert_eq!(state(&h, "g"), GroupState::Stable);
}

#[test]
fn leader_sync_is_stored_while_an_older_generations_write_is_in_flight() {
    let mut h = Harness::new(test_config());
    let (j, a) = h.join_dynamic("g", &["t"]);
    assert_eq!(h.join_resp(j).generation_id, 1);
    h.hold_appends = true;
    let s1 = h.sync("g", 1, &a, &[(&a, b"1")]);
    // A new member: the generation-1 write is still in flight.
    let (jb, b) = h.join_dynamic("g", &["t"]);
    assert_eq!(h.sync_resp(s1).error_code, codes::REBALANCE_IN_PROGRESS);
    let ja = h.send(9, Harness::join_req("g", &a, None, &["t"]));
    assert_eq!(h.join_resp(ja).generation_id, 2);
    assert_eq!(h.join_resp(jb).generation_id, 2);
    let s2 = h.sync("g", 2, &a, &[(&a, b"2a"), (&b, b"2b")]);
    let sb = h.sync("g", 2, &b, &[]);
    h.hold_appends = false;
    h.release_held(true);
    assert_eq!(&h.sync_resp(s2).assignment[..], b"2a");
    assert_eq!(&h.sync_resp(sb).assignment[..], b"2b");
    assert_eq!(state(&h, "g"), GroupState::Stable);
}
