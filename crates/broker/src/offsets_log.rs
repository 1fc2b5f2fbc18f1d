//! The compacted internal topics as their coordinators see them: append
//! key/value records to one partition (as uncompressed v2 batches through the
//! replica manager as leader, with acks=all: acknowledged once the high
//! watermark covers them; transactional for TxnOffsetCommit) and read a
//! partition back from its log start to its log end (what this leader's log
//! will commit, as Kafka's loader reads), with transactional records and
//! COMMIT/ABORT markers told apart. `OffsetsTopicLog` is `__consumer_offsets`
//! for the group coordinator.

use std::sync::Arc;

use bytes::Bytes;
use vltava_records::{
    BatchBuilder, BatchBuilderConfig, BatchIter, ControlRecordType, DecodeLimits, RecordsError,
};
use vltava_replication::{Acks, ReplicaError};
use vltava_storage::{FetchIsolation, StorageError};

use crate::partitions::PartitionManager;
use crate::replica_manager::{AcksOutcome, ReplicaManager, ReplicaRequestError};
use vltava_records::clock::now_ms;

/// The internal topic holding group metadata and committed offsets (named once,
/// in `vltava_protocol::internal_topics`).
pub use vltava_protocol::internal_topics::OFFSETS_TOPIC;

/// Bytes read from the log per step while loading a partition.
const LOAD_READ_BYTES: u64 = 4 * 1024 * 1024;

/// Failures reading or writing `__consumer_offsets`.
#[derive(Debug, thiserror::Error)]
pub enum OffsetsLogError {
    #[error("__consumer_offsets partition {0} is not hosted here")]
    NotHosted(i32),
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error(transparent)]
    Records(#[from] RecordsError),
    /// The replica refused or the acks=all wait failed (not the leader, too
    /// few in-sync replicas, timed out).
    #[error(transparent)]
    Replica(#[from] ReplicaError),
}

impl OffsetsLogError {
    /// The Kafka error code of the failure.
    pub fn code(&self) -> i16 {
        match self {
            OffsetsLogError::NotHosted(_) => crate::error_codes::NOT_LEADER_OR_FOLLOWER,
            OffsetsLogError::Storage(s) => crate::error_codes::for_storage(s),
            OffsetsLogError::Records(r) => crate::error_codes::for_records(r),
            OffsetsLogError::Replica(r) => r.code(),
        }
    }

    fn from_replica(partition: i32, e: ReplicaRequestError) -> OffsetsLogError {
        match e {
            ReplicaRequestError::NotHosted => OffsetsLogError::NotHosted(partition),
            ReplicaRequestError::Replica(r) => OffsetsLogError::Replica(r),
            ReplicaRequestError::Storage(s) => OffsetsLogError::Storage(s),
        }
    }
}

/// One entry of an internal topic partition, as its loader sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogEntry {
    /// A keyed record; `producer` is the producer id of a transactional batch.
    Record {
        key: Bytes,
        value: Option<Bytes>,
        producer: Option<i64>,
    },
    /// A COMMIT (`commit`) or ABORT control record of `producer_id`.
    Marker { producer_id: i64, commit: bool },
}

/// Where an internal write goes and how long it may wait for the ISR.
#[derive(Debug, Clone)]
pub struct InternalWriter {
    pub replicas: Arc<ReplicaManager>,
    pub topic: &'static str,
    /// The acks=all wait (`offsets.commit.timeout.ms`).
    pub timeout_ms: u64,
}

impl InternalWriter {
    /// Appends `records` to `partition` as uncompressed v2 batches (one
    /// transactional batch set of `producer` (id, epoch) when given), as the
    /// leader with acks=all: refused before the append when this broker does
    /// not lead (NOT_LEADER_OR_FOLLOWER) or the ISR is below
    /// `min.insync.replicas` (NOT_ENOUGH_REPLICAS). The records are in the
    /// log when this returns; the outcome says when they are committed.
    pub fn write(
        &self,
        partition: i32,
        records: &[(Bytes, Option<Bytes>)],
        producer: Option<(i64, i16)>,
    ) -> Result<AcksOutcome, OffsetsLogError> {
        if records.is_empty() {
            return Ok(AcksOutcome::Done(Ok(())));
        }
        let mut batches = internal_batches(records, producer)?;
        self.replicas
            .append_produce(
                self.topic,
                partition,
                &mut batches,
                Acks::All,
                self.timeout_ms,
            )
            .map(|a| a.outcome)
            .map_err(|e| OffsetsLogError::from_replica(partition, e))
    }

