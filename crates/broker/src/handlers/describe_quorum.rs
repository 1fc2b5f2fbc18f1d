//! DescribeQuorum (key 55): the metadata quorum's leader, epoch, high watermark and voters,
//! read from the raft leader's replication progress (`Controller::describe_quorum`). Like
//! Kafka, the request must name exactly `__cluster_metadata` partition 0; otherwise every
//! topic and partition it names is echoed with UNKNOWN_TOPIC_OR_PARTITION and no top-level
//! error (found by the differential test against Kafka, `every_api`). A voter that does not lead asks the leader over the controller channel (as
//! Kafka's brokers forward it); NOT_LEADER_OR_FOLLOWER only while no leader is reachable.

use vltava_protocol::ResponseBody;
use vltava_protocol::messages::DescribeQuorumRequest;
use vltava_protocol::messages::describe_quorum_response::{
    DescribeQuorumResponse, PartitionData, TopicData,
};
use vltava_raft::{RaftError, quorum_wire};

use crate::broker::Broker;
use crate::error_codes::*;
use crate::handlers::context::{Answer, RequestContext, respond};

pub use vltava_raft::quorum_wire::METADATA_TOPIC;

/// Handles DescribeQuorum.
pub async fn handle(cx: &RequestContext<'_>, req: DescribeQuorumRequest) -> Answer {
    respond(answer(cx.broker, &req, cx.version).await)
}

/// The answer to `req`.
async fn answer(broker: &Broker, req: &DescribeQuorumRequest, version: i16) -> ResponseBody {
    let names_metadata_partition = matches!(
        req.topics.as_slice(),
        [t] if t.topic_name.as_str() == METADATA_TOPIC
            && matches!(t.partitions.as_slice(), [p] if p.partition_index == 0)
    );
    if !names_metadata_partition {
        return ResponseBody::from(DescribeQuorumResponse {
            topics: req
                .topics
                .iter()
                .map(|t| TopicData {
                    topic_name: t.topic_name.clone(),
                    partitions: t
                        .partitions
                        .iter()
                        .map(|p| PartitionData {
                            partition_index: p.partition_index,
                            error_code: UNKNOWN_TOPIC_OR_PARTITION,
                            ..Default::default()
                        })
                        .collect(),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        });
    }
    let status = match broker.controller() {
        Some(c) => c.describe_quorum().await,
        None => Err(RaftError::Stopped),
    };
    let listener = broker
        .config
        .controller_listener_names
        .first()
        .cloned()
        .unwrap_or_else(|| "CONTROLLER".to_string());
    let mut resp = match status {
        Ok(status) => quorum_wire::to_response(&status, &listener),
        Err(e) => {
            let (code, message) = match e {
                RaftError::NotController => (
                    NOT_LEADER_OR_FOLLOWER,
                    "this node does not lead the metadata quorum".to_string(),
                ),
                other => (other.kafka_code(), other.to_string()),
            };
            quorum_wire::error_response(code, &message)
        }
    };
    if version < 2 {
        // Endpoints and error messages arrived in v2.
        resp.nodes.clear();
        for t in &mut resp.topics {
            for p in &mut t.partitions {
                p.error_message = None;
            }
        }
    }
    ResponseBody::from(resp)
}
