//! The transaction coordinator's IO on this broker (`vltava_coordinator::TxnIo`):
//! `__transaction_state` appends through `txn_log` as the leader with acks=all
//! (creating the topic first if a request arrives before any FindCoordinator
//! did), reads of a partition this broker was elected coordinator of,
//! COMMIT/ABORT markers through `txn_marker_routing` (here, or at each
//! partition's leader), and producer ids from the controller's blocks.

use std::sync::{Arc, Weak};

use vltava_coordinator::{BoxFuture, RawRecord, TxnIo};

use crate::broker::Broker;
use crate::error_codes::COORDINATOR_NOT_AVAILABLE;
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

/// How long a `__transaction_state` write waits for the ISR (Kafka's
/// `request.timeout.ms` default, which its transaction coordinator uses).
pub const TXN_LOG_WRITE_TIMEOUT_MS: u64 = 30_000;

impl TxnIo for BrokerTxnIo {
    fn append(&self, partition: i32, records: Vec<RawRecord>) -> BoxFuture<Result<(), i16>> {
        let broker = self.broker.clone();
        Box::pin(async move {
            let broker = broker.upgrade().ok_or(COORDINATOR_NOT_AVAILABLE)?;
            if !broker.ensure_transaction_state_topic().await {
                return Err(COORDINATOR_NOT_AVAILABLE);
            }
            TxnStateLog::new(broker.replicas.clone(), TXN_LOG_WRITE_TIMEOUT_MS)
                .append(partition, &records)
                .await
                .map_err(|e| {
                    tracing::warn!(partition, error = %e, "__transaction_state append failed");
                    e.code()
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

    fn read_partition(&self, partition: i32) -> BoxFuture<Result<Vec<RawRecord>, i16>> {
        let broker = self.broker.clone();
        Box::pin(async move {
            let broker = broker.upgrade().ok_or(COORDINATOR_NOT_AVAILABLE)?;
            let log = TxnStateLog::new(broker.replicas.clone(), TXN_LOG_WRITE_TIMEOUT_MS);
            tokio::task::spawn_blocking(move || log.read_all(partition))
                .await
                .map_err(|_| COORDINATOR_NOT_AVAILABLE)?
                .map_err(|e| {
                    tracing::warn!(partition, error = %e, "cannot load __transaction_state");
                    e.code()
                })
        })
    }
}
