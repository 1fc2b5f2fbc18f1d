//! Requests about consumer groups and transactions: the group (READ to take part, DESCRIBE to
//! look, DELETE to remove), the transactional id (WRITE to use, DESCRIBE to look) and the
//! topics they name. Kafka's codes: GROUP_AUTHORIZATION_FAILED (30),
//! TRANSACTIONAL_ID_AUTHORIZATION_FAILED (53), TOPIC_AUTHORIZATION_FAILED (29).

use vltava_protocol::messages::*;
use vltava_protocol::{RequestBody, ResponseBody, SharedStr};
use vltava_security::acl::{AclOperation, ResourceType};

use super::CLUSTER_AUTHORIZATION_FAILED;
use super::refuse::refuse;
use super::topics::split_off;
use super::{
    Access, Checked, GROUP_AUTHORIZATION_FAILED, TOPIC_AUTHORIZATION_FAILED,
    TRANSACTIONAL_ID_AUTHORIZATION_FAILED, post,
};

/// Kafka's code for partitions left alone because others in the request failed.
use vltava_protocol::error_codes::OPERATION_NOT_ATTEMPTED;
/// Kafka's "not requested" value of authorized-operations fields.
const AUTHORIZED_OPS_OMITTED: i32 = i32::MIN;

/// Answers `body` with `code` when `allowed` is false, else runs it.
pub fn whole(body: RequestBody, version: i16, allowed: bool, code: i16) -> Checked {
    if allowed {
        return Checked::Run(body, None);
    }
    match refuse(&body, version, code) {
        Some(answer) => Checked::Answer(answer),
        None => Checked::Run(body, None),
    }
}

/// OffsetCommit: READ on the group, READ on each topic.
pub fn offset_commit(a: &Access, mut r: OffsetCommitRequest, version: i16) -> Checked {
    if !a.group(AclOperation::Read, r.group_id.as_str()) {
        return whole(
            RequestBody::from(r),
            version,
            false,
            GROUP_AUTHORIZATION_FAILED,
        );
    }
    let denied = split_off(&mut r.topics, |t| {
        !a.topic(AclOperation::Read, t.name.as_str())
    });
    let merge = post(move |resp| match resp {
        ResponseBody::OffsetCommit(mut c) => {
            let refused = OffsetCommitRequest {
                topics: denied,
                ..Default::default()
            };
            if let Some(ResponseBody::OffsetCommit(x)) = refuse(
                &RequestBody::from(refused),
                version,
                TOPIC_AUTHORIZATION_FAILED,
            ) {
                c.topics.extend(x.topics);
            }
            ResponseBody::from(c)
        }
        other => other,
    });
    Checked::Run(RequestBody::from(r), merge)
}

/// TxnOffsetCommit: WRITE on the transactional id, READ on the group and on each topic.
pub fn txn_offset_commit(a: &Access, mut r: TxnOffsetCommitRequest, version: i16) -> Checked {
    if !a.txn(AclOperation::Write, r.transactional_id.as_str()) {
        return whole(
            RequestBody::from(r),
            version,
            false,
            TRANSACTIONAL_ID_AUTHORIZATION_FAILED,
        );
    }
    if !a.group(AclOperation::Read, r.group_id.as_str()) {
        return whole(
            RequestBody::from(r),
            version,
            false,
            GROUP_AUTHORIZATION_FAILED,
        );
    }
    let denied = split_off(&mut r.topics, |t| {
        !a.topic(AclOperation::Read, t.name.as_str())
    });
    let merge = post(move |resp| match resp {
        ResponseBody::TxnOffsetCommit(mut c) => {
            let refused = TxnOffsetCommitRequest {
                topics: denied,
                ..Default::default()
            };
            if let Some(ResponseBody::TxnOffsetCommit(x)) = refuse(
                &RequestBody::from(refused),
                version,
                TOPIC_AUTHORIZATION_FAILED,
            ) {
                c.topics.extend(x.topics);
            }
            ResponseBody::from(c)
        }
        other => other,
    });
    Checked::Run(RequestBody::from(r), merge)
}

/// OffsetDelete: DELETE on the group, READ on each topic.
pub fn offset_delete(a: &Access, mut r: OffsetDeleteRequest, version: i16) -> Checked {
    if !a.group(AclOperation::Delete, r.group_id.as_str()) {
        return whole(
            RequestBody::from(r),
            version,
            false,
            GROUP_AUTHORIZATION_FAILED,
        );
    }
    let denied = split_off(&mut r.topics, |t| {
        !a.topic(AclOperation::Read, t.name.as_str())
    });
    let merge = post(move |resp| match resp {
        ResponseBody::OffsetDelete(mut d) => {
            use offset_delete_response::*;
            d.topics.extend(denied.into_iter().map(|t| {
                OffsetDeleteResponseTopic {
                    name: t.name,
                    partitions: t
                        .partitions
                        .iter()
                        .map(|p| OffsetDeleteResponsePartition {
                            partition_index: p.partition_index,
                            error_code: TOPIC_AUTHORIZATION_FAILED,
                        })
                        .collect(),
                }
            }));
            ResponseBody::from(d)
        }
        other => other,
    });
    Checked::Run(RequestBody::from(r), merge)
}

