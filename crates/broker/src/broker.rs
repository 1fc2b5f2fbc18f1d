//! `Broker`: the state every request handler shares — configuration, the
//! partition logs and the metadata view (the controller's image, shared) — and the
//! rules that tie them together (topic log configs, applying a new image to the logs).

use std::sync::{Arc, OnceLock, RwLock};

use vltava_coordinator::{CoordinatorHandle, TxnCoordinatorHandle};
use vltava_raft::Controller;

use vltava_storage::LogConfig;

use crate::config::BrokerConfig;
use crate::coordinator_leadership::Leadership;
use crate::metadata_view::MetadataView;
use crate::partitions::{Partition, PartitionManager};
use crate::replica_manager::ReplicaManager;

/// Shared broker state.
#[derive(Debug)]
pub struct Broker {
    pub config: BrokerConfig,
    pub partitions: Arc<PartitionManager>,
    /// The replicas of the partitions this broker hosts (the partition seam).
    pub replicas: Arc<ReplicaManager>,
    metadata: RwLock<MetadataView>,
    coordinator: OnceLock<CoordinatorHandle>,
    txn_coordinator: OnceLock<TxnCoordinatorHandle>,
    controller: OnceLock<Controller>,
    internal_topic_creation: tokio::sync::Mutex<()>,
    applying: std::sync::Mutex<()>,
    producer_ids: tokio::sync::Mutex<(i64, i64)>,
    fetch_sessions: std::sync::Mutex<crate::fetch_session::FetchSessionCache>,
    /// Seed of the group coordinator's member ids, drawn at start: a fixed one
    /// would hand out, after a restart, the ids of members reloaded from
    /// `__consumer_offsets` again.
    member_id_seed: u64,
    /// Kafka requests to other brokers' listeners (transaction markers, verification).
    pub peers: crate::inter_broker::Peers,
    /// TLS and SASL of connections to other brokers' inter-broker listener (replica
    /// fetchers and [`Broker::peers`]); PLAINTEXT unless set at start.
    pub inter_broker_security: vltava_client::security::Security,
    /// The `__consumer_offsets` and `__transaction_state` partitions the
    /// coordinators were told this broker leads.
    leadership: std::sync::Mutex<(Leadership, Leadership)>,
    /// Client quota meters (byte rates and request time per user / client id).
    pub quotas: crate::quotas::ClientQuotas,
    /// The authorizer (`authorizer.class.name`) and the ACLs it checks against.
    pub acls: crate::authorization::AclState,
    /// The settings dynamic broker configs change (topic defaults, `min.insync.replicas`,
    /// the cleaner's), as of the last applied metadata.
    dynamic: RwLock<Arc<crate::config::DynamicSettings>>,
    /// The log cleaner's settings, followed by its tasks.
    pub cleaner_config: tokio::sync::watch::Sender<crate::log_cleaner::CleanerConfig>,
}

impl Broker {
    /// A broker over `partitions` with empty metadata.
    pub fn new(config: BrokerConfig, partitions: Arc<PartitionManager>) -> Broker {
        let inter_broker_listener = config.inter_broker_listener_name.clone();
        let node_id = config.node_id;
        let slots = config.max_incremental_fetch_session_cache_slots;
        let replicas = Arc::new(ReplicaManager::new(
            config.node_id,
            partitions.clone(),
            config.replica_lag_time_max_ms,
            config.min_insync_replicas,
        ));
        let quotas = crate::quotas::ClientQuotas::new(&config);
        let acls = crate::authorization::AclState::new(config.authorizer.clone());
        let dynamic = RwLock::new(Arc::new(config.static_settings()));
        let (cleaner_config, _) = tokio::sync::watch::channel(config.log_cleaner);
        Broker {
            quotas,
            acls,
            dynamic,
            cleaner_config,
            config,
            partitions,
            replicas,
            metadata: RwLock::new(MetadataView::new(
                Arc::new(vltava_raft::MetadataImage::default()),
                node_id,
            )),
            coordinator: OnceLock::new(),
            txn_coordinator: OnceLock::new(),
            controller: OnceLock::new(),
            internal_topic_creation: tokio::sync::Mutex::new(()),
            applying: std::sync::Mutex::new(()),
            producer_ids: tokio::sync::Mutex::new((0, 0)),
            fetch_sessions: std::sync::Mutex::new(crate::fetch_session::FetchSessionCache::new(
                slots,
                (vltava_records::clock::now_ms() & 0x3fff_ffff) as i32,
            )),
            member_id_seed: random_seed(),
            peers: crate::inter_broker::Peers::new(
                inter_broker_listener,
                vltava_client::security::Security::default(),
            ),
            inter_broker_security: vltava_client::security::Security::default(),
            leadership: std::sync::Mutex::new(Default::default()),
        }
    }

