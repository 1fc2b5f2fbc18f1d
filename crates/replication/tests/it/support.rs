//! A leader harness (a `Replica` plus its log's epoch history and a clock) and event
//! helpers shared by the scenario tests.

use vltava_replication::{
    AlterPartitionProposal, AlterPartitionResult, EpochHistory, Event, FollowerFetch,
    FollowerFetchAnswer, PartitionState, ProduceId, Replica, ReplicaConfig, ReplicaError,
    StateUpdate,
};

/// The broker the harness runs as.
pub const LOCAL: i32 = 1;
/// Replica lag time in the harness.
pub const LAG_MS: u64 = 10_000;

pub fn state(
    leader: Option<i32>,
    leader_epoch: i32,
    partition_epoch: i32,
    replicas: &[i32],
    isr: &[i32],
) -> PartitionState {
    PartitionState {
        leader_id: leader,
        leader_epoch,
        partition_epoch,
        replicas: replicas.to_vec(),
        isr: isr.to_vec(),
    }
}

pub fn config(min_insync_replicas: usize) -> ReplicaConfig {
    ReplicaConfig {
        replica_lag_time_max_ms: LAG_MS,
        min_insync_replicas,
        ..ReplicaConfig::default()
    }
}

pub fn applied(update: StateUpdate) -> Vec<Event> {
    match update {
        StateUpdate::Applied(events) => events,
        StateUpdate::Ignored(reason) => panic!("state ignored: {reason:?}"),
    }
}

/// Broker `LOCAL` leading a partition, with its log's epoch history and a clock.
#[derive(Debug)]
pub struct Leader {
    pub replica: Replica,
    pub log: EpochHistory,
    pub now: u64,
}

impl Leader {
    /// Leads at leader epoch 0, partition epoch 0, empty log, time 1000.
    pub fn new(config: ReplicaConfig, replicas: &[i32], isr: &[i32]) -> Self {
        let mut leader = Leader {
            replica: Replica::new(LOCAL, config, 0, 0),
            log: EpochHistory::new(),
            now: 1_000,
        };
        let events = leader.apply(&state(Some(LOCAL), 0, 0, replicas, isr));
        assert!(events.contains(&Event::LeaderEpochStarted {
            epoch: 0,
            start_offset: 0
        }));
        leader
    }

    /// Applies a state at the current time, recording a leader epoch start in the log.
    pub fn apply(&mut self, state: &PartitionState) -> Vec<Event> {
        let events = applied(self.replica.apply_partition_state(state, self.now));
        for event in &events {
            if let Event::LeaderEpochStarted {
                epoch,
                start_offset,
            } = event
            {
                self.log.assign(*epoch, *start_offset);
            }
        }
        events
    }

    /// Appends `records` records in the current leader epoch.
    pub fn append(&mut self, records: u64) -> Vec<Event> {
        let end = self.replica.log_end_offset() + records;
        self.log.append(self.replica.leader_epoch(), end);
        self.replica.on_local_append(end)
    }

    /// A follower fetch without a last fetched epoch, with the current leader epoch.
    pub fn fetch(&mut self, replica_id: i32, fetch_offset: u64) -> FollowerFetchAnswer {
        self.try_fetch(replica_id, fetch_offset).unwrap()
    }

    pub fn try_fetch(
        &mut self,
        replica_id: i32,
        fetch_offset: u64,
    ) -> Result<FollowerFetchAnswer, ReplicaError> {
        self.try_fetch_at(replica_id, None, fetch_offset)
    }

    /// A follower fetch by `replica_id` at broker epoch `broker_epoch` (KIP-903).
    pub fn fetch_at(
        &mut self,
        replica_id: i32,
        broker_epoch: Option<i64>,
        fetch_offset: u64,
    ) -> FollowerFetchAnswer {
        self.try_fetch_at(replica_id, broker_epoch, fetch_offset)
            .unwrap()
    }

    fn try_fetch_at(
        &mut self,
        replica_id: i32,
        broker_epoch: Option<i64>,
        fetch_offset: u64,
    ) -> Result<FollowerFetchAnswer, ReplicaError> {
        let fetch = FollowerFetch {
            replica_id,
            fetch_offset,
            last_fetched_epoch: None,
            current_leader_epoch: Some(self.replica.leader_epoch()),
            broker_epoch,
        };
        self.replica.on_follower_fetch(&fetch, &self.log, self.now)
    }

    /// Moves the clock and ticks.
    pub fn advance(&mut self, ms: u64) -> Vec<Event> {
        self.now += ms;
        self.replica.tick(self.now)
    }

    /// The controller accepts `proposal` at the next partition epoch.
    pub fn accept(&mut self, proposal: &AlterPartitionProposal) -> Vec<Event> {
        let result = AlterPartitionResult::Accepted {
            leader_epoch: proposal.leader_epoch,
            partition_epoch: proposal.partition_epoch + 1,
        };
        self.replica.on_alter_partition_result(proposal, result)
    }
}

pub fn proposals(events: &[Event]) -> Vec<AlterPartitionProposal> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::AlterPartition(p) => Some(p.clone()),
            _ => None,
        })
        .collect()
}

pub fn only_proposal(events: &[Event]) -> AlterPartitionProposal {
    let found = proposals(events);
    assert_eq!(found.len(), 1, "one proposal expected in {events:?}");
    found[0].clone()
}

pub fn completions(events: &[Event]) -> Vec<(ProduceId, Result<(), ReplicaError>)> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::ProduceCompleted { id, result } => Some((*id, *result)),
            _ => None,
        })
        .collect()
}

pub fn hw_advances(events: &[Event]) -> Vec<u64> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::HighWatermarkAdvanced(hw) => Some(*hw),
            _ => None,
        })
        .collect()
}
