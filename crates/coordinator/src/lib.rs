//! Vltava's group coordinator: Kafka's classic consumer group protocol
//! (JoinGroup, SyncGroup, Heartbeat, LeaveGroup, OffsetCommit, OffsetFetch,
//! DescribeGroups, ListGroups, DeleteGroups, OffsetDelete) with groups and
//! offsets kept in `__consumer_offsets` in Kafka's record format.
//!
//! [`GroupCoordinator`] is the sans-IO state machine; [`start`] runs it in a
//! tokio task behind a [`CoordinatorHandle`] over an [`OffsetsLog`].
//!
//! [`TransactionCoordinator`] is Kafka's transaction coordinator (KIP-98),
//! sans-IO as well; [`txn_driver::start`] runs it behind a
//! [`TxnCoordinatorHandle`] over the broker's [`TxnIo`]. The group side
//! serves TxnOffsetCommit: transactional offsets stay pending until the
//! producer's COMMIT or ABORT marker ([`GroupCoordinator::complete_txn_marker`]).

mod admin;
mod append_worker;
mod clock;
pub mod codes;
mod config;
mod control;
mod coordinator;
mod driver;
mod error;
mod group;
mod group_load;
mod join;
mod membership;
mod offsets;
mod offsets_log;
pub mod ownership;
mod partition;
mod rebalance;
pub mod records;
mod responses;
mod txn;
pub mod txn_driver;
mod txn_offsets;
mod unfinished;
mod waiting;
mod write_errors;

pub use admin::{CLASSIC_GROUP_TYPE, GROUP_AUTHORIZED_OPERATIONS};
pub use config::GroupConfig;
pub use coordinator::{Effect, GroupCoordinator, GroupRequest};
pub use driver::{
    CoordinatorHandle, LOAD_RETRY_BACKOFF, MAX_WAITING_REQUESTS, REQUEST_QUEUE_LIMIT, start,
    start_unowned,
};
pub use error::CoordinatorError;
pub use group::{CommittedOffset, Group, GroupState, JoinTimer, Member, Waiter};
pub use offsets::{CONSUMER_PROTOCOL_TYPE, commit_answer_all, subscribed_topics};
pub use offsets_log::{OffsetsLog, OffsetsLogEntry};
pub use partition::{java_string_hash, partition_for};
pub use records::RawRecord;
pub use txn::config::TxnConfig;
pub use txn::coordinator::{TransactionCoordinator, TxnEffect, txn_partition_for};
pub use txn::records::{decode_txn_record, txn_key, txn_record};
pub use txn::state::{TxnMetadata, TxnSnapshot, TxnState};
pub use txn_driver::{BoxFuture, TxnCoordinatorHandle, TxnIo};
pub use txn_offsets::txn_commit_answer_all;
pub use vltava_protocol::internal_topics::{OFFSETS_TOPIC, TRANSACTION_STATE_TOPIC};

#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
