//! The broker's read-only copy of cluster metadata (brokers, topics with their
//! ids and partitions, topic configs) that request handlers answer from. It is
//! rebuilt from the controller's committed metadata image whenever that changes;
//! the broker never edits it itself.

use std::collections::{BTreeMap, HashMap};

use vltava_protocol::Uuid;

/// One listener of a broker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeEndpoint {
    /// The listener's name (`PLAINTEXT`, `SASL_SSL`, ...).
    pub name: String,
    pub host: String,
    pub port: i32,
}

/// A broker as clients see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerNode {
    pub id: i32,
    /// Its default (first registered) endpoint's host.
    pub host: String,
    /// Its default (first registered) endpoint's port.
    pub port: i32,
    pub rack: Option<String>,
    /// Broker epoch of its current registration (KIP-903).
    pub epoch: i64,
    /// Every listener it registered (empty: only `host:port` is known).
    pub endpoints: Vec<NodeEndpoint>,
}

impl BrokerNode {
    /// Its `host:port` on `listener`: the default address when no endpoints are known
    /// (or `listener` is empty), `None` when it has no such listener.
    pub fn address(&self, listener: &str) -> Option<(&str, i32)> {
        if self.endpoints.is_empty() || listener.is_empty() {
            return Some((&self.host, self.port));
        }
        self.endpoints
            .iter()
            .find(|e| e.name == listener)
            .map(|e| (e.host.as_str(), e.port))
    }
}

/// One partition's leadership.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionMeta {
    pub index: i32,
    pub leader: i32,
    pub leader_epoch: i32,
    pub partition_epoch: i32,
    pub replicas: Vec<i32>,
    pub isr: Vec<i32>,
}

/// One topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicMeta {
    pub name: String,
    pub id: Uuid,
    pub partitions: BTreeMap<i32, PartitionMeta>,
    /// Topic configs set explicitly (the rest are broker defaults).
    pub configs: BTreeMap<String, String>,
}

impl TopicMeta {
    /// Whether this is one of Kafka's internal topics.
    pub fn is_internal(&self) -> bool {
        vltava_protocol::internal_topics::is_internal(&self.name)
    }
}

/// A consistent snapshot of cluster metadata.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MetadataCache {
    pub cluster_id: String,
    pub controller_id: i32,
    /// Metadata log offset this snapshot reflects (newer snapshots win).
    pub offset: i64,
    pub brokers: BTreeMap<i32, BrokerNode>,
    pub topics: BTreeMap<String, TopicMeta>,
    pub topic_names: HashMap<Uuid, String>,
    /// Dynamic broker configs of this broker (resource name = its id).
    pub broker_dynamic_configs: BTreeMap<String, String>,
    /// Dynamic broker configs set as the cluster default (resource name "").
    pub cluster_dynamic_configs: BTreeMap<String, String>,
    /// Client quotas by user / client id.
    pub client_quotas: vltava_security::quota::QuotaTable,
}

impl MetadataCache {
    /// A topic by name.
    pub fn topic(&self, name: &str) -> Option<&TopicMeta> {
        self.topics.get(name)
    }

    /// A topic by id.
    pub fn topic_by_id(&self, id: Uuid) -> Option<&TopicMeta> {
        self.topic_names.get(&id).and_then(|n| self.topics.get(n))
    }

    /// The id of a topic, or the zero id.
    pub fn topic_id(&self, name: &str) -> Uuid {
        self.topics.get(name).map_or(Uuid::ZERO, |t| t.id)
    }

    /// The leader of `p` as answers name it: -1 when it has none or its broker is not
    /// alive (fenced or unregistered), as Kafka's metadata cache does; an answer never
    /// names a leader missing from its brokers (librdkafka ≥ 2.10 drops such a leader).
    pub fn alive_leader(&self, p: &PartitionMeta) -> i32 {
        if p.leader >= 0 && self.brokers.contains_key(&p.leader) {
            p.leader
        } else {
            -1
        }
    }

    /// The replicas of `p` on brokers that are not alive (fenced or unregistered): Kafka's
    /// offline replicas, and the brokers that may not join its ISR.
    pub fn offline_replicas(&self, p: &PartitionMeta) -> Vec<i32> {
        p.replicas
            .iter()
            .copied()
            .filter(|r| !self.brokers.contains_key(r))
            .collect()
    }
}
