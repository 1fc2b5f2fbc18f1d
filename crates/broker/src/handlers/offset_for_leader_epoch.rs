//! OffsetForLeaderEpoch (key 23): for each partition, the largest leader epoch
//! not above the one asked for and the offset where it ended (consumers use it
//! to detect log truncation, KIP-320). Current-epoch checks follow Kafka:
//! an older epoch than the leader's is FENCED_LEADER_EPOCH, a newer one
//! UNKNOWN_LEADER_EPOCH.

use vltava_protocol::ResponseBody;
use vltava_protocol::messages::OffsetForLeaderEpochRequest;
use vltava_protocol::messages::offset_for_leader_epoch_response::{
    EpochEndOffset, OffsetForLeaderEpochResponse, OffsetForLeaderTopicResult,
};

use crate::broker::Broker;
use crate::error_codes::*;

/// Handles OffsetForLeaderEpoch.
pub fn handle(broker: &Broker, req: &OffsetForLeaderEpochRequest) -> ResponseBody {
    let cache = broker.metadata();
    let topics = req
        .topics
        .iter()
        .map(|t| OffsetForLeaderTopicResult {
            topic: t.topic.clone(),
            partitions: t
                .partitions
                .iter()
                .map(|p| {
                    let mut r = EpochEndOffset {
                        partition: p.partition,
                        leader_epoch: -1,
                        end_offset: -1,
                        ..Default::default()
                    };
                    let meta = cache
                        .topic(t.topic.as_str())
                        .and_then(|m| m.partitions.get(&p.partition));
                    let part = broker.partitions.get(t.topic.as_str(), p.partition);
                    match (meta, part) {
                        (None, _) => r.error_code = UNKNOWN_TOPIC_OR_PARTITION,
                        (Some(_), None) => r.error_code = NOT_LEADER_OR_FOLLOWER,
                        (Some(m), Some(_))
                            if p.current_leader_epoch >= 0
                                && p.current_leader_epoch < m.leader_epoch =>
                        {
                            r.error_code = FENCED_LEADER_EPOCH
                        }
                        (Some(m), Some(_)) if p.current_leader_epoch > m.leader_epoch => {
                            r.error_code = UNKNOWN_LEADER_EPOCH
                        }
                        (Some(_), Some(part)) => {
                            let (epoch, end) = part.log().end_offset_for_epoch(p.leader_epoch);
                            r.leader_epoch = epoch;
                            r.end_offset = end;
                        }
                    }
                    r
                })
                .collect(),
            ..Default::default()
        })
        .collect();
    ResponseBody::from(OffsetForLeaderEpochResponse {
        topics,
        ..Default::default()
    })
}