    /// [`InternalWriter::write`], then the wait for the high watermark.
    pub async fn append(
        &self,
        partition: i32,
        records: &[(Bytes, Option<Bytes>)],
        producer: Option<(i64, i16)>,
    ) -> Result<(), OffsetsLogError> {
        Ok(self.write(partition, records, producer)?.result().await?)
    }
}

/// `records` as uncompressed v2 batches, transactional of `producer` when set.
fn internal_batches(
    records: &[(Bytes, Option<Bytes>)],
    producer: Option<(i64, i16)>,
) -> Result<Vec<u8>, RecordsError> {
    let now = now_ms();
    let config = match producer {
        Some((id, epoch)) => BatchBuilderConfig {
            producer_id: id,
            producer_epoch: epoch,
            transactional: true,
            ..BatchBuilderConfig::default()
        },
        None => BatchBuilderConfig::default(),
    };
    let mut batches = Vec::new();
    let mut builder = BatchBuilder::new(config);
    for (key, value) in records {
        if !builder.append(now, Some(key), value.as_deref(), &[])? {
            let full = std::mem::replace(&mut builder, BatchBuilder::new(config));
            batches.extend_from_slice(&full.build()?);
            builder.append(now, Some(key), value.as_deref(), &[])?;
        }
    }
    batches.extend_from_slice(&builder.build()?);
    Ok(batches)
}

/// Every entry of `topic`-`partition` from its log start to its log end,
/// oldest first; NotHosted when its log is not open here.
pub fn read_internal(
    partitions: &PartitionManager,
    topic: &str,
    partition: i32,
) -> Result<Vec<LogEntry>, OffsetsLogError> {
    let Some(p) = partitions.get(topic, partition) else {
        return Err(OffsetsLogError::NotHosted(partition));
    };
    let mut out = Vec::new();
    let log = p.log();
    let mut offset = log.log_start_offset();
    let end = log.log_end_offset();
    let limits = DecodeLimits::default();
    while offset < end {
        let bytes = log.read_bytes(offset, LOAD_READ_BYTES, FetchIsolation::LogEnd, true)?;
        if bytes.is_empty() {
            break;
        }
        let mut next = offset;
        for view in BatchIter::new(&bytes) {
            let view = view?;
            let h = *view.header();
            next = h.next_offset();
            for r in view.records(&limits)? {
                if r.offset(&h) < offset {
                    continue;
                }
                let Some(k) = r.key else { continue };
                if h.attributes.is_control() {
                    // An undecodable control key is not a marker; skip it.
                    if let Ok((_, kind)) = vltava_records::control::decode_key(&k) {
                        match kind {
                            ControlRecordType::Commit | ControlRecordType::Abort => {
                                out.push(LogEntry::Marker {
                                    producer_id: h.producer_id,
                                    commit: kind == ControlRecordType::Commit,
                                })
                            }
                            ControlRecordType::Other(_) => {}
                        }
                    }
                    continue;
                }
                out.push(LogEntry::Record {
                    key: k,
                    value: r.value,
                    producer: h.attributes.is_transactional().then_some(h.producer_id),
                });
            }
        }
        if next <= offset {
            break;
        }
        offset = next;
    }
    Ok(out)
}

/// The broker's `__consumer_offsets` partitions.
#[derive(Debug, Clone)]
pub struct OffsetsTopicLog {
    partitions: Arc<PartitionManager>,
    writer: InternalWriter,
}