/// Hides the committed offsets of topics the principal may not DESCRIBE: named ones get
/// TOPIC_AUTHORIZATION_FAILED, the rest of an all-topics answer is left out.
fn hide_topics<T>(
    a: &Access,
    topics: &mut Vec<T>,
    named: bool,
    name: impl Fn(&T) -> &str,
    refuse_partitions: impl Fn(&mut T),
) {
    if named {
        for t in topics.iter_mut() {
            if !a.topic(AclOperation::Describe, name(t)) {
                refuse_partitions(t);
            }
        }
    } else {
        topics.retain(|t| a.topic(AclOperation::Describe, name(t)));
    }
}

/// OffsetFetch: DESCRIBE on each group; DESCRIBE on each topic shown.
pub fn offset_fetch(a: &Access, r: OffsetFetchRequest, version: i16) -> Checked {
    if version < 8 {
        offset_fetch_one(a, r, version)
    } else {
        offset_fetch_groups(a, r)
    }
}

/// OffsetFetch v0–7: one group, refused whole without DESCRIBE on it.
fn offset_fetch_one(a: &Access, r: OffsetFetchRequest, version: i16) -> Checked {
    use offset_fetch_response::*;
    if !a.group(AclOperation::Describe, r.group_id.as_str()) {
        return whole(
            RequestBody::from(r),
            version,
            false,
            GROUP_AUTHORIZATION_FAILED,
        );
    }
    let named = r.topics.is_some();
    let a = a.clone();
    let merge = post(move |resp| match resp {
        ResponseBody::OffsetFetch(mut f) => {
            hide_topics(
                &a,
                &mut f.topics,
                named,
                |t| t.name.as_str(),
                |t| {
                    for p in &mut t.partitions {
                        *p = OffsetFetchResponsePartition {
                            partition_index: p.partition_index,
                            committed_offset: -1,
                            committed_leader_epoch: -1,
                            error_code: TOPIC_AUTHORIZATION_FAILED,
                            ..Default::default()
                        };
                    }
                },
            );
            ResponseBody::from(f)
        }
        other => other,
    });
    Checked::Run(RequestBody::from(r), merge)
}

/// OffsetFetch v8+: each group refused on its own.
fn offset_fetch_groups(a: &Access, mut r: OffsetFetchRequest) -> Checked {
    use offset_fetch_response::*;
    let denied = split_off(&mut r.groups, |g| {
        !a.group(AclOperation::Describe, g.group_id.as_str())
    });
    let named: Vec<(SharedStr, bool)> = r
        .groups
        .iter()
        .map(|g| (g.group_id.clone(), g.topics.is_some()))
        .collect();
    let a = a.clone();
    let merge = post(move |resp| match resp {
        ResponseBody::OffsetFetch(mut f) => {
            for g in &mut f.groups {
                let named = named.iter().any(|(id, n)| *id == g.group_id && *n);
                hide_topics(
                    &a,
                    &mut g.topics,
                    named,
                    |t| t.name.as_str(),
                    |t| {
                        for p in &mut t.partitions {
                            *p = OffsetFetchResponsePartitions {
                                partition_index: p.partition_index,
                                committed_offset: -1,
                                committed_leader_epoch: -1,
                                error_code: TOPIC_AUTHORIZATION_FAILED,
                                ..Default::default()
                            };
                        }
                    },
                );
            }
            f.groups
                .extend(denied.into_iter().map(|g| OffsetFetchResponseGroup {
                    group_id: g.group_id,
                    error_code: GROUP_AUTHORIZATION_FAILED,
                    ..Default::default()
                }));
            ResponseBody::from(f)
        }
        other => other,
    });
    Checked::Run(RequestBody::from(r), merge)
}

/// DeleteGroups: DELETE on each group.
pub fn delete_groups(a: &Access, mut r: DeleteGroupsRequest) -> Checked {
    let denied = split_off(&mut r.groups_names, |g| {
        !a.group(AclOperation::Delete, g.as_str())
    });
    let merge = post(move |resp| match resp {
        ResponseBody::DeleteGroups(mut d) => {
            d.results.extend(denied.into_iter().map(|group_id| {
                delete_groups_response::DeletableGroupResult {
                    group_id,
                    error_code: GROUP_AUTHORIZATION_FAILED,
                    ..Default::default()
                }
            }));
            ResponseBody::from(d)
        }
        other => other,
    });
    Checked::Run(RequestBody::from(r), merge)
}