    /// This broker with `security` on its connections to other brokers.
    pub fn with_inter_broker_security(
        mut self,
        security: vltava_client::security::Security,
    ) -> Broker {
        self.peers = crate::inter_broker::Peers::new(
            self.config.inter_broker_listener_name.clone(),
            security.clone(),
        );
        self.inter_broker_security = security;
        self
    }

    /// Installs the controller handle (once, at start-up).
    pub fn set_controller(&self, controller: Controller) {
        let _ = self.controller.set(controller);
    }

    /// The controller (metadata quorum), once started.
    pub fn controller(&self) -> Option<&Controller> {
        self.controller.get()
    }

    /// Topic defaults for CreateTopics.
    pub fn topic_defaults(&self) -> vltava_raft::TopicDefaults {
        vltava_raft::TopicDefaults {
            num_partitions: self.config.num_partitions,
            replication_factor: self.config.default_replication_factor,
        }
    }

    /// Hands out one producer id, taking a new block from the controller when
    /// the current one is used up.
    pub async fn next_producer_id(&self) -> Result<i64, vltava_raft::RaftError> {
        let mut block = self.producer_ids.lock().await;
        if block.0 >= block.1 {
            let controller = self.controller().ok_or(vltava_raft::RaftError::Stopped)?;
            let (first, len) = controller.allocate_producer_ids(1000).await?;
            *block = (first, first + i64::from(len));
        }
        let id = block.0;
        block.0 += 1;
        Ok(id)
    }

    /// Installs the group coordinator (once, at start-up) and elects it for
    /// the `__consumer_offsets` partitions this broker leads.
    pub fn set_coordinator(&self, handle: CoordinatorHandle) {
        let _ = self.coordinator.set(handle);
        let _applying = self.lock_applying();
        self.elect_coordinators(&self.metadata());
    }

    /// The group coordinator, once started.
    pub fn coordinator(&self) -> Option<&CoordinatorHandle> {
        self.coordinator.get()
    }

    /// Installs the transaction coordinator (once, at start-up) and elects
    /// it for the `__transaction_state` partitions this broker leads.
    pub fn set_txn_coordinator(&self, handle: TxnCoordinatorHandle) {
        let _ = self.txn_coordinator.set(handle);
        let _applying = self.lock_applying();
        self.elect_coordinators(&self.metadata());
    }

