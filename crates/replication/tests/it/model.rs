//! Model test: random interleavings of produce requests, follower fetches, ticks, the
//! controller's AlterPartition answers and metadata changes against one leader, with the
//! replication invariants checked after every step.

use std::collections::BTreeMap;

use proptest::prelude::*;
use vltava_replication::{
    Acks, AlterPartitionProposal, AlterPartitionResult, Event, ProduceId, ProduceWait,
    ReplicaError, Role,
};

use crate::support::{LOCAL, Leader, config, state};

const FOLLOWERS: [i32; 3] = [2, 3, 4];
const REPLICAS: [i32; 4] = [1, 2, 3, 4];

#[derive(Debug, Clone)]
enum Op {
    Produce {
        records: u64,
        acks_all: bool,
        timeout_ms: u64,
    },
    /// Follower fetch at `floor + (leader LEO - floor) * fraction / 255`, where `floor` is
    /// min(its log end, HW): its log only shrinks by truncating what is not committed.
    /// Half of the fetches are from the leader's log end (a caught-up follower).
    Fetch {
        follower: usize,
        fraction: u8,
    },
    Tick {
        ms: u64,
    },
    Answer {
        error_code: Option<i16>,
    },
    Ineligible {
        follower: usize,
        fenced: bool,
    },
    ReElect,
    ControllerShrink {
        follower: usize,
    },
    SetMinIsr {
        min: usize,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (1..5u64, any::<bool>(), 0..20_000u64)
            .prop_map(|(records, acks_all, timeout_ms)| Op::Produce { records, acks_all, timeout_ms }),
        6 => (0..3usize, prop_oneof![Just(255u8), any::<u8>()])
            .prop_map(|(follower, fraction)| Op::Fetch { follower, fraction }),
        3 => (0..12_000u64).prop_map(|ms| Op::Tick { ms }),
        3 => prop::option::of(prop::sample::select(vec![55i16, 107, 95, 74, 41]))
            .prop_map(|error_code| Op::Answer { error_code }),
        1 => (0..3usize, any::<bool>()).prop_map(|(follower, fenced)| Op::Ineligible { follower, fenced }),
        1 => Just(Op::ReElect),
        1 => (0..3usize).prop_map(|follower| Op::ControllerShrink { follower }),
        1 => (1..=3usize).prop_map(|min| Op::SetMinIsr { min }),
    ]
}

/// The model's view: followers' real logs, waiting requests, the proposal in flight.
struct Model {
    leader: Leader,
    follower_logs: BTreeMap<i32, u64>,
    waiting: BTreeMap<ProduceId, u64>,
    in_flight: Option<AlterPartitionProposal>,
    high_watermark: u64,
    leader_epoch: i32,
}

impl Model {
    fn new(min_isr: usize) -> Self {
        Model {
            leader: Leader::new(config(min_isr), &REPLICAS, &[1, 2, 3]),
            follower_logs: FOLLOWERS.iter().map(|&f| (f, 0)).collect(),
            waiting: BTreeMap::new(),
            in_flight: None,
            high_watermark: 0,
            leader_epoch: 0,
        }
    }

