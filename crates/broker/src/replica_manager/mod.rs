//! The replica manager: the partition seam of DESIGN decision 12. It owns one
//! `vltava_replication::Replica` per partition this broker replicates, applies
//! each metadata image to them (leader, follower, stopped), and is what handlers
//! call instead of locking a `Log` and moving its high watermark themselves:
//! produce with acks (`leader`), follower fetches on the leader (`leader`), the
//! follower side of fetching (`follower`), AlterPartition answers and ticks.
//! Performing a replica's events (`hosted`) is the only place the high
//! watermark of a replicated log is set.
//!
//! - `hosted`: `HostedReplica` (log + replica + acks=all waiters) and its events.
//! - `log_epochs`: storage's leader-epoch checkpoint as a `LeaderEpochLookup`.
//! - `leader`: appends as leader (client produce with acks, internal appends)
//!   and a follower's Fetch on the leader.
//! - `follower`: what to fetch from each leader and applying the answers.

pub mod follower;
pub mod hosted;
pub mod leader;
pub mod log_epochs;

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex, RwLock};

use tokio::sync::{mpsc, watch};
use vltava_protocol::Uuid;
use vltava_replication::{
    AlterPartitionProposal, AlterPartitionResult, PartitionState, Replica, ReplicaConfig,
    ReplicaError, Role,
};

use crate::metadata_view::MetadataView;
use crate::partitions::{Partition, PartitionManager, TopicPartition};
pub use hosted::{EventSink, HostedReplica};
pub use leader::{AcksOutcome, ProduceAppend};
use log_epochs::offset;

/// An ISR change for the controller: partition, topic id and the proposal.
#[derive(Debug, Clone)]
pub struct AlterRequest {
    pub topic: String,
    pub partition: i32,
    pub topic_id: Uuid,
    pub proposal: AlterPartitionProposal,
}

