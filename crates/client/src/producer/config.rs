//! Producer settings (Kafka's names and Java ≥ 3.0 defaults).

use super::partitioner::{DefaultPartitioner, Partitioner};
use crate::config::ClientConfig;
use std::sync::Arc;
use std::time::Duration;
use vltava_records::Compression;

/// `acks`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Acks {
    /// `acks=0`: the broker does not answer.
    None,
    /// `acks=1`: the leader wrote it.
    Leader,
    /// `acks=all` (-1): every in-sync replica has it.
    All,
}

impl Acks {
    pub fn as_i16(self) -> i16 {
        match self {
            Acks::None => 0,
            Acks::Leader => 1,
            Acks::All => -1,
        }
    }

    /// Parses `0`, `1`, `all` or `-1`.
    pub fn parse(s: &str) -> Option<Acks> {
        match s {
            "0" => Some(Acks::None),
            "1" => Some(Acks::Leader),
            "all" | "-1" => Some(Acks::All),
            _ => None,
        }
    }
}

/// Parses `compression.type` (`none`, `gzip`, `snappy`, `lz4`, `zstd`).
pub fn parse_compression(s: &str) -> Option<Compression> {
    match s {
        "none" => Some(Compression::None),
        "gzip" => Some(Compression::Gzip),
        "snappy" => Some(Compression::Snappy),
        "lz4" => Some(Compression::Lz4),
        "zstd" => Some(Compression::Zstd),
        _ => None,
    }
}

#[derive(Debug, Clone)]
pub struct ProducerConfig {
    pub client: ClientConfig,
    /// `acks` (default all).
    pub acks: Acks,
    /// `batch.size` (16384).
    pub batch_size: usize,
    /// `linger.ms` (5 ms, Kafka 4.0's default).
    pub linger: Duration,
    /// `compression.type` (none).
    pub compression: Compression,
    /// `max.in.flight.requests.per.connection` (5).
    pub max_in_flight: usize,
    /// `enable.idempotence` (true).
    pub enable_idempotence: bool,
    /// `delivery.timeout.ms` (120 s).
    pub delivery_timeout: Duration,
    /// `buffer.memory` (32 MiB): bytes of records waiting to be sent.
    pub buffer_memory: usize,
    /// `max.block.ms` (60 s): how long `send` waits for buffer memory.
    pub max_block: Duration,
    /// `max.request.size` (1 MiB).
    pub max_request_size: usize,
    /// `partitioner.class`.
    pub partitioner: Arc<dyn Partitioner>,
    /// `transactional.id` (none): set it to use transactions; implies idempotence.
    pub transactional_id: Option<String>,
    /// `transaction.timeout.ms` (60 s): the coordinator aborts an open transaction
    /// older than this.
    pub transaction_timeout: Duration,
}

impl ProducerConfig {
    pub fn new(bootstrap: &str) -> Self {
        ProducerConfig {
            client: ClientConfig::new(bootstrap),
            ..ProducerConfig::default()
        }
    }
}

impl Default for ProducerConfig {
    fn default() -> Self {
        ProducerConfig {
            client: ClientConfig::default(),
            acks: Acks::All,
            batch_size: 16384,
            linger: Duration::from_millis(5),
            compression: Compression::None,
            max_in_flight: 5,
            enable_idempotence: true,
            delivery_timeout: Duration::from_secs(120),
            buffer_memory: 32 * 1024 * 1024,
            max_block: Duration::from_secs(60),
            max_request_size: 1024 * 1024,
            partitioner: Arc::new(DefaultPartitioner::new(16384)),
            transactional_id: None,
            transaction_timeout: Duration::from_secs(60),
        }
    }
}
