//! DescribeQuorum (key 55): the metadata quorum's leader, epoch, high watermark and voters,
//! read from the raft leader's replication progress (`Controller::describe_quorum`). Like
//! Kafka, the request must name exactly `__cluster_metadata` partition 0 (INVALID_REQUEST
//! otherwise). A voter that does not lead asks the leader over the controller channel (as
//! Kafka's brokers forward it); NOT_LEADER_OR_FOLLOWER only while no leader is reachable.

use vltava_protocol::ResponseBody;
use vltava_protocol::messages::DescribeQuorumRequest;
use vltava_protocol::messages::describe_quorum_response::{
    DescribeQuorumResponse, Listener, Node, PartitionData, ReplicaState, TopicData,
};
use vltava_raft::{QuorumStatus, RaftError};

use crate::broker::Broker;
use crate::error_codes::*;

/// The metadata log's topic name.
pub const METADATA_TOPIC: &str = "__cluster_metadata";

/// Handles DescribeQuorum.
pub async fn handle(broker: &Broker, req: &DescribeQuorumRequest, version: i16) -> ResponseBody {
    let names_metadata_partition = matches!(
        req.topics.as_slice(),
        [t] if t.topic_name.as_str() == METADATA_TOPIC
            && matches!(t.partitions.as_slice(), [p] if p.partition_index == 0)
    );
    if !names_metadata_partition {
        return ResponseBody::from(DescribeQuorumResponse {
            error_code: INVALID_REQUEST,
            error_message: (version >= 2)
                .then(|| format!("the request must name only {METADATA_TOPIC} partition 0").into()),
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
    match status {
        Ok(status) => ResponseBody::from(described(&status, &listener, version)),
        Err(e) => {
            let (code, message) = match e {
                RaftError::NotController => (
                    NOT_LEADER_OR_FOLLOWER,
                    "this node does not lead the metadata quorum".to_string(),
                ),
                other => (other.kafka_code(), other.to_string()),
            };
            ResponseBody::from(DescribeQuorumResponse {
                topics: vec![TopicData {
                    topic_name: METADATA_TOPIC.into(),
                    partitions: vec![PartitionData {
                        partition_index: 0,
                        error_code: code,
                        error_message: (version >= 2).then(|| message.into()),
                        leader_id: -1,
                        leader_epoch: -1,
                        high_watermark: -1,
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
                ..Default::default()
            })
        }
    }
}

/// The response for a leader's view of the quorum.
fn described(status: &QuorumStatus, listener: &str, version: i16) -> DescribeQuorumResponse {
    let voters = status
        .voters
        .iter()
        .map(|v| ReplicaState {
            replica_id: v.replica_id,
            log_end_offset: v.log_end_offset,
            last_fetch_timestamp: v.last_fetch_timestamp,
            last_caught_up_timestamp: v.last_caught_up_timestamp,
            ..Default::default()
        })
        .collect();
    let nodes = if version >= 2 {
        status
            .voter_endpoints
            .iter()
            .map(|v| Node {
                node_id: v.id,
                listeners: vec![Listener {
                    name: listener.into(),
                    host: v.addr.ip().to_string().into(),
                    port: v.addr.port(),
                    ..Default::default()
                }],
                ..Default::default()
            })
            .collect()
    } else {
        Vec::new()
    };
    DescribeQuorumResponse {
        topics: vec![TopicData {
            topic_name: METADATA_TOPIC.into(),
            partitions: vec![PartitionData {
                partition_index: 0,
                leader_id: status.leader_id,
                leader_epoch: status.leader_epoch,
                high_watermark: status.high_watermark,
                current_voters: voters,
                ..Default::default()
            }],
            ..Default::default()
        }],
        nodes,
        ..Default::default()
    }
}
