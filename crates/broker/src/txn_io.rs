//! The transaction coordinator's IO on this broker (`vltava_coordinator::TxnIo`):
//! `__transaction_state` appends through `txn_log` (creating the topic first if
//! a request arrives before any FindCoordinator did), COMMIT/ABORT markers
//! through `txn_marker_routing` (here, or at each partition's leader), and producer ids from the controller's blocks. Also
//! the start-up load of `__transaction_state` into the coordinator.

use std::sync::{Arc, Weak};

use vltava_coordinator::{BoxFuture, RawRecord, TxnCoordinatorHandle, TxnIo};

use crate::broker::Broker;
use crate::error_codes::{self, COORDINATOR_NOT_AVAILABLE, NOT_LEADER_OR_FOLLOWER};
use crate::offsets_log::OffsetsLogError;
use crate::txn_log::TxnStateLog;
use crate::txn_marker_routing::write_markers_anywhere;
use crate::txn_markers::Marker;

/// The broker side of the transaction coordinator. Holds the broker weakly:
/// the broker owns the coordinator handle, the coordinator task owns this.
#[derive(Debug, Clone)]
pub struct BrokerTxnIo {
    broker: Weak<Broker>,
}

impl BrokerTxnIo {
    pub fn new(broker: &Arc<Broker>) -> Self {
        BrokerTxnIo {
            broker: Arc::downgrade(broker),
        }
    }
}

/// The Kafka code for a failed `__transaction_state` append.
fn append_error_code(e: &OffsetsLogError) -> i16 {
    match e {
        OffsetsLogError::NotHosted(_) => NOT_LEADER_OR_FOLLOWER,
        OffsetsLogError::Storage(s) => error_codes::for_storage(s),
        OffsetsLogError::Records(r) => error_codes::for_records(r),
    }
}

impl TxnIo for BrokerTxnIo {
    fn append(&self, partition: i32, records: Vec<RawRecord>) -> BoxFuture<Result<(), i16>> {
        let broker = self.broker.clone();
        Box::pin(async move {
            let broker = broker.upgrade().ok_or(COORDINATOR_NOT_AVAILABLE)?;
            if !broker.ensure_transaction_state_topic().await {
                return Err(COORDINATOR_NOT_AVAILABLE);
            }
            TxnStateLog::new(broker.partitions.clone())
                .append(partition, &records)
                .map_err(|e| {
                    tracing::warn!(partition, error = %e, "__transaction_state append failed");
                    append_error_code(&e)
                })
        })
    }

    fn write_markers(
        &self,
        producer_id: i64,
        producer_epoch: i16,
        coordinator_epoch: i32,
        commit: bool,
        partitions: Vec<(String, i32)>,
    ) -> BoxFuture<Vec<((String, i32), i16)>> {
        let broker = self.broker.clone();
        Box::pin(async move {
            let Some(broker) = broker.upgrade() else {
                return partitions
                    .into_iter()
                    .map(|tp| (tp, COORDINATOR_NOT_AVAILABLE))
                    .collect();
            };
            let marker = Marker {
                producer_id,
                producer_epoch,
                coordinator_epoch,
                commit,
            };
            write_markers_anywhere(&broker, marker, partitions).await
        })
    }

    fn allocate_producer_id(&self) -> BoxFuture<Result<i64, i16>> {
        let broker = self.broker.clone();
        Box::pin(async move {
            let broker = broker.upgrade().ok_or(COORDINATOR_NOT_AVAILABLE)?;
            broker.next_producer_id().await.map_err(|e| e.kafka_code())
        })
    }
}

/// Replays every `__transaction_state` partition this node hosts into the
/// coordinator, then lets it serve (completing transactions found half-way).
/// A partition that cannot be read fails the start: serving without it would
/// forget open transactions and hand their ids out again.
pub async fn load(
    coordinator: &TxnCoordinatorHandle,
    log: &TxnStateLog,
    partitions: i32,
) -> Result<(), OffsetsLogError> {
    for p in 0..partitions {
        let records = log.read_all(p)?;
        if records.is_empty() {
            continue;
        }
        let skipped = coordinator.load(records).await;
        if skipped > 0 {
            tracing::warn!(
                partition = p,
                skipped,
                "undecodable __transaction_state records skipped"
            );
        }
    }
    coordinator.finish_load().await;
    Ok(())
}
