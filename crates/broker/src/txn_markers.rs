//! Writing transaction markers on this broker's partitions: one COMMIT or ABORT
//! control batch per partition through `Log::append_control_marker`, then the
//! high watermark moves to the log end (single replica) and long-polling
//! fetches wake. A marker on a `__consumer_offsets` partition also tells the
//! group coordinator to make the producer's pending offsets visible (commit) or
//! drop them (abort). Used by WriteTxnMarkers and by the transaction
//! coordinator's `TxnIo`.

use crate::broker::Broker;
use crate::error_codes::{self, *};
use crate::offsets_log::OFFSETS_TOPIC;
use crate::partitions::now_ms;

/// One marker to write: the producer, its epoch, the coordinator epoch and the
/// outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Marker {
    pub producer_id: i64,
    pub producer_epoch: i16,
    pub coordinator_epoch: i32,
    pub commit: bool,
}

/// Writes `marker` on one partition; the Kafka error code of the outcome.
fn write_one(broker: &Broker, marker: Marker, topic: &str, partition: i32) -> i16 {
    let cache = broker.metadata();
    let Some(meta) = cache
        .topic(topic)
        .and_then(|t| t.partitions.get(&partition))
    else {
        return UNKNOWN_TOPIC_OR_PARTITION;
    };
    let Some(p) = broker.partitions.get(topic, partition) else {
        return NOT_LEADER_OR_FOLLOWER;
    };
    let mut log = p.log();
    let result = log.append_control_marker(
        marker.producer_id,
        marker.producer_epoch,
        marker.coordinator_epoch,
        marker.commit,
        meta.leader_epoch,
        now_ms(),
    );
    match result {
        Ok(_) => {
            let leo = log.log_end_offset();
            log.set_high_watermark(leo);
            drop(log);
            broker.partitions.notify_append();
            NONE
        }
        Err(e) => {
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
        let code = write_one(broker, marker, &topic, partition);
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
