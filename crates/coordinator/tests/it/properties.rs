//! Property test: random sequences of requests, ticks and failed appends
//! never panic, every request is answered once (and encodes at its
//! version), and the invariants hold: at most one leader and it is a member,
//! generations never go back, states agree with membership, and every
//! acknowledged commit reads back until deleted.

use std::collections::HashMap;

use crate::common::*;
use proptest::prelude::*;
use vltava_coordinator::GroupState;
use vltava_protocol::ResponseBody;
use vltava_protocol::messages::leave_group_request::MemberIdentity;
use vltava_protocol::messages::offset_commit_request::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use vltava_protocol::messages::offset_delete_request::{
    OffsetDeleteRequestPartition, OffsetDeleteRequestTopic,
};
use vltava_protocol::messages::offset_fetch_request::OffsetFetchRequestTopic;
use vltava_protocol::messages::sync_group_request::SyncGroupRequestAssignment;
use vltava_protocol::messages::*;

const GROUPS: [&str; 2] = ["g0", "g1"];
const SLOTS: usize = 3;

#[derive(Debug, Clone)]
enum Op {
    Join {
        g: usize,
        slot: usize,
        version: i16,
        static_: bool,
        topics: bool,
    },
    Sync {
        g: usize,
        slot: usize,
        version: i16,
    },
    Heartbeat {
        g: usize,
        slot: usize,
        version: i16,
    },
    Leave {
        g: usize,
        slot: usize,
        version: i16,
    },
    Commit {
        g: usize,
        slot: usize,
        partition: i32,
        offset: i64,
        simple: bool,
        version: i16,
    },
    OffsetDelete {
        g: usize,
        partition: i32,
    },
    DeleteGroup {
        g: usize,
        version: i16,
    },
    Describe {
        version: i16,
    },
    List {
        version: i16,
    },
    Advance {
        ms: i64,
    },
    FailAppends(bool),
    /// Hold appends (their outcome comes later) or stop holding.
    HoldAppends(bool),
    /// Complete the held appends, all ok or all failed.
    ReleaseHeld(bool),
    /// Every slot of the group behaves: rejoins while the group rebalances,
    /// syncs (the leader with assignments) when it completes.
    Cooperate {
        g: usize,
    },
}

fn op() -> impl Strategy<Value = Op> {
    let g = 0..GROUPS.len();
    let slot = 0..SLOTS;
    prop_oneof![
        4 => (g.clone(), slot.clone(), 0i16..=9, any::<bool>(), any::<bool>())
            .prop_map(|(g, slot, version, static_, topics)| Op::Join { g, slot, version, static_, topics }),
        3 => (g.clone(), slot.clone(), 0i16..=5).prop_map(|(g, slot, version)| Op::Sync { g, slot, version }),
        3 => (g.clone(), slot.clone(), 0i16..=4).prop_map(|(g, slot, version)| Op::Heartbeat { g, slot, version }),
        1 => (g.clone(), slot.clone(), 0i16..=5).prop_map(|(g, slot, version)| Op::Leave { g, slot, version }),
        3 => (g.clone(), slot.clone(), 0i32..3, 0i64..1000, any::<bool>(), 0i16..=9)
            .prop_map(|(g, slot, partition, offset, simple, version)| Op::Commit { g, slot, partition, offset, simple, version }),
        1 => (g.clone(), 0i32..3).prop_map(|(g, partition)| Op::OffsetDelete { g, partition }),
        1 => (g.clone(), 0i16..=2).prop_map(|(g, version)| Op::DeleteGroup { g, version }),
        1 => (0i16..=5).prop_map(|version| Op::Describe { version }),
        1 => (0i16..=5).prop_map(|version| Op::List { version }),
        3 => (1i64..20_000).prop_map(|ms| Op::Advance { ms }),
        1 => any::<bool>().prop_map(Op::FailAppends),
        1 => any::<bool>().prop_map(Op::HoldAppends),
        2 => any::<bool>().prop_map(Op::ReleaseHeld),
        4 => (0..GROUPS.len()).prop_map(|g| Op::Cooperate { g }),
    ]
}

