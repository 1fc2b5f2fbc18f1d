//! `Event`: what a replica asks its driver to do after a call. Every mutating call returns
//! the events it caused, in order; the driver performs them (no callbacks).

use crate::alter_partition::AlterPartitionProposal;
use crate::error::ReplicaError;
use crate::produce_waiters::ProduceId;

/// One output of the replica state machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// The high watermark rose to this offset: wake long-polling fetches, checkpoint it.
    HighWatermarkAdvanced(u64),
    /// Send this AlterPartition request to the controller and report its answer with
    /// [`crate::Replica::on_alter_partition_result`].
    AlterPartition(AlterPartitionProposal),
    /// Answer this waiting acks=all produce request.
    ProduceCompleted {
        /// The request, as [`crate::ProduceWait::Waiting`] named it.
        id: ProduceId,
        /// Its outcome.
        result: Result<(), ReplicaError>,
    },
    /// Cut the local log (and its leader-epoch history) at this offset: records at and after
    /// it go, and so do epochs that start there. The offset may equal the log end offset,
    /// when only epoch entries starting there are dropped.
    Truncate(u64),
    /// The leader's log starts after this follower's log end (its old records were deleted
    /// by retention or DeleteRecords): delete the whole local log and start it empty at
    /// this offset, as Kafka's follower does (`truncateFullyAndStartAt`).
    TruncateFullyAndStartAt(u64),
    /// This broker leads from now on: record that `epoch` starts at `start_offset` in the
    /// log's leader-epoch history (Kafka assigns it at the log end when leadership starts).
    LeaderEpochStarted {
        /// The new leader epoch.
        epoch: i32,
        /// The local log end offset when it began.
        start_offset: u64,
    },
    /// A new leader epoch (and perhaps a new leader): restart fetching from the new leader,
    /// answer parked fetches of the old epoch.
    LeaderChanged {
        /// The new leader, if the partition has one.
        leader_id: Option<i32>,
        /// The new leader epoch.
        leader_epoch: i32,
    },
}
