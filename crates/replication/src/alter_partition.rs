//! AlterPartition (KIP-497) as the replica sees it: the proposal a leader sends to the
//! controller and the controller's answer, with Kafka's handling of each error code.

use std::collections::BTreeSet;

/// What a proposal changes in the committed ISR. Kafka proposes one kind at a time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IsrChange {
    /// Add one caught-up follower.
    Expand(i32),
    /// Remove the followers that lagged longer than `replica.lag.time.max.ms`.
    Shrink(BTreeSet<i32>),
}

/// One member of a proposed ISR with its broker epoch (AlterPartition v3 `NewIsrWithEpochs`,
/// KIP-903): the epoch of the registration the leader last heard from it, so the controller
/// can refuse a member that has restarted (registered again) since.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IsrMember {
    /// The broker.
    pub broker_id: i32,
    /// Its broker epoch as the leader knows it (a follower's: from its last Fetch's
    /// `ReplicaState.ReplicaEpoch`); `None` (Kafka's -1) skips the controller's check.
    pub broker_epoch: Option<i64>,
}

impl IsrMember {
    /// The epoch as the wire carries it: -1 for unknown.
    pub fn wire_epoch(&self) -> i64 {
        self.broker_epoch.unwrap_or(-1)
    }
}

/// An AlterPartition request for the driver to send to the controller: the new ISR,
/// compare-and-set on the leader epoch and partition epoch it was computed from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlterPartitionProposal {
    /// The proposing leader (this broker).
    pub leader_id: i32,
    /// The leader epoch the proposal was made in.
    pub leader_epoch: i32,
    /// The partition epoch the new ISR replaces.
    pub partition_epoch: i32,
    /// The proposed ISR, in increasing broker id order; always contains the leader.
    pub new_isr: Vec<i32>,
    /// The same members with their broker epochs (KIP-903), in the same order.
    pub new_isr_with_epochs: Vec<IsrMember>,
    /// The change from the committed ISR.
    pub change: IsrChange,
}

impl AlterPartitionProposal {
    /// The proposed members with their broker epochs as the wire carries them (-1: unknown).
    pub fn wire_isr(&self) -> Vec<(i32, i64)> {
        self.new_isr_with_epochs
            .iter()
            .map(|m| (m.broker_id, m.wire_epoch()))
            .collect()
    }
}

/// The controller's answer to an [`AlterPartitionProposal`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlterPartitionResult {
    /// The proposed ISR is committed at `partition_epoch` (the answer's leader epoch and
    /// partition epoch, as Kafka's AlterPartition response carries them).
    Accepted {
        /// The leader epoch in the answer.
        leader_epoch: i32,
        /// The partition epoch the new ISR was committed at.
        partition_epoch: i32,
    },
    /// The partition-level (or request-level) error code of the answer.
    Failed {
        /// Kafka error code.
        error_code: i16,
    },
}

impl From<Result<(i32, i32), i16>> for AlterPartitionResult {
    /// The partition's answer read off the response: the committed (leader epoch, partition
    /// epoch), or the error code.
    fn from(answer: Result<(i32, i32), i16>) -> Self {
        match answer {
            Ok((leader_epoch, partition_epoch)) => AlterPartitionResult::Accepted {
                leader_epoch,
                partition_epoch,
            },
            Err(error_code) => AlterPartitionResult::Failed { error_code },
        }
    }
}

/// What a replica does after a failed AlterPartition, by Kafka's rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureHandling {
    /// The controller says it did not apply the change (OPERATION_NOT_ATTEMPTED 55,
    /// INELIGIBLE_REPLICA 107): back to the committed ISR; a new proposal may follow.
    Revert,
    /// The proposal can never succeed as sent (UNKNOWN_TOPIC_OR_PARTITION 3,
    /// FENCED_LEADER_EPOCH 74, INVALID_UPDATE_VERSION 95, NEW_LEADER_ELECTED 108): the change
    /// stays pending, blocking further ISR changes, until new partition state arrives.
    AwaitMetadata,
    /// Anything else (NOT_CONTROLLER, REQUEST_TIMED_OUT, ...): send the same proposal again.
    Retry,
}

impl FailureHandling {
    /// Kafka's handling of an AlterPartition error code.
    pub fn for_error_code(error_code: i16) -> Self {
        match error_code {
            55 | 107 => FailureHandling::Revert,
            3 | 74 | 95 | 108 => FailureHandling::AwaitMetadata,
            _ => FailureHandling::Retry,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_codes_map_to_kafkas_handling() {
        assert_eq!(FailureHandling::for_error_code(55), FailureHandling::Revert);
        assert_eq!(
            FailureHandling::for_error_code(107),
            FailureHandling::Revert
        );
        for code in [3, 74, 95, 108] {
            assert_eq!(
                FailureHandling::for_error_code(code),
                FailureHandling::AwaitMetadata
            );
        }
        for code in [41, 7, -1] {
            assert_eq!(
                FailureHandling::for_error_code(code),
                FailureHandling::Retry
            );
        }
    }
}
