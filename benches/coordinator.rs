//! vltava-coordinator benchmarks: the core's cost per request on a busy
//! coordinator (Heartbeat and OffsetCommit to one stable group among many) and
//! the driver's per-request timer scan (`next_deadline`) over all groups.
//!
//! `cargo bench -p vltava-coordinator --bench coordinator -- --warm-up-time 1 --measurement-time 3`

use std::hint::black_box;

use bytes::Bytes;
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use vltava_coordinator::{Effect, GroupConfig, GroupCoordinator, GroupRequest};
use vltava_protocol::ResponseBody;
use vltava_protocol::messages::join_group_request::JoinGroupRequestProtocol;
use vltava_protocol::messages::offset_commit_request::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use vltava_protocol::messages::sync_group_request::SyncGroupRequestAssignment;
use vltava_protocol::messages::{
    HeartbeatRequest, JoinGroupRequest, OffsetCommitRequest, SyncGroupRequest,
};

const MEMBERS: usize = 10;

fn run(c: &mut GroupCoordinator, id: u64, now: i64, req: GroupRequest) -> Vec<ResponseBody> {
    let mut out = Vec::new();
    let mut effects = c.handle(id, now, req);
    while let Some(e) = effects.pop() {
        match e {
            Effect::Respond { body, .. } => out.push(body),
            Effect::Append { append_id, .. } => {
                effects.extend(c.complete_append(append_id, true, now))
            }
        }
    }
    out
}

/// `groups` stable groups of `MEMBERS` members each; returns the coordinator
/// and, for group 0, its generation and member ids.
fn setup(groups: usize) -> (GroupCoordinator, i32, Vec<String>) {
    let mut c = GroupCoordinator::new(GroupConfig {
        initial_rebalance_delay_ms: 0,
        ..GroupConfig::default()
    });
    let mut id = 0;
    let mut first = (0, Vec::new());
    for g in 0..groups {
        let group = format!("group-{g}");
        let join = |member: &str| JoinGroupRequest {
            group_id: group.as_str().into(),
            session_timeout_ms: 30_000,
            rebalance_timeout_ms: 60_000,
            member_id: member.into(),
            protocol_type: "consumer".into(),
            protocols: vec![JoinGroupRequestProtocol {
                name: "range".into(),
                metadata: Bytes::from_static(&[0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff]),
                ..Default::default()
            }],
            ..Default::default()
        };
        // v3 joins: no MEMBER_ID_REQUIRED round. Members join one after the
        // other; then everyone rejoins into one generation.
        for _ in 0..MEMBERS {
            id += 1;
            run(&mut c, id, 0, GroupRequest::new(3, join("")));
        }
        let g_now = c
            .group(&group)
            .map(|g| g.members.keys().cloned().collect::<Vec<_>>())
            .unwrap_or_default();
        let mut generation = 0;
        for m in &g_now {
            id += 1;
            for r in run(&mut c, id, 0, GroupRequest::new(3, join(m))) {
                if let ResponseBody::JoinGroup(r) = r {
                    generation = generation.max(r.generation_id);
                }
            }
        }
        let leader = c
            .group(&group)
            .and_then(|g| g.leader.clone())
            .unwrap_or_default();
        let assignments: Vec<SyncGroupRequestAssignment> = g_now
            .iter()
            .map(|m| SyncGroupRequestAssignment {
                member_id: m.as_str().into(),
                assignment: Bytes::from_static(b"assignment"),
                ..Default::default()
            })
            .collect();
        for m in &g_now {
            id += 1;
            let sync = SyncGroupRequest {
                group_id: group.as_str().into(),
                generation_id: generation,
                member_id: m.as_str().into(),
                assignments: if *m == leader {
                    assignments.clone()
                } else {
                    Vec::new()
                },
                ..Default::default()
            };
            run(&mut c, id, 0, GroupRequest::new(3, sync));
        }
        if g == 0 {
            first = (generation, g_now);
        }
    }
    (c, first.0, first.1)
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("coordinator");
    for groups in [1usize, 100, 1_000] {
        let (mut coord, generation, members) = setup(groups);
        assert_eq!(
            coord.group("group-0").map(|g| g.state.name()),
            Some("Stable"),
            "benchmark group is stable"
        );
        let member = members[0].clone();
        let mut id = 1_000_000u64;
        group.bench_function(BenchmarkId::new("heartbeat", groups), |b| {
            b.iter(|| {
                id += 1;
                let hb = HeartbeatRequest {
                    group_id: "group-0".into(),
                    generation_id: generation,
                    member_id: member.as_str().into(),
                    ..Default::default()
                };
                black_box(run(&mut coord, id, 1, GroupRequest::new(4, hb)))
            })
        });
        group.bench_function(
            BenchmarkId::new("offset_commit_8_partitions", groups),
            |b| {
                b.iter(|| {
                    id += 1;
                    let commit = OffsetCommitRequest {
                        group_id: "group-0".into(),
                        generation_id_or_member_epoch: generation,
                        member_id: member.as_str().into(),
                        topics: vec![OffsetCommitRequestTopic {
                            name: "topic".into(),
                            partitions: (0..8)
                                .map(|p| OffsetCommitRequestPartition {
                                    partition_index: p,
                                    committed_offset: id as i64,
                                    ..Default::default()
                                })
                                .collect(),
                            ..Default::default()
                        }],
                        ..Default::default()
                    };
                    black_box(run(&mut coord, id, 1, GroupRequest::new(8, commit)))
                })
            },
        );
        group.bench_function(BenchmarkId::new("next_deadline", groups), |b| {
            b.iter(|| black_box(coord.next_deadline()))
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
