//! Writing transaction markers on this broker's partitions: one COMMIT or ABORT
//! control batch per partition through `Log::append_control_marker`, appended
//! through the partition's replica (`ReplicaManager::append_local`: only on the
//! leader, with its leader epoch), and answered once the high watermark passes it (as
//! Kafka writes markers, with required acks -1; at most [`MARKER_TIMEOUT_MS`], then
//! REQUEST_TIMED_OUT and the coordinator retries). A marker on a `__consumer_offsets` partition also tells the
//! group coordinator to make the producer's pending offsets visible (commit) or
//! drop them (abort). Used by WriteTxnMarkers and by the transaction
//! coordinator's `TxnIo`.

use crate::broker::Broker;
use crate::error_codes::{self, *};
use crate::offsets_log::OFFSETS_TOPIC;
use crate::replica_manager::ReplicaRequestError;
use vltava_records::clock::now_ms;

/// One marker to write: the producer, its epoch, the coordinator epoch and the
/// outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Marker {
    pub producer_id: i64,
    pub producer_epoch: i16,
    pub coordinator_epoch: i32,
    pub commit: bool,
}

/// Longest wait for a marker to be replicated (Kafka's `request.timeout.ms`).
pub const MARKER_TIMEOUT_MS: u64 = 30_000;

/// Writes `marker` on one partition this broker leads; the Kafka error code
/// of the outcome once the ISR has it.
async fn write_one(broker: &Broker, marker: Marker, topic: &str, partition: i32) -> i16 {
    let metadata = broker.metadata();
    if metadata
        .topic(topic)
        .and_then(|t| t.partitions.get(&partition))
        .is_none()
    {
        return UNKNOWN_TOPIC_OR_PARTITION;
    }
    let result =
        broker
            .replicas
            .append_local(topic, partition, MARKER_TIMEOUT_MS, |log, leader_epoch| {
                log.append_control_marker(
                    marker.producer_id,
                    marker.producer_epoch,
                    marker.coordinator_epoch,
                    marker.commit,
                    leader_epoch,
                    now_ms(),
                )
            });
    match result {
        Ok((_, acks)) => match acks.result().await {
            Ok(()) => NONE,
            Err(e) => e.code(),
        },
        Err(ReplicaRequestError::NotHosted) => NOT_LEADER_OR_FOLLOWER,
        Err(ReplicaRequestError::Replica(e)) => e.code(),
        Err(ReplicaRequestError::Storage(e)) => {
            tracing::warn!(topic, partition, producer_id = marker.producer_id, error = %e, "transaction marker not written");
            error_codes::for_storage(&e)
        }
    }
}

/// Writes `marker` on every partition of `partitions`; the code per partition,
/// in order.
pub async fn write_markers(
    broker: &Broker,
    marker: Marker,
    partitions: Vec<(String, i32)>,
) -> Vec<((String, i32), i16)> {
    let mut out = Vec::with_capacity(partitions.len());
    for (topic, partition) in partitions {
        let code = write_one(broker, marker, &topic, partition).await;
        if code == NONE && topic == OFFSETS_TOPIC {
            if let Some(c) = broker.coordinator() {
                c.complete_txn_marker(partition, marker.producer_id, marker.commit)
                    .await;
            }
        }
        out.push(((topic, partition), code));
    }
    out
}
