//! Requests that read topics and cluster state. Fetch is narrowed before it runs (the topics
//! the principal may not READ are not read at all); the others have no effect, so they run
//! whole and their answers are then cleared for what the principal may not see
//! (TOPIC_AUTHORIZATION_FAILED in place of the data), and the authorized-operations fields
//! are filled where the request asks for them.

use bytes::Bytes;
use vltava_protocol::messages::*;
use vltava_protocol::{RequestBody, ResponseBody, SharedStr, Uuid};
use vltava_security::acl::{AclOperation, ResourceType};

use super::CLUSTER_AUTHORIZATION_FAILED;
use super::groups::whole;
use super::topics::{config_refusal, split_off};
use super::{Access, Checked, TOPIC_AUTHORIZATION_FAILED, post};
use crate::metadata_view::MetadataView;

/// Fetch: a follower's fetch (a replica id) needs CLUSTER_ACTION on the cluster; a consumer's
/// needs READ on each topic (named, or known by id).
pub fn fetch(a: &Access, metadata: &MetadataView, mut r: FetchRequest, version: i16) -> Checked {
    if r.replica_id >= 0 || r.replica_state.replica_id >= 0 {
        let allowed = a.cluster(AclOperation::ClusterAction);
        return whole(
            RequestBody::from(r),
            version,
            allowed,
            CLUSTER_AUTHORIZATION_FAILED,
        );
    }
    let denied = split_off(&mut r.topics, |t| {
        let name = if t.topic_id != Uuid::ZERO && t.topic.is_empty() {
            metadata.topic_by_id(t.topic_id).map(|m| m.name.clone())
        } else {
            Some(t.topic.to_string())
        };
        name.is_some_and(|n| !a.topic(AclOperation::Read, &n))
    });
    if denied.is_empty() {
        return Checked::Run(RequestBody::from(r), None);
    }
    let merge = post(move |resp| match resp {
        ResponseBody::Fetch(mut f) => {
            use fetch_response::*;
            f.responses.extend(denied.into_iter().map(|t| {
                FetchableTopicResponse {
                    topic: t.topic,
                    topic_id: t.topic_id,
                    partitions: t
                        .partitions
                        .iter()
                        .map(|p| PartitionData {
                            partition_index: p.partition,
                            error_code: TOPIC_AUTHORIZATION_FAILED,
                            high_watermark: -1,
                            last_stable_offset: -1,
                            log_start_offset: -1,
                            preferred_read_replica: -1,
                            records: Some(Bytes::new()),
                            ..Default::default()
                        })
                        .collect(),
                    ..Default::default()
                }
            }));
            ResponseBody::from(f)
        }
        other => other,
    });
    Checked::Run(RequestBody::from(r), merge)
}

/// ListOffsets: DESCRIBE on each topic.
pub fn list_offsets(a: &Access, r: ListOffsetsRequest) -> Checked {
    let a = a.clone();
    let merge = post(move |resp| match resp {
        ResponseBody::ListOffsets(mut l) => {
            for t in &mut l.topics {
                if !a.topic(AclOperation::Describe, t.name.as_str()) {
                    for p in &mut t.partitions {
                        *p = list_offsets_response::ListOffsetsPartitionResponse {
                            partition_index: p.partition_index,
                            error_code: TOPIC_AUTHORIZATION_FAILED,
                            timestamp: -1,
                            offset: -1,
                            leader_epoch: -1,
                            ..Default::default()
                        };
                    }
                }
            }
            ResponseBody::from(l)
        }
        other => other,
    });
    Checked::Run(RequestBody::from(r), merge)
}

/// OffsetForLeaderEpoch: a follower's (a replica id) needs CLUSTER_ACTION; a consumer's
/// DESCRIBE on each topic.
pub fn offset_for_leader_epoch(a: &Access, r: OffsetForLeaderEpochRequest) -> Checked {
    if r.replica_id >= 0 {
        let denied = !a.cluster(AclOperation::ClusterAction);
        return refuse_epochs(r, move |_| denied);
    }
    let a = a.clone();
    refuse_epochs(r, move |topic| !a.topic(AclOperation::Describe, topic))
}

