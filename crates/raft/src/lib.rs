//! Vltava's metadata quorum: a raft log (raft-rs) on disk with snapshots, the controller state
//! machine that turns admin requests into metadata records, and the `MetadataImage` brokers read.

#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod acl_records;
pub mod acl_wire;
pub mod alter_partition_wire;
pub mod apply;
pub mod config;
pub mod controller;
pub mod controller_rpc;
mod driver;
pub mod error;
mod forward;
mod handle;
pub mod image;
pub mod link_security;
pub mod metadata_fetch;
pub mod node;
mod observer;
pub mod observer_store;
mod quorum_status;
pub mod quorum_wire;
mod reassign_admin;
pub mod records;
mod scram_admin;
pub mod storage;
pub mod tcp_transport;
pub mod transport;

pub use config::{ElectionSettings, QuorumConfig, TopicDefaults, Voter};
pub use driver::HeartbeatState;
pub use error::RaftError;
pub use forward::LEADER_WAIT;
pub use handle::Controller;
pub use image::{
    BrokerImage, ConfigResource, ConfigResourceKind, ListenerEndpoint, MetadataImage,
    PartitionImage, TopicImage,
};
pub use link_security::{LinkSecurity, Plaintext};
pub use quorum_status::{QuorumStatus, ReplicaStatus};
pub use records::MetadataRecord;
pub use tcp_transport::TcpTransport;
pub use transport::{InMemoryNetwork, InMemoryTransport, NoTransport, Transport};

#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
