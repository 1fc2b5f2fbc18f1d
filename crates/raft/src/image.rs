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

impl BrokerImage {
    /// Its `host:port` on `listener`: the first endpoint's address when no endpoints are
    /// known (or `listener` is empty), `None` when it has no such listener.
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
    /// Partition `partition` as it is created: led by `leader`, leader and partition
    /// epochs 0, no reassignment ongoing.
    pub fn new(partition: i32, leader: i32, replicas: Vec<i32>, isr: Vec<i32>) -> Self {
        PartitionImage {
            partition,
            leader,
            leader_epoch: 0,
            partition_epoch: 0,
            replicas,
            isr,
            adding_replicas: Vec::new(),
            removing_replicas: Vec::new(),
        }
    }

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

impl TopicImage {
    /// Whether this is one of Kafka's internal topics.
    pub fn is_internal(&self) -> bool {
        vltava_protocol::internal_topics::is_internal(&self.name)
    }
}

/// The configs of a resource that has none set.
static NO_CONFIGS: BTreeMap<String, String> = BTreeMap::new();

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

    /// The topic named `name`.
    pub fn topic(&self, name: &str) -> Option<&TopicImage> {
        self.topics.get(name)
    }

    /// The id of topic `name`, or the zero id.
    pub fn topic_id(&self, name: &str) -> Uuid {
        self.topics.get(name).map_or(Uuid::ZERO, |t| t.id)
    }

    /// The topic with id `id`.
    pub fn topic_by_id(&self, id: &Uuid) -> Option<&TopicImage> {
        self.topic_names.get(id).and_then(|n| self.topics.get(n))
    }

    /// Explicitly set configs of `resource` (empty if none).
    pub fn configs_of(&self, resource: &ConfigResource) -> Option<&BTreeMap<String, String>> {
        self.configs.get(resource)
    }

    /// Explicitly set configs of topic `name` (empty if none).
    pub fn topic_configs(&self, name: &str) -> &BTreeMap<String, String> {
        self.configs_of(&ConfigResource::topic(name))
            .unwrap_or(&NO_CONFIGS)
    }

    /// Dynamic broker configs of resource `name`: a broker id, or empty for the
    /// cluster-wide default (empty if none).
    pub fn broker_configs(&self, name: &str) -> &BTreeMap<String, String> {
        let resource = ConfigResource {
            kind: ConfigResourceKind::Broker,
            name: name.to_string(),
        };
        self.configs_of(&resource).unwrap_or(&NO_CONFIGS)
    }

    /// The SCRAM credential of `user` for `mechanism`.
    pub fn scram_credential(
        &self,
        user: &str,
        mechanism: ScramMechanism,
    ) -> Option<&ScramCredential> {
        self.scram_credentials.get(user)?.get(&mechanism)
    }

    /// Broker `id` if it is alive: registered and not fenced.
    pub fn live_broker(&self, id: i32) -> Option<&BrokerImage> {
        self.brokers.get(&id).filter(|b| !b.fenced)
    }

    /// The brokers that are registered and not fenced, by ascending id.
    pub fn live_broker_images(&self) -> impl Iterator<Item = &BrokerImage> {
        self.brokers.values().filter(|b| !b.fenced)
    }

    /// The leader of `p` as answers name it: -1 when it has none or its broker is not
    /// alive (fenced or unregistered), as Kafka's metadata cache does; an answer never
    /// names a leader missing from its brokers (librdkafka ≥ 2.10 drops such a leader).
    pub fn alive_leader(&self, p: &PartitionImage) -> i32 {
        if p.leader >= 0 && self.live_broker(p.leader).is_some() {
            p.leader
        } else {
            -1
        }
    }

    /// The replicas of `p` on brokers that are not alive (fenced or unregistered): Kafka's
    /// offline replicas, and the brokers that may not join its ISR.
    pub fn offline_replicas(&self, p: &PartitionImage) -> Vec<i32> {
        p.replicas
            .iter()
            .copied()
            .filter(|r| self.live_broker(*r).is_none())
            .collect()
    }

    /// Ids of brokers that are registered and not fenced, ascending.
    pub fn live_brokers(&self) -> Vec<i32> {
        self.live_broker_images().map(|b| b.id).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn broker(id: i32, fenced: bool) -> BrokerImage {
        BrokerImage {
            id,
            host: format!("h{id}"),
            port: 9092,
            endpoints: vec![ListenerEndpoint {
                name: "SSL".into(),
                host: format!("ssl{id}"),
                port: 9093,
                security_protocol: 1,
            }],
            rack: None,
            fenced,
            epoch: 1,
        }
    }

    fn partition(leader: i32, replicas: &[i32]) -> PartitionImage {
        PartitionImage::new(0, leader, replicas.to_vec(), replicas.to_vec())
    }

    #[test]
    fn fenced_and_unregistered_brokers_are_not_alive() {
        let mut image = MetadataImage::empty("c");
        image.brokers.insert(1, broker(1, false));
        image.brokers.insert(2, broker(2, true));
        assert!(image.live_broker(1).is_some());
        assert!(image.live_broker(2).is_none(), "fenced");
        assert!(image.live_broker(3).is_none(), "unregistered");
        assert_eq!(image.live_brokers(), vec![1]);
        assert_eq!(image.alive_leader(&partition(1, &[1, 2, 3])), 1);
        assert_eq!(image.alive_leader(&partition(2, &[1, 2, 3])), -1);
        assert_eq!(image.alive_leader(&partition(-1, &[1])), -1);
        assert_eq!(
            image.offline_replicas(&partition(1, &[1, 2, 3])),
            vec![2, 3]
        );
    }

    #[test]
    fn addresses_by_listener() {
        let b = broker(1, false);
        assert_eq!(b.address("SSL"), Some(("ssl1", 9093)));
        assert_eq!(b.address(""), Some(("h1", 9092)));
        assert_eq!(b.address("SASL_SSL"), None);
        let bare = BrokerImage {
            endpoints: Vec::new(),
            ..broker(2, false)
        };
        assert_eq!(bare.address("SSL"), Some(("h2", 9092)));
    }

    #[test]
    fn configs_of_topics_and_brokers_default_to_none() {
        let mut image = MetadataImage::empty("c");
        let one = |k: &str| BTreeMap::from([(k.to_string(), "1".to_string())]);
        image
            .configs
            .insert(ConfigResource::topic("t"), one("retention.ms"));
        let broker = |name: &str| ConfigResource {
            kind: ConfigResourceKind::Broker,
            name: name.into(),
        };
        image.configs.insert(broker("1"), one("a"));
        image.configs.insert(broker(""), one("b"));
        assert!(image.topic_configs("t").contains_key("retention.ms"));
        assert!(image.topic_configs("u").is_empty());
        assert!(image.broker_configs("1").contains_key("a"));
        assert!(image.broker_configs("").contains_key("b"));
        assert!(image.broker_configs("2").is_empty());
    }
}