    fn lock_applying(&self) -> std::sync::MutexGuard<'_, ()> {
        match self.applying.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }

    /// Tells each installed coordinator which of its partitions this broker
    /// came to lead (load them, coordinator epoch = leader epoch) or stopped
    /// leading (unload them) since the last image. Called with the applying
    /// lock held, after the replicas took `metadata`.
    fn elect_coordinators(&self, metadata: &MetadataView) {
        let mut led = match self.leadership.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        if let Some(c) = self.coordinator() {
            let changes = led
                .0
                .update(metadata, &self.replicas, crate::offsets_log::OFFSETS_TOPIC);
            for (p, epoch) in changes.resigned {
                tracing::debug!(partition = p, ?epoch, "group coordinator resigns");
                c.resign(p, epoch);
            }
            for (p, epoch) in changes.elected {
                tracing::debug!(partition = p, epoch, "group coordinator elected");
                c.elect(p, epoch);
            }
        }
        if let Some(c) = self.txn_coordinator() {
            let changes = led.1.update(
                metadata,
                &self.replicas,
                crate::txn_log::TRANSACTION_STATE_TOPIC,
            );
            for (p, epoch) in changes.resigned {
                tracing::debug!(partition = p, ?epoch, "transaction coordinator resigns");
                c.resign(p, epoch);
            }
            for (p, epoch) in changes.elected {
                tracing::debug!(partition = p, epoch, "transaction coordinator elected");
                c.elect(p, epoch);
            }
        }
    }

    /// The transaction coordinator, once started.
    pub fn txn_coordinator(&self) -> Option<&TxnCoordinatorHandle> {
        self.txn_coordinator.get()
    }

    /// The transaction coordinator's settings from the broker configuration.
    pub fn txn_config(&self) -> vltava_coordinator::TxnConfig {
        let c = &self.config;
        vltava_coordinator::TxnConfig {
            num_partitions: c.transaction_state_log_num_partitions,
            max_timeout_ms: c.transaction_max_timeout_ms,
            abort_timed_out_interval_ms: c
                .transaction_abort_timed_out_transaction_cleanup_interval_ms,
            id_expiration_ms: c.transactional_id_expiration_ms,
            offsets_topic_num_partitions: c.offsets_topic_num_partitions,
            ..Default::default()
        }
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
            member_id_seed: self.member_id_seed,
            ..Default::default()
        }
    }

    /// Makes sure `__consumer_offsets` exists (creating it through the
    /// controller on first use, with `offsets.topic.replication.factor`
    /// replicas); false while it cannot (too few live brokers, as Kafka).
    pub async fn ensure_offsets_topic(&self) -> bool {
        self.ensure_internal_topic(InternalTopic {
            name: crate::offsets_log::OFFSETS_TOPIC,
            partitions: self.config.offsets_topic_num_partitions,
            replication_factor: self.config.offsets_topic_replication_factor,
            segment_bytes: self.config.offsets_topic_segment_bytes,
            min_isr: None,
        })
        .await
    }

    /// Makes sure `__transaction_state` exists (creating it through the
    /// controller on first use, as Kafka does on the first FindCoordinator for
    /// a transactional id, with `transaction.state.log.replication.factor`
    /// replicas and `min.insync.replicas` = `transaction.state.log.min.isr`);
    /// false while it cannot.
    pub async fn ensure_transaction_state_topic(&self) -> bool {
        self.ensure_internal_topic(InternalTopic {
            name: crate::txn_log::TRANSACTION_STATE_TOPIC,
            partitions: self.config.transaction_state_log_num_partitions,
            replication_factor: self.config.transaction_state_log_replication_factor,
            segment_bytes: self.config.transaction_state_log_segment_bytes,
            min_isr: Some(self.config.transaction_state_log_min_isr),
        })
        .await
    }

    /// Creates the compacted internal topic unless it exists. Like Kafka, it
    /// is not created while fewer brokers are alive than its replication
    /// factor (clients get COORDINATOR_NOT_AVAILABLE and retry).
    async fn ensure_internal_topic(&self, t: InternalTopic) -> bool {
        let name = t.name;
        if self.metadata().topic(name).is_some() {
            return true;
        }
        let Some(controller) = self.controller() else {
            return false;
        };
        let _guard = self.internal_topic_creation.lock().await;
        if self.metadata().topic(name).is_some() {
            return true;
        }
        let live = self.metadata().image().live_broker_images().count();
        if live < usize::try_from(t.replication_factor).unwrap_or(usize::MAX) {
            tracing::warn!(
                topic = name,
                live,
                replication_factor = t.replication_factor,
                "not creating the internal topic: fewer live brokers than its replication factor"
            );
            return false;
        }
        let mut configs = vec![
            ("cleanup.policy", "compact".to_string()),
            ("segment.bytes", t.segment_bytes.to_string()),
            ("compression.type", "producer".to_string()),
        ];
        if let Some(min_isr) = t.min_isr {
            configs.push(("min.insync.replicas", min_isr.to_string()));
        }
        let mut req = crate::handlers::admin::create_topic_request(name, t.partitions, &configs);
        for topic in &mut req.topics {
            topic.replication_factor = t.replication_factor;
        }
        let resp = controller
            .create_topics(req, 7, &self.topic_defaults())
            .await;
        for topic in &resp.topics {
            if topic.error_code != 0 && topic.error_code != crate::error_codes::TOPIC_ALREADY_EXISTS
            {
                tracing::warn!(topic = name, code = topic.error_code, message = ?topic.error_message, "cannot create internal topic");
            }
        }
        crate::metadata_sync::sync_now(self);
        self.metadata().topic(name).is_some()
    }

    /// The incremental fetch session cache.
    pub fn fetch_sessions(
        &self,
    ) -> std::sync::MutexGuard<'_, crate::fetch_session::FetchSessionCache> {
        match self.fetch_sessions.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }

    /// The current metadata snapshot.
    pub fn metadata(&self) -> MetadataView {
        match self.metadata.read() {
            Ok(g) => g.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    /// The log configuration of `topic`: broker defaults overridden by the
    /// topic's own configs (invalid values are ignored with a warning; the
    /// controller validates them when they are set).
    pub fn log_config(&self, topic: &str, metadata: &MetadataView) -> LogConfig {
        let mut cfg = self.dynamic_settings().log_defaults.clone();
        if topic == crate::offsets_log::OFFSETS_TOPIC {
            cfg.cleanup_policy = vltava_storage::CleanupPolicy::COMPACT;
            cfg.segment_bytes = self.config.offsets_topic_segment_bytes.max(14) as u64;
        } else if topic == crate::txn_log::TRANSACTION_STATE_TOPIC {
            cfg.cleanup_policy = vltava_storage::CleanupPolicy::COMPACT;
            cfg.segment_bytes = self.config.transaction_state_log_segment_bytes.max(14) as u64;
        }
        if let Some(t) = metadata.topic(topic) {
            for (k, v) in metadata.image().topic_configs(&t.name) {
                // Topic configs the log does not use (enforced elsewhere or not at all).
                if matches!(
                    k.as_str(),
                    "min.insync.replicas"
                        | "unclean.leader.election.enable"
                        | "preallocate"
                        | "message.downconversion.enable"
                ) {
                    continue;
                }
                if let Err(e) = cfg.set(k, v) {
                    tracing::warn!(topic, key = %k, error = %e, "ignoring topic config");
                }
            }
        }
        cfg
    }

    /// The settings under the dynamic broker configs last applied.
    pub fn dynamic_settings(&self) -> Arc<crate::config::DynamicSettings> {
        match self.dynamic.read() {
            Ok(g) => g.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    /// Takes the dynamic broker configs of `metadata` (this broker's own over the cluster
    /// default over the static properties): topic defaults for every log without its
    /// own value, `min.insync.replicas`, the cleaner's settings. A value that cannot be
    /// used (the controller validates them, so only from an older version) leaves the
    /// previous settings and is logged.
    fn apply_dynamic_configs(&self, metadata: &MetadataView) {
        let settings = match self.config.dynamic_settings(
            metadata.cluster_dynamic_configs(),
            metadata.broker_dynamic_configs(),
        ) {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = %e, "ignoring dynamic broker configs");
                return;
            }
        };
        if *self.dynamic_settings() == settings {
            return;
        }
        tracing::info!(
            cluster = ?metadata.cluster_dynamic_configs(),
            broker = ?metadata.broker_dynamic_configs(),
            "dynamic broker configs applied"
        );
        self.replicas
            .set_default_min_insync_replicas(settings.min_insync_replicas);
        self.cleaner_config.send_if_modified(|c| {
            let changed = *c != settings.cleaner;
            *c = settings.cleaner;
            changed
        });
        let mut g = match self.dynamic.write() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        *g = Arc::new(settings);
    }

    /// Installs a new metadata snapshot: opens the logs of partitions this node
    /// leads or replicates, applies changed topic configs, and deletes the logs
    /// of topics that no longer exist. The image is shared, not copied.
    pub fn apply_metadata(&self, image: Arc<vltava_raft::MetadataImage>) {
        let metadata = MetadataView::new(image, self.config.node_id);
        // One snapshot at a time, and never an older one over a newer one.
        let _applying = match self.applying.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        if metadata.offset() < self.metadata().offset() {
            return;
        }
        self.apply_dynamic_configs(&metadata);
        let opened = self.open_assigned(&metadata);
        self.delete_gone_topics(&metadata);
        self.replicas.apply_metadata(&metadata, &opened);
        self.delete_removed_replicas(&metadata);
        self.elect_coordinators(&metadata);
        let mut g = match self.metadata.write() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        *g = metadata;
    }

    /// Opens the logs of the partitions this node leads or replicates in `metadata`;
    /// returns those that opened (a failure is logged and retried with the next image).
    fn open_assigned(&self, metadata: &MetadataView) -> Vec<Arc<Partition>> {
        let node = self.config.node_id;
        let mut wanted = Vec::new();
        for t in metadata.topics() {
            let cfg = self.log_config(&t.name, metadata);
            for p in t.partitions.values() {
                if p.leader == node || p.replicas.contains(&node) {
                    wanted.push((t.name.clone(), p.partition, cfg.clone()));
                }
            }
        }
        let mut failed = 0usize;
        let mut opened = Vec::new();
        for ((topic, partition), r) in self.partitions.open_many(wanted) {
            match r {
                Ok(p) => opened.push(p),
                Err(e) => {
                    failed += 1;
                    // One line per failure for the first few, then a summary.
                    if failed <= 10 {
                        let ran_out = crate::resources::exhausted_resource(&e).unwrap_or("-");
                        tracing::error!(%topic, partition, error = %e, ran_out, "cannot open partition log; answering KAFKA_STORAGE_ERROR for it and retrying");
                    }
                }
            }
        }
        if failed > 10 {
            tracing::error!(failed, "partition logs could not be opened; retrying");
        }
        opened
    }

    /// Deletes the logs of topics that no longer exist in `metadata`.
    fn delete_gone_topics(&self, metadata: &MetadataView) {
        let gone: Vec<String> = self
            .partitions
            .all()
            .iter()
            .map(|p| p.topic.clone())
            .filter(|t| metadata.topic(t).is_none())
            .collect();
        let mut gone = gone;
        gone.dedup();
        for t in gone {
            if let Err(e) = self.partitions.delete_topic(&t) {
                tracing::error!(topic = %t, error = %e, "cannot delete topic logs");
            }
        }
    }

    /// A reassignment that removed this broker from a partition's replicas: its fetcher
    /// stopped with the replica (`ReplicaManager::apply_metadata`, run first); the log goes
    /// as Kafka deletes it. Only logs this
    /// process opened (under an image no newer than this one) are judged, so an image
    /// that is behind at startup never deletes a log a later one assigned here.
    fn delete_removed_replicas(&self, metadata: &MetadataView) {
        let node = self.config.node_id;
        let removed: Vec<(String, i32)> = self
            .partitions
            .all()
            .iter()
            .filter(|p| {
                metadata
                    .topic(&p.topic)
                    .and_then(|t| t.partitions.get(&p.index))
                    .is_some_and(|m| m.leader != node && !m.replicas.contains(&node))
            })
            .map(|p| (p.topic.clone(), p.index))
            .collect();
        for (topic, partition) in removed {
            match self.partitions.delete_partition(&topic, partition) {
                Ok(()) => {
                    tracing::info!(%topic, partition, "replica removed from this broker; log deleted")
                }
                Err(e) => {
                    tracing::error!(%topic, partition, error = %e, "cannot delete the log of a removed replica")
                }
            }
        }
    }
}

/// How an internal topic is created.
struct InternalTopic {
    name: &'static str,
    partitions: i32,
    replication_factor: i16,
    segment_bytes: i64,
    /// The topic's `min.insync.replicas`, when it has its own.
    min_isr: Option<i32>,
}

/// 64 random bits from the OS; if it has none to give, the clock and the
/// process id (still different from one start to the next).
fn random_seed() -> u64 {
    getrandom::u64().unwrap_or_else(|_| {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        nanos ^ u64::from(std::process::id()).rotate_left(32)
    })
}
