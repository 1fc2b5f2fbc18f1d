//! The admin client: topics, configs, consumer groups and their offsets,
//! offsets of partitions, record deletion, cluster description, API versions, the metadata quorum (`quorum`), client quotas (`quotas`), transactions and producers (`transactions`), SCRAM credentials (`scram`).

mod acls;
mod quorum;
mod quotas;
mod reassignments;
mod scram;
mod transactions;

pub use acls::{Acl, AclFilter};
pub use quorum::{QuorumDescription, QuorumReplica};
pub use quotas::{QuotaEntityParts, QuotaMatch, QuotaOp};
pub use reassignments::OngoingReassignment;
pub use scram::{DEFAULT_ITERATIONS, ScramChange, ScramMechanism, UserScramCredentials};
pub use transactions::{ProducerDescription, TransactionDescription, TransactionListing};

use crate::cluster::{Cluster, ClusterMetadata, TopicInfo};
use crate::config::ClientConfig;
use crate::connection::Connection;
use crate::error::{ClientError, Result, check};
use crate::kafka_error::{code, is_retriable};
use std::collections::BTreeMap;
use std::sync::Arc;
use vltava_protocol::messages::*;

/// `ListOffsets` timestamps with a special meaning.
pub const LATEST: i64 = -1;
pub const EARLIEST: i64 = -2;

/// A topic to create.
#[derive(Debug, Clone)]
pub struct NewTopic {
    pub name: String,
    /// -1: the broker's `num.partitions`.
    pub partitions: i32,
    /// -1: the broker's `default.replication.factor`.
    pub replication_factor: i16,
    pub configs: Vec<(String, String)>,
}

impl NewTopic {
    pub fn new(name: &str, partitions: i32, replication_factor: i16) -> Self {
        NewTopic {
            name: name.to_string(),
            partitions,
            replication_factor,
            configs: Vec::new(),
        }
    }
}

/// Config resource types (`DescribeConfigs`/`IncrementalAlterConfigs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResourceType {
    Topic,
    Broker,
}

impl ResourceType {
    pub fn as_i8(self) -> i8 {
        match self {
            ResourceType::Topic => 2,
            ResourceType::Broker => 4,
        }
    }
}

/// One described config entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigEntry {
    pub name: String,
    pub value: Option<String>,
    pub read_only: bool,
    pub is_default: bool,
    pub sensitive: bool,
    pub source: i8,
    /// Where the value could come from, highest precedence first: (name, value, source).
    pub synonyms: Vec<(String, Option<String>, i8)>,
}

/// An incremental config change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AlterOp {
    Set(String, String),
    Delete(String),
    Append(String, String),
    Subtract(String, String),
}

/// A consumer group in a ListGroups answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupListing {
    pub group_id: String,
    pub protocol_type: String,
    pub state: String,
}

/// One member of a described group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberDescription {
    pub member_id: String,
    pub group_instance_id: Option<String>,
    pub client_id: String,
    pub host: String,
    pub assignment: Vec<(String, i32)>,
}

/// A described group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupDescription {
    pub group_id: String,
    pub state: String,
    pub protocol_type: String,
    pub protocol: String,
    pub members: Vec<MemberDescription>,
    pub error_code: i16,
}

/// Cluster description.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterDescription {
    pub cluster_id: Option<String>,
    pub controller_id: i32,
    pub brokers: Vec<crate::cluster::BrokerInfo>,
}

/// The admin client.
#[derive(Debug, Clone)]
pub struct Admin {
    cluster: Arc<Cluster>,
}

fn ms(cluster: &Cluster) -> i32 {
    cluster
        .config()
        .request_timeout
        .as_millis()
        .min(i32::MAX as u128) as i32
}

impl Admin {
    pub async fn connect(cfg: ClientConfig) -> Result<Admin> {
        Ok(Admin {
            cluster: Cluster::connect(cfg).await?,
        })
    }

    pub fn with_cluster(cluster: Arc<Cluster>) -> Admin {
        Admin { cluster }
    }

    pub fn cluster(&self) -> &Arc<Cluster> {
        &self.cluster
    }

