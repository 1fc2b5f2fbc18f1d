//! The controller mutation quota (KIP-599) on CreateTopics, CreatePartitions and DeleteTopics:
//! each topic's partition mutations (partitions created, added or deleted) are admitted while
//! the client is not over its `controller_mutation_rate`, else that topic is answered
//! THROTTLING_QUOTA_EXCEEDED (89) without reaching the controller. Versions before the error
//! existed (CreateTopics < 6, CreatePartitions < 3, DeleteTopics < 5) are admitted and only
//! throttled. The connection adds the resulting wait to the answer's `throttle_time_ms`.

use vltava_protocol::messages::create_partitions_response::CreatePartitionsTopicResult;
use vltava_protocol::messages::create_topics_response::CreatableTopicResult;
use vltava_protocol::messages::delete_topics_response::DeletableTopicResult;
use vltava_protocol::{ApiKey, RequestBody, ResponseBody, Uuid};

use crate::broker::Broker;
use crate::session::Session;

pub use vltava_protocol::error_codes::THROTTLING_QUOTA_EXCEEDED;
const MESSAGE: &str = "The throttling quota has been exceeded.";

/// Whether `key` at `version` counts against the mutation quota, and whether it may be
/// refused (the version has THROTTLING_QUOTA_EXCEEDED).
pub fn metered(key: ApiKey, version: i16) -> Option<bool> {
    match key {
        ApiKey::CreateTopics => Some(version >= 6),
        ApiKey::CreatePartitions => Some(version >= 3),
        ApiKey::DeleteTopics => Some(version >= 5),
        _ => None,
    }
}

/// The topics of `body` refused by the quota, answered for; `body` keeps the admitted ones.
#[derive(Debug)]
pub struct Refused(Vec<(String, Uuid)>);

/// Takes the topics the quota refuses out of `body`.
pub fn admit(
    broker: &Broker,
    session: &Session,
    client_id: &str,
    body: &mut RequestBody,
    version: i16,
) -> Refused {
    let Some(strict) = metered(body.api_key(), version) else {
        return Refused(Vec::new());
    };
    let metadata = broker.metadata();
    if metadata.client_quotas().is_empty() {
        return Refused(Vec::new());
    }
    let admit_one = |partitions: u32| {
        broker.quotas.admit_mutations(
            metadata.client_quotas(),
            &session.principal.name,
            client_id,
            partitions,
            strict,
        )
    };
    let mut refused = Vec::new();
    match body {
        RequestBody::CreateTopics(r) => {
            let default = u32::try_from(broker.config.num_partitions).unwrap_or(1);
            r.topics.retain(|t| {
                let n = u32::try_from(t.num_partitions).unwrap_or(default);
                let ok = admit_one(n);
                if !ok {
                    refused.push((t.name.to_string(), Uuid::ZERO));
                }
                ok
            });
        }
        RequestBody::CreatePartitions(r) => {
            r.topics.retain(|t| {
                let now = metadata
                    .topic(t.name.as_str())
                    .map_or(0, |m| m.partitions.len() as i64);
                let added = u32::try_from((i64::from(t.count) - now).max(0)).unwrap_or(0);
                let ok = admit_one(added);
                if !ok {
                    refused.push((t.name.to_string(), Uuid::ZERO));
                }
                ok
            });
        }
        RequestBody::DeleteTopics(r) => {
            let count = |name: Option<&str>, id: Uuid| {
                let topic = match name {
                    Some(n) => metadata.topic(n),
                    None => metadata.topic_by_id(id),
                };
                topic.map_or(0, |t| t.partitions.len() as u32)
            };
            r.topic_names.retain(|n| {
                let ok = admit_one(count(Some(n.as_str()), Uuid::ZERO));
                if !ok {
                    refused.push((n.to_string(), Uuid::ZERO));
                }
                ok
            });
            r.topics.retain(|t| {
                let ok = admit_one(count(t.name.as_deref(), t.topic_id));
                if !ok {
                    let name = t.name.as_ref().map(|n| n.to_string()).unwrap_or_default();
                    refused.push((name, t.topic_id));
                }
                ok
            });
        }
        _ => {}
    }
    Refused(refused)
}

impl Refused {
    /// Adds the refused topics to `answer`.
    pub fn answer(self, answer: &mut ResponseBody) {
        for (name, id) in self.0 {
            match answer {
                ResponseBody::CreateTopics(r) => r.topics.push(CreatableTopicResult {
                    name: name.into(),
                    error_code: THROTTLING_QUOTA_EXCEEDED,
                    error_message: Some(MESSAGE.into()),
                    num_partitions: -1,
                    replication_factor: -1,
                    ..Default::default()
                }),
                ResponseBody::CreatePartitions(r) => r.results.push(CreatePartitionsTopicResult {
                    name: name.into(),
                    error_code: THROTTLING_QUOTA_EXCEEDED,
                    error_message: Some(MESSAGE.into()),
                    ..Default::default()
                }),
                ResponseBody::DeleteTopics(r) => r.responses.push(DeletableTopicResult {
                    name: (!name.is_empty()).then(|| name.into()),
                    topic_id: id,
                    error_code: THROTTLING_QUOTA_EXCEEDED,
                    error_message: Some(MESSAGE.into()),
                    ..Default::default()
                }),
                _ => {}
            }
        }
    }
}
