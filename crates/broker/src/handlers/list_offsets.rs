//! ListOffsets (key 2): earliest (-2), latest (-1), max-timestamp (-3) and
//! by-timestamp lookups on the partition logs; v0's `old_style_offsets`.

use vltava_protocol::messages::ListOffsetsRequest;
use vltava_protocol::messages::list_offsets_request::ListOffsetsPartition;
use vltava_protocol::messages::list_offsets_response::{
    ListOffsetsPartitionResponse, ListOffsetsResponse, ListOffsetsTopicResponse,
};
use vltava_storage::LATEST_TIMESTAMP;

use crate::error_codes;
use crate::handlers::context::{Answer, RequestContext, respond};
use crate::handlers::per_partition::{Found, Partitions, Refused};

fn error(index: i32, code: i16) -> ListOffsetsPartitionResponse {
    ListOffsetsPartitionResponse {
        partition_index: index,
        error_code: code,
        timestamp: -1,
        offset: -1,
        leader_epoch: -1,
        ..Default::default()
    }
}

/// Handles ListOffsets.
pub async fn handle(cx: &RequestContext<'_>, req: ListOffsetsRequest) -> Answer {
    let broker = cx.broker;
    let lookup = Partitions::new(broker);
    let topics = req
        .topics
        .iter()
        .map(|t| ListOffsetsTopicResponse {
            name: t.name.clone(),
            partitions: lookup.each(
                t.name.as_str(),
                &t.partitions,
                |p| p.partition_index,
                |p, found| list_partition(cx, &req, t.name.as_str(), p, found),
            ),
            ..Default::default()
        })
        .collect();
    respond(ListOffsetsResponse {
        topics,
        ..Default::default()
    })
}

/// One partition's answer: refused, or its offset for the timestamp asked within what
/// consumers may see.
fn list_partition(
    cx: &RequestContext<'_>,
    req: &ListOffsetsRequest,
    name: &str,
    p: &ListOffsetsPartition,
    found: Result<Found<'_>, Refused>,
) -> ListOffsetsPartitionResponse {
    let broker = cx.broker;
    let part = match found {
        Ok(f) => f.partition,
        Err(Refused::NotHosted)
            if broker
                .partitions
                .open_error(name, p.partition_index)
                .is_some() =>
        {
            return error(p.partition_index, error_codes::KAFKA_STORAGE_ERROR);
        }
        Err(refused) => return error(p.partition_index, refused.code()),
    };
    if let Some(code) =
        broker
            .replicas
            .leader_error(name, p.partition_index, p.current_leader_epoch)
    {
        return error(p.partition_index, code);
    }
    let log = part.log();
    // Consumers see only up to the high watermark / last stable offset.
    let bound = if req.isolation_level == 1 {
        log.last_stable_offset()
    } else {
        log.high_watermark()
    };
    let found = if p.timestamp == LATEST_TIMESTAMP {
        Ok(Some(vltava_storage::TimestampOffset {
            timestamp: -1,
            offset: bound,
            leader_epoch: log.leader_epoch_cache().latest().map(|e| e.epoch),
        }))
    } else {
        log.offset_for_timestamp(p.timestamp)
    };
    drop(log);
    match found {
        Ok(Some(f)) if f.offset <= bound => {
            let mut r = ListOffsetsPartitionResponse {
                partition_index: p.partition_index,
                timestamp: f.timestamp,
                offset: f.offset,
                leader_epoch: f.leader_epoch.unwrap_or(-1),
                ..Default::default()
            };
            if cx.version == 0 {
                r.old_style_offsets = vec![f.offset];
                r.timestamp = -1;
                r.offset = -1;
            }
            if cx.version < 4 {
                r.leader_epoch = -1;
            }
            r
        }
        Ok(_) => ListOffsetsPartitionResponse {
            partition_index: p.partition_index,
            timestamp: -1,
            offset: -1,
            leader_epoch: -1,
            ..Default::default()
        },
        Err(e) => error(p.partition_index, error_codes::for_storage(&e)),
    }
}