impl OffsetsTopicLog {
    /// The partitions of `replicas`, written with acks=all waiting at most
    /// `timeout_ms` (`offsets.commit.timeout.ms`).
    pub fn new(replicas: Arc<ReplicaManager>, timeout_ms: u64) -> Self {
        OffsetsTopicLog {
            partitions: replicas.partitions().clone(),
            writer: InternalWriter {
                replicas,
                topic: OFFSETS_TOPIC,
                timeout_ms,
            },
        }
    }

    /// Every non-transactional record of `partition` from its log start, oldest first.
    pub fn read_all_records(
        &self,
        partition: i32,
    ) -> Result<Vec<(Bytes, Option<Bytes>)>, OffsetsLogError> {
        Ok(read_internal(&self.partitions, OFFSETS_TOPIC, partition)?
            .into_iter()
            .filter_map(|e| match e {
                LogEntry::Record {
                    key,
                    value,
                    producer: None,
                } => Some((key, value)),
                _ => None,
            })
            .collect())
    }
}

/// A failed coordinator write as the coordinator sees it: refusals with a
/// Kafka code (a fenced producer epoch, not the leader, too few in-sync
/// replicas, timed out) are `Refused`, which the coordinator maps as Kafka
/// does; a failing disk is `Log` (COORDINATOR_NOT_AVAILABLE).
fn coordinator_error(e: OffsetsLogError) -> vltava_coordinator::CoordinatorError {
    match &e {
        OffsetsLogError::Storage(s) if is_io_failure(s) => {
            vltava_coordinator::CoordinatorError::Log(e.to_string())
        }
        _ => vltava_coordinator::CoordinatorError::Refused {
            code: e.code(),
            message: e.to_string(),
        },
    }
}

impl vltava_coordinator::OffsetsLog for OffsetsTopicLog {
    fn append(
        &mut self,
        partition: i32,
        records: Vec<(Bytes, Option<Bytes>)>,
    ) -> Result<(), vltava_coordinator::CoordinatorError> {
        // Only the replicated path is used; this one writes without waiting.
        self.writer
            .write(partition, &records, None)
            .map(|_| ())
            .map_err(coordinator_error)
    }

    fn read_all(
        &mut self,
        partition: i32,
    ) -> Result<Vec<(Bytes, Option<Bytes>)>, vltava_coordinator::CoordinatorError> {
        self.read_all_records(partition)
            .map_err(|e| vltava_coordinator::CoordinatorError::Log(e.to_string()))
    }

    fn append_replicated(
        &mut self,
        partition: i32,
        records: Vec<(Bytes, Option<Bytes>)>,
        producer: Option<(i64, i16)>,
    ) -> vltava_coordinator::BoxFuture<Result<(), vltava_coordinator::CoordinatorError>> {
        let written = self.writer.write(partition, &records, producer);
        Box::pin(async move {
            let outcome = written.map_err(coordinator_error)?;
            outcome
                .result()
                .await
                .map_err(|e| coordinator_error(OffsetsLogError::Replica(e)))
        })
    }

    fn read_entries(
        &mut self,
        partition: i32,
    ) -> Result<Vec<vltava_coordinator::OffsetsLogEntry>, vltava_coordinator::CoordinatorError>
    {
        use vltava_coordinator::OffsetsLogEntry;
        let entries = read_internal(&self.partitions, OFFSETS_TOPIC, partition)
            .map_err(|e| vltava_coordinator::CoordinatorError::Log(e.to_string()))?;
        Ok(entries
            .into_iter()
            .map(|e| match e {
                LogEntry::Record {
                    key,
                    value,
                    producer: None,
                } => OffsetsLogEntry::Record { key, value },
                LogEntry::Record {
                    key,
                    value,
                    producer: Some(producer_id),
                } => OffsetsLogEntry::Transactional {
                    producer_id,
                    key,
                    value,
                },
                LogEntry::Marker {
                    producer_id,
                    commit,
                } => OffsetsLogEntry::Marker {
                    producer_id,
                    commit,
                },
            })
            .collect())
    }
}

/// Whether a storage error is the disk failing (not a refusal of the batch).
fn is_io_failure(e: &StorageError) -> bool {
    matches!(
        e,
        StorageError::Io { .. } | StorageError::LogOffline(_) | StorageError::Corrupt { .. }
    )
}
