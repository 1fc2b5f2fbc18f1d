//! Property test of transactional offsets on the group side: random
//! TxnOffsetCommits of two producers, plain commits, failed writes and
//! COMMIT/ABORT markers agree with a model of Kafka's rules (a committed
//! transaction's offsets replace only offsets written before them; aborted
//! ones vanish; pending ones make `require_stable` fetches unstable), live
//! and after replaying the log with its markers.

use std::collections::{BTreeMap, HashMap};

use bytes::Bytes;
use proptest::prelude::*;
use vltava_coordinator::{GroupCoordinator, partition_for};
use vltava_protocol::ResponseBody;
use vltava_protocol::messages::offset_commit_request::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use vltava_protocol::messages::offset_fetch_request::{
    OffsetFetchRequestGroup, OffsetFetchRequestTopics,
};
use vltava_protocol::messages::txn_offset_commit_request::{
    TxnOffsetCommitRequestPartition, TxnOffsetCommitRequestTopic,
};
use vltava_protocol::messages::*;

use crate::common::*;

const GROUPS: [&str; 2] = ["g0", "g1"];
const PIDS: [i64; 2] = [100, 200];

#[derive(Debug, Clone)]
enum Op {
    Txn {
        pid: usize,
        g: usize,
        p: i32,
        offset: i64,
        fail: bool,
    },
    Plain {
        g: usize,
        p: i32,
        offset: i64,
    },
    Marker {
        pid: usize,
        g: usize,
        commit: bool,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..2usize, 0..2usize, 0..3i32, 0..1000i64, prop::bool::weighted(0.15))
            .prop_map(|(pid, g, p, offset, fail)| Op::Txn { pid, g, p, offset, fail }),
        2 => (0..2usize, 0..3i32, 0..1000i64).prop_map(|(g, p, offset)| Op::Plain { g, p, offset }),
        2 => (0..2usize, 0..2usize, any::<bool>())
            .prop_map(|(pid, g, commit)| Op::Marker { pid, g, commit }),
    ]
}

/// What the log holds, in order, for a replay.
#[derive(Debug, Clone)]
enum Entry {
    Plain(Bytes, Option<Bytes>),
    Txn(i64, Bytes, Option<Bytes>),
    Marker(i32, i64, bool),
}

/// (group, partition) -> (offset, order).
type Offsets = BTreeMap<(usize, i32), (i64, u64)>;

#[derive(Default)]
struct Model {
    seq: u64,
    /// (group, partition) -> (offset, order).
    visible: HashMap<(usize, i32), (i64, u64)>,
    /// pid -> (group, partition) -> (offset, order).
    pending: HashMap<usize, Offsets>,
}

