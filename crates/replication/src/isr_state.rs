//! `IsrState`: the leader's committed ISR and the one AlterPartition that may be pending on
//! it, with KIP-497's "maximal ISR" (the widest ISR that may be committed right now).

use std::collections::BTreeSet;

use crate::alter_partition::{AlterPartitionProposal, IsrChange, IsrMember};

/// The committed ISR, and the pending change if one was proposed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IsrState {
    committed: BTreeSet<i32>,
    pending: Option<PendingChange>,
}

/// A proposed ISR change not yet resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
struct PendingChange {
    proposal: AlterPartitionProposal,
    /// False after a rejection that waits for new metadata: the proposal is no longer in
    /// flight but still blocks other changes.
    in_flight: bool,
}

impl IsrState {
    /// A committed ISR with nothing pending.
    pub fn committed(isr: impl IntoIterator<Item = i32>) -> Self {
        IsrState {
            committed: isr.into_iter().collect(),
            pending: None,
        }
    }

    /// The ISR the controller has committed.
    pub fn committed_isr(&self) -> &BTreeSet<i32> {
        &self.committed
    }

    /// KIP-497's maximal ISR: the committed ISR plus a pending addition (a pending removal
    /// counts only once committed). The leader's high watermark waits for all of it.
    pub fn maximal_isr(&self) -> BTreeSet<i32> {
        let mut isr = self.committed.clone();
        if let Some(PendingChange {
            proposal:
                AlterPartitionProposal {
                    change: IsrChange::Expand(id),
                    ..
                },
            ..
        }) = &self.pending
        {
            isr.insert(*id);
        }
        isr
    }

    /// The pending proposal, in flight or waiting for metadata.
    pub fn pending(&self) -> Option<&AlterPartitionProposal> {
        self.pending.as_ref().map(|p| &p.proposal)
    }

    /// The pending proposal if it is still awaiting the controller's answer.
    pub fn in_flight(&self) -> Option<&AlterPartitionProposal> {
        self.pending
            .as_ref()
            .filter(|p| p.in_flight)
            .map(|p| &p.proposal)
    }

    /// Whether a change is pending (no other change may be proposed).
    pub fn is_pending(&self) -> bool {
        self.pending.is_some()
    }

    /// Builds and records the proposal for `change` on the committed ISR, each member with
    /// its broker epoch from `broker_epoch` (KIP-903); `None` when a change is already
    /// pending.
    pub fn propose(
        &mut self,
        leader_id: i32,
        leader_epoch: i32,
        partition_epoch: i32,
        change: IsrChange,
        broker_epoch: impl Fn(i32) -> Option<i64>,
    ) -> Option<AlterPartitionProposal> {
        if self.pending.is_some() {
            return None;
        }
        let mut new_isr = self.committed.clone();
        match &change {
            IsrChange::Expand(id) => {
                new_isr.insert(*id);
            }
            IsrChange::Shrink(removed) => new_isr.retain(|id| !removed.contains(id)),
        }
        let new_isr_with_epochs = new_isr
            .iter()
            .map(|&broker_id| IsrMember {
                broker_id,
                broker_epoch: broker_epoch(broker_id),
            })
            .collect();
        let proposal = AlterPartitionProposal {
            leader_id,
            leader_epoch,
            partition_epoch,
            new_isr: new_isr.into_iter().collect(),
            new_isr_with_epochs,
            change,
        };
        self.pending = Some(PendingChange {
            proposal: proposal.clone(),
            in_flight: true,
        });
        Some(proposal)
    }

    /// The pending proposal was committed: its ISR becomes the committed one.
    pub fn commit_pending(&mut self) {
        if let Some(pending) = self.pending.take() {
            self.committed = pending.proposal.new_isr.into_iter().collect();
        }
    }

    /// The controller did not apply the pending proposal: drop it.
    pub fn revert_pending(&mut self) {
        self.pending = None;
    }

    /// The pending proposal was rejected for good: it stays, blocking changes, until new
    /// partition state replaces this whole `IsrState`.
    pub fn park_pending(&mut self) {
        if let Some(pending) = &mut self.pending {
            pending.in_flight = false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(ids: &[i32]) -> BTreeSet<i32> {
        ids.iter().copied().collect()
    }

    #[test]
    fn expansion_widens_the_maximal_isr_at_once() {
        let mut state = IsrState::committed([1, 2]);
        let proposal = state.propose(1, 4, 7, IsrChange::Expand(3), |_| None);
        assert_eq!(proposal.map(|p| p.new_isr), Some(vec![1, 2, 3]));
        assert_eq!(state.maximal_isr(), set(&[1, 2, 3]));
        assert_eq!(state.committed_isr(), &set(&[1, 2]));
        state.commit_pending();
        assert_eq!(state.committed_isr(), &set(&[1, 2, 3]));
        assert!(!state.is_pending());
    }

    #[test]
    fn shrink_counts_only_once_committed() {
        let mut state = IsrState::committed([1, 2, 3]);
        let proposal = state.propose(1, 4, 7, IsrChange::Shrink(set(&[3])), |_| None);
        assert_eq!(proposal.map(|p| p.new_isr), Some(vec![1, 2]));
        assert_eq!(state.maximal_isr(), set(&[1, 2, 3]));
        state.commit_pending();
        assert_eq!(state.maximal_isr(), set(&[1, 2]));
    }

    #[test]
    fn members_carry_their_broker_epochs() {
        let mut state = IsrState::committed([1, 2]);
        let proposal = state
            .propose(1, 4, 7, IsrChange::Expand(3), |id| {
                (id != 2).then_some(100 + i64::from(id))
            })
            .map(|p| p.new_isr_with_epochs);
        let member = |broker_id, broker_epoch| IsrMember {
            broker_id,
            broker_epoch,
        };
        assert_eq!(
            proposal,
            Some(vec![
                member(1, Some(101)),
                member(2, None),
                member(3, Some(103))
            ])
        );
        assert_eq!(member(2, None).wire_epoch(), -1);
    }

    #[test]
    fn one_change_at_a_time_even_when_parked() {
        let mut state = IsrState::committed([1]);
        assert!(
            state
                .propose(1, 0, 0, IsrChange::Expand(2), |_| None)
                .is_some()
        );
        assert!(
            state
                .propose(1, 0, 0, IsrChange::Expand(3), |_| None)
                .is_none()
        );
        state.park_pending();
        assert!(state.in_flight().is_none());
        assert!(
            state
                .propose(1, 0, 0, IsrChange::Expand(3), |_| None)
                .is_none()
        );
        state.revert_pending();
        assert_eq!(state.maximal_isr(), set(&[1]));
        assert!(
            state
                .propose(1, 0, 0, IsrChange::Expand(3), |_| None)
                .is_some()
        );
    }
}