#[derive(Debug, Clone, Copy)]
enum Tracked {
    Commit { g: usize, p: i32, o: i64 },
    Delete { g: usize, p: i32 },
    DeleteGroup { g: usize },
}

#[derive(Default, Clone)]
struct Slot {
    member_id: String,
    generation: i32,
    joins: Vec<u64>,
}

struct Model {
    h: Harness,
    slots: HashMap<(usize, usize), Slot>,
    /// Acknowledged offsets: (group, partition) → offset.
    committed: HashMap<(usize, i32), i64>,
    /// Commits and deletions whose responses are still to be read, by
    /// request id (their effects land in that order).
    tracked: Vec<(u64, Tracked)>,
    generations: HashMap<String, i32>,
}

impl Model {
    fn learn(&mut self) {
        for ((_, _), slot) in self.slots.iter_mut() {
            let answered: Vec<u64> = slot
                .joins
                .iter()
                .copied()
                .filter(|id| self.h.response(*id).is_some())
                .collect();
            for id in answered {
                slot.joins.retain(|j| *j != id);
                if let Some(ResponseBody::JoinGroup(r)) = self.h.response(id) {
                    if (r.error_code == 0 || r.error_code == 79) && !r.member_id.is_empty() {
                        slot.member_id = r.member_id.as_str().to_owned();
                        if r.error_code == 0 {
                            slot.generation = r.generation_id;
                        }
                    }
                }
            }
        }
        // Acknowledged commits, offset deletions and group deletions, in
        // request order (appends complete in that order).
        let mut pending = Vec::new();
        for (id, t) in std::mem::take(&mut self.tracked) {
            match (t, self.h.response(id)) {
                (_, None) => pending.push((id, t)),
                (Tracked::Commit { g, p, o }, Some(ResponseBody::OffsetCommit(r))) => {
                    if r.topics[0].partitions[0].error_code == 0 {
                        self.committed.insert((g, p), o);
                    }
                }
                (Tracked::Delete { g, p }, Some(ResponseBody::OffsetDelete(r))) => {
                    if r.error_code == 0 && r.topics[0].partitions[0].error_code == 0 {
                        self.committed.remove(&(g, p));
                    }
                }
                (Tracked::DeleteGroup { g }, Some(ResponseBody::DeleteGroups(r))) => {
                    if r.results[0].error_code == 0 {
                        self.committed.retain(|(gg, _), _| *gg != g);
                    }
                }
                (t, other) => panic!("{t:?} answered with {other:?}"),
            }
        }
        self.tracked = pending;
    }

    fn check_invariants(&mut self) {
        assert_eq!(
            self.h.c.next_deadline(),
            self.h.c.next_deadline_scan(),
            "the timer index agrees with a full scan"
        );
        for g in self.h.c.groups() {
            if let Some(l) = &g.leader {
                assert!(
                    g.members.contains_key(l),
                    "leader {l} is a member of {}",
                    g.id
                );
            }
            if g.members.is_empty() {
                assert!(g.leader.is_none() || g.state == GroupState::PreparingRebalance);
            } else {
                assert!(g.leader.is_some(), "a group with members has a leader");
            }
            match g.state {
                GroupState::Empty => assert!(g.members.is_empty()),
                GroupState::CompletingRebalance | GroupState::Stable => {
                    assert!(!g.members.is_empty())
                }
                _ => {}
            }
            let statics = g
                .members
                .values()
                .filter(|m| m.group_instance_id.is_some())
                .count();
            assert_eq!(statics, g.static_members.len());
            let last = self.generations.entry(g.id.clone()).or_insert(g.generation);
            assert!(g.generation >= *last, "generation of {} went back", g.id);
            *last = g.generation;
        }
        // Groups that vanished (deleted, expired) may start over.
        let live: Vec<String> = self.h.c.groups().map(|g| g.id.clone()).collect();
        self.generations.retain(|k, _| live.contains(k));
    }

