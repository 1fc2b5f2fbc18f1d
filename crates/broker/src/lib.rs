//! The Vltava broker: Kafka's protocol served over `vltava-storage` partition
//! logs, with configuration in Kafka's terms. The `vltava` binary (`main.rs`,
//! `cli.rs`) wraps it.

#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod alter_partition_sender;
pub mod auth_log;
pub mod authorization;
pub mod broker;
pub mod broker_lifecycle;
pub mod config;
pub mod connection;
pub mod controller_link;
pub mod controller_node;
pub mod coordinator_leadership;
pub mod dispatch;
pub mod error_codes;
pub mod fetch_session;
pub mod file_records;
pub mod handlers;
pub mod inter_broker;
pub mod inter_broker_security;
pub mod listener_endpoints;
pub mod log_cleaner;
pub mod log_loading;
pub mod metadata_sync;
pub mod metadata_view;
pub mod node;
pub mod offsets_log;
pub mod partitions;
pub mod prefixed_stream;
pub mod quotas;
pub mod reauth;
pub mod replica_fetcher;
pub mod replica_manager;
pub mod resources;
pub mod response_send;
pub mod sasl_phase;
pub mod sasl_setup;
pub mod scram_bootstrap;
pub mod scram_credentials;
pub mod server;
pub mod session;
pub mod storage_format;
#[cfg(test)]
mod test_images;
pub mod tls;
pub mod txn_io;
pub mod txn_log;
pub mod txn_marker_routing;
pub mod txn_markers;

pub use broker::Broker;
pub use config::BrokerConfig;
pub use controller_node::ControllerNode;
pub use node::{Node, NodeError};

/// The README's example, compiled and run as a doc test.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
