//! `Broker`: the state every request handler shares — configuration, the
//! partition logs and the metadata cache — and the rules that tie them
//! together (topic log configs, applying a new metadata snapshot to the logs).

use std::sync::{Arc, OnceLock, RwLock};

use vltava_coordinator::CoordinatorHandle;

use vltava_storage::LogConfig;

use crate::config::BrokerConfig;
use crate::metadata_cache::MetadataCache;
use crate::partitions::PartitionManager;

/// Shared broker state.
#[derive(Debug)]
pub struct Broker {
    pub config: BrokerConfig,
    pub partitions: Arc<PartitionManager>,
    metadata: RwLock<Arc<MetadataCache>>,
    coordinator: OnceLock<CoordinatorHandle>,
}

impl Broker {
    /// A broker over `partitions` with empty metadata.
    pub fn new(config: BrokerConfig, partitions: Arc<PartitionManager>) -> Broker {
        Broker {
            config,
            partitions,
            metadata: RwLock::new(Arc::new(MetadataCache::default())),
            coordinator: OnceLock::new(),
        }
    }

    /// Installs the group coordinator (once, at start-up).
    pub fn set_coordinator(&self, handle: CoordinatorHandle) {
        let _ = self.coordinator.set(handle);
    }

    /// The group coordinator, once started.
    pub fn coordinator(&self) -> Option<&CoordinatorHandle> {
        self.coordinator.get()
    }

    /// The group coordinator's settings from the broker configuration.
    pub fn group_config(&self) -> vltava_coordinator::GroupConfig {
        let c = &self.config;
        vltava_coordinator::GroupConfig {
            min_session_timeout_ms: c.group_min_session_timeout_ms,
            max_session_timeout_ms: c.group_max_session_timeout_ms,
            initial_rebalance_delay_ms: c.group_initial_rebalance_delay_ms,
            max_size: c.group_max_size,
            offsets_retention_minutes: c.offsets_retention_minutes,
            offsets_retention_check_interval_ms: c.offsets_retention_check_interval_ms,
            offset_metadata_max_bytes: c.offset_metadata_max_bytes,
            offsets_topic_num_partitions: c.offsets_topic_num_partitions,
            ..Default::default()
        }
    }

    /// Makes sure `__consumer_offsets` exists (creating it through the
    /// controller on first use); false while it cannot.
    pub async fn ensure_offsets_topic(&self) -> bool {
        self.metadata()
            .topic(crate::offsets_log::OFFSETS_TOPIC)
            .is_some()
    }

    /// The current metadata snapshot.
    pub fn metadata(&self) -> Arc<MetadataCache> {
        match self.metadata.read() {
            Ok(g) => g.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    /// The log configuration of `topic`: broker defaults overridden by the
    /// topic's own configs (invalid values are ignored with a warning; the
    /// controller validates them when they are set).
    pub fn log_config(&self, topic: &str, cache: &MetadataCache) -> LogConfig {
        let mut cfg = self.config.log_defaults.clone();
        if topic == "__consumer_offsets" {
            cfg.cleanup_policy = vltava_storage::CleanupPolicy::COMPACT;
            cfg.segment_bytes = self.config.offsets_topic_segment_bytes.max(14) as u64;
        }
        if let Some(t) = cache.topic(topic) {
            for (k, v) in &t.configs {
                if let Err(e) = cfg.set(k, v) {
                    tracing::warn!(topic, key = %k, error = %e, "ignoring topic config");
                }
            }
        }
        cfg
    }

    /// Installs a new metadata snapshot: opens the logs of partitions this node
    /// leads or replicates, applies changed topic configs, and deletes the logs
    /// of topics that no longer exist.
    pub fn apply_metadata(&self, cache: MetadataCache) {
        let node = self.config.node_id;
        for t in cache.topics.values() {
            let cfg = self.log_config(&t.name, &cache);
            for p in t.partitions.values() {
                if p.leader == node || p.replicas.contains(&node) {
                    if let Err(e) = self.partitions.open(&t.name, p.index, cfg.clone()) {
                        tracing::error!(topic = %t.name, partition = p.index, error = %e, "cannot open partition log");
                    }
                }
            }
        }
        let gone: Vec<String> = self
            .partitions
            .all()
            .iter()
            .map(|p| p.topic.clone())
            .filter(|t| !cache.topics.contains_key(t))
            .collect();
        let mut gone = gone;
        gone.dedup();
        for t in gone {
            if let Err(e) = self.partitions.delete_topic(&t) {
                tracing::error!(topic = %t, error = %e, "cannot delete topic logs");
            }
        }
        let mut g = match self.metadata.write() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        *g = Arc::new(cache);
    }
}
