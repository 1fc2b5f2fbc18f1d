//! Property test of the transaction coordinator: random sequences of
//! InitProducerId / AddPartitionsToTxn / AddOffsetsToTxn / EndTxn from
//! current and stale producers, ticks, held or failed appends and marker
//! writes never panic, answer every request once, never move an epoch
//! back, end every transaction once time passes, and a coordinator
//! reloaded from the written records has the same state.

use std::collections::HashMap;

use proptest::prelude::*;
use vltava_coordinator::{TxnConfig, TxnState};

use crate::txn_harness::TxnHarness;

const IDS: [&str; 3] = ["a", "b", "c"];

#[derive(Debug, Clone)]
enum Op {
    Init {
        id: usize,
        version: i16,
        resume: bool,
    },
    Add {
        id: usize,
        partition: i32,
        stale: bool,
    },
    AddOffsets {
        id: usize,
        group: u8,
    },
    End {
        id: usize,
        commit: bool,
        stale: bool,
    },
    Advance {
        ms: i64,
    },
    HoldAppends,
    ReleaseAppends {
        ok: bool,
    },
    HoldMarkers,
    ReleaseMarkers {
        fail: bool,
    },
    FailAppends {
        on: bool,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (0..IDS.len(), 0i16..=5, any::<bool>())
            .prop_map(|(id, version, resume)| Op::Init { id, version, resume }),
        5 => (0..IDS.len(), 0i32..4, prop::bool::weighted(0.15))
            .prop_map(|(id, partition, stale)| Op::Add { id, partition, stale }),
        1 => (0..IDS.len(), 0u8..3).prop_map(|(id, group)| Op::AddOffsets { id, group }),
        3 => (0..IDS.len(), any::<bool>(), prop::bool::weighted(0.15))
            .prop_map(|(id, commit, stale)| Op::End { id, commit, stale }),
        2 => (1i64..4_000).prop_map(|ms| Op::Advance { ms }),
        1 => Just(Op::HoldAppends),
        1 => any::<bool>().prop_map(|ok| Op::ReleaseAppends { ok }),
        1 => Just(Op::HoldMarkers),
        1 => any::<bool>().prop_map(|fail| Op::ReleaseMarkers { fail }),
        1 => any::<bool>().prop_map(|on| Op::FailAppends { on }),
    ]
}

fn cfg() -> TxnConfig {
    TxnConfig {
        abort_timed_out_interval_ms: 1_000,
        num_partitions: 3,
        offsets_topic_num_partitions: 3,
        ..TxnConfig::default()
    }
}

/// Compares the durable part of every id with a reloaded coordinator.
fn assert_reload_agrees(h: &TxnHarness) {
    let mut r = h.reloaded(cfg());
    r.finish_load();
    let mut written = 0;
    for m in h.c.txns() {
        let id = &m.transactional_id;
        // An id whose first InitProducerId was never written exists only
        // in memory (with its producer id, no epoch), as in Kafka.
        if m.current.producer_epoch == -1 {
            continue;
        }
        written += 1;
        let got = r.c.txn(id).unwrap_or_else(|| panic!("{id} lost by reload"));
        let (a, b) = (&m.current, &got.current);
        assert_eq!(
            (a.producer_id, a.producer_epoch, a.timeout_ms, a.start_ms),
            (b.producer_id, b.producer_epoch, b.timeout_ms, b.start_ms),
            "{id}"
        );
        assert_eq!(a.state, b.state, "{id}");
        assert_eq!(a.partitions, b.partitions, "{id}");
    }
    assert_eq!(written, r.c.txns().count());
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn random_transactions_keep_the_invariants(ops in prop::collection::vec(op(), 1..60)) {
        let mut h = TxnHarness::new(cfg());
        h.advance(0);
        // What each client last got from InitProducerId.
        let mut client: HashMap<usize, (i64, i16)> = HashMap::new();
        let mut highest: HashMap<String, (i64, i16)> = HashMap::new();
        let mut inits: Vec<(usize, u64)> = Vec::new();
        for op in ops {
            match op {
                Op::Init { id, version, resume } => {
                    let (pid, epoch) = match (resume, client.get(&id)) {
                        (true, Some(pe)) => *pe,
                        _ => (-1, -1),
                    };
                    let rid = h.init_v(version, IDS[id], 5_000, pid, epoch);
                    inits.push((id, rid));
                }
                Op::Add { id, partition, stale } => {
                    if let Some((pid, epoch)) = client.get(&id).copied() {
                        let epoch = if stale { epoch - 1 } else { epoch };
                        h.add_v(3, IDS[id], pid, epoch, &[("t", partition)]);
                    }
                }
                Op::AddOffsets { id, group } => {
                    if let Some((pid, epoch)) = client.get(&id).copied() {
                        h.send(3, vltava_protocol::messages::AddOffsetsToTxnRequest {
                            transactional_id: IDS[id].into(),
                            producer_id: pid,
                            producer_epoch: epoch,
                            group_id: format!("g{group}").as_str().into(),
                            ..Default::default()
                        });
                    }
                }
                Op::End { id, commit, stale } => {
                    if let Some((pid, epoch)) = client.get(&id).copied() {
                        let epoch = if stale { epoch - 1 } else { epoch };
                        h.end_v(3, IDS[id], pid, epoch, commit);
                    }
                }
                Op::Advance { ms } => h.advance(ms),
                Op::HoldAppends => h.hold_appends = true,
                Op::ReleaseAppends { ok } => h.release_appends(ok),
                Op::HoldMarkers => h.hold_markers = true,
                Op::ReleaseMarkers { fail } => {
                    h.hold_markers = false;
                    if fail {
                        h.marker_codes.insert(("t".into(), 0), 6);
                    }
                    h.release_markers();
                    h.marker_codes.clear();
                }
                Op::FailAppends { on } => h.fail_appends = on.then_some(15),
            }
            // Learn the answers to InitProducerId.
            inits.retain(|(id, rid)| match h.response(*rid) {
                Some(_) => {
                    let (code, pid, epoch) = h.init_resp(*rid);
                    if code == 0 {
                        client.insert(*id, (pid, epoch));
                    }
                    false
                }
                None => true,
            });
            // Epochs never go back for a producer id.
            for m in h.c.txns() {
                let now = (m.current.producer_id, m.current.producer_epoch);
                if let Some(prev) = highest.get(&m.transactional_id) {
                    if prev.0 == now.0 {
                        prop_assert!(now.1 >= prev.1, "epoch went back: {prev:?} -> {now:?}");
                    }
                }
                highest.insert(m.transactional_id.clone(), now);
                // A completed transaction holds no partitions.
                if matches!(m.state(), TxnState::CompleteCommit | TxnState::CompleteAbort | TxnState::Empty) {
                    prop_assert!(m.current.partitions.is_empty());
                }
            }
        }
        // Let everything finish: IO completes, time passes.
        h.fail_appends = None;
        h.release_appends(true);
        h.hold_markers = false;
        h.release_markers();
        h.advance_by_steps(20_000, 500);
        let unanswered: Vec<u64> = (1..1000u64)
            .filter(|id| h.response(*id).is_none())
            .take_while(|id| *id < h.responses.keys().max().copied().unwrap_or(0))
            .collect();
        prop_assert!(unanswered.is_empty(), "unanswered requests {unanswered:?}");
        for m in h.c.txns() {
            prop_assert!(
                m.state().is_idle(),
                "{} still {:?} after the timeout", m.transactional_id, m.state()
            );
            prop_assert!(!m.has_pending());
        }
        assert_reload_agrees(&h);
    }
}
