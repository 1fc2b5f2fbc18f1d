//! `SimController`: the active controller, running the real sans-IO rules of `vltava-raft`
//! (`register_broker` + `register_and_elect`, `fence_broker` on session expiry,
//! `unfence_broker` on a heartbeat of a fenced broker, `alter_partition` with its epoch
//! compare-and-set and KIP-903 broker epochs, optionally `balance_leaders` on a timer) and applying their records with `apply_record` to a `MetadataImage`.
//! The metadata quorum itself is not simulated: the controller never fails and commits at
//! once.

use std::collections::BTreeMap;

use vltava_protocol::Uuid;
use vltava_protocol::metadata::{PartitionRecord, TopicRecord};
use vltava_raft::alter_partition_wire::IsrChangeRequest;
use vltava_raft::apply::apply_record;
use vltava_raft::controller::alter_partition;
use vltava_raft::controller::elections::balance_leaders;
use vltava_raft::controller::fencing::{fence_broker, register_and_elect, unfence_broker};
use vltava_raft::controller::register_broker;
use vltava_raft::{MetadataImage, MetadataRecord};
use vltava_replication::{AlterPartitionProposal, AlterPartitionResult, PartitionState};

/// The simulated topic's name.
pub const TOPIC: &str = "sim";
/// How often (simulated ms) the controller moves leadership back to preferred replicas when
/// [`SimController::preferred_rebalance`] (Kafka's 300 s, scaled to a run of ~20 s).
pub const REBALANCE_MS: u64 = 2_000;
/// AlterPartition version used (topic ids, `NewIsrWithEpochs`: KIP-903).
const ALTER_PARTITION_VERSION: i16 = 3;

/// The controller: image, broker sessions, and a log of what it decided.
#[derive(Debug)]
pub struct SimController {
    image: MetadataImage,
    sessions: BTreeMap<i32, u64>,
    session_timeout_ms: u64,
    topic_id: Uuid,
    /// Record batches applied so far: the metadata log offset brokers see.
    offset: u64,
    /// Kafka's rule: a registration of a broker whose session is still live is refused
    /// (DUPLICATE_BROKER_REGISTRATION). vltava-raft does not have it (see `crate` docs).
    pub refuse_live_reregistration: bool,
    /// Run the real preferred-leader rebalance (`balance_leaders`) every [`REBALANCE_MS`].
    pub preferred_rebalance: bool,
    next_rebalance: u64,
}

impl SimController {
    /// Brokers `brokers` registered and a topic of `partitions` partitions, replicas rotating
    /// over the brokers, the first replica leading, every replica in sync.
    pub fn new(brokers: &[i32], partitions: usize, session_timeout_ms: u64, now: u64) -> Self {
        let mut image = MetadataImage::empty("sim");
        let topic_id = Uuid::from_u128(0x51);
        let mut records = Vec::new();
        for &b in brokers {
            let rec = register_broker(&image, b, "sim", 9092, None);
            apply_record(&mut image, &rec);
        }
        records.push(MetadataRecord::Topic(TopicRecord {
            name: TOPIC.into(),
            topic_id,
            ..Default::default()
        }));
        for p in 0..partitions {
            let replicas: Vec<i32> = (0..brokers.len())
                .map(|i| brokers[(p + i) % brokers.len()])
                .collect();
            records.push(MetadataRecord::Partition(PartitionRecord {
                partition_id: i32::try_from(p).unwrap_or(i32::MAX),
                topic_id,
                leader: replicas[0],
                isr: replicas.clone(),
                replicas,
                leader_epoch: 0,
                partition_epoch: 0,
                ..Default::default()
            }));
        }
        for rec in &records {
            apply_record(&mut image, rec);
        }
        let sessions = brokers
            .iter()
            .map(|&b| (b, now + session_timeout_ms))
            .collect();
        SimController {
            image,
            sessions,
            session_timeout_ms,
            topic_id,
            offset: 0,
            refuse_live_reregistration: true,
            preferred_rebalance: false,
            next_rebalance: now + REBALANCE_MS,
        }
    }

    /// The committed image.
    pub fn image(&self) -> &MetadataImage {
        &self.image
    }

    fn apply(&mut self, records: &[MetadataRecord]) -> bool {
        for rec in records {
            apply_record(&mut self.image, rec);
        }
        if !records.is_empty() {
            self.offset += 1;
        }
        !records.is_empty()
    }

