//! Requests that change topics or their data, checked per topic before they run: the topics
//! the principal may not touch are taken out of the request, and their answers (Kafka's
//! TOPIC_AUTHORIZATION_FAILED, or CLUSTER_AUTHORIZATION_FAILED for a broker's configs) are
//! added to the response the handler gives for the rest.

use vltava_protocol::messages::*;
use vltava_protocol::{RequestBody, ResponseBody, SharedStr};
use vltava_security::acl::{AclOperation, ResourceType};

use super::CLUSTER_AUTHORIZATION_FAILED;
use super::{
    Access, Checked, TOPIC_AUTHORIZATION_FAILED, TRANSACTIONAL_ID_AUTHORIZATION_FAILED, post,
};
use crate::metadata_view::MetadataView;

/// Moves the items `denied` selects out of `items` and returns them.
pub(super) fn split_off<T>(items: &mut Vec<T>, denied: impl Fn(&T) -> bool) -> Vec<T> {
    let (bad, good): (Vec<T>, Vec<T>) = std::mem::take(items).into_iter().partition(|t| denied(t));
    *items = good;
    bad
}

/// Produce: WRITE on the transactional id of a transactional request (else every partition
/// is refused TRANSACTIONAL_ID_AUTHORIZATION_FAILED), WRITE on each topic.
pub fn produce(a: &Access, mut r: ProduceRequest) -> Checked {
    let txn_denied = r
        .transactional_id
        .as_ref()
        .is_some_and(|id| !a.allowed(AclOperation::Write, ResourceType::TransactionalId, id));
    let denied = split_off(&mut r.topic_data, |t| {
        txn_denied || !a.topic(AclOperation::Write, t.name.as_str())
    });
    let code = if txn_denied {
        TRANSACTIONAL_ID_AUTHORIZATION_FAILED
    } else {
        TOPIC_AUTHORIZATION_FAILED
    };
    let merge = post(move |resp| match resp {
        ResponseBody::Produce(mut p) => {
            use produce_response::*;
            p.responses.extend(denied.into_iter().map(|t| {
                TopicProduceResponse {
                    name: t.name,
                    partition_responses: t
                        .partition_data
                        .iter()
                        .map(|d| PartitionProduceResponse {
                            index: d.index,
                            error_code: code,
                            base_offset: -1,
                            log_append_time_ms: -1,
                            log_start_offset: -1,
                            ..Default::default()
                        })
                        .collect(),
                    ..Default::default()
                }
            }));
            ResponseBody::from(p)
        }
        other => other,
    });
    Checked::Run(RequestBody::from(r), merge)
}

/// CreateTopics: CREATE on the cluster, or on each topic.
pub fn create_topics(a: &Access, mut r: CreateTopicsRequest) -> Checked {
    if a.cluster(AclOperation::Create) {
        return Checked::Run(RequestBody::from(r), None);
    }
    let denied = split_off(&mut r.topics, |t| {
        !a.topic(AclOperation::Create, t.name.as_str())
    });
    let merge = post(move |resp| match resp {
        ResponseBody::CreateTopics(mut c) => {
            c.topics.extend(denied.into_iter().map(|t| {
                create_topics_response::CreatableTopicResult {
                    name: t.name,
                    error_code: TOPIC_AUTHORIZATION_FAILED,
                    error_message: Some("not authorized to create this topic".into()),
                    num_partitions: -1,
                    replication_factor: -1,
                    configs: None,
                    ..Default::default()
                }
            }));
            ResponseBody::from(c)
        }
        other => other,
    });
    Checked::Run(RequestBody::from(r), merge)
}

/// DeleteTopics: DELETE on each topic (named, or by id when the id is known).
pub fn delete_topics(a: &Access, metadata: &MetadataView, mut r: DeleteTopicsRequest) -> Checked {
    let may = |name: &str| a.topic(AclOperation::Delete, name);
    let old = split_off(&mut r.topic_names, |n| !may(n.as_str()));
    let new = split_off(&mut r.topics, |t| {
        let name = match &t.name {
            Some(n) => Some(n.to_string()),
            None => metadata.topic_by_id(t.topic_id).map(|m| m.name.clone()),
        };
        name.is_some_and(|n| !may(&n))
    });
    let merge = post(move |resp| match resp {
        ResponseBody::DeleteTopics(mut d) => {
            use delete_topics_response::DeletableTopicResult;
            let refused = |name: Option<SharedStr>, topic_id| DeletableTopicResult {
                name,
                topic_id,
                error_code: TOPIC_AUTHORIZATION_FAILED,
                error_message: Some("not authorized to delete this topic".into()),
                ..Default::default()
            };
            d.responses.extend(
                old.into_iter()
                    .map(|n| refused(Some(n), Default::default())),
            );
            d.responses
                .extend(new.into_iter().map(|t| refused(t.name, t.topic_id)));
            ResponseBody::from(d)
        }
        other => other,
    });
    Checked::Run(RequestBody::from(r), merge)
}

