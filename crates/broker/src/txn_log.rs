//! `__transaction_state` for the transaction coordinator: its name, appending
//! TransactionLogKey/Value records to one partition (as the leader, with
//! acks=all) and reading a partition back when this broker is elected its
//! coordinator (the shared code is in `offsets_log`).

use std::sync::Arc;

use bytes::Bytes;

use crate::offsets_log::{InternalWriter, LogEntry, OffsetsLogError, read_internal};
use crate::replica_manager::ReplicaManager;

/// The internal topic holding transactional ids and their transaction state
/// (named once, in `vltava_protocol::internal_topics`).
pub use vltava_protocol::internal_topics::TRANSACTION_STATE_TOPIC;

/// The broker's `__transaction_state` partitions.
#[derive(Debug, Clone)]
pub struct TxnStateLog {
    writer: InternalWriter,
}

impl TxnStateLog {
    /// The partitions of `replicas`, written with acks=all waiting at most
    /// `timeout_ms`.
    pub fn new(replicas: Arc<ReplicaManager>, timeout_ms: u64) -> Self {
        TxnStateLog {
            writer: InternalWriter {
                replicas,
                topic: TRANSACTION_STATE_TOPIC,
                timeout_ms,
            },
        }
    }

    /// Appends `records` (key, value or tombstone) to `partition`; returns
    /// once the high watermark covers them.
    pub async fn append(
        &self,
        partition: i32,
        records: &[(Bytes, Option<Bytes>)],
    ) -> Result<(), OffsetsLogError> {
        self.writer.append(partition, records, None).await
    }

    /// Every record of `partition`, oldest first, to the log end
    /// (NotHosted when its log is not open here).
    pub fn read_all(&self, partition: i32) -> Result<Vec<(Bytes, Option<Bytes>)>, OffsetsLogError> {
        let partitions = self.writer.replicas.partitions();
        Ok(
            read_internal(partitions, TRANSACTION_STATE_TOPIC, partition)?
                .into_iter()
                .filter_map(|e| match e {
                    LogEntry::Record { key, value, .. } => Some((key, value)),
                    LogEntry::Marker { .. } => None,
                })
                .collect(),
        )
    }
}
