//! `PartitionState`: a partition's leadership and ISR as the controller publishes it
//! (the metadata log's PartitionRecord / PartitionChangeRecord, applied).

use std::collections::BTreeSet;

/// One partition's state in the metadata image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionState {
    /// The leader's broker id; `None` where Kafka writes -1 (no leader: the partition is offline).
    pub leader_id: Option<i32>,
    /// Bumped by the controller on every leader election; only grows.
    pub leader_epoch: i32,
    /// Bumped on every change of the partition (ISR, replicas, leader); AlterPartition
    /// requests compare-and-set on it.
    pub partition_epoch: i32,
    /// The assigned replicas, preferred leader first.
    pub replicas: Vec<i32>,
    /// The committed in-sync replicas.
    pub isr: Vec<i32>,
}

/// Why a published state cannot be applied as it stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvalidPartitionState {
    /// A negative leader or partition epoch.
    NegativeEpoch,
    /// A broker id listed twice in the replicas or in the ISR.
    DuplicateReplica,
    /// An ISR member that is not one of the replicas.
    IsrNotInReplicas,
    /// A leader that is not in the ISR (every leader is in sync with itself).
    LeaderNotInIsr,
}

impl PartitionState {
    /// Checks the shape Kafka's controller guarantees: epochs ≥ 0, no duplicates, ISR ⊆
    /// replicas, and the leader (if any) in the ISR.
    pub fn validate(&self) -> Result<(), InvalidPartitionState> {
        if self.leader_epoch < 0 || self.partition_epoch < 0 {
            return Err(InvalidPartitionState::NegativeEpoch);
        }
        let replicas: BTreeSet<i32> = self.replicas.iter().copied().collect();
        let isr: BTreeSet<i32> = self.isr.iter().copied().collect();
        if replicas.len() != self.replicas.len() || isr.len() != self.isr.len() {
            return Err(InvalidPartitionState::DuplicateReplica);
        }
        if !isr.is_subset(&replicas) {
            return Err(InvalidPartitionState::IsrNotInReplicas);
        }
        if let Some(leader) = self.leader_id
            && !isr.contains(&leader)
        {
            return Err(InvalidPartitionState::LeaderNotInIsr);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(leader: Option<i32>, replicas: &[i32], isr: &[i32]) -> PartitionState {
        PartitionState {
            leader_id: leader,
            leader_epoch: 0,
            partition_epoch: 0,
            replicas: replicas.to_vec(),
            isr: isr.to_vec(),
        }
    }

    #[test]
    fn accepts_controller_shapes() {
        assert_eq!(state(Some(1), &[1, 2, 3], &[1, 2]).validate(), Ok(()));
        assert_eq!(state(None, &[1, 2, 3], &[]).validate(), Ok(()));
    }

    #[test]
    fn rejects_broken_shapes() {
        assert_eq!(
            state(Some(1), &[1, 1], &[1]).validate(),
            Err(InvalidPartitionState::DuplicateReplica)
        );
        assert_eq!(
            state(Some(1), &[1, 2], &[1, 3]).validate(),
            Err(InvalidPartitionState::IsrNotInReplicas)
        );
        assert_eq!(
            state(Some(2), &[1, 2], &[1]).validate(),
            Err(InvalidPartitionState::LeaderNotInIsr)
        );
        let mut negative = state(Some(1), &[1], &[1]);
        negative.leader_epoch = -1;
        assert_eq!(
            negative.validate(),
            Err(InvalidPartitionState::NegativeEpoch)
        );
    }
}