    /// The metadata offset: how many changes the image has had.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// Each partition's state as brokers apply it.
    pub fn partition_states(&self) -> Vec<PartitionState> {
        let Some(topic) = self.image.topics.get(TOPIC) else {
            return Vec::new();
        };
        topic
            .partitions
            .values()
            .map(|p| PartitionState {
                leader_id: (p.leader >= 0).then_some(p.leader),
                leader_epoch: p.leader_epoch,
                partition_epoch: p.partition_epoch,
                replicas: p.replicas.clone(),
                isr: p.isr.clone(),
            })
            .collect()
    }

    /// Partition `p`'s leader and leader epoch in the image.
    pub fn leader(&self, p: usize) -> Option<(Option<i32>, i32)> {
        let p = i32::try_from(p).ok()?;
        let state = self.image.topics.get(TOPIC)?.partitions.get(&p)?;
        Some((
            (state.leader >= 0).then_some(state.leader),
            state.leader_epoch,
        ))
    }

    /// The fenced brokers.
    pub fn fenced(&self) -> Vec<i32> {
        self.image
            .brokers
            .values()
            .filter(|b| b.fenced)
            .map(|b| b.id)
            .collect()
    }

    /// Every registered broker's current epoch (KIP-903: what a leader checks a follower's
    /// fetched broker epoch against).
    pub fn broker_epochs(&self) -> Vec<(i32, i64)> {
        self.image
            .brokers
            .values()
            .map(|b| (b.id, b.epoch))
            .collect()
    }

    /// BrokerRegistration: a new broker epoch, unfenced, offline partitions elected. Returns
    /// the epoch, or `None` when refused (a live session, with
    /// `refuse_live_reregistration`).
    pub fn register(&mut self, broker: i32, now: u64) -> Option<i64> {
        let live = self.image.brokers.get(&broker).is_some_and(|b| !b.fenced)
            && self.sessions.get(&broker).is_some_and(|&d| d > now);
        if self.refuse_live_reregistration && live {
            return None;
        }
        let rec = register_broker(&self.image, broker, "sim", 9092, None);
        let records = register_and_elect(&self.image, rec);
        self.apply(&records);
        self.sessions.insert(broker, now + self.session_timeout_ms);
        self.image.brokers.get(&broker).map(|b| b.epoch)
    }

    /// BrokerHeartbeat: renews the session at the current epoch; a fenced broker is
    /// unfenced. Returns whether metadata changed.
    pub fn heartbeat(&mut self, broker: i32, broker_epoch: i64, now: u64) -> bool {
        let Some(b) = self.image.brokers.get(&broker) else {
            return false;
        };
        if b.epoch != broker_epoch {
            return false;
        }
        self.sessions.insert(broker, now + self.session_timeout_ms);
        let records = unfence_broker(&self.image, broker);
        self.apply(&records)
    }

    /// Fences every unfenced broker whose session expired. Returns the brokers fenced.
    pub fn expire_sessions(&mut self, now: u64) -> Vec<i32> {
        let expired: Vec<i32> = self
            .sessions
            .iter()
            .filter(|&(_, &deadline)| deadline <= now)
            .map(|(&b, _)| b)
            .collect();
        let mut fenced = Vec::new();
        for b in expired {
            let records = fence_broker(&self.image, b);
            if self.apply(&records) {
                fenced.push(b);
            }
        }
        fenced
    }

    /// The preferred-leader rebalance when it is due. Returns whether metadata changed.
    pub fn maybe_rebalance(&mut self, now: u64) -> bool {
        if !self.preferred_rebalance || now < self.next_rebalance {
            return false;
        }
        self.next_rebalance = now + REBALANCE_MS;
        let records = balance_leaders(&self.image);
        self.apply(&records)
    }

    /// AlterPartition for one partition, through the real controller function.
    pub fn alter_partition(
        &mut self,
        broker: i32,
        broker_epoch: i64,
        partition: usize,
        proposal: &AlterPartitionProposal,
    ) -> AlterPartitionResult {
        let change = IsrChangeRequest {
            broker_id: broker,
            broker_epoch,
            topic_id: self.topic_id,
            partition: i32::try_from(partition).unwrap_or(i32::MAX),
            leader_epoch: proposal.leader_epoch,
            partition_epoch: proposal.partition_epoch,
            new_isr_with_epochs: proposal.wire_isr(),
        };
        let (resp, records) =
            alter_partition(&self.image, &change.to_request(), ALTER_PARTITION_VERSION);
        self.apply(&records);
        change.answer(&resp).into()
    }
}
