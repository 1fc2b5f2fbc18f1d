//! OffsetCommit's check before the group coordinator sees it, as Kafka's request handler
//! makes it: a partition the metadata does not have is answered UNKNOWN_TOPIC_OR_PARTITION
//! and only the others go to the coordinator; the answer lists the refused partitions
//! first, then the coordinator's (found by the differential test against Kafka, which
//! refuses such commits where Vltava stored them). A topic named with no partitions is left
//! out, and a request left with nothing to commit is answered without the coordinator, as
//! Kafka's handler does (found by the differential test, `every_api`).

use vltava_coordinator::CoordinatorHandle;
use vltava_protocol::messages::OffsetCommitRequest;
use vltava_protocol::messages::offset_commit_response::{
    OffsetCommitResponse, OffsetCommitResponsePartition, OffsetCommitResponseTopic,
};
use vltava_protocol::{ApiKey, RequestBody, ResponseBody};

use crate::error_codes::UNKNOWN_TOPIC_OR_PARTITION;
use crate::metadata_cache::MetadataCache;

/// Handles OffsetCommit through `coordinator`.
pub async fn handle(
    cache: &MetadataCache,
    coordinator: &CoordinatorHandle,
    client: (&str, &str),
    version: i16,
    mut req: OffsetCommitRequest,
) -> ResponseBody {
    let mut refused: Vec<OffsetCommitResponseTopic> = Vec::new();
    for topic in &mut req.topics {
        let known = cache.topic(topic.name.as_str());
        let (keep, drop): (Vec<_>, Vec<_>) = std::mem::take(&mut topic.partitions)
            .into_iter()
            .partition(|p| known.is_some_and(|t| t.partitions.contains_key(&p.partition_index)));
        topic.partitions = keep;
        if !drop.is_empty() {
            refused.push(OffsetCommitResponseTopic {
                name: topic.name.clone(),
                partitions: drop
                    .iter()
                    .map(|p| OffsetCommitResponsePartition {
                        partition_index: p.partition_index,
                        error_code: UNKNOWN_TOPIC_OR_PARTITION,
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            });
        }
    }
    req.topics.retain(|t| !t.partitions.is_empty());
    if refused.is_empty() && !req.topics.is_empty() {
        let body = RequestBody::OffsetCommit(req);
        return coordinator
            .handle_from(client.0, client.1, ApiKey::OffsetCommit, version, body)
            .await;
    }
    let mut answer = OffsetCommitResponse {
        topics: refused,
        ..Default::default()
    };
    if !req.topics.is_empty() {
        let body = RequestBody::OffsetCommit(req);
        match coordinator
            .handle_from(client.0, client.1, ApiKey::OffsetCommit, version, body)
            .await
        {
            ResponseBody::OffsetCommit(r) => {
                answer.throttle_time_ms = r.throttle_time_ms;
                for topic in r.topics {
                    match answer.topics.iter_mut().find(|t| t.name == topic.name) {
                        Some(t) => t.partitions.extend(topic.partitions),
                        None => answer.topics.push(topic),
                    }
                }
            }
            other => return other,
        }
    }
    ResponseBody::OffsetCommit(answer)
}