    /// Creates topics; one result per topic, in order.
    pub async fn create_topics(
        &self,
        topics: &[NewTopic],
        validate_only: bool,
    ) -> Result<Vec<(String, Result<()>)>> {
        let req = CreateTopicsRequest {
            topics: topics
                .iter()
                .map(|t| create_topics_request::CreatableTopic {
                    name: t.name.as_str().into(),
                    num_partitions: t.partitions,
                    replication_factor: t.replication_factor,
                    configs: t
                        .configs
                        .iter()
                        .map(|(k, v)| create_topics_request::CreatableTopicConfig {
                            name: k.as_str().into(),
                            value: Some(v.as_str().into()),
                            ..Default::default()
                        })
                        .collect(),
                    ..Default::default()
                })
                .collect(),
            timeout_ms: ms(&self.cluster),
            validate_only,
            ..Default::default()
        };
        let resp = self.cluster.send_controller(req).await?;
        Ok(resp
            .topics
            .iter()
            .map(|t| {
                let name = t.name.to_string();
                let r = check(
                    t.error_code,
                    || format!("creating topic {name}"),
                    t.error_message.as_deref(),
                );
                (name, r)
            })
            .collect())
    }

    /// Creates one topic.
    pub async fn create_topic(&self, topic: NewTopic) -> Result<()> {
        let mut r = self
            .create_topics(std::slice::from_ref(&topic), false)
            .await?;
        r.pop()
            .map(|(_, r)| r)
            .unwrap_or_else(|| Err(ClientError::Protocol("empty CreateTopics response".into())))
    }

    /// Deletes topics by name.
    pub async fn delete_topics(&self, names: &[String]) -> Result<Vec<(String, Result<()>)>> {
        let req = DeleteTopicsRequest {
            topics: names
                .iter()
                .map(|n| delete_topics_request::DeleteTopicState {
                    name: Some(n.as_str().into()),
                    ..Default::default()
                })
                .collect(),
            topic_names: names.iter().map(|n| n.as_str().into()).collect(),
            timeout_ms: ms(&self.cluster),
            ..Default::default()
        };
        let resp = self.send_versioned_delete(req).await?;
        Ok(resp
            .responses
            .iter()
            .map(|t| {
                let name = t.name.as_ref().map(|n| n.to_string()).unwrap_or_default();
                let r = check(
                    t.error_code,
                    || format!("deleting topic {name}"),
                    t.error_message.as_deref(),
                );
                (name, r)
            })
            .collect())
    }

    /// DeleteTopics carries names in `topic_names` before v6 and in `topics` from v6.
    async fn send_versioned_delete(
        &self,
        mut req: DeleteTopicsRequest,
    ) -> Result<DeleteTopicsResponse> {
        let conn = self.cluster.any_connection().await?;
        let v = conn.version(vltava_protocol::ApiKey::DeleteTopics)?;
        if v >= 6 {
            req.topic_names.clear();
        } else {
            req.topics.clear();
        }
        self.cluster.send_controller(req).await
    }

    /// Topic names (internal ones too when asked).
    pub async fn list_topics(&self, include_internal: bool) -> Result<Vec<String>> {
        let meta = self.cluster.refresh(&[]).await?;
        Ok(meta
            .topics
            .values()
            .filter(|t| include_internal || !t.internal)
            .map(|t| t.name.clone())
            .collect())
    }

    /// Metadata of the named topics (all when empty).
    pub async fn describe_topics(&self, names: &[String]) -> Result<Vec<TopicInfo>> {
        let meta = self.cluster.refresh(names).await?;
        let mut out = Vec::new();
        if names.is_empty() {
            out.extend(meta.topics.values().cloned());
        } else {
            for n in names {
                let t = meta
                    .topics
                    .get(n)
                    .ok_or_else(|| ClientError::UnknownTopic(n.clone()))?;
                check(t.error_code, || format!("describing topic {n}"), None)?;
                out.push(t.clone());
            }
        }
        Ok(out)
    }

    /// Raises a topic's partition count to `total`.
    pub async fn create_partitions(&self, topic: &str, total: i32) -> Result<()> {
        let req = CreatePartitionsRequest {
            topics: vec![create_partitions_request::CreatePartitionsTopic {
                name: topic.into(),
                count: total,
                assignments: None,
                ..Default::default()
            }],
            timeout_ms: ms(&self.cluster),
            ..Default::default()
        };
        let resp = self.cluster.send_controller(req).await?;
        for r in &resp.results {
            check(
                r.error_code,
                || format!("adding partitions to {topic}"),
                r.error_message.as_deref(),
            )?;
        }
        Ok(())
    }

