//! `HostedReplica`: one partition this broker replicates — its log and its
//! `vltava_replication::Replica`, under one lock (taken before the log's), with
//! the acks=all requests waiting for the high watermark — and the driver step
//! that performs the replica's events on the log and the broker.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::oneshot;
use vltava_protocol::Uuid;
use vltava_replication::{AlterPartitionProposal, Event, ProduceId, Replica, ReplicaError, Role};
use vltava_storage::Log;

use crate::partitions::Partition;

/// What a replica's events ask of the rest of the broker.
pub trait EventSink: Send + Sync {
    /// The high watermark (or the log) moved: wake long-polling fetches.
    fn wake_fetches(&self);
    /// Send this ISR change to the controller.
    fn alter_partition(
        &self,
        topic: &str,
        partition: i32,
        topic_id: Uuid,
        p: AlterPartitionProposal,
    );
    /// Leadership of some partition changed: the follower fetchers look again.
    fn leaders_changed(&self);
}

/// The mutable part of a hosted replica.
#[derive(Debug)]
pub struct ReplicaCell {
    pub replica: Replica,
    pub topic_id: Uuid,
    pub waiters: HashMap<ProduceId, oneshot::Sender<Result<(), ReplicaError>>>,
}

/// One partition replicated on this broker.
#[derive(Debug)]
pub struct HostedReplica {
    pub topic: String,
    pub index: i32,
    pub partition: Arc<Partition>,
    cell: Mutex<ReplicaCell>,
}

impl HostedReplica {
    /// A replica of `partition`'s log.
    pub fn new(partition: Arc<Partition>, replica: Replica, topic_id: Uuid) -> HostedReplica {
        HostedReplica {
            topic: partition.topic.clone(),
            index: partition.index,
            partition,
            cell: Mutex::new(ReplicaCell {
                replica,
                topic_id,
                waiters: HashMap::new(),
            }),
        }
    }

    /// Locks the replica (always before the log).
    pub fn lock(&self) -> MutexGuard<'_, ReplicaCell> {
        match self.cell.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }

    /// Performs `events` of this replica, in order, on `log` and through `sink`.
    /// A storage failure is logged (the log goes offline and its requests answer
    /// KAFKA_STORAGE_ERROR); the replica state stays as it is.
    pub fn perform(
        &self,
        cell: &mut ReplicaCell,
        log: &mut Log,
        events: Vec<Event>,
        sink: &dyn EventSink,
    ) {
        let mut wake = false;
        for event in events {
            match event {
                Event::HighWatermarkAdvanced(hw) => {
                    log.set_high_watermark(i64::try_from(hw).unwrap_or(i64::MAX));
                    // Only a leader's HW is waited for (consumers' fetches); a
                    // follower's moves with every fetch answer and would wake every
                    // fetch parked on this broker for nothing.
                    wake |= cell.replica.role() == Role::Leader;
                }
                Event::AlterPartition(p) => {
                    tracing::debug!(topic = %self.topic, partition = self.index, proposal = ?p, "proposing an ISR change");
                    sink.alter_partition(&self.topic, self.index, cell.topic_id, p);
                }
                Event::ProduceCompleted { id, result } => {
                    if let Some(tx) = cell.waiters.remove(&id) {
                        let _ = tx.send(result);
                    }
                }
                Event::Truncate(offset) => {
                    let offset = i64::try_from(offset).unwrap_or(i64::MAX);
                    if let Err(e) = log.truncate_to(offset) {
                        tracing::error!(topic = %self.topic, partition = self.index, offset, error = %e, "follower truncation failed");
                    } else {
                        tracing::info!(topic = %self.topic, partition = self.index, offset, "truncated to the leader's log");
                    }
                    wake = true;
                }
                Event::TruncateFullyAndStartAt(offset) => {
                    let offset = i64::try_from(offset).unwrap_or(i64::MAX);
                    if let Err(e) = log.truncate_fully_and_start_at(offset) {
                        tracing::error!(topic = %self.topic, partition = self.index, offset, error = %e, "cannot restart the follower's log at the leader's log start");
                    } else {
                        tracing::info!(topic = %self.topic, partition = self.index, offset, "the leader's log starts after this follower's end: log restarted at the leader's log start");
                    }
                    wake = true;
                }
                Event::LeaderEpochStarted {
                    epoch,
                    start_offset,
                } => {
                    let start = i64::try_from(start_offset).unwrap_or(i64::MAX);
                    if let Err(e) = log.assign_leader_epoch(epoch, start) {
                        tracing::error!(topic = %self.topic, partition = self.index, epoch, error = %e, "cannot record the leader epoch");
                    }
                }
                Event::LeaderChanged {
                    leader_id,
                    leader_epoch,
                } => {
                    tracing::debug!(topic = %self.topic, partition = self.index, ?leader_id, leader_epoch, role = ?cell.replica.role(), "new leader epoch");
                    sink.leaders_changed();
                }
            }
        }
        if wake {
            sink.wake_fetches();
        }
    }
}
