//! A Kafka client: connection layer ([`cluster`], [`connection`]), [`producer`],
//! [`consumer`] with consumer groups, [`admin`] client, and Kafka's
//! command-line tools ([`cli`], feature `cli`).
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod admin;
pub mod api;
#[cfg(feature = "cli")]
pub mod cli;
pub mod cluster;
pub mod config;
pub mod connection;
pub mod consumer;
pub mod error;
pub mod kafka_error;
pub mod producer;
pub mod security;
pub mod versions;

pub use admin::{Admin, NewTopic};

#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;

pub use cluster::{BrokerInfo, Cluster, ClusterMetadata, PartitionInfo, TopicInfo};
pub use config::ClientConfig;
pub use consumer::{Consumer, ConsumerConfig, ConsumerRecord, OffsetReset, RebalanceListener};
pub use error::{ClientError, Result};
pub use producer::{Acks, Producer, ProducerConfig, ProducerRecord, RecordMetadata};