    /// Config entries of a resource (all keys).
    pub async fn describe_configs(
        &self,
        kind: ResourceType,
        name: &str,
    ) -> Result<Vec<ConfigEntry>> {
        let req = DescribeConfigsRequest {
            resources: vec![describe_configs_request::DescribeConfigsResource {
                resource_type: kind.as_i8(),
                resource_name: name.into(),
                configuration_keys: None,
                ..Default::default()
            }],
            include_synonyms: true,
            ..Default::default()
        };
        let resp = match (kind, name.parse::<i32>()) {
            (ResourceType::Broker, Ok(id)) => self.cluster.send_to(id, req).await?,
            _ => self.cluster.send_any(req).await?,
        };
        let mut out = Vec::new();
        for r in &resp.results {
            check(
                r.error_code,
                || format!("describing configs of {name}"),
                r.error_message.as_deref(),
            )?;
            for c in &r.configs {
                out.push(ConfigEntry {
                    name: c.name.to_string(),
                    value: c.value.as_ref().map(|v| v.to_string()),
                    read_only: c.read_only,
                    is_default: c.is_default || c.config_source == 5,
                    sensitive: c.is_sensitive,
                    source: c.config_source,
                    synonyms: c
                        .synonyms
                        .iter()
                        .map(|s| {
                            let value = s.value.as_ref().map(|v| v.to_string());
                            (s.name.to_string(), value, s.source)
                        })
                        .collect(),
                });
            }
        }
        Ok(out)
    }

    /// IncrementalAlterConfigs.
    pub async fn alter_configs(
        &self,
        kind: ResourceType,
        name: &str,
        ops: &[AlterOp],
    ) -> Result<()> {
        let configs = ops
            .iter()
            .map(|op| {
                let (n, o, v) = match op {
                    AlterOp::Set(k, v) => (k, 0, Some(v)),
                    AlterOp::Delete(k) => (k, 1, None),
                    AlterOp::Append(k, v) => (k, 2, Some(v)),
                    AlterOp::Subtract(k, v) => (k, 3, Some(v)),
                };
                incremental_alter_configs_request::AlterableConfig {
                    name: n.as_str().into(),
                    config_operation: o,
                    value: v.map(|v| v.as_str().into()),
                    ..Default::default()
                }
            })
            .collect();
        let req = IncrementalAlterConfigsRequest {
            resources: vec![incremental_alter_configs_request::AlterConfigsResource {
                resource_type: kind.as_i8(),
                resource_name: name.into(),
                configs,
                ..Default::default()
            }],
            validate_only: false,
            ..Default::default()
        };
        let resp = match (kind, name.parse::<i32>()) {
            (ResourceType::Broker, Ok(id)) => self.cluster.send_to(id, req).await?,
            _ => self.cluster.send_controller(req).await?,
        };
        for r in &resp.responses {
            check(
                r.error_code,
                || format!("altering configs of {name}"),
                r.error_message.as_deref(),
            )?;
        }
        Ok(())
    }

    /// Offsets of partitions at `timestamp` (`EARLIEST`, `LATEST` or a time in ms).
    pub async fn list_offsets(
        &self,
        partitions: &[(String, i32)],
        timestamp: i64,
    ) -> Result<BTreeMap<(String, i32), i64>> {
        list_offsets(&self.cluster, partitions, timestamp, 0).await
    }

