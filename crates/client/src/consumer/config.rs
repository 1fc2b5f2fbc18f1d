//! Consumer settings (Kafka's names and defaults).

use super::assignor::{Assignor, CooperativeStickyAssignor, RangeAssignor};
use crate::config::ClientConfig;
use std::sync::Arc;
use std::time::Duration;

/// `auto.offset.reset`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OffsetReset {
    Earliest,
    Latest,
    /// Fail when there is no committed offset.
    None,
}

impl OffsetReset {
    pub fn parse(s: &str) -> Option<OffsetReset> {
        match s {
            "earliest" => Some(OffsetReset::Earliest),
            "latest" => Some(OffsetReset::Latest),
            "none" => Some(OffsetReset::None),
            _ => None,
        }
    }
}

/// `isolation.level`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IsolationLevel {
    ReadUncommitted,
    ReadCommitted,
}

impl IsolationLevel {
    pub fn as_i8(self) -> i8 {
        match self {
            IsolationLevel::ReadUncommitted => 0,
            IsolationLevel::ReadCommitted => 1,
        }
    }
}

#[derive(Debug, Clone)]
pub struct ConsumerConfig {
    pub client: ClientConfig,
    /// `group.id` (needed for `subscribe` and commits).
    pub group_id: Option<String>,
    /// `group.instance.id`: static membership.
    pub group_instance_id: Option<String>,
    /// `auto.offset.reset` (latest).
    pub auto_offset_reset: OffsetReset,
    /// `enable.auto.commit` (true) and `auto.commit.interval.ms` (5 s).
    pub enable_auto_commit: bool,
    pub auto_commit_interval: Duration,
    /// `isolation.level` (read_uncommitted).
    pub isolation_level: IsolationLevel,
    /// `max.poll.records` (500).
    pub max_poll_records: usize,
    /// `session.timeout.ms` (45 s).
    pub session_timeout: Duration,
    /// `heartbeat.interval.ms` (3 s).
    pub heartbeat_interval: Duration,
    /// `max.poll.interval.ms` (5 minutes): also the rebalance timeout.
    pub max_poll_interval: Duration,
    /// `fetch.min.bytes` (1), `fetch.max.wait.ms` (500), `fetch.max.bytes` (50 MiB),
    /// `max.partition.fetch.bytes` (1 MiB).
    pub fetch_min_bytes: i32,
    pub fetch_max_wait: Duration,
    pub fetch_max_bytes: i32,
    pub max_partition_fetch_bytes: i32,
    /// `partition.assignment.strategy` (range, cooperative-sticky).
    pub assignors: Vec<Arc<dyn Assignor>>,
    /// Formerly a cap on records decoded ahead of `poll`; now unused: a partition
    /// holds at most one fetched record set, decoded a batch at a time as `poll`
    /// drains it (kept so code that sets it still builds).
    pub max_buffered_records: usize,
}

impl ConsumerConfig {
    pub fn new(bootstrap: &str, group_id: Option<&str>) -> Self {
        ConsumerConfig {
            client: ClientConfig::new(bootstrap),
            group_id: group_id.map(str::to_string),
            ..ConsumerConfig::default()
        }
    }
}

impl Default for ConsumerConfig {
    fn default() -> Self {
        ConsumerConfig {
            client: ClientConfig::default(),
            group_id: None,
            group_instance_id: None,
            auto_offset_reset: OffsetReset::Latest,
            enable_auto_commit: true,
            auto_commit_interval: Duration::from_secs(5),
            isolation_level: IsolationLevel::ReadUncommitted,
            max_poll_records: 500,
            session_timeout: Duration::from_secs(45),
            heartbeat_interval: Duration::from_secs(3),
            max_poll_interval: Duration::from_secs(300),
            fetch_min_bytes: 1,
            fetch_max_wait: Duration::from_millis(500),
            fetch_max_bytes: 50 * 1024 * 1024,
            max_partition_fetch_bytes: 1024 * 1024,
            assignors: vec![Arc::new(RangeAssignor), Arc::new(CooperativeStickyAssignor)],
            max_buffered_records: 100_000,
        }
    }
}
