//! TxnOffsetCommit's check before the group coordinator sees it, as Kafka's request handler
//! makes it (the same as OffsetCommit's, `offset_commit`): a partition the metadata does not
//! have is answered UNKNOWN_TOPIC_OR_PARTITION and only the others go to the coordinator, a
//! topic named with no partitions is left out, and a request left with nothing to commit is
//! answered without the coordinator (found by the differential test against Kafka,
//! `every_api`: Vltava answered the group's error for unknown topics).

use vltava_coordinator::CoordinatorHandle;
use vltava_protocol::messages::TxnOffsetCommitRequest;
use vltava_protocol::messages::txn_offset_commit_response::{
    TxnOffsetCommitResponse, TxnOffsetCommitResponsePartition, TxnOffsetCommitResponseTopic,
};
use vltava_protocol::{ApiKey, RequestBody, ResponseBody};

use crate::error_codes::UNKNOWN_TOPIC_OR_PARTITION;
use crate::metadata_cache::MetadataCache;

/// Handles TxnOffsetCommit through `coordinator`.
pub async fn handle(
    cache: &MetadataCache,
    coordinator: &CoordinatorHandle,
    client: (&str, &str),
    version: i16,
    mut req: TxnOffsetCommitRequest,
) -> ResponseBody {
    let mut refused: Vec<TxnOffsetCommitResponseTopic> = Vec::new();
    for topic in &mut req.topics {
        let known = cache.topic(topic.name.as_str());
        let (keep, drop): (Vec<_>, Vec<_>) = std::mem::take(&mut topic.partitions)
            .into_iter()
            .partition(|p| known.is_some_and(|t| t.partitions.contains_key(&p.partition_index)));
        topic.partitions = keep;
        if !drop.is_empty() {
            refused.push(TxnOffsetCommitResponseTopic {
                name: topic.name.clone(),
                partitions: drop
                    .iter()
                    .map(|p| TxnOffsetCommitResponsePartition {
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
        let body = RequestBody::TxnOffsetCommit(req);
        return coordinator
            .handle_from(client.0, client.1, ApiKey::TxnOffsetCommit, version, body)
            .await;
    }
    let mut answer = TxnOffsetCommitResponse {
        topics: refused,
        ..Default::default()
    };
    if !req.topics.is_empty() {
        let body = RequestBody::TxnOffsetCommit(req);
        match coordinator
            .handle_from(client.0, client.1, ApiKey::TxnOffsetCommit, version, body)
            .await
        {
            ResponseBody::TxnOffsetCommit(r) => {
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
    ResponseBody::TxnOffsetCommit(answer)
}