    fn step(&mut self, op: &Op) -> Result<(), TestCaseError> {
        let events = match *op {
            Op::Produce {
                records,
                acks_all,
                timeout_ms,
            } => self.produce(records, acks_all, timeout_ms)?,
            Op::Fetch { follower, fraction } => self.fetch(FOLLOWERS[follower], fraction)?,
            Op::Tick { ms } => self.leader.advance(ms),
            Op::Answer { error_code } => match self.in_flight.clone() {
                None => Vec::new(),
                Some(proposal) => {
                    let result = match error_code {
                        None => AlterPartitionResult::Accepted {
                            leader_epoch: proposal.leader_epoch,
                            partition_epoch: proposal.partition_epoch + 1,
                        },
                        Some(error_code) => AlterPartitionResult::Failed { error_code },
                    };
                    if error_code != Some(41) {
                        self.in_flight = None;
                    }
                    self.leader
                        .replica
                        .on_alter_partition_result(&proposal, result)
                }
            },
            Op::Ineligible { follower, fenced } => {
                let id = FOLLOWERS[follower];
                let others = FOLLOWERS.iter().copied().filter(|&f| f != id);
                let set: Vec<i32> = if fenced {
                    others.chain([id]).collect()
                } else {
                    Vec::new()
                };
                self.leader.replica.set_isr_ineligible(set);
                Vec::new()
            }
            Op::ReElect => {
                let isr: Vec<i32> = self.leader.replica.isr().iter().copied().collect();
                let next = state(
                    Some(LOCAL),
                    self.leader.replica.leader_epoch() + 1,
                    self.leader.replica.partition_epoch() + 1,
                    &REPLICAS,
                    &isr,
                );
                self.in_flight = None;
                self.leader.apply(&next)
            }
            Op::ControllerShrink { follower } => {
                let id = FOLLOWERS[follower];
                let isr: Vec<i32> = self
                    .leader
                    .replica
                    .isr()
                    .iter()
                    .copied()
                    .filter(|&m| m != id)
                    .collect();
                let next = state(
                    Some(LOCAL),
                    self.leader.replica.leader_epoch(),
                    self.leader.replica.partition_epoch() + 1,
                    &REPLICAS,
                    &isr,
                );
                self.in_flight = None;
                self.leader.apply(&next)
            }
            Op::SetMinIsr { min } => {
                self.leader.replica.set_min_insync_replicas(min);
                Vec::new()
            }
        };
        self.check_events(&events)?;
        self.check_state()
    }

    fn produce(
        &mut self,
        records: u64,
        acks_all: bool,
        timeout_ms: u64,
    ) -> Result<Vec<Event>, TestCaseError> {
        let acks = if acks_all { Acks::All } else { Acks::Leader };
        let committed = self.leader.replica.isr().len();
        let min_isr = self.leader.replica.config().min_insync_replicas;
        match self.leader.replica.check_append(acks) {
            Err(ReplicaError::NotEnoughReplicas) => {
                prop_assert!(acks_all && committed < min_isr);
                return Ok(Vec::new());
            }
            Err(other) => return Err(TestCaseError::fail(format!("check_append: {other}"))),
            Ok(()) => prop_assert!(!acks_all || committed >= min_isr),
        }
        let events = self.leader.append(records);
        let required = self.leader.replica.log_end_offset();
        let deadline = self.leader.now + timeout_ms;
        match self.leader.replica.after_append(acks, required, deadline) {
            Ok(ProduceWait::Waiting(id)) => {
                prop_assert!(acks_all);
                prop_assert!(self.waiting.insert(id, required).is_none());
            }
            Ok(ProduceWait::Done(result)) => {
                if acks_all {
                    prop_assert!(self.leader.replica.high_watermark() >= required);
                    if result.is_ok() {
                        self.check_replicated(required)?;
                    }
                } else {
                    prop_assert_eq!(result, Ok(()));
                }
            }
            Err(error) => return Err(TestCaseError::fail(format!("after_append: {error}"))),
        }
        Ok(events)
    }

    fn fetch(&mut self, follower: i32, fraction: u8) -> Result<Vec<Event>, TestCaseError> {
        let end = self.leader.replica.log_end_offset();
        let floor = self.follower_logs[&follower].min(self.leader.replica.high_watermark());
        let offset = floor + (end - floor) * u64::from(fraction) / 255;
        let answer = self.leader.fetch(follower, offset);
        prop_assert_eq!(answer.diverging_epoch, None);
        prop_assert_eq!(answer.high_watermark, self.leader.replica.high_watermark());
        self.follower_logs.insert(follower, offset);
        Ok(answer.events)
    }

