//! Vltava's group coordinator: Kafka's classic consumer group protocol
//! (JoinGroup, SyncGroup, Heartbeat, LeaveGroup, OffsetCommit, OffsetFetch,
//! DescribeGroups, ListGroups, DeleteGroups, OffsetDelete) with groups and
//! offsets kept in `__consumer_offsets` in Kafka's record format.
//!
//! [`GroupCoordinator`] is the sans-IO state machine; [`start`] runs it in a
//! tokio task behind a [`CoordinatorHandle`] over an [`OffsetsLog`].

mod admin;
pub mod codes;
mod config;
mod coordinator;
mod driver;
mod error;
mod group;
mod join;
mod membership;
mod offsets;
mod partition;
mod rebalance;
pub mod records;
mod responses;

pub use admin::{CLASSIC_GROUP_TYPE, GROUP_AUTHORIZED_OPERATIONS};
pub use config::GroupConfig;
pub use coordinator::{Effect, GroupCoordinator, GroupRequest};
pub use driver::{
    CoordinatorHandle, LOAD_RETRY_BACKOFF, MAX_WAITING_REQUESTS, OffsetsLog, REQUEST_QUEUE_LIMIT,
    start,
};
pub use error::CoordinatorError;
pub use group::{CommittedOffset, Group, GroupState, JoinTimer, Member, Waiter};
pub use offsets::{CONSUMER_PROTOCOL_TYPE, subscribed_topics};
pub use partition::{java_string_hash, partition_for};

#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
