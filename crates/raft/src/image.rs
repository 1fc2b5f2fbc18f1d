//! `MetadataImage`: the immutable view of committed metadata that brokers read, and its parts
//! (brokers, topics, partitions, configs, client quotas, SCRAM credentials, ACLs). Built only by replaying records (see `apply`).

use std::collections::{BTreeMap, HashMap};

pub use vltava_protocol::Uuid;
pub use vltava_security::acl::AclBinding;
use vltava_security::quota::QuotaTable;
pub use vltava_security::scram::{ScramCredential, ScramMechanism};

/// Kafka's config resource type codes (`ResourceType` in config requests and `ConfigRecord`).
#[derive(Hash, Eq, PartialEq, Ord, PartialOrd, Clone, Copy, Debug)]
pub enum ConfigResourceKind {
    /// Resource type 2.
    Topic,
    /// Resource type 4; name is a broker id, or empty for the cluster-wide default.
    Broker,
}

impl ConfigResourceKind {
    /// The wire code of this kind.
    pub fn code(self) -> i8 {
        match self {
            ConfigResourceKind::Topic => 2,
            ConfigResourceKind::Broker => 4,
        }
    }

    /// The kind for a wire code, if it is one the controller stores.
    pub fn from_code(code: i8) -> Option<Self> {
        match code {
            2 => Some(ConfigResourceKind::Topic),
            4 => Some(ConfigResourceKind::Broker),
            _ => None,
        }
    }
}

/// A resource that has configs: a topic or a broker.
#[derive(Hash, Eq, PartialEq, Ord, PartialOrd, Clone, Debug)]
pub struct ConfigResource {
    pub kind: ConfigResourceKind,
    pub name: String,
}

impl ConfigResource {
    /// The config resource of topic `name`.
    pub fn topic(name: &str) -> Self {
        ConfigResource {
            kind: ConfigResourceKind::Topic,
            name: name.to_string(),
        }
    }
}

/// One listener a broker registered (`RegisterBrokerRecord`'s endpoints).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListenerEndpoint {
    /// The listener's name (`PLAINTEXT`, `SASL_SSL`, ...).
    pub name: String,
    pub host: String,
    pub port: i32,
    /// Kafka's security protocol id: 0 PLAINTEXT, 1 SSL, 2 SASL_PLAINTEXT, 3 SASL_SSL.
    pub security_protocol: i16,
}

/// A registered broker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerImage {
    pub id: i32,
    /// The first endpoint's host.
    pub host: String,
    /// The first endpoint's port.
    pub port: i32,
    /// Every listener it registered, in its `advertised.listeners` order.
    pub endpoints: Vec<ListenerEndpoint>,
    pub rack: Option<String>,
    pub fenced: bool,
    /// Broker epoch of the latest registration.
    pub epoch: i64,
}

/// One partition of a topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionImage {
    pub partition: i32,
    pub leader: i32,
    pub leader_epoch: i32,
    pub partition_epoch: i32,
    /// During a reassignment (KIP-455): the target replicas first, then those being removed.
    pub replicas: Vec<i32>,
    pub isr: Vec<i32>,
    /// Replicas an ongoing reassignment adds (empty when none is ongoing).
    pub adding_replicas: Vec<i32>,
    /// Replicas an ongoing reassignment removes (empty when none is ongoing).
    pub removing_replicas: Vec<i32>,
}

impl PartitionImage {
    /// Whether a reassignment of this partition is ongoing.
    pub fn reassigning(&self) -> bool {
        !self.adding_replicas.is_empty() || !self.removing_replicas.is_empty()
    }
}

/// A topic and its partitions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicImage {
    pub name: String,
    pub id: Uuid,
    pub partitions: BTreeMap<i32, PartitionImage>,
}

/// Committed metadata at one offset of the metadata log.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MetadataImage {
    pub cluster_id: String,
    /// Node id of the active controller (raft leader), -1 if none is known.
    pub controller_id: i32,
    /// Raft index of the last applied metadata log entry (0 for an empty log).
    pub offset: i64,
    pub brokers: BTreeMap<i32, BrokerImage>,
    pub topics: BTreeMap<String, TopicImage>,
    pub topic_names: HashMap<Uuid, String>,
    /// Only explicitly set values; defaults are not stored.
    pub configs: HashMap<ConfigResource, BTreeMap<String, String>>,
    /// First producer id not yet handed out.
    pub next_producer_id: i64,
    /// Finalized feature levels (`FeatureLevelRecord`), e.g. `metadata.version`.
    pub features: BTreeMap<String, i16>,
    /// Client quotas (`ClientQuotaRecord`) by user / client id.
    pub client_quotas: QuotaTable,
    /// SCRAM credentials by user name, then mechanism (`UserScramCredentialRecord`).
    pub scram_credentials: BTreeMap<String, BTreeMap<ScramMechanism, ScramCredential>>,
    /// ACLs by their id (`AccessControlEntryRecord`).
    pub acls: BTreeMap<Uuid, AclBinding>,
}

impl MetadataImage {
    /// An empty image of cluster `cluster_id`.
    pub fn empty(cluster_id: &str) -> Self {
        MetadataImage {
            cluster_id: cluster_id.to_string(),
            controller_id: -1,
            ..Default::default()
        }
    }

    /// The topic with id `id`.
    pub fn topic_by_id(&self, id: &Uuid) -> Option<&TopicImage> {
        self.topic_names.get(id).and_then(|n| self.topics.get(n))
    }

    /// Explicitly set configs of `resource` (empty if none).
    pub fn configs_of(&self, resource: &ConfigResource) -> Option<&BTreeMap<String, String>> {
        self.configs.get(resource)
    }

    /// The SCRAM credential of `user` for `mechanism`.
    pub fn scram_credential(
        &self,
        user: &str,
        mechanism: ScramMechanism,
    ) -> Option<&ScramCredential> {
        self.scram_credentials.get(user)?.get(&mechanism)
    }

    /// Ids of brokers that are registered and not fenced, ascending.
    pub fn live_brokers(&self) -> Vec<i32> {
        self.brokers
            .values()
            .filter(|b| !b.fenced)
            .map(|b| b.id)
            .collect()
    }
}
