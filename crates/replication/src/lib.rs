//! vltava-replication: what a partition is on a broker (DESIGN decisions 5 and 12).
//!
//! This crate's core is [`Replica`], a sans-IO state machine for one partition on one
//! broker, with Kafka's replication rules: leader or follower by the controller's
//! [`PartitionState`] (leader epochs only grow), follower progress and Kafka's
//! caught-up rule, the high watermark as the smallest log end offset over the (KIP-497
//! maximal) ISR, ISR expansion and shrink through one pending AlterPartition at a time,
//! acks=all waiters with `min.insync.replicas`, and KIP-320 truncation on a diverging
//! epoch. It does no IO and reads no clock: time arrives as `now_ms` arguments, the local
//! log's leader-epoch history through [`LeaderEpochLookup`], and every call returns the
//! [`Event`]s for its driver to perform.

mod acks;
mod alter_partition;
mod config;
mod epoch_history;
mod epoch_lookup;
mod error;
mod event;
mod follower_progress;
mod isr_state;
mod partition_state;
mod produce_waiters;
mod replica;

pub use acks::Acks;
pub use alter_partition::{
    AlterPartitionProposal, AlterPartitionResult, FailureHandling, IsrChange, IsrMember,
};
pub use config::{DEFAULT_MAX_PRODUCE_WAITERS, DEFAULT_REPLICA_LAG_TIME_MAX_MS, ReplicaConfig};
pub use epoch_history::EpochHistory;
pub use epoch_lookup::{EpochEndOffset, LeaderEpochLookup};
pub use error::{CurrentLeader, ReplicaError};
pub use event::Event;
pub use follower_progress::FollowerProgress;
pub use partition_state::{InvalidPartitionState, PartitionState};
pub use produce_waiters::ProduceId;
pub use replica::{
    FetchPosition, FetchResult, FollowerFetch, FollowerFetchAnswer, IgnoredReason, ProduceWait,
    Replica, Role, StateUpdate,
};
