//! OffsetForLeaderEpoch (key 23): for each partition, the largest leader epoch
//! not above the one asked for and the offset where it ended (consumers use it
//! to detect log truncation, KIP-320). Current-epoch checks follow Kafka:
//! an older epoch than the leader's is FENCED_LEADER_EPOCH, a newer one
//! UNKNOWN_LEADER_EPOCH.

use vltava_protocol::messages::OffsetForLeaderEpochRequest;
use vltava_protocol::messages::offset_for_leader_epoch_response::{
    EpochEndOffset, OffsetForLeaderEpochResponse, OffsetForLeaderTopicResult,
};

use crate::error_codes::*;
use crate::handlers::context::{Answer, RequestContext, respond};
use crate::handlers::per_partition::Partitions;

/// Handles OffsetForLeaderEpoch.
pub async fn handle(cx: &RequestContext<'_>, req: OffsetForLeaderEpochRequest) -> Answer {
    let broker = cx.broker;
    let lookup = Partitions::new(broker);
    let topics = req
        .topics
        .iter()
        .map(|t| OffsetForLeaderTopicResult {
            topic: t.topic.clone(),
            partitions: lookup.each(
                t.topic.as_str(),
                &t.partitions,
                |p| p.partition,
                |p, found| {
                    let mut r = EpochEndOffset {
                        partition: p.partition,
                        leader_epoch: -1,
                        end_offset: -1,
                        ..Default::default()
                    };
                    match found {
                        Err(refused) => r.error_code = refused.code(),
                        Ok(f)
                            if p.current_leader_epoch >= 0
                                && p.current_leader_epoch < f.meta.leader_epoch =>
                        {
                            r.error_code = FENCED_LEADER_EPOCH
                        }
                        Ok(f) if p.current_leader_epoch > f.meta.leader_epoch => {
                            r.error_code = UNKNOWN_LEADER_EPOCH
                        }
                        Ok(f) => {
                            let (epoch, end) =
                                f.partition.log().end_offset_for_epoch(p.leader_epoch);
                            r.leader_epoch = epoch;
                            r.end_offset = end;
                        }
                    }
                    r
                },
            ),
            ..Default::default()
        })
        .collect();
    respond(OffsetForLeaderEpochResponse {
        topics,
        ..Default::default()
    })
}