    fn run(&mut self, op: Op) {
        match op {
            Op::Join {
                g,
                slot,
                version,
                static_,
                topics,
            } => {
                let s = self.slots.entry((g, slot)).or_default().clone();
                let instance = format!("inst-{slot}");
                let mut req = Harness::join_req(
                    GROUPS[g],
                    &s.member_id,
                    (static_ && version >= 5).then_some(instance.as_str()),
                    if topics { &["a", "b"] } else { &["a"] },
                );
                if version == 0 {
                    req.rebalance_timeout_ms = -1;
                }
                let id = self.h.send(version, req);
                self.slots.entry((g, slot)).or_default().joins.push(id);
            }
            Op::Sync { g, slot, version } => {
                let s = self.slots.entry((g, slot)).or_default().clone();
                let members: Vec<String> = self
                    .h
                    .c
                    .group(GROUPS[g])
                    .map(|gr| gr.members.keys().cloned().collect())
                    .unwrap_or_default();
                self.h.send(
                    version,
                    SyncGroupRequest {
                        group_id: GROUPS[g].into(),
                        generation_id: s.generation,
                        member_id: s.member_id.as_str().into(),
                        assignments: members
                            .iter()
                            .map(|m| SyncGroupRequestAssignment {
                                member_id: m.as_str().into(),
                                assignment: bytes::Bytes::from_static(b"x"),
                                ..Default::default()
                            })
                            .collect(),
                        ..Default::default()
                    },
                );
            }
            Op::Heartbeat { g, slot, version } => {
                let s = self.slots.entry((g, slot)).or_default().clone();
                self.h.send(
                    version,
                    HeartbeatRequest {
                        group_id: GROUPS[g].into(),
                        generation_id: s.generation,
                        member_id: s.member_id.as_str().into(),
                        ..Default::default()
                    },
                );
            }
            Op::Leave { g, slot, version } => {
                let s = self.slots.entry((g, slot)).or_default().clone();
                let req = if version >= 3 {
                    LeaveGroupRequest {
                        group_id: GROUPS[g].into(),
                        members: vec![MemberIdentity {
                            member_id: s.member_id.as_str().into(),
                            ..Default::default()
                        }],
                        ..Default::default()
                    }
                } else {
                    LeaveGroupRequest {
                        group_id: GROUPS[g].into(),
                        member_id: s.member_id.as_str().into(),
                        ..Default::default()
                    }
                };
                self.h.send(version, req);
            }
            Op::Commit {
                g,
                slot,
                partition,
                offset,
                simple,
                version,
            } => {
                let s = self.slots.entry((g, slot)).or_default().clone();
                let (generation, member) = if simple || version == 0 {
                    (-1, String::new())
                } else {
                    (s.generation, s.member_id)
                };
                let id = self.h.send(
                    version,
                    OffsetCommitRequest {
                        group_id: GROUPS[g].into(),
                        generation_id_or_member_epoch: generation,
                        member_id: member.into(),
                        topics: vec![OffsetCommitRequestTopic {
                            name: "a".into(),
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
                self.tracked.push((
                    id,
                    Tracked::Commit {
                        g,
                        p: partition,
                        o: offset,
                    },
                ));
            }
            Op::OffsetDelete { g, partition } => {
                let id = self.h.send(
                    0,
                    OffsetDeleteRequest {
                        group_id: GROUPS[g].into(),
                        topics: vec![OffsetDeleteRequestTopic {
                            name: "a".into(),
                            partitions: vec![OffsetDeleteRequestPartition {
                                partition_index: partition,
                            }],
                        }],
                    },
                );
                self.tracked.push((id, Tracked::Delete { g, p: partition }));
            }
            Op::DeleteGroup { g, version } => {
                let id = self.h.send(
                    version,
                    DeleteGroupsRequest {
                        groups_names: vec![GROUPS[g].into()],
                        ..Default::default()
                    },
                );
                self.tracked.push((id, Tracked::DeleteGroup { g }));
            }
            Op::Describe { version } => {
                self.h.send(
                    version,
                    DescribeGroupsRequest {
                        groups: GROUPS.iter().map(|g| (*g).into()).collect(),
                        ..Default::default()
                    },
                );
            }
            Op::List { version } => {
                self.h.send(version, ListGroupsRequest::default());
            }
            Op::Advance { ms } => self.h.advance(ms),
            Op::FailAppends(f) => self.h.fail_appends = f,
            Op::HoldAppends(hold) => self.h.hold_appends = hold,
            Op::ReleaseHeld(ok) => self.h.release_held(ok),
            Op::Cooperate { g } => {
                let Some(group) = self.h.c.group(GROUPS[g]) else {
                    return;
                };
                let state = group.state;
                let members: Vec<String> = group.members.keys().cloned().collect();
                let leader = group.leader.clone();
                for slot in 0..SLOTS {
                    let s = self.slots.entry((g, slot)).or_default().clone();
                    if !members.contains(&s.member_id) || !s.joins.is_empty() {
                        continue;
                    }
                    match state {
                        GroupState::PreparingRebalance => {
                            let req = Harness::join_req(GROUPS[g], &s.member_id, None, &["a"]);
                            let id = self.h.send(9, req);
                            self.slots.entry((g, slot)).or_default().joins.push(id);
                        }
                        GroupState::CompletingRebalance => {
                            let assignments: Vec<(&str, &[u8])> =
                                if leader.as_deref() == Some(s.member_id.as_str()) {
                                    members.iter().map(|m| (m.as_str(), &b"y"[..])).collect()
                                } else {
                                    Vec::new()
                                };
                            self.h
                                .sync(GROUPS[g], s.generation, &s.member_id, &assignments);
                        }
                        _ => {}
                    }
                    self.learn();
                }
            }
        }
        self.learn();
        self.check_invariants();
    }

    fn fetch(&mut self, g: usize, p: i32) -> i64 {
        let id = self.h.send(
            7,
            OffsetFetchRequest {
                group_id: GROUPS[g].into(),
                topics: Some(vec![OffsetFetchRequestTopic {
                    name: "a".into(),
                    partition_indexes: vec![p],
                    ..Default::default()
                }]),
                ..Default::default()
            },
        );
        match self.h.response(id) {
            Some(ResponseBody::OffsetFetch(r)) => r.topics[0].partitions[0].committed_offset,
            other => panic!("{other:?}"),
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn random_sequences_keep_invariants(ops in proptest::collection::vec(op(), 1..80)) {
        let mut m = Model {
            h: Harness::new(test_config()),
            slots: HashMap::new(),
            committed: HashMap::new(),
            tracked: Vec::new(),
            generations: HashMap::new(),
        };
        for o in ops {
            m.run(o);
        }
        m.h.hold_appends = false;
        m.h.release_held(true);
        m.learn();
        m.check_invariants();
        // Acknowledged offsets read back.
        for ((g, p), o) in m.committed.clone() {
            prop_assert_eq!(m.fetch(g, p), o);
        }
        // A coordinator that replays what was written reads the same offsets.
        let mut reloaded = Model {
            h: Harness::new(test_config()),
            slots: HashMap::new(),
            committed: HashMap::new(),
            tracked: Vec::new(),
            generations: HashMap::new(),
        };
        reloaded.h.c.begin_load();
        for (_, k, v) in &m.h.log {
            prop_assert!(reloaded.h.c.load(k.clone(), v.clone()).is_ok());
        }
        reloaded.h.c.finish_load(m.h.now);
        reloaded.check_invariants();
        for ((g, p), o) in m.committed.clone() {
            prop_assert_eq!(reloaded.fetch(g, p), o);
        }
        for g in m.h.c.groups() {
            if g.state == GroupState::Stable {
                let r = reloaded.h.c.group(&g.id).expect("stable group reloads");
                prop_assert_eq!(r.generation, g.generation);
                prop_assert_eq!(r.members.len(), g.members.len());
            }
        }
        // Given time, every waiting JoinGroup and SyncGroup is answered.
        m.h.fail_appends = false;
        m.h.advance_by_steps(700_000, 5_000);
        prop_assert_eq!(m.h.unanswered(), Vec::<u64>::new());
        m.check_invariants();
    }
}