fn fetch(h: &mut Harness, g: usize) -> Vec<(i64, i16)> {
    let id = h.send(
        8,
        OffsetFetchRequest {
            groups: vec![OffsetFetchRequestGroup {
                group_id: GROUPS[g].into(),
                topics: Some(vec![OffsetFetchRequestTopics {
                    name: "t".into(),
                    partition_indexes: vec![0, 1, 2],
                    ..Default::default()
                }]),
                ..Default::default()
            }],
            require_stable: true,
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

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn transactional_offsets_follow_the_model(ops in prop::collection::vec(op(), 1..50)) {
        let mut h = Harness::new(test_config());
        let mut m = Model::default();
        let mut entries: Vec<Entry> = Vec::new();
        for op in ops {
            let logged = h.log.len();
            match op {
                Op::Txn { pid, g, p, offset, fail } => {
                    h.fail_code = fail.then_some(47);
                    let id = h.send(3, TxnOffsetCommitRequest {
                        transactional_id: "tx".into(),
                        group_id: GROUPS[g].into(),
                        producer_id: PIDS[pid],
                        producer_epoch: 0,
                        generation_id: -1,
                        topics: vec![TxnOffsetCommitRequestTopic {
                            name: "t".into(),
                            partitions: vec![TxnOffsetCommitRequestPartition {
                                partition_index: p,
                                committed_offset: offset,
                                ..Default::default()
                            }],
                            ..Default::default()
                        }],
                        ..Default::default()
                    });
                    h.fail_code = None;
                    let Some(ResponseBody::TxnOffsetCommit(r)) = h.response(id) else {
                        panic!("no answer")
                    };
                    let code = r.topics[0].partitions[0].error_code;
                    prop_assert_eq!(code, if fail { 47 } else { 0 });
                    if !fail {
                        m.seq += 1;
                        m.pending.entry(pid).or_default().insert((g, p), (offset, m.seq));
                    }
                }
                Op::Plain { g, p, offset } => {
                    h.send(2, OffsetCommitRequest {
                        group_id: GROUPS[g].into(),
                        generation_id_or_member_epoch: -1,
                        topics: vec![OffsetCommitRequestTopic {
                            name: "t".into(),
                            partitions: vec![OffsetCommitRequestPartition {
                                partition_index: p,
                                committed_offset: offset,
                                ..Default::default()
                            }],
                            ..Default::default()
                        }],
                        ..Default::default()
                    });
                    m.seq += 1;
                    m.visible.insert((g, p), (offset, m.seq));
                }
                Op::Marker { pid, g, commit } => {
                    let partition = partition_for(GROUPS[g], 50);
                    entries.push(Entry::Marker(partition, PIDS[pid], commit));
                    let now = h.now;
                    let effects = h.c.complete_txn_marker(partition, PIDS[pid], commit, now);
                    h.apply(effects);
                    if let Some(pending) = m.pending.get_mut(&pid) {
                        let on: Vec<(usize, i32)> = pending
                            .keys()
                            .filter(|(pg, _)| partition_for(GROUPS[*pg], 50) == partition)
                            .copied()
                            .collect();
                        for k in on {
                            let Some((offset, seq)) = pending.remove(&k) else { continue };
                            if commit && m.visible.get(&k).is_none_or(|(_, s)| *s < seq) {
                                m.visible.insert(k, (offset, seq));
                            }
                        }
                    }
                }
            }
            for i in logged..h.log.len() {
                let (_, k, v) = h.log[i].clone();
                entries.push(match h.log_producers[i] {
                    Some((pid, _)) => Entry::Txn(pid, k, v),
                    None => Entry::Plain(k, v),
                });
            }
            // Live state agrees with the model.
            for g in 0..GROUPS.len() {
                let got = fetch(&mut h, g);
                for (i, p) in (0..3).enumerate() {
                    let unstable = m.pending.values().any(|ps| ps.contains_key(&(g, p)));
                    let want = if unstable {
                        (-1, 88)
                    } else {
                        (m.visible.get(&(g, p)).map_or(-1, |(o, _)| *o), 0)
                    };
                    prop_assert_eq!(got[i], want, "group {} partition {}", g, p);
                }
            }
        }
        // A replay of the log (records and markers) has the same offsets.
        let mut r = GroupCoordinator::new(test_config());
        r.begin_load();
        for e in &entries {
            match e.clone() {
                Entry::Plain(k, v) => r.load(k, v).expect("loads"),
                Entry::Txn(pid, k, v) => r.load_transactional(k, v, pid).expect("loads"),
                Entry::Marker(p, pid, commit) => r.load_marker_on(p, pid, commit),
            }
        }
        r.finish_load(h.now);
        for (g, group) in GROUPS.iter().enumerate() {
            for p in 0..3 {
                let live = h.c.group(group).and_then(|x| x.offsets.get(&("t".to_owned(), p))).map(|o| o.offset);
                let replayed = r.group(group).and_then(|x| x.offsets.get(&("t".to_owned(), p))).map(|o| o.offset);
                prop_assert_eq!(live, replayed, "group {} partition {}", g, p);
                prop_assert_eq!(
                    h.c.has_pending_txn_offset(group, "t", p),
                    r.has_pending_txn_offset(group, "t", p)
                );
            }
        }
    }
}
