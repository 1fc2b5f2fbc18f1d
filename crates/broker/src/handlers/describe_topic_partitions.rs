//! DescribeTopicPartitions (key 75): topics and their partitions from the
//! metadata image, paged by `response_partition_limit` with a cursor, as
//! Kafka's handler does: topics by name from the cursor's topic on (its
//! partitions from the cursor's index), at most the limit of partitions
//! (capped at [`MAX_PARTITIONS_PER_RESPONSE`], Kafka's
//! `max.request.partition.size.limit`); a page that stops inside a topic points
//! `next_cursor` at the next partition, one that fills up at a topic boundary at
//! the next topic's partition 0. A cursor naming a topic that an explicit topic
//! list lacks is INVALID_REQUEST.

use vltava_protocol::ResponseBody;
use vltava_protocol::messages::DescribeTopicPartitionsRequest;
use vltava_protocol::messages::describe_topic_partitions_response::{
    Cursor, DescribeTopicPartitionsResponse, DescribeTopicPartitionsResponsePartition,
    DescribeTopicPartitionsResponseTopic,
};

use crate::broker::Broker;
use crate::error_codes::*;
use crate::handlers::context::{Answer, RequestContext, respond};
use crate::handlers::partition_entry::partition_entry;
use crate::metadata_view::MetadataView;
use vltava_raft::PartitionImage;

/// A found topic's authorized operations when every operation is allowed, as Kafka answers
/// them (it always fills them here): READ, WRITE, CREATE, DELETE, ALTER, DESCRIBE,
/// DESCRIBE_CONFIGS and ALTER_CONFIGS (found by the differential test, `every_api`).
const TOPIC_AUTHORIZED_OPERATIONS: i32 =
    (1 << 3) | (1 << 4) | (1 << 5) | (1 << 6) | (1 << 7) | (1 << 8) | (1 << 10) | (1 << 11);

/// Upper bound on partitions in one response, whatever the client asks.
pub const MAX_PARTITIONS_PER_RESPONSE: i32 = 2000;

/// One partition's entry, as Kafka's: the leader only when its broker is alive (else -1,
/// with no error code: unlike Metadata, Kafka answers no LEADER_NOT_AVAILABLE here),
/// replicas on brokers that are not alive listed offline.
fn described_partition(
    p: &PartitionImage,
    metadata: &MetadataView,
) -> DescribeTopicPartitionsResponsePartition {
    DescribeTopicPartitionsResponsePartition {
        eligible_leader_replicas: Some(Vec::new()),
        last_known_elr: Some(Vec::new()),
        ..partition_entry!(DescribeTopicPartitionsResponsePartition, p, metadata)
    }
}

/// Handles DescribeTopicPartitions.
pub async fn handle(cx: &RequestContext<'_>, req: DescribeTopicPartitionsRequest) -> Answer {
    respond(answer(cx.broker, &req))
}

/// The answer to `req`.
fn answer(broker: &Broker, req: &DescribeTopicPartitionsRequest) -> ResponseBody {
    let metadata = broker.metadata();
    let names = requested_names(req, &metadata);
    let (start_topic, start_partition) = match &req.cursor {
        Some(c) => (Some(c.topic_name.as_str().to_string()), c.partition_index),
        None => (None, 0),
    };
    if let Some(cursor) = &start_topic {
        if !req.topics.is_empty() && !names.contains(cursor) {
            return invalid_cursor(&names);
        }
    }
    let mut budget = req
        .response_partition_limit
        .clamp(1, MAX_PARTITIONS_PER_RESPONSE);
    let mut topics = Vec::new();
    let mut next_cursor = None;
    for name in names {
        if start_topic.as_ref().is_some_and(|s| name < *s) {
            continue;
        }
        if budget == 0 {
            // Full at a topic boundary: the next page starts with this topic.
            next_cursor = Some(Cursor {
                topic_name: name.as_str().into(),
                partition_index: 0,
                ..Default::default()
            });
            break;
        }
        let first = if start_topic.as_deref() == Some(name.as_str()) {
            start_partition
        } else {
            0
        };
        let Some(t) = metadata.topic(&name) else {
            topics.push(DescribeTopicPartitionsResponseTopic {
                error_code: UNKNOWN_TOPIC_OR_PARTITION,
                name: Some(name.as_str().into()),
                topic_authorized_operations: i32::MIN,
                ..Default::default()
            });
            continue;
        };
        let mut partitions = Vec::new();
        for p in t.partitions.values().filter(|p| p.partition >= first) {
            if budget == 0 {
                next_cursor = Some(Cursor {
                    topic_name: name.as_str().into(),
                    partition_index: p.partition,
                    ..Default::default()
                });
                break;
            }
            budget -= 1;
            partitions.push(described_partition(p, &metadata));
        }
        topics.push(DescribeTopicPartitionsResponseTopic {
            error_code: NONE,
            name: Some(name.as_str().into()),
            topic_id: t.id,
            is_internal: t.is_internal(),
            partitions,
            topic_authorized_operations: TOPIC_AUTHORIZED_OPERATIONS,
            ..Default::default()
        });
        if next_cursor.is_some() {
            break;
        }
    }
    ResponseBody::from(DescribeTopicPartitionsResponse {
        topics,
        next_cursor,
        ..Default::default()
    })
}

/// The topics asked for (every topic for none), sorted, each once.
fn requested_names(req: &DescribeTopicPartitionsRequest, metadata: &MetadataView) -> Vec<String> {
    let mut names: Vec<String> = if req.topics.is_empty() {
        metadata.topics().map(|t| t.name.clone()).collect()
    } else {
        req.topics
            .iter()
            .map(|t| t.name.as_str().to_string())
            .collect()
    };
    names.sort();
    names.dedup();
    names
}

/// Kafka's InvalidRequestException for a cursor outside the requested topics: every
/// requested topic gets the error.
fn invalid_cursor(names: &[String]) -> ResponseBody {
    ResponseBody::from(DescribeTopicPartitionsResponse {
        topics: names
            .iter()
            .map(|n| DescribeTopicPartitionsResponseTopic {
                error_code: INVALID_REQUEST,
                name: Some(n.as_str().into()),
                topic_authorized_operations: i32::MIN,
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_images::{add_broker, broker, partition, view};
    use vltava_raft::MetadataImage;

    #[test]
    fn a_leader_that_is_not_alive_is_not_named_and_no_error_is_given() {
        let p = PartitionImage {
            leader_epoch: 3,
            ..partition(0, 1, &[1, 2], &[1, 2])
        };
        let mut image = MetadataImage::default();
        add_broker(&mut image, broker(2, 9092, &[]));
        let e = described_partition(&p, &view(&image));
        assert_eq!((e.error_code, e.leader_id, e.leader_epoch), (NONE, -1, 3));
        assert_eq!(e.offline_replicas, vec![1]);
        let mut fenced = broker(1, 9093, &[]);
        fenced.fenced = true;
        add_broker(&mut image, fenced);
        let e = described_partition(&p, &view(&image));
        assert_eq!(
            (e.error_code, e.leader_id),
            (NONE, -1),
            "broker 1 is fenced"
        );
        assert_eq!(e.offline_replicas, vec![1]);
        add_broker(&mut image, broker(1, 9093, &[]));
        let e = described_partition(&p, &view(&image));
        assert_eq!((e.error_code, e.leader_id), (NONE, 1));
        assert!(e.offline_replicas.is_empty());
    }
}
