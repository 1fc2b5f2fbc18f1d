//! The check OffsetCommit and TxnOffsetCommit share before the group coordinator sees
//! them, as Kafka's request handler makes it: a partition the metadata does not have is
//! answered UNKNOWN_TOPIC_OR_PARTITION and only the others go to the coordinator, the
//! answer listing the refused partitions first; a topic named with no partitions is left
//! out, and a request left with nothing to commit is answered without the coordinator
//! (found by the differential test against Kafka, which refuses such commits where Vltava
//! stored them, and by its `every_api` scenario). [`OffsetCommitShape`] is what differs
//! between the two APIs.

use vltava_coordinator::CoordinatorHandle;
use vltava_protocol::messages::offset_commit_response::{
    OffsetCommitResponse, OffsetCommitResponsePartition, OffsetCommitResponseTopic,
};
use vltava_protocol::messages::txn_offset_commit_response::{
    TxnOffsetCommitResponse, TxnOffsetCommitResponsePartition, TxnOffsetCommitResponseTopic,
};
use vltava_protocol::messages::{OffsetCommitRequest, TxnOffsetCommitRequest};
use vltava_protocol::{ApiKey, RequestBody, ResponseBody, SharedStr};

use crate::error_codes::UNKNOWN_TOPIC_OR_PARTITION;
use crate::handlers::context::{Answer, RequestContext, respond};
use crate::metadata_view::MetadataView;

/// An offset-commit request and its answer, as the split needs them.
pub trait OffsetCommitShape: Sized {
    /// The answer's message.
    type Answer: Default;
    /// The API key.
    const KEY: ApiKey;
    /// Takes out the partitions `known(topic, partition)` refuses and the topics left
    /// empty; returns the refused partitions by topic.
    fn take_unknown(&mut self, known: impl Fn(&str, i32) -> bool) -> Vec<(SharedStr, Vec<i32>)>;
    /// Whether any partition is left to commit.
    fn is_empty(&self) -> bool;
    fn into_body(self) -> RequestBody;
    /// An answer of `refused` partitions, each UNKNOWN_TOPIC_OR_PARTITION.
    fn refused(refused: Vec<(SharedStr, Vec<i32>)>, code: i16) -> Self::Answer;
    /// Adds the coordinator's answer to `answer`; `Err` gives back an answer of another
    /// API (an error the connection reports as is).
    fn merge(answer: &mut Self::Answer, from: ResponseBody) -> Result<(), Box<ResponseBody>>;
    fn answer_body(answer: Self::Answer) -> ResponseBody;
}

/// Handles OffsetCommit or TxnOffsetCommit: the partitions the metadata lacks here, the
/// rest through the group coordinator.
pub async fn handle<R: OffsetCommitShape>(cx: &RequestContext<'_>, req: R) -> Answer {
    let coordinator = cx.broker.coordinator().ok_or_else(|| cx.not_started())?;
    let client_host = cx.session.client_host();
    respond(
        split(
            &cx.metadata(),
            coordinator,
            (cx.client_id, &client_host),
            cx.version,
            req,
        )
        .await,
    )
}

/// The answer to an offset-commit request `req` through `coordinator`.
async fn split<R: OffsetCommitShape>(
    metadata: &MetadataView,
    coordinator: &CoordinatorHandle,
    client: (&str, &str),
    version: i16,
    mut req: R,
) -> ResponseBody {
    let refused = req.take_unknown(|topic, partition| {
        metadata
            .topic(topic)
            .is_some_and(|t| t.partitions.contains_key(&partition))
    });
    if refused.is_empty() && !req.is_empty() {
        return coordinator
            .handle_from(client.0, client.1, R::KEY, version, req.into_body())
            .await;
    }
    let mut answer = R::refused(refused, UNKNOWN_TOPIC_OR_PARTITION);
    if !req.is_empty() {
        let from = coordinator
            .handle_from(client.0, client.1, R::KEY, version, req.into_body())
            .await;
        if let Err(other) = R::merge(&mut answer, from) {
            return *other;
        }
    }
    R::answer_body(answer)
}

/// Implements [`OffsetCommitShape`] for a request whose topics and answer have the fields
/// OffsetCommit's and TxnOffsetCommit's share.
macro_rules! offset_commit_shape {
    ($req:ty, $resp:ident, $topic:ident, $partition:ident, $key:ident) => {
        impl OffsetCommitShape for $req {
            type Answer = $resp;
            const KEY: ApiKey = ApiKey::$key;

            fn take_unknown(
                &mut self,
                known: impl Fn(&str, i32) -> bool,
            ) -> Vec<(SharedStr, Vec<i32>)> {
                let mut refused = Vec::new();
                for topic in &mut self.topics {
                    let (keep, drop): (Vec<_>, Vec<_>) = std::mem::take(&mut topic.partitions)
                        .into_iter()
                        .partition(|p| known(topic.name.as_str(), p.partition_index));
                    topic.partitions = keep;
                    if !drop.is_empty() {
                        let ids = drop.iter().map(|p| p.partition_index).collect();
                        refused.push((topic.name.clone(), ids));
                    }
                }
                self.topics.retain(|t| !t.partitions.is_empty());
                refused
            }

            fn is_empty(&self) -> bool {
                self.topics.is_empty()
            }

            fn into_body(self) -> RequestBody {
                RequestBody::$key(self)
            }

            fn refused(refused: Vec<(SharedStr, Vec<i32>)>, code: i16) -> $resp {
                $resp {
                    topics: refused
                        .into_iter()
                        .map(|(name, ids)| $topic {
                            name,
                            partitions: ids
                                .into_iter()
                                .map(|partition_index| $partition {
                                    partition_index,
                                    error_code: code,
                                    ..Default::default()
                                })
                                .collect(),
                            ..Default::default()
                        })
                        .collect(),
                    ..Default::default()
                }
            }

            fn merge(answer: &mut $resp, from: ResponseBody) -> Result<(), Box<ResponseBody>> {
                let ResponseBody::$key(r) = from else {
                    return Err(Box::new(from));
                };
                answer.throttle_time_ms = r.throttle_time_ms;
                for topic in r.topics {
                    match answer.topics.iter_mut().find(|t| t.name == topic.name) {
                        Some(t) => t.partitions.extend(topic.partitions),
                        None => answer.topics.push(topic),
                    }
                }
                Ok(())
            }

            fn answer_body(answer: $resp) -> ResponseBody {
                ResponseBody::$key(answer)
            }
        }
    };
}

offset_commit_shape!(
    OffsetCommitRequest,
    OffsetCommitResponse,
    OffsetCommitResponseTopic,
    OffsetCommitResponsePartition,
    OffsetCommit
);
offset_commit_shape!(
    TxnOffsetCommitRequest,
    TxnOffsetCommitResponse,
    TxnOffsetCommitResponseTopic,
    TxnOffsetCommitResponsePartition,
    TxnOffsetCommit
);
