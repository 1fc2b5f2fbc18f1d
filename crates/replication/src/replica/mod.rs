//! `Replica`: one partition on one broker, as a sans-IO state machine. The driver feeds it
//! partition state from the metadata image, local appends, follower fetches, fetch
//! responses, AlterPartition answers and ticks (with the time), and performs the
//! [`Event`]s each call returns. Submodules add the calls by concern.

mod follower_fetch;
mod high_watermark;
mod isr_change;
mod leader_fetch;
mod produce;
mod state_change;

use std::collections::{BTreeMap, BTreeSet};

pub use follower_fetch::{FetchPosition, FetchResult};
pub use leader_fetch::{FollowerFetch, FollowerFetchAnswer};
pub use produce::ProduceWait;
pub use state_change::{IgnoredReason, StateUpdate};

use crate::alter_partition::AlterPartitionProposal;
use crate::config::ReplicaConfig;
use crate::error::{CurrentLeader, ReplicaError};
use crate::event::Event;
use crate::follower_progress::FollowerProgress;
use crate::isr_state::IsrState;
use crate::produce_waiters::ProduceWaiters;

/// What this broker is for the partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// It leads: takes produce requests, serves followers, tracks ISR and high watermark.
    Leader,
    /// It follows the leader named in the partition state (or waits for one).
    Follower,
    /// It is not among the partition's replicas (any more): the driver stops it.
    Stopped,
}

/// One partition's replica on this broker.
#[derive(Debug, Clone)]
pub struct Replica {
    local_id: i32,
    config: ReplicaConfig,
    role: Role,
    leader_id: Option<i32>,
    leader_epoch: i32,
    partition_epoch: i32,
    replicas: Vec<i32>,
    isr: IsrState,
    log_end_offset: u64,
    high_watermark: u64,
    leader_epoch_start_offset: Option<u64>,
    followers: BTreeMap<i32, FollowerProgress>,
    isr_ineligible: BTreeSet<i32>,
    broker_epochs: BTreeMap<i32, i64>,
    waiters: ProduceWaiters,
}

impl Replica {
    /// A replica of a log that ends at `log_end_offset` with a checkpointed
    /// `high_watermark` (clamped to the log end), following no one until partition state
    /// arrives (epochs -1).
    pub fn new(
        local_id: i32,
        config: ReplicaConfig,
        log_end_offset: u64,
        high_watermark: u64,
    ) -> Self {
        Replica {
            local_id,
            config,
            role: Role::Follower,
            leader_id: None,
            leader_epoch: -1,
            partition_epoch: -1,
            replicas: Vec::new(),
            isr: IsrState::committed([]),
            log_end_offset,
            high_watermark: high_watermark.min(log_end_offset),
            leader_epoch_start_offset: None,
            followers: BTreeMap::new(),
            isr_ineligible: BTreeSet::new(),
            broker_epochs: BTreeMap::new(),
            waiters: ProduceWaiters::new(config.max_produce_waiters),
        }
    }

    /// This broker's id.
    pub fn local_id(&self) -> i32 {
        self.local_id
    }

    /// The settings in force.
    pub fn config(&self) -> &ReplicaConfig {
        &self.config
    }

    /// Leader, follower or stopped.
    pub fn role(&self) -> Role {
        self.role
    }

    /// The partition's leader as last published, if any.
    pub fn leader_id(&self) -> Option<i32> {
        self.leader_id
    }

    /// The leader and its epoch, as KIP-951 hands them to clients.
    pub fn current_leader(&self) -> Option<CurrentLeader> {
        self.leader_id.map(|leader_id| CurrentLeader {
            leader_id,
            leader_epoch: self.leader_epoch,
        })
    }

    /// The current leader epoch (-1 before any partition state).
    pub fn leader_epoch(&self) -> i32 {
        self.leader_epoch
    }

    /// The current partition epoch (-1 before any partition state).
    pub fn partition_epoch(&self) -> i32 {
        self.partition_epoch
    }