    /// Deletes records before the given offsets; returns the new low watermarks.
    pub async fn delete_records(
        &self,
        offsets: &[(String, i32, i64)],
    ) -> Result<BTreeMap<(String, i32), i64>> {
        let mut by_leader: BTreeMap<i32, Vec<(String, i32, i64)>> = BTreeMap::new();
        let topics: Vec<String> = offsets.iter().map(|o| o.0.clone()).collect();
        let meta = self.cluster.refresh(&topics).await?;
        for (t, p, o) in offsets {
            let leader = meta
                .leader(t, *p)
                .ok_or_else(|| ClientError::UnknownTopic(format!("{t}-{p}")))?;
            by_leader
                .entry(leader)
                .or_default()
                .push((t.clone(), *p, *o));
        }
        let mut out = BTreeMap::new();
        for (leader, parts) in by_leader {
            let mut topics: Vec<delete_records_request::DeleteRecordsTopic> = Vec::new();
            for (t, p, o) in parts {
                let part = delete_records_request::DeleteRecordsPartition {
                    partition_index: p,
                    offset: o,
                    ..Default::default()
                };
                match topics.iter_mut().find(|x| x.name.as_str() == t) {
                    Some(x) => x.partitions.push(part),
                    None => topics.push(delete_records_request::DeleteRecordsTopic {
                        name: t.as_str().into(),
                        partitions: vec![part],
                        ..Default::default()
                    }),
                }
            }
            let resp = self
                .cluster
                .send_to(
                    leader,
                    DeleteRecordsRequest {
                        topics,
                        timeout_ms: ms(&self.cluster),
                        ..Default::default()
                    },
                )
                .await?;
            for t in &resp.topics {
                for p in &t.partitions {
                    check(
                        p.error_code,
                        || format!("deleting records of {}-{}", t.name, p.partition_index),
                        None,
                    )?;
                    out.insert((t.name.to_string(), p.partition_index), p.low_watermark);
                }
            }
        }
        Ok(out)
    }

    /// Brokers, controller, cluster id.
    pub async fn describe_cluster(&self) -> Result<ClusterDescription> {
        let meta: ClusterMetadata = self.cluster.refresh(&[]).await?;
        Ok(ClusterDescription {
            cluster_id: meta.cluster_id.clone(),
            controller_id: meta.controller_id,
            brokers: meta.brokers.values().cloned().collect(),
        })
    }

    /// The API version ranges every broker advertises.
    pub async fn api_versions(
        &self,
    ) -> Result<Vec<(crate::cluster::BrokerInfo, Vec<(i16, i16, i16)>)>> {
        let meta = self.cluster.refresh(&[]).await?;
        let mut out = Vec::new();
        for b in meta.brokers.values() {
            let conn = self.cluster.connection(b.id).await?;
            out.push((b.clone(), conn.versions().all()));
        }
        Ok(out)
    }

    /// Consumer groups known to every broker.
    pub async fn list_groups(&self) -> Result<Vec<GroupListing>> {
        let meta = self.cluster.refresh(&[]).await?;
        let mut out = Vec::new();
        for id in meta.brokers.keys() {
            let resp = self
                .cluster
                .send_to(*id, ListGroupsRequest::default())
                .await?;
            check(resp.error_code, || "ListGroups".into(), None)?;
            for g in &resp.groups {
                out.push(GroupListing {
                    group_id: g.group_id.to_string(),
                    protocol_type: g.protocol_type.to_string(),
                    state: g.group_state.to_string(),
                });
            }
        }
        out.sort_by(|a, b| a.group_id.cmp(&b.group_id));
        out.dedup_by(|a, b| a.group_id == b.group_id);
        Ok(out)
    }

    /// Describes a group (members and their assignments).
    pub async fn describe_group(&self, group: &str) -> Result<GroupDescription> {
        let conn = coordinator(&self.cluster, group).await?;
        let resp = conn
            .send(DescribeGroupsRequest {
                groups: vec![group.into()],
                ..Default::default()
            })
            .await?;
        let g = resp
            .groups
            .into_iter()
            .next()
            .ok_or_else(|| ClientError::Protocol("empty DescribeGroups response".into()))?;
        check(g.error_code, || format!("describing group {group}"), None)?;
        Ok(GroupDescription {
            group_id: g.group_id.to_string(),
            state: g.group_state.to_string(),
            protocol_type: g.protocol_type.to_string(),
            protocol: g.protocol_data.to_string(),
            error_code: g.error_code,
            members: g
                .members
                .iter()
                .map(|m| MemberDescription {
                    member_id: m.member_id.to_string(),
                    group_instance_id: m.group_instance_id.as_ref().map(|s| s.to_string()),
                    client_id: m.client_id.to_string(),
                    host: m.client_host.to_string(),
                    assignment: crate::consumer::assignor::decode_assignment(&m.member_assignment)
                        .unwrap_or_default(),
                })
                .collect(),
        })
    }

    /// Deletes groups.
    pub async fn delete_group(&self, group: &str) -> Result<()> {
        let conn = coordinator(&self.cluster, group).await?;
        let resp = conn
            .send(DeleteGroupsRequest {
                groups_names: vec![group.into()],
                ..Default::default()
            })
            .await?;
        for r in &resp.results {
            check(r.error_code, || format!("deleting group {group}"), None)?;
        }
        Ok(())
    }

