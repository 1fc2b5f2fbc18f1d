//! `Admin::describe_quorum`: the KRaft metadata quorum (DescribeQuorum on
//! `__cluster_metadata` partition 0): leader, epoch, high watermark, voters and observers
//! with their replication progress, and the voters' controller endpoints (v2).

use vltava_protocol::messages::DescribeQuorumRequest;
use vltava_protocol::messages::describe_quorum_request::{PartitionData, TopicData};
use vltava_protocol::messages::describe_quorum_response::ReplicaState;

use super::Admin;
use crate::error::{ClientError, Result, check};

/// The metadata log's topic.
use vltava_protocol::internal_topics::METADATA_TOPIC;

/// One replica of the metadata log, as the quorum leader sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuorumReplica {
    pub node_id: i32,
    pub log_end_offset: i64,
    /// Wall-clock ms, -1 if unknown.
    pub last_fetch_timestamp: i64,
    /// Wall-clock ms, -1 if unknown.
    pub last_caught_up_timestamp: i64,
}

/// The metadata quorum.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuorumDescription {
    pub leader_id: i32,
    pub leader_epoch: i32,
    pub high_watermark: i64,
    pub voters: Vec<QuorumReplica>,
    pub observers: Vec<QuorumReplica>,
    /// Per voter node id its endpoints as `LISTENER://host:port` (empty before v2).
    pub endpoints: Vec<(i32, Vec<String>)>,
}

fn replica(r: &ReplicaState) -> QuorumReplica {
    QuorumReplica {
        node_id: r.replica_id,
        log_end_offset: r.log_end_offset,
        last_fetch_timestamp: r.last_fetch_timestamp,
        last_caught_up_timestamp: r.last_caught_up_timestamp,
    }
}

impl Admin {
    /// Describes the metadata quorum (any broker answers for it).
    pub async fn describe_quorum(&self) -> Result<QuorumDescription> {
        let req = DescribeQuorumRequest {
            topics: vec![TopicData {
                topic_name: METADATA_TOPIC.into(),
                partitions: vec![PartitionData {
                    partition_index: 0,
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        };
        let resp = self.cluster.send_any(req).await?;
        check(
            resp.error_code,
            || "describing the metadata quorum".into(),
            resp.error_message.as_ref().map(|m| m.as_str()),
        )?;
        let part = resp
            .topics
            .iter()
            .find(|t| t.topic_name.as_str() == METADATA_TOPIC)
            .and_then(|t| t.partitions.iter().find(|p| p.partition_index == 0))
            .ok_or_else(|| {
                ClientError::Protocol(format!(
                    "no {METADATA_TOPIC}-0 in the DescribeQuorum answer"
                ))
            })?;
        check(
            part.error_code,
            || format!("describing {METADATA_TOPIC}-0"),
            part.error_message.as_ref().map(|m| m.as_str()),
        )?;
        Ok(QuorumDescription {
            leader_id: part.leader_id,
            leader_epoch: part.leader_epoch,
            high_watermark: part.high_watermark,
            voters: part.current_voters.iter().map(replica).collect(),
            observers: part.observers.iter().map(replica).collect(),
            endpoints: resp
                .nodes
                .iter()
                .map(|n| {
                    let eps = n
                        .listeners
                        .iter()
                        .map(|l| format!("{}://{}:{}", l.name.as_str(), l.host.as_str(), l.port))
                        .collect();
                    (n.node_id, eps)
                })
                .collect(),
        })
    }
}
