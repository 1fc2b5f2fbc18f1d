//! `QuorumStatus` on the controller channel: a voter that does not lead asks the leader with
//! a DescribeQuorum request and reads the status back from its answer, so DescribeQuorum
//! works on every node (as Kafka's brokers forward it to the active controller).

use std::net::SocketAddr;

use vltava_protocol::messages::describe_quorum_response::{
    DescribeQuorumResponse, Listener, Node, PartitionData, ReplicaState, TopicData,
};

use crate::config::Voter;
use crate::error::{RaftError, codes};
use crate::quorum_status::{QuorumStatus, ReplicaStatus};

/// The metadata log's topic name.
pub use vltava_protocol::internal_topics::METADATA_TOPIC;
/// Listener name used for voter endpoints on the controller channel.
pub const CHANNEL_LISTENER: &str = "CONTROLLER";

/// The leader's answer for `status` (all fields of the latest version), voter endpoints
/// named `listener`.
pub fn to_response(status: &QuorumStatus, listener: &str) -> DescribeQuorumResponse {
    DescribeQuorumResponse {
        topics: vec![TopicData {
            topic_name: METADATA_TOPIC.into(),
            partitions: vec![PartitionData {
                partition_index: 0,
                leader_id: status.leader_id,
                leader_epoch: status.leader_epoch,
                high_watermark: status.high_watermark,
                current_voters: status.voters.iter().map(replica_state).collect(),
                observers: status.observers.iter().map(replica_state).collect(),
                ..Default::default()
            }],
            ..Default::default()
        }],
        nodes: status
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
            .collect(),
        ..Default::default()
    }
}

fn replica_state(v: &ReplicaStatus) -> ReplicaState {
    ReplicaState {
        replica_id: v.replica_id,
        log_end_offset: v.log_end_offset,
        last_fetch_timestamp: v.last_fetch_timestamp,
        last_caught_up_timestamp: v.last_caught_up_timestamp,
        ..Default::default()
    }
}

fn replica_status(v: &ReplicaState) -> ReplicaStatus {
    ReplicaStatus {
        replica_id: v.replica_id,
        log_end_offset: v.log_end_offset,
        last_fetch_timestamp: v.last_fetch_timestamp,
        last_caught_up_timestamp: v.last_caught_up_timestamp,
    }
}

/// An error answer with `code` (the partition-level error, as Kafka puts it).
pub fn error_response(code: i16, message: &str) -> DescribeQuorumResponse {
    DescribeQuorumResponse {
        topics: vec![TopicData {
            topic_name: METADATA_TOPIC.into(),
            partitions: vec![PartitionData {
                partition_index: 0,
                error_code: code,
                error_message: Some(message.into()),
                leader_id: -1,
                leader_epoch: -1,
                high_watermark: -1,
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    }
}

/// The status in a leader's answer; its error code as an error.
pub fn from_response(r: &DescribeQuorumResponse) -> Result<QuorumStatus, RaftError> {
    if r.error_code != codes::NONE {
        return Err(RaftError::Kafka {
            code: r.error_code,
            message: r.error_message.as_deref().unwrap_or("").to_string(),
        });
    }
    let p = r
        .topics
        .first()
        .and_then(|t| t.partitions.first())
        .ok_or_else(|| RaftError::Codec("DescribeQuorum answer without a partition".into()))?;
    if p.error_code != codes::NONE {
        if p.error_code == codes::NOT_LEADER_OR_FOLLOWER {
            return Err(RaftError::NotController);
        }
        return Err(RaftError::Kafka {
            code: p.error_code,
            message: p.error_message.as_deref().unwrap_or("").to_string(),
        });
    }
    let voter_endpoints = r
        .nodes
        .iter()
        .filter_map(|n| {
            let l = n.listeners.first()?;
            let addr: SocketAddr = format!("{}:{}", l.host, l.port).parse().ok()?;
            Some(Voter {
                id: n.node_id,
                addr,
            })
        })
        .collect();
    Ok(QuorumStatus {
        leader_id: p.leader_id,
        leader_epoch: p.leader_epoch,
        high_watermark: p.high_watermark,
        voters: p.current_voters.iter().map(replica_status).collect(),
        observers: p.observers.iter().map(replica_status).collect(),
        voter_endpoints,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_status_survives_the_round_trip() {
        let status = QuorumStatus {
            leader_id: 2,
            leader_epoch: 7,
            high_watermark: 42,
            voters: vec![
                ReplicaStatus {
                    replica_id: 1,
                    log_end_offset: 40,
                    last_fetch_timestamp: 5,
                    last_caught_up_timestamp: 4,
                },
                ReplicaStatus {
                    replica_id: 2,
                    log_end_offset: 42,
                    last_fetch_timestamp: -1,
                    last_caught_up_timestamp: -1,
                },
            ],
            observers: vec![ReplicaStatus {
                replica_id: 7,
                log_end_offset: 41,
                last_fetch_timestamp: 6,
                last_caught_up_timestamp: 3,
            }],
            voter_endpoints: vec![Voter {
                id: 1,
                addr: SocketAddr::from(([127, 0, 0, 1], 9093)),
            }],
        };
        assert_eq!(
            from_response(&to_response(&status, CHANNEL_LISTENER)).unwrap(),
            status
        );
        let err = from_response(&error_response(codes::NOT_LEADER_OR_FOLLOWER, "no"));
        assert!(matches!(err, Err(RaftError::NotController)));
    }
}