    /// A group's committed offsets (every partition when `partitions` is `None`).
    pub async fn list_group_offsets(
        &self,
        group: &str,
        partitions: Option<&[(String, i32)]>,
    ) -> Result<BTreeMap<(String, i32), i64>> {
        fetch_committed(&self.cluster, group, partitions).await
    }

    /// Overwrites a group's committed offsets (the group must be empty).
    pub async fn alter_group_offsets(
        &self,
        group: &str,
        offsets: &BTreeMap<(String, i32), i64>,
    ) -> Result<()> {
        commit_offsets(&self.cluster, group, -1, "", None, offsets).await
    }
}

/// FindCoordinator key types.
pub(crate) const GROUP_KEY_TYPE: i8 = 0;
pub(crate) const TXN_KEY_TYPE: i8 = 1;

/// One FindCoordinator for `key` (a group id, or a transactional id with
/// [`TXN_KEY_TYPE`]): the coordinator's node id and a connection to it. A broker
/// error comes back as [`ClientError::Kafka`], so callers decide what to retry.
pub(crate) async fn find_coordinator(
    cluster: &Cluster,
    key: &str,
    key_type: i8,
) -> Result<(i32, Arc<Connection>)> {
    let resp = cluster
        .send_any(FindCoordinatorRequest {
            key: key.into(),
            key_type,
            ..Default::default()
        })
        .await?;
    if resp.error_code != code::NONE {
        let what = if key_type == TXN_KEY_TYPE {
            "transaction coordinator"
        } else {
            "coordinator"
        };
        return Err(ClientError::kafka(
            resp.error_code,
            format!("finding the {what} of {key}"),
            resp.error_message.as_deref(),
        ));
    }
    let conn = cluster
        .connection_to(resp.node_id, resp.host.as_str(), resp.port)
        .await?;
    Ok((resp.node_id, conn))
}

/// The group coordinator's connection, retrying while it is loading or moving.
pub async fn coordinator(cluster: &Cluster, group: &str) -> Result<Arc<Connection>> {
    let mut attempt = 0;
    loop {
        match find_coordinator(cluster, group, GROUP_KEY_TYPE).await {
            Err(ClientError::Kafka { code: c, .. })
                if is_retriable(c) && attempt < cluster.config().retries =>
            {
                tokio::time::sleep(cluster.config().backoff(attempt)).await;
                attempt += 1;
            }
            other => return other.map(|(_, conn)| conn),
        }
    }
}

/// ListOffsets for many partitions, grouped by leader.
pub async fn list_offsets(
    cluster: &Cluster,
    partitions: &[(String, i32)],
    timestamp: i64,
    isolation_level: i8,
) -> Result<BTreeMap<(String, i32), i64>> {
    let topics: Vec<String> = partitions.iter().map(|p| p.0.clone()).collect();
    let mut attempt = 0;
    let mut out = BTreeMap::new();
    let mut todo: Vec<(String, i32)> = partitions.to_vec();
    while !todo.is_empty() {
        let meta = cluster.refresh(&topics).await?;
        let mut by_leader: BTreeMap<i32, Vec<(String, i32)>> = BTreeMap::new();
        for (t, p) in &todo {
            let leader = meta
                .leader(t, *p)
                .ok_or_else(|| ClientError::UnknownTopic(format!("{t}-{p}")))?;
            by_leader.entry(leader).or_default().push((t.clone(), *p));
        }
        let mut retry = Vec::new();
        for (leader, parts) in by_leader {
            let resp = cluster
                .send_to(
                    leader,
                    ListOffsetsRequest {
                        replica_id: -1,
                        isolation_level,
                        topics: list_offsets_topics(&parts, timestamp),
                        ..Default::default()
                    },
                )
                .await?;
            for t in &resp.topics {
                for p in &t.partitions {
                    let tp = (t.name.to_string(), p.partition_index);
                    if p.error_code != 0
                        && is_retriable(p.error_code)
                        && attempt < cluster.config().retries
                    {
                        retry.push(tp);
                        continue;
                    }
                    check(
                        p.error_code,
                        || format!("listing offsets of {}-{}", tp.0, tp.1),
                        None,
                    )?;
                    let off = if p.offset >= 0 || p.old_style_offsets.is_empty() {
                        p.offset
                    } else {
                        p.old_style_offsets[0]
                    };
                    out.insert(tp, off);
                }
            }
        }
        if !retry.is_empty() {
            tokio::time::sleep(cluster.config().backoff(attempt)).await;
            attempt += 1;
        }
        todo = retry;
    }
    Ok(out)
}