/// DescribeGroups: DESCRIBE on each group; the authorized operations when asked.
pub fn describe_groups(a: &Access, r: DescribeGroupsRequest) -> Checked {
    let include_ops = r.include_authorized_operations;
    let a = a.clone();
    let merge = post(move |resp| match resp {
        ResponseBody::DescribeGroups(mut d) => {
            for g in &mut d.groups {
                if !a.group(AclOperation::Describe, g.group_id.as_str()) {
                    *g = describe_groups_response::DescribedGroup {
                        error_code: GROUP_AUTHORIZATION_FAILED,
                        group_id: g.group_id.clone(),
                        authorized_operations: AUTHORIZED_OPS_OMITTED,
                        ..Default::default()
                    };
                } else if include_ops {
                    g.authorized_operations =
                        a.operations(ResourceType::Group, g.group_id.as_str());
                }
            }
            ResponseBody::from(d)
        }
        other => other,
    });
    Checked::Run(RequestBody::from(r), merge)
}

/// ConsumerGroupDescribe: as DescribeGroups.
pub fn consumer_group_describe(a: &Access, r: ConsumerGroupDescribeRequest) -> Checked {
    let include_ops = r.include_authorized_operations;
    let a = a.clone();
    let merge = post(move |resp| match resp {
        ResponseBody::ConsumerGroupDescribe(mut d) => {
            for g in &mut d.groups {
                if !a.group(AclOperation::Describe, g.group_id.as_str()) {
                    *g = consumer_group_describe_response::DescribedGroup {
                        error_code: GROUP_AUTHORIZATION_FAILED,
                        group_id: g.group_id.clone(),
                        authorized_operations: AUTHORIZED_OPS_OMITTED,
                        ..Default::default()
                    };
                } else if include_ops {
                    g.authorized_operations =
                        a.operations(ResourceType::Group, g.group_id.as_str());
                }
            }
            ResponseBody::from(d)
        }
        other => other,
    });
    Checked::Run(RequestBody::from(r), merge)
}

/// ListGroups: every group with DESCRIBE on the cluster, else the groups the principal may
/// DESCRIBE.
pub fn list_groups(a: &Access, r: ListGroupsRequest) -> Checked {
    if a.cluster(AclOperation::Describe) {
        return Checked::Run(RequestBody::from(r), None);
    }
    let a = a.clone();
    let merge = post(move |resp| match resp {
        ResponseBody::ListGroups(mut l) => {
            l.groups
                .retain(|g| a.group(AclOperation::Describe, g.group_id.as_str()));
            ResponseBody::from(l)
        }
        other => other,
    });
    Checked::Run(RequestBody::from(r), merge)
}

/// The operation and code of a FindCoordinator key of `key_type` (0 group, 1 transaction).
fn coordinator_refusal(a: &Access, key_type: i8, key: &str) -> Option<i16> {
    match key_type {
        0 => (!a.group(AclOperation::Describe, key)).then_some(GROUP_AUTHORIZATION_FAILED),
        1 => (!a.txn(AclOperation::Describe, key)).then_some(TRANSACTIONAL_ID_AUTHORIZATION_FAILED),
        _ => None,
    }
}

/// FindCoordinator: DESCRIBE on each group or transactional id.
pub fn find_coordinator(a: &Access, mut r: FindCoordinatorRequest, version: i16) -> Checked {
    if version < 4 {
        return match coordinator_refusal(a, r.key_type, r.key.as_str()) {
            Some(code) => Checked::Answer(ResponseBody::from(FindCoordinatorResponse {
                error_code: code,
                error_message: Some("not authorized".into()),
                node_id: -1,
                port: -1,
                ..Default::default()
            })),
            None => Checked::Run(RequestBody::from(r), None),
        };
    }
    let key_type = r.key_type;
    let denied: Vec<(SharedStr, i16)> = split_off(&mut r.coordinator_keys, |k| {
        coordinator_refusal(a, key_type, k.as_str()).is_some()
    })
    .into_iter()
    .filter_map(|k| coordinator_refusal(a, key_type, k.as_str()).map(|c| (k, c)))
    .collect();
    let merge = post(move |resp| match resp {
        ResponseBody::FindCoordinator(mut f) => {
            f.coordinators.extend(denied.into_iter().map(|(key, code)| {
                find_coordinator_response::Coordinator {
                    key,
                    node_id: -1,
                    port: -1,
                    error_code: code,
                    error_message: Some("not authorized".into()),
                    ..Default::default()
                }
            }));
            ResponseBody::from(f)
        }
        other => other,
    });
    Checked::Run(RequestBody::from(r), merge)
}