    /// An acknowledged acks=all record is on the leader and on every committed ISR member.
    fn check_replicated(&self, required: u64) -> Result<(), TestCaseError> {
        prop_assert!(required <= self.leader.replica.log_end_offset());
        for member in self.leader.replica.isr() {
            if *member == LOCAL {
                continue;
            }
            prop_assert!(
                required <= self.follower_logs[member],
                "acked {} but ISR member {} ends at {}",
                required,
                member,
                self.follower_logs[member]
            );
            if let Some(known) = self
                .leader
                .replica
                .follower_progress(*member)
                .and_then(|p| p.log_end_offset())
            {
                prop_assert!(required <= known);
            }
        }
        Ok(())
    }

    fn check_events(&mut self, events: &[Event]) -> Result<(), TestCaseError> {
        for event in events {
            match event {
                Event::ProduceCompleted { id, result } => {
                    let required = self.waiting.remove(id);
                    prop_assert!(
                        required.is_some(),
                        "{:?} completed twice or never waited",
                        id
                    );
                    let required = required.unwrap_or_default();
                    if result.is_ok() {
                        prop_assert!(self.leader.replica.high_watermark() >= required);
                        prop_assert!(
                            self.leader.replica.maximal_isr().len()
                                >= self.leader.replica.config().min_insync_replicas
                        );
                        self.check_replicated(required)?;
                    }
                }
                Event::AlterPartition(proposal) => {
                    if let Some(previous) = &self.in_flight {
                        prop_assert_eq!(previous, proposal, "a second AlterPartition in flight");
                    }
                    prop_assert_eq!(
                        self.leader.replica.alter_partition_in_flight(),
                        Some(proposal)
                    );
                    prop_assert!(proposal.new_isr.contains(&LOCAL));
                    self.in_flight = Some(proposal.clone());
                }
                Event::HighWatermarkAdvanced(hw) => prop_assert!(*hw > self.high_watermark),
                _ => {}
            }
        }
        Ok(())
    }

    fn check_state(&mut self) -> Result<(), TestCaseError> {
        let replica = &self.leader.replica;
        prop_assert_eq!(replica.role(), Role::Leader);
        let hw = replica.high_watermark();
        prop_assert!(hw >= self.high_watermark, "HW moved back");
        prop_assert!(hw <= replica.log_end_offset());
        for member in replica.isr() {
            if *member == LOCAL {
                continue;
            }
            prop_assert!(
                hw <= self.follower_logs[member],
                "HW {} past ISR member {}",
                hw,
                member
            );
            if let Some(known) = replica
                .follower_progress(*member)
                .and_then(|p| p.log_end_offset())
            {
                prop_assert!(hw <= known);
            }
        }
        prop_assert!(replica.isr().contains(&LOCAL));
        prop_assert!(replica.maximal_isr().contains(&LOCAL));
        prop_assert!(replica.isr().is_subset(&replica.maximal_isr()));
        prop_assert!(replica.leader_epoch() >= self.leader_epoch);
        let in_flight: Option<&AlterPartitionProposal> = replica.alter_partition_in_flight();
        if let Some(proposal) = in_flight {
            prop_assert_eq!(Some(proposal), self.in_flight.as_ref());
        }
        prop_assert_eq!(replica.produce_waiters(), self.waiting.len());
        self.high_watermark = hw;
        self.leader_epoch = replica.leader_epoch();
        Ok(())
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn replication_invariants_hold_in_every_interleaving(
        min_isr in 1..=3usize,
        ops in prop::collection::vec(op(), 1..150),
    ) {
        let mut model = Model::new(min_isr);
        for op in &ops {
            model.step(op)?;
        }
        // Every waiting request is answered by its deadline at the latest.
        let events = model.leader.advance(20_001);
        model.check_events(&events)?;
        prop_assert!(model.waiting.is_empty(), "unanswered: {:?}", model.waiting);
    }
}