/// The request's topics for `parts`, each partition asking for the offset at `timestamp`.
fn list_offsets_topics(
    parts: &[(String, i32)],
    timestamp: i64,
) -> Vec<list_offsets_request::ListOffsetsTopic> {
    let mut req_topics: Vec<list_offsets_request::ListOffsetsTopic> = Vec::new();
    for (t, p) in parts {
        let part = list_offsets_request::ListOffsetsPartition {
            partition_index: *p,
            timestamp,
            max_num_offsets: 1,
            ..Default::default()
        };
        match req_topics.iter_mut().find(|x| x.name.as_str() == t) {
            Some(x) => x.partitions.push(part),
            None => req_topics.push(list_offsets_request::ListOffsetsTopic {
                name: t.as_str().into(),
                partitions: vec![part],
                ..Default::default()
            }),
        }
    }
    req_topics
}

/// OffsetFetch for a group.
pub async fn fetch_committed(
    cluster: &Cluster,
    group: &str,
    partitions: Option<&[(String, i32)]>,
) -> Result<BTreeMap<(String, i32), i64>> {
    let conn = coordinator(cluster, group).await?;
    let topics = partitions.map(|ps| {
        let mut topics: Vec<offset_fetch_request::OffsetFetchRequestTopic> = Vec::new();
        for (t, p) in ps {
            match topics.iter_mut().find(|x| x.name.as_str() == t) {
                Some(x) => x.partition_indexes.push(*p),
                None => topics.push(offset_fetch_request::OffsetFetchRequestTopic {
                    name: t.as_str().into(),
                    partition_indexes: vec![*p],
                    ..Default::default()
                }),
            }
        }
        topics
    });
    let resp = conn
        .send(OffsetFetchRequest {
            group_id: group.into(),
            topics,
            ..Default::default()
        })
        .await?;
    check(
        resp.error_code,
        || format!("fetching offsets of {group}"),
        None,
    )?;
    let mut out = BTreeMap::new();
    for t in &resp.topics {
        for p in &t.partitions {
            check(
                p.error_code,
                || format!("fetching offsets of {group}"),
                None,
            )?;
            if p.committed_offset >= 0 {
                out.insert((t.name.to_string(), p.partition_index), p.committed_offset);
            }
        }
    }
    Ok(out)
}

/// OffsetCommit for a group (generation -1 and empty member id for an admin commit).
pub async fn commit_offsets(
    cluster: &Cluster,
    group: &str,
    generation: i32,
    member_id: &str,
    instance_id: Option<&str>,
    offsets: &BTreeMap<(String, i32), i64>,
) -> Result<()> {
    let conn = coordinator(cluster, group).await?;
    let mut topics: Vec<offset_commit_request::OffsetCommitRequestTopic> = Vec::new();
    for ((t, p), o) in offsets {
        let part = offset_commit_request::OffsetCommitRequestPartition {
            partition_index: *p,
            committed_offset: *o,
            committed_leader_epoch: -1,
            committed_metadata: Some("".into()),
            ..Default::default()
        };
        match topics.iter_mut().find(|x| x.name.as_str() == t) {
            Some(x) => x.partitions.push(part),
            None => topics.push(offset_commit_request::OffsetCommitRequestTopic {
                name: t.as_str().into(),
                partitions: vec![part],
                ..Default::default()
            }),
        }
    }
    let v = conn.version(vltava_protocol::ApiKey::OffsetCommit)?;
    let resp = conn
        .send(OffsetCommitRequest {
            group_id: group.into(),
            generation_id_or_member_epoch: generation,
            member_id: member_id.into(),
            group_instance_id: if v >= 7 {
                instance_id.map(Into::into)
            } else {
                None
            },
            retention_time_ms: -1,
            topics,
            ..Default::default()
        })
        .await?;
    for t in &resp.topics {
        for p in &t.partitions {
            check(
                p.error_code,
                || {
                    format!(
                        "committing offsets of {group} ({}-{})",
                        t.name, p.partition_index
                    )
                },
                None,
            )?;
        }
    }
    Ok(())
}