    /// The assigned replicas.
    pub fn replicas(&self) -> &[i32] {
        &self.replicas
    }

    /// The committed ISR.
    pub fn isr(&self) -> &BTreeSet<i32> {
        self.isr.committed_isr()
    }

    /// The maximal ISR (committed plus a pending addition; KIP-497).
    pub fn maximal_isr(&self) -> BTreeSet<i32> {
        self.isr.maximal_isr()
    }

    /// The proposed ISR change not yet resolved, if any.
    pub fn pending_alter_partition(&self) -> Option<&AlterPartitionProposal> {
        self.isr.pending()
    }

    /// The pending ISR change if it is still waiting for the controller's answer.
    pub fn alter_partition_in_flight(&self) -> Option<&AlterPartitionProposal> {
        self.isr.in_flight()
    }

    /// The high watermark: offsets below it are on every ISR member (when leading).
    pub fn high_watermark(&self) -> u64 {
        self.high_watermark
    }

    /// The local log end offset.
    pub fn log_end_offset(&self) -> u64 {
        self.log_end_offset
    }

    /// Where the current leader epoch started in the local log (leaders only).
    pub fn leader_epoch_start_offset(&self) -> Option<u64> {
        self.leader_epoch_start_offset
    }

    /// What the leader knows of one follower (leaders only).
    pub fn follower_progress(&self, replica_id: i32) -> Option<&FollowerProgress> {
        self.followers.get(&replica_id)
    }

    /// Each follower's log end offset as of its last fetch (leaders only; `None` before its
    /// first fetch in this leader epoch), for DescribeLogDirs and lag metrics.
    pub fn follower_log_end_offsets(&self) -> Vec<(i32, Option<u64>)> {
        self.followers
            .iter()
            .map(|(&id, progress)| (id, progress.log_end_offset()))
            .collect()
    }

    /// Number of acks=all produce requests waiting.
    pub fn produce_waiters(&self) -> usize {
        self.waiters.len()
    }

    /// Replaces `min.insync.replicas` (a topic config change). Waiting requests are judged
    /// against the new value when they complete, as Kafka does.
    pub fn set_min_insync_replicas(&mut self, min_insync_replicas: usize) {
        self.config.min_insync_replicas = min_insync_replicas;
    }

    /// Kafka's leader-epoch check of a client or follower request: an older epoch is
    /// FENCED_LEADER_EPOCH, a newer one UNKNOWN_LEADER_EPOCH; `None` (Kafka's -1) skips it.
    pub fn check_leader_epoch(&self, request_epoch: Option<i32>) -> Result<(), ReplicaError> {
        match request_epoch {
            Some(request) if request < self.leader_epoch => Err(ReplicaError::FencedLeaderEpoch {
                request,
                current: self.leader_epoch,
            }),
            Some(request) if request > self.leader_epoch => Err(ReplicaError::UnknownLeaderEpoch {
                request,
                current: self.leader_epoch,
            }),
            _ => Ok(()),
        }
    }

    /// The epoch check, then leadership: what Produce, Fetch, ListOffsets and
    /// OffsetsForLeaderEpoch need before they touch the log.
    pub fn check_leader(&self, request_epoch: Option<i32>) -> Result<(), ReplicaError> {
        self.check_leader_epoch(request_epoch)?;
        if self.role == Role::Leader {
            Ok(())
        } else {
            Err(self.not_leader())
        }
    }

    /// Time passes: expires waiting produce requests (REQUEST_TIMED_OUT) and, when leading,
    /// proposes removing ISR followers that lagged longer than `replica.lag.time.max.ms`.
    #[must_use]
    pub fn tick(&mut self, now_ms: u64) -> Vec<Event> {
        let mut events = self.expire_waiters(now_ms);
        events.extend(self.maybe_shrink_isr(now_ms));
        events
    }

    fn not_leader(&self) -> ReplicaError {
        ReplicaError::NotLeaderOrFollower {
            current_leader: self.current_leader(),
        }
    }
}