fn refuse_epochs(
    r: OffsetForLeaderEpochRequest,
    refused: impl Fn(&str) -> bool + Send + 'static,
) -> Checked {
    let cluster_wide = r.replica_id >= 0;
    let merge = post(move |resp| match resp {
        ResponseBody::OffsetForLeaderEpoch(mut o) => {
            for t in &mut o.topics {
                if refused(t.topic.as_str()) {
                    for p in &mut t.partitions {
                        *p = offset_for_leader_epoch_response::EpochEndOffset {
                            error_code: if cluster_wide {
                                CLUSTER_AUTHORIZATION_FAILED
                            } else {
                                TOPIC_AUTHORIZATION_FAILED
                            },
                            partition: p.partition,
                            leader_epoch: -1,
                            end_offset: -1,
                            ..Default::default()
                        };
                    }
                }
            }
            ResponseBody::from(o)
        }
        other => other,
    });
    Checked::Run(RequestBody::from(r), merge)
}

/// DescribeConfigs: DESCRIBE_CONFIGS on each topic, or on the cluster for broker configs.
pub fn describe_configs(a: &Access, r: DescribeConfigsRequest) -> Checked {
    let a = a.clone();
    let merge = post(move |resp| match resp {
        ResponseBody::DescribeConfigs(mut d) => {
            for x in &mut d.results {
                let kind = x.resource_type;
                let name = x.resource_name.to_string();
                if let Some(code) = config_refusal(&a, AclOperation::DescribeConfigs, kind, &name) {
                    x.error_code = code;
                    x.error_message = Some("not authorized to describe these configs".into());
                    x.configs.clear();
                }
            }
            ResponseBody::from(d)
        }
        other => other,
    });
    Checked::Run(RequestBody::from(r), merge)
}

/// DescribeProducers: READ on each topic.
pub fn describe_producers(a: &Access, r: DescribeProducersRequest) -> Checked {
    let a = a.clone();
    let merge = post(move |resp| match resp {
        ResponseBody::DescribeProducers(mut d) => {
            for t in &mut d.topics {
                if !a.topic(AclOperation::Read, t.name.as_str()) {
                    for p in &mut t.partitions {
                        p.error_code = TOPIC_AUTHORIZATION_FAILED;
                        p.error_message = None;
                        p.active_producers.clear();
                    }
                }
            }
            ResponseBody::from(d)
        }
        other => other,
    });
    Checked::Run(RequestBody::from(r), merge)
}

/// DescribeTopicPartitions: DESCRIBE on each topic (named ones the principal may not see are
/// refused, unnamed ones left out); the authorized operations of each topic shown.
pub fn describe_topic_partitions(a: &Access, r: DescribeTopicPartitionsRequest) -> Checked {
    let named: Vec<SharedStr> = r.topics.iter().map(|t| t.name.clone()).collect();
    let a = a.clone();
    let merge = post(move |resp| match resp {
        ResponseBody::DescribeTopicPartitions(mut d) => {
            let name_of =
                |t: &describe_topic_partitions_response::DescribeTopicPartitionsResponseTopic| {
                    t.name.as_ref().map(|n| n.to_string()).unwrap_or_default()
                };
            if named.is_empty() {
                d.topics
                    .retain(|t| a.topic(AclOperation::Describe, &name_of(t)));
            }
            for t in &mut d.topics {
                let name = name_of(t);
                if a.topic(AclOperation::Describe, &name) {
                    t.topic_authorized_operations = a.operations(ResourceType::Topic, &name);
                } else {
                    t.error_code = TOPIC_AUTHORIZATION_FAILED;
                    t.topic_id = Uuid::ZERO;
                    t.is_internal = false;
                    t.partitions.clear();
                }
            }
            ResponseBody::from(d)
        }
        other => other,
    });
    Checked::Run(RequestBody::from(r), merge)
}

/// DescribeCluster: open to every principal (as in Kafka); the cluster's authorized
/// operations when asked and the principal may DESCRIBE the cluster.
pub fn describe_cluster(a: &Access, r: DescribeClusterRequest) -> Checked {
    if !r.include_cluster_authorized_operations || !a.cluster(AclOperation::Describe) {
        return Checked::Run(RequestBody::from(r), None);
    }
    let ops = a.operations(ResourceType::Cluster, vltava_security::acl::CLUSTER_NAME);
    let merge = post(move |resp| match resp {
        ResponseBody::DescribeCluster(mut d) => {
            d.cluster_authorized_operations = ops;
            ResponseBody::from(d)
        }
        other => other,
    });
    Checked::Run(RequestBody::from(r), merge)
}
