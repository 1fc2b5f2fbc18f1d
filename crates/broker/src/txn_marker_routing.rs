//! Where a transaction's markers go: each partition's marker is written by its leader. The
//! partitions this broker leads (or whose leader it cannot tell, which then answer their own
//! error) are written here through `txn_markers`; the others go to their leaders in one
//! WriteTxnMarkers request per broker, as Kafka's transaction coordinator sends them. A
//! broker that cannot be reached answers NOT_LEADER_OR_FOLLOWER for its partitions, and the
//! coordinator retries them after its backoff.

use std::collections::{BTreeMap, HashMap};

use vltava_protocol::messages::WriteTxnMarkersRequest;
use vltava_protocol::messages::write_txn_markers_request::{
    WritableTxnMarker, WritableTxnMarkerTopic,
};
use vltava_protocol::{ApiKey, RequestBody, ResponseBody};

use crate::broker::Broker;
use crate::error_codes::NOT_LEADER_OR_FOLLOWER;
use crate::metadata_view::MetadataView;
use crate::txn_markers::{Marker, write_markers};

/// Writes `marker` on every partition, here or at its leader; the code per partition.
pub async fn write_markers_anywhere(
    broker: &Broker,
    marker: Marker,
    partitions: Vec<(String, i32)>,
) -> Vec<((String, i32), i16)> {
    let metadata = broker.metadata();
    let me = broker.config.node_id;
    let mut local = Vec::new();
    let mut remote: BTreeMap<i32, Vec<(String, i32)>> = BTreeMap::new();
    for (topic, partition) in partitions {
        let leader = metadata
            .topic(&topic)
            .and_then(|t| t.partitions.get(&partition))
            .map(|p| p.leader);
        match leader {
            Some(l) if l >= 0 && l != me => remote.entry(l).or_default().push((topic, partition)),
            _ => local.push((topic, partition)),
        }
    }
    let mut out = write_markers(broker, marker, local).await;
    for (leader, tps) in remote {
        out.extend(send(broker, &metadata, leader, marker, tps).await);
    }
    out
}

/// One WriteTxnMarkers request to `leader` for `tps`.
async fn send(
    broker: &Broker,
    metadata: &MetadataView,
    leader: i32,
    marker: Marker,
    tps: Vec<(String, i32)>,
) -> Vec<((String, i32), i16)> {
    let mut topics: Vec<WritableTxnMarkerTopic> = Vec::new();
    for (topic, partition) in &tps {
        match topics.iter_mut().find(|t| t.name.as_str() == topic) {
            Some(t) => t.partition_indexes.push(*partition),
            None => topics.push(WritableTxnMarkerTopic {
                name: topic.as_str().into(),
                partition_indexes: vec![*partition],
                ..Default::default()
            }),
        }
    }
    let req = WriteTxnMarkersRequest {
        markers: vec![WritableTxnMarker {
            producer_id: marker.producer_id,
            producer_epoch: marker.producer_epoch,
            transaction_result: marker.commit,
            topics,
            coordinator_epoch: marker.coordinator_epoch,
            ..Default::default()
        }],
        ..Default::default()
    };
    let version = ApiKey::WriteTxnMarkers.max_version();
    let answer = broker
        .peers
        .call(metadata, leader, RequestBody::from(req), version)
        .await;
    let mut codes: HashMap<(String, i32), i16> = HashMap::new();
    match answer {
        Ok(ResponseBody::WriteTxnMarkers(r)) => {
            for m in &r.markers {
                for t in &m.topics {
                    for p in &t.partitions {
                        codes.insert((t.name.to_string(), p.partition_index), p.error_code);
                    }
                }
            }
        }
        Ok(_) => {}
        Err(e) => {
            tracing::warn!(leader, producer_id = marker.producer_id, error = %e, "transaction markers not delivered; the coordinator retries");
        }
    }
    tps.into_iter()
        .map(|tp| {
            let code = codes.get(&tp).copied().unwrap_or(NOT_LEADER_OR_FOLLOWER);
            (tp, code)
        })
        .collect()
}