/// Why a partition request could not go to its replica.
#[derive(Debug, thiserror::Error)]
pub enum ReplicaRequestError {
    /// This broker does not replicate the partition (or its log is not open).
    #[error("partition not hosted here")]
    NotHosted,
    /// The replica refused (its Kafka code).
    #[error(transparent)]
    Replica(#[from] ReplicaError),
    /// The log failed.
    #[error(transparent)]
    Storage(#[from] vltava_storage::StorageError),
}

/// The replicas of this broker.
#[derive(Debug)]
pub struct ReplicaManager {
    node_id: i32,
    replica_lag_time_max_ms: u64,
    default_min_insync_replicas: std::sync::atomic::AtomicUsize,
    partitions: Arc<PartitionManager>,
    hosted: RwLock<HashMap<TopicPartition, Arc<HostedReplica>>>,
    alter_tx: mpsc::UnboundedSender<AlterRequest>,
    alter_rx: Mutex<Option<mpsc::UnboundedReceiver<AlterRequest>>>,
    leaders: watch::Sender<u64>,
}

/// The replica state machine counts milliseconds in `u64`: the workspace clock
/// in that unit.
pub use vltava_records::clock::now_ms_u64 as now_ms;

impl ReplicaManager {
    /// A manager of no replicas yet.
    pub fn new(
        node_id: i32,
        partitions: Arc<PartitionManager>,
        replica_lag_time_max_ms: u64,
        default_min_insync_replicas: usize,
    ) -> ReplicaManager {
        // Unbounded: `EventSink::alter_partition` is called synchronously under
        // a partition's lock. What bounds it: a replica has at most one ISR
        // change pending at a time (`vltava_replication`'s `isr_change`), so
        // the queue holds at most one proposal (or its resend) per hosted
        // partition.
        let (alter_tx, alter_rx) = mpsc::unbounded_channel();
        ReplicaManager {
            node_id,
            replica_lag_time_max_ms,
            default_min_insync_replicas: std::sync::atomic::AtomicUsize::new(
                default_min_insync_replicas,
            ),
            partitions,
            hosted: RwLock::new(HashMap::new()),
            alter_tx,
            alter_rx: Mutex::new(Some(alter_rx)),
            leaders: watch::channel(0).0,
        }
    }

    /// `min.insync.replicas` for topics without their own.
    pub fn default_min_insync_replicas(&self) -> usize {
        self.default_min_insync_replicas
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Changes `min.insync.replicas` for topics without their own (a dynamic broker
    /// config); the next metadata applied sets it on their replicas.
    pub fn set_default_min_insync_replicas(&self, n: usize) {
        self.default_min_insync_replicas
            .store(n.max(1), std::sync::atomic::Ordering::Relaxed);
    }

    /// This broker's id.
    pub fn node_id(&self) -> i32 {
        self.node_id
    }

    /// The partition logs the replicas sit on.
    pub fn partitions(&self) -> &Arc<PartitionManager> {
        &self.partitions
    }

    /// The ISR changes to send to the controller (taken once, by the sender task).
    pub fn take_alter_requests(&self) -> Option<mpsc::UnboundedReceiver<AlterRequest>> {
        match self.alter_rx.lock() {
            Ok(mut g) => g.take(),
            Err(p) => p.into_inner().take(),
        }
    }

    /// Changes whenever a replica's leader or leader epoch changes.
    pub fn subscribe_leaders(&self) -> watch::Receiver<u64> {
        self.leaders.subscribe()
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<TopicPartition, Arc<HostedReplica>>> {
        match self.hosted.read() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }

    fn write(
        &self,
    ) -> std::sync::RwLockWriteGuard<'_, HashMap<TopicPartition, Arc<HostedReplica>>> {
        match self.hosted.write() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }

    /// The replica of a partition, if this broker hosts it.
    pub fn get(&self, topic: &str, partition: i32) -> Option<Arc<HostedReplica>> {
        self.read().get(&(topic.to_string(), partition)).cloned()
    }

    /// Every hosted replica.
    pub fn all(&self) -> Vec<Arc<HostedReplica>> {
        self.read().values().cloned().collect()
    }

    /// Kafka's leadership check of a client request on a partition (with its
    /// current leader epoch, `None` for -1): FENCED_LEADER_EPOCH,
    /// UNKNOWN_LEADER_EPOCH, NOT_LEADER_OR_FOLLOWER.
    pub fn check_leader(
        &self,
        topic: &str,
        partition: i32,
        leader_epoch: Option<i32>,
    ) -> Result<(), ReplicaRequestError> {
        let hosted = self
            .get(topic, partition)
            .ok_or(ReplicaRequestError::NotHosted)?;
        let cell = hosted.lock();
        cell.replica.check_leader(leader_epoch)?;
        Ok(())
    }

    /// [`Self::check_leader`] as a Kafka error code, `None` when the request may
    /// go on; `leader_epoch` is the request's (-1: not checked).
    pub fn leader_error(&self, topic: &str, partition: i32, leader_epoch: i32) -> Option<i16> {
        match self.check_leader(
            topic,
            partition,
            (leader_epoch >= 0).then_some(leader_epoch),
        ) {
            Ok(()) => None,
            Err(ReplicaRequestError::Replica(e)) => Some(e.code()),
            Err(_) => Some(crate::error_codes::NOT_LEADER_OR_FOLLOWER),
        }
    }

    /// Applies a metadata snapshot to the replicas of the partitions whose logs
    /// are open (`opened`): new ones are created from their log's end and high
    /// watermark; each gets its partition state, `min.insync.replicas`, the
    /// brokers that may not join an ISR (fenced or unknown) and the live brokers'
    /// registration epochs (KIP-903); replicas of
    /// partitions not in `opened` any more are stopped and dropped.
    pub fn apply_metadata(&self, metadata: &MetadataView, opened: &[Arc<Partition>]) {
        let now = now_ms();
        let mut keep = BTreeSet::new();
        for p in opened {
            let key = (p.topic.clone(), p.index);
            let image = metadata.image();
            let Some((topic, meta)) = image
                .topic(&p.topic)
                .and_then(|t| t.partitions.get(&p.index).map(|m| (t, m)))
            else {
                continue;
            };
            keep.insert(key.clone());
            let hosted = self.get_or_create(p, topic.id);
            let state = PartitionState {
                leader_id: (meta.leader >= 0).then_some(meta.leader),
                leader_epoch: meta.leader_epoch,
                partition_epoch: meta.partition_epoch,
                replicas: meta.replicas.clone(),
                isr: meta.isr.clone(),
            };
            let min_isr = image
                .topic_configs(&topic.name)
                .get("min.insync.replicas")
                .and_then(|v| v.trim().parse::<usize>().ok())
                .unwrap_or(self.default_min_insync_replicas())
                .max(1);
            let ineligible = image.offline_replicas(meta);
            let mut cell = hosted.lock();
            cell.topic_id = topic.id;
            cell.replica.set_min_insync_replicas(min_isr);
            cell.replica.set_isr_ineligible(ineligible);
            cell.replica
                .set_broker_epochs(image.live_broker_images().map(|b| (b.id, b.epoch)));
            let update = cell.replica.apply_partition_state(&state, now);
            if let vltava_replication::StateUpdate::Applied(events) = update {
                let mut log = hosted.partition.log();
                let role = cell.replica.role();
                hosted.perform(&mut cell, &mut log, events, self);
                if role == Role::Leader {
                    // A leader's log serves consumers up to the replica's high watermark.
                    let hw = cell.replica.high_watermark();
                    log.set_high_watermark(i64::try_from(hw).unwrap_or(i64::MAX));
                }
            }
        }
        let gone: Vec<Arc<HostedReplica>> = {
            let mut map = self.write();
            let keys: Vec<TopicPartition> =
                map.keys().filter(|k| !keep.contains(*k)).cloned().collect();
            keys.iter().filter_map(|k| map.remove(k)).collect()
        };
        for hosted in gone {
            // Waiting producers are answered NOT_LEADER_OR_FOLLOWER by the dropped senders.
            hosted.lock().waiters.clear();
        }
    }

    fn get_or_create(&self, p: &Arc<Partition>, topic_id: Uuid) -> Arc<HostedReplica> {
        let key = (p.topic.clone(), p.index);
        if let Some(h) = self.read().get(&key) {
            if Arc::ptr_eq(&h.partition, p) {
                return h.clone();
            }
        }
        // The high watermark starts where the log's does: the partition manager
        // opened it at the `replication-offset-checkpoint` entry (capped at the
        // log end), or at the log start for a log never checkpointed, whose tail
        // may be on no other replica. A leader raises it as soon as its ISR has
        // fetched; a follower takes the leader's.
        let (leo, hw) = {
            let log = p.log();
            (offset(log.log_end_offset()), offset(log.high_watermark()))
        };
        let config = ReplicaConfig {
            replica_lag_time_max_ms: self.replica_lag_time_max_ms,
            min_insync_replicas: self.default_min_insync_replicas(),
            ..ReplicaConfig::default()
        };
        let hosted = Arc::new(HostedReplica::new(
            p.clone(),
            Replica::new(self.node_id, config, leo, hw),
            topic_id,
        ));
        self.write().insert(key, hosted.clone());
        hosted
    }

    /// Time passes for every replica: acks=all deadlines expire, lagging
    /// followers leave the ISR (by AlterPartition).
    pub fn tick(&self) {
        let now = now_ms();
        for hosted in self.all() {
            let mut cell = hosted.lock();
            let events = cell.replica.tick(now);
            if events.is_empty() {
                continue;
            }
            let mut log = hosted.partition.log();
            hosted.perform(&mut cell, &mut log, events, self);
        }
    }

    /// Ticks every replica every `interval` until the manager is dropped.
    pub fn spawn_ticker(
        self: &Arc<Self>,
        interval: std::time::Duration,
    ) -> tokio::task::JoinHandle<()> {
        let weak = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(interval);
            loop {
                ticks.tick().await;
                let Some(m) = weak.upgrade() else { return };
                m.tick();
            }
        })
    }

    /// The controller's answer to an ISR change.
    pub fn on_alter_partition_result(&self, request: &AlterRequest, result: AlterPartitionResult) {
        let Some(hosted) = self.get(&request.topic, request.partition) else {
            return;
        };
        let mut cell = hosted.lock();
        let events = cell
            .replica
            .on_alter_partition_result(&request.proposal, result);
        let mut log = hosted.partition.log();
        hosted.perform(&mut cell, &mut log, events, self);
    }
}

impl EventSink for ReplicaManager {
    fn wake_fetches(&self) {
        self.partitions.notify_append();
    }

    fn alter_partition(
        &self,
        topic: &str,
        partition: i32,
        topic_id: Uuid,
        proposal: AlterPartitionProposal,
    ) {
        let _ = self.alter_tx.send(AlterRequest {
            topic: topic.to_string(),
            partition,
            topic_id,
            proposal,
        });
    }

    fn leaders_changed(&self) {
        self.leaders.send_modify(|n| *n = n.wrapping_add(1));
    }
}
