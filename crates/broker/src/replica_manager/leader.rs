//! The leader's side of the seam: client produce with acks (the min-ISR check
//! before the append, the append, the acks=all wait for the high watermark),
//! internal appends (transaction markers, which wait for the high watermark too) and a
//! follower's Fetch.

use tokio::sync::oneshot;
use vltava_records::CheckedBatches;
use vltava_replication::{Acks, EpochEndOffset, FollowerFetch, ProduceWait, ReplicaError};
use vltava_storage::{AppendInfo, Log, StorageError};

use super::hosted::ReplicaCell;
use super::log_epochs::{LogEpochs, offset};
use super::{ReplicaManager, ReplicaRequestError, now_ms};

/// A produce append that went through.
#[derive(Debug)]
pub struct ProduceAppend {
    /// Where the records went.
    pub info: AppendInfo,
    /// The log start offset after the append.
    pub log_start_offset: i64,
    /// The acks outcome: answered now, or once this completes.
    pub outcome: AcksOutcome,
}

/// When a produce request is answered.
#[derive(Debug)]
pub enum AcksOutcome {
    /// Now, with this.
    Done(Result<(), ReplicaError>),
    /// When the replica completes the wait (acks=all).
    Waiting(oneshot::Receiver<Result<(), ReplicaError>>),
}

impl AcksOutcome {
    /// The outcome, waiting for it if needed. A wait ended by the replica going
    /// away (partition deleted, no longer hosted) is NOT_LEADER_OR_FOLLOWER.
    pub async fn result(self) -> Result<(), ReplicaError> {
        match self {
            AcksOutcome::Done(r) => r,
            AcksOutcome::Waiting(rx) => {
                rx.await.unwrap_or(Err(ReplicaError::NotLeaderOrFollower {
                    current_leader: None,
                }))
            }
        }
    }
}

impl ReplicaManager {
    /// Appends a client's batches as leader with `acks`: refused before the
    /// append when not leading (NOT_LEADER_OR_FOLLOWER) or, for acks=all, when
    /// the ISR is below `min.insync.replicas` (NOT_ENOUGH_REPLICAS); after it,
    /// acks=all waits until the high watermark passes the batches (at most
    /// `timeout_ms`, then REQUEST_TIMED_OUT).
    pub fn append_produce(
        &self,
        topic: &str,
        partition: i32,
        batches: &mut [u8],
        acks: Acks,
        timeout_ms: u64,
    ) -> Result<ProduceAppend, ReplicaRequestError> {
        self.append_produce_with(topic, partition, acks, timeout_ms, |log, epoch| {
            log.append_as_leader(batches, epoch)
        })
    }

    /// [`ReplicaManager::append_produce`] for batches whose CRCs the produce handler
    /// checked, appended from where they are (the request's buffer), uncopied.
    pub fn append_checked_produce(
        &self,
        topic: &str,
        partition: i32,
        batches: CheckedBatches<'_>,
        acks: Acks,
        timeout_ms: u64,
    ) -> Result<ProduceAppend, ReplicaRequestError> {
        self.append_produce_with(topic, partition, acks, timeout_ms, |log, epoch| {
            log.append_checked_as_leader(batches, epoch)
        })
    }

    fn append_produce_with(
        &self,
        topic: &str,
        partition: i32,
        acks: Acks,
        timeout_ms: u64,
        append: impl FnOnce(&mut Log, i32) -> Result<AppendInfo, StorageError>,
    ) -> Result<ProduceAppend, ReplicaRequestError> {
        let hosted = self
            .get(topic, partition)
            .ok_or(ReplicaRequestError::NotHosted)?;
        let mut cell = hosted.lock();
        cell.replica.check_append(acks)?;
        let mut log = hosted.partition.log();
        let info = append(&mut log, cell.replica.leader_epoch())?;
        let events = cell.replica.on_local_append(offset(log.log_end_offset()));
        hosted.perform(&mut cell, &mut log, events, self);
        let log_start_offset = log.log_start_offset();
        drop(log);
        let required = offset(info.last_offset) + 1;
        let outcome = acks_outcome(&mut cell, acks, required, timeout_ms);
        drop(cell);
        self.partitions.notify_append();
        Ok(ProduceAppend {
            info,
            log_start_offset,
            outcome,
        })
    }

    /// Runs `append` (a write of the broker itself, such as a transaction
    /// marker) on the log of a partition this broker leads, with the leader
    /// epoch, tells the replica where the log ends now, and returns when the write
    /// counts: as for acks=all, once the high watermark passes it (at most
    /// `timeout_ms`, then REQUEST_TIMED_OUT). Kafka writes transaction markers with
    /// required acks -1: a marker only on the old leader is lost when a follower
    /// takes over, and the transaction's records would then belong to the next one.
    pub fn append_local<T>(
        &self,
        topic: &str,
        partition: i32,
        timeout_ms: u64,
        append: impl FnOnce(&mut Log, i32) -> Result<T, StorageError>,
    ) -> Result<(T, AcksOutcome), ReplicaRequestError> {
        let hosted = self
            .get(topic, partition)
            .ok_or(ReplicaRequestError::NotHosted)?;
        let mut cell = hosted.lock();
        cell.replica.check_leader(None)?;
        let mut log = hosted.partition.log();
        let out = append(&mut log, cell.replica.leader_epoch())?;
        let required = offset(log.log_end_offset());
        let events = cell.replica.on_local_append(required);
        hosted.perform(&mut cell, &mut log, events, self);
        drop(log);
        let outcome = acks_outcome(&mut cell, Acks::All, required, timeout_ms);
        drop(cell);
        self.partitions.notify_append();
        Ok((out, outcome))
    }

    /// A follower's Fetch of one partition on this leader: epochs, membership
    /// and offsets checked, its progress recorded (the ISR and high watermark
    /// may move). Returns the diverging epoch when its log does not match
    /// (KIP-320); otherwise the caller reads from its fetch offset up to the
    /// log end.
    pub fn follower_fetch(
        &self,
        topic: &str,
        partition: i32,
        fetch: &FollowerFetch,
    ) -> Result<Option<EpochEndOffset>, ReplicaRequestError> {
        let hosted = self
            .get(topic, partition)
            .ok_or(ReplicaRequestError::NotHosted)?;
        let mut cell = hosted.lock();
        let mut log = hosted.partition.log();
        let answer = cell
            .replica
            .on_follower_fetch(fetch, &LogEpochs(&log), now_ms())
            .inspect_err(|e| {
                tracing::debug!(topic, partition, fetch = ?fetch, error = ?e, "follower fetch refused by this leader");
            })?;
        hosted.perform(&mut cell, &mut log, answer.events, self);
        Ok(answer.diverging_epoch)
    }
}

/// What an append waits for: done now, or a waiter answered when the high watermark
/// reaches `required` (or the replica's deadline, `timeout_ms` from now, passes).
fn acks_outcome(cell: &mut ReplicaCell, acks: Acks, required: u64, timeout_ms: u64) -> AcksOutcome {
    let deadline = now_ms().saturating_add(timeout_ms);
    match cell.replica.after_append(acks, required, deadline) {
        Ok(ProduceWait::Done(r)) => AcksOutcome::Done(r),
        Ok(ProduceWait::Waiting(id)) => {
            let (tx, rx) = oneshot::channel();
            cell.waiters.insert(id, tx);
            AcksOutcome::Waiting(rx)
        }
        Err(e) => AcksOutcome::Done(Err(e)),
    }
}