/// InitProducerId: WRITE on the transactional id; without one (an idempotent producer),
/// IDEMPOTENT_WRITE on the cluster or WRITE on some topic.
pub fn init_producer_id(a: &Access, r: InitProducerIdRequest, version: i16) -> Checked {
    let (allowed, code) = match &r.transactional_id {
        Some(id) => (
            a.txn(AclOperation::Write, id.as_str()),
            TRANSACTIONAL_ID_AUTHORIZATION_FAILED,
        ),
        None => (
            a.cluster(AclOperation::IdempotentWrite)
                || a.any(AclOperation::Write, ResourceType::Topic),
            CLUSTER_AUTHORIZATION_FAILED,
        ),
    };
    whole(RequestBody::from(r), version, allowed, code)
}

/// AddOffsetsToTxn: WRITE on the transactional id, READ on the group.
pub fn add_offsets_to_txn(a: &Access, r: AddOffsetsToTxnRequest, version: i16) -> Checked {
    if !a.txn(AclOperation::Write, r.transactional_id.as_str()) {
        return whole(
            RequestBody::from(r),
            version,
            false,
            TRANSACTIONAL_ID_AUTHORIZATION_FAILED,
        );
    }
    let allowed = a.group(AclOperation::Read, r.group_id.as_str());
    whole(
        RequestBody::from(r),
        version,
        allowed,
        GROUP_AUTHORIZATION_FAILED,
    )
}

/// AddPartitionsToTxn: v0-3 (clients) WRITE on the transactional id and on each topic (when
/// a topic is refused, the others are not attempted); v4+ (brokers verifying a transaction)
/// CLUSTER_ACTION.
pub fn add_partitions_to_txn(a: &Access, r: AddPartitionsToTxnRequest, version: i16) -> Checked {
    if version >= 4 {
        let allowed = a.cluster(AclOperation::ClusterAction);
        return whole(
            RequestBody::from(r),
            version,
            allowed,
            CLUSTER_AUTHORIZATION_FAILED,
        );
    }
    if !a.txn(
        AclOperation::Write,
        r.v3_and_below_transactional_id.as_str(),
    ) {
        return whole(
            RequestBody::from(r),
            version,
            false,
            TRANSACTIONAL_ID_AUTHORIZATION_FAILED,
        );
    }
    let refused: Vec<&str> = r
        .v3_and_below_topics
        .iter()
        .map(|t| t.name.as_str())
        .filter(|n| !a.topic(AclOperation::Write, n))
        .collect();
    if refused.is_empty() {
        return Checked::Run(RequestBody::from(r), None);
    }
    let Some(ResponseBody::AddPartitionsToTxn(mut resp)) = refuse(
        &RequestBody::from(r.clone()),
        version,
        OPERATION_NOT_ATTEMPTED,
    ) else {
        return Checked::Run(RequestBody::from(r), None);
    };
    for t in &mut resp.results_by_topic_v3_and_below {
        if refused.contains(&t.name.as_str()) {
            for p in &mut t.results_by_partition {
                p.partition_error_code = TOPIC_AUTHORIZATION_FAILED;
            }
        }
    }
    Checked::Answer(ResponseBody::from(resp))
}

/// DescribeTransactions: DESCRIBE on each transactional id; a transaction's topics the
/// principal may not DESCRIBE are left out.
pub fn describe_transactions(a: &Access, r: DescribeTransactionsRequest) -> Checked {
    let a = a.clone();
    let merge = post(move |resp| match resp {
        ResponseBody::DescribeTransactions(mut d) => {
            for s in &mut d.transaction_states {
                if !a.txn(AclOperation::Describe, s.transactional_id.as_str()) {
                    *s = describe_transactions_response::TransactionState {
                        error_code: TRANSACTIONAL_ID_AUTHORIZATION_FAILED,
                        transactional_id: s.transactional_id.clone(),
                        producer_id: -1,
                        producer_epoch: -1,
                        ..Default::default()
                    };
                } else {
                    s.topics
                        .retain(|t| a.topic(AclOperation::Describe, t.topic.as_str()));
                }
            }
            ResponseBody::from(d)
        }
        other => other,
    });
    Checked::Run(RequestBody::from(r), merge)
}

/// ListTransactions: the transactions whose id the principal may DESCRIBE.
pub fn list_transactions(a: &Access, r: ListTransactionsRequest) -> Checked {
    let a = a.clone();
    let merge = post(move |resp| match resp {
        ResponseBody::ListTransactions(mut l) => {
            l.transaction_states
                .retain(|s| a.txn(AclOperation::Describe, s.transactional_id.as_str()));
            ResponseBody::from(l)
        }
        other => other,
    });
    Checked::Run(RequestBody::from(r), merge)
}
