//! WriteTxnMarkers (key 27): the inter-broker request a transaction coordinator
//! sends to partition leaders; every partition here is led by this node, so
//! each marker is written locally (`txn_markers`) and answered per partition.

use vltava_protocol::ResponseBody;
use vltava_protocol::messages::WriteTxnMarkersRequest;
use vltava_protocol::messages::write_txn_markers_response::{
    WritableTxnMarkerPartitionResult, WritableTxnMarkerResult, WritableTxnMarkerTopicResult,
    WriteTxnMarkersResponse,
};

use crate::broker::Broker;
use crate::handlers::context::{Answer, RequestContext, respond};
use crate::txn_markers::{Marker, write_markers};

/// Handles WriteTxnMarkers.
pub async fn handle(cx: &RequestContext<'_>, req: WriteTxnMarkersRequest) -> Answer {
    respond(answer(cx.broker, &req).await)
}

/// The answer to `req`.
async fn answer(broker: &Broker, req: &WriteTxnMarkersRequest) -> ResponseBody {
    let mut markers = Vec::with_capacity(req.markers.len());
    for m in &req.markers {
        let marker = Marker {
            producer_id: m.producer_id,
            producer_epoch: m.producer_epoch,
            coordinator_epoch: m.coordinator_epoch,
            commit: m.transaction_result,
        };
        let targets: Vec<(String, i32)> = m
            .topics
            .iter()
            .flat_map(|t| {
                t.partition_indexes
                    .iter()
                    .map(move |p| (t.name.as_str().to_string(), *p))
            })
            .collect();
        let results = write_markers(broker, marker, targets).await;
        let mut topics: Vec<WritableTxnMarkerTopicResult> = Vec::new();
        for ((topic, partition), code) in results {
            let result = WritableTxnMarkerPartitionResult {
                partition_index: partition,
                error_code: code,
                ..Default::default()
            };
            match topics.last_mut() {
                Some(last) if last.name.as_str() == topic => last.partitions.push(result),
                _ => topics.push(WritableTxnMarkerTopicResult {
                    name: topic.as_str().into(),
                    partitions: vec![result],
                    ..Default::default()
                }),
            }
        }
        markers.push(WritableTxnMarkerResult {
            producer_id: m.producer_id,
            topics,
            ..Default::default()
        });
    }
    ResponseBody::from(WriteTxnMarkersResponse {
        markers,
        ..Default::default()
    })
}