/// CreatePartitions: ALTER on each topic.
pub fn create_partitions(a: &Access, mut r: CreatePartitionsRequest) -> Checked {
    let denied = split_off(&mut r.topics, |t| {
        !a.topic(AclOperation::Alter, t.name.as_str())
    });
    let merge = post(move |resp| match resp {
        ResponseBody::CreatePartitions(mut c) => {
            c.results.extend(denied.into_iter().map(|t| {
                create_partitions_response::CreatePartitionsTopicResult {
                    name: t.name,
                    error_code: TOPIC_AUTHORIZATION_FAILED,
                    error_message: Some("not authorized to alter this topic".into()),
                    ..Default::default()
                }
            }));
            ResponseBody::from(c)
        }
        other => other,
    });
    Checked::Run(RequestBody::from(r), merge)
}

/// DeleteRecords: DELETE on each topic.
pub fn delete_records(a: &Access, mut r: DeleteRecordsRequest) -> Checked {
    let denied = split_off(&mut r.topics, |t| {
        !a.topic(AclOperation::Delete, t.name.as_str())
    });
    let merge = post(move |resp| match resp {
        ResponseBody::DeleteRecords(mut d) => {
            use delete_records_response::*;
            d.topics.extend(denied.into_iter().map(|t| {
                DeleteRecordsTopicResult {
                    name: t.name,
                    partitions: t
                        .partitions
                        .iter()
                        .map(|p| DeleteRecordsPartitionResult {
                            partition_index: p.partition_index,
                            low_watermark: -1,
                            error_code: TOPIC_AUTHORIZATION_FAILED,
                            ..Default::default()
                        })
                        .collect(),
                    ..Default::default()
                }
            }));
            ResponseBody::from(d)
        }
        other => other,
    });
    Checked::Run(RequestBody::from(r), merge)
}

/// The code a config resource the principal may not act on with `op` gets, `None` when it
/// may: topics (type 2) are checked on the topic, brokers (4) and broker loggers (8) on the
/// cluster.
pub(super) fn config_refusal(a: &Access, op: AclOperation, kind: i8, name: &str) -> Option<i16> {
    match kind {
        2 => (!a.topic(op, name)).then_some(TOPIC_AUTHORIZATION_FAILED),
        4 | 8 => (!a.cluster(op)).then_some(CLUSTER_AUTHORIZATION_FAILED),
        _ => None,
    }
}

/// AlterConfigs: ALTER_CONFIGS on each topic, or on the cluster for broker configs.
pub fn alter_configs(a: &Access, mut r: AlterConfigsRequest) -> Checked {
    let op = AclOperation::AlterConfigs;
    let denied: Vec<(i8, SharedStr, i16)> = split_off(&mut r.resources, |x| {
        config_refusal(a, op, x.resource_type, x.resource_name.as_str()).is_some()
    })
    .into_iter()
    .filter_map(|x| {
        config_refusal(a, op, x.resource_type, x.resource_name.as_str())
            .map(|c| (x.resource_type, x.resource_name, c))
    })
    .collect();
    let merge = post(move |resp| match resp {
        ResponseBody::AlterConfigs(mut c) => {
            c.responses.extend(denied.into_iter().map(|(t, n, code)| {
                alter_configs_response::AlterConfigsResourceResponse {
                    error_code: code,
                    error_message: Some("not authorized to alter these configs".into()),
                    resource_type: t,
                    resource_name: n,
                    ..Default::default()
                }
            }));
            ResponseBody::from(c)
        }
        other => other,
    });
    Checked::Run(RequestBody::from(r), merge)
}

/// IncrementalAlterConfigs: as AlterConfigs.
pub fn incremental_alter_configs(a: &Access, mut r: IncrementalAlterConfigsRequest) -> Checked {
    let op = AclOperation::AlterConfigs;
    let denied: Vec<(i8, SharedStr, i16)> = split_off(&mut r.resources, |x| {
        config_refusal(a, op, x.resource_type, x.resource_name.as_str()).is_some()
    })
    .into_iter()
    .filter_map(|x| {
        config_refusal(a, op, x.resource_type, x.resource_name.as_str())
            .map(|c| (x.resource_type, x.resource_name, c))
    })
    .collect();
    let merge = post(move |resp| match resp {
        ResponseBody::IncrementalAlterConfigs(mut c) => {
            c.responses.extend(denied.into_iter().map(|(t, n, code)| {
                incremental_alter_configs_response::AlterConfigsResourceResponse {
                    error_code: code,
                    error_message: Some("not authorized to alter these configs".into()),
                    resource_type: t,
                    resource_name: n,
                    ..Default::default()
                }
            }));
            ResponseBody::from(c)
        }
        other => other,
    });
    Checked::Run(RequestBody::from(r), merge)
}
