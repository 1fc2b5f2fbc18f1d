//! `ReplicaError`: what a replica refuses or fails, one variant per Kafka error code.

use thiserror::Error;

/// The leader a client should move to, as KIP-951 puts it in NOT_LEADER_OR_FOLLOWER answers
/// (`CurrentLeader`: the leader's id and its epoch).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CurrentLeader {
    /// Broker id of the partition's leader.
    pub leader_id: i32,
    /// That leader's epoch.
    pub leader_epoch: i32,
}

/// An error of one partition replica. Each variant is exactly one Kafka error code
/// ([`ReplicaError::code`]), so the broker answers with it unchanged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum ReplicaError {
    /// OFFSET_OUT_OF_RANGE (1): a fetch offset beyond the leader's log end, or a last fetched
    /// epoch the leader's epoch history cannot place.
    #[error("offset out of range")]
    OffsetOutOfRange,
    /// NOT_LEADER_OR_FOLLOWER (6): this broker does not lead the partition (or the fetching
    /// broker is not one of its replicas). Carries the leader when it is known (KIP-951).
    #[error("not the leader or follower (current leader: {current_leader:?})")]
    NotLeaderOrFollower {
        /// The leader this replica knows of, if any.
        current_leader: Option<CurrentLeader>,
    },
    /// REQUEST_TIMED_OUT (7): an acks=all produce was not replicated to the ISR before its
    /// deadline, or the partition's table of waiting produce requests is full.
    #[error("request timed out waiting for replication")]
    RequestTimedOut,
    /// NOT_ENOUGH_REPLICAS (19): acks=all with fewer in-sync replicas than
    /// `min.insync.replicas`; nothing was appended.
    #[error("not enough in-sync replicas")]
    NotEnoughReplicas,
    /// NOT_ENOUGH_REPLICAS_AFTER_APPEND (20): the records were appended and reached the high
    /// watermark, but the ISR was below `min.insync.replicas` when the wait completed.
    #[error("not enough in-sync replicas after append")]
    NotEnoughReplicasAfterAppend,
    /// INVALID_REQUIRED_ACKS (21): acks other than -1, 0 or 1.
    #[error("invalid required acks {0}")]
    InvalidRequiredAcks(i16),
    /// FENCED_LEADER_EPOCH (74): the request's leader epoch is older than this replica's.
    #[error("fenced leader epoch {request} (current {current})")]
    FencedLeaderEpoch {
        /// The epoch the request carried.
        request: i32,
        /// This replica's leader epoch.
        current: i32,
    },
    /// UNKNOWN_LEADER_EPOCH (75): the request's leader epoch is newer than this replica's
    /// (its metadata has not caught up yet).
    #[error("unknown leader epoch {request} (current {current})")]
    UnknownLeaderEpoch {
        /// The epoch the request carried.
        request: i32,
        /// This replica's leader epoch.
        current: i32,
    },
}

impl ReplicaError {
    /// The Kafka error code of this error.
    pub fn code(&self) -> i16 {
        match self {
            ReplicaError::OffsetOutOfRange => 1,
            ReplicaError::NotLeaderOrFollower { .. } => 6,
            ReplicaError::RequestTimedOut => 7,
            ReplicaError::NotEnoughReplicas => 19,
            ReplicaError::NotEnoughReplicasAfterAppend => 20,
            ReplicaError::InvalidRequiredAcks(_) => 21,
            ReplicaError::FencedLeaderEpoch { .. } => 74,
            ReplicaError::UnknownLeaderEpoch { .. } => 75,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_kafkas() {
        let cases = [
            (ReplicaError::OffsetOutOfRange, 1),
            (
                ReplicaError::NotLeaderOrFollower {
                    current_leader: None,
                },
                6,
            ),
            (ReplicaError::RequestTimedOut, 7),
            (ReplicaError::NotEnoughReplicas, 19),
            (ReplicaError::NotEnoughReplicasAfterAppend, 20),
            (ReplicaError::InvalidRequiredAcks(2), 21),
            (
                ReplicaError::FencedLeaderEpoch {
                    request: 1,
                    current: 2,
                },
                74,
            ),
            (
                ReplicaError::UnknownLeaderEpoch {
                    request: 3,
                    current: 2,
                },
                75,
            ),
        ];
        for (error, code) in cases {
            assert_eq!(error.code(), code, "{error}");
        }
    }
}
