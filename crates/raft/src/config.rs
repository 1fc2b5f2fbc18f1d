//! Quorum configuration (`QuorumConfig`, `Voter`) and the topic defaults the broker passes in.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::link_security::LinkSecurity;
use crate::records::MetadataRecord;

/// One voter of the metadata quorum.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Voter {
    /// Kafka node id (`node.id`), 0 or more.
    pub id: i32,
    /// Address of its controller listener.
    pub addr: SocketAddr,
}

/// How to run this node's part of the quorum.
#[derive(Debug, Clone)]
pub struct QuorumConfig {
    /// This node's id; must be one of `voters`.
    pub node_id: i32,
    /// Every voter of the quorum (static membership). An observer may start without them
    /// and learn them from `bootstrap_servers`.
    pub voters: Vec<Voter>,
    /// `controller.quorum.bootstrap.servers`: controller listeners an observer asks for the
    /// leader (and, without `voters`, for the voters) besides the voters themselves.
    pub bootstrap_servers: Vec<SocketAddr>,
    /// Where the raft log, hard state, snapshots and `meta.properties` live.
    pub metadata_dir: PathBuf,
    /// Cluster id written to `meta.properties` when the dir is formatted; checked when it is opened.
    pub cluster_id: String,
    /// Interval of one raft tick.
    pub tick_interval: Duration,
    /// Ticks without a leader before a follower campaigns.
    pub election_ticks: usize,
    /// Ticks between leader heartbeats.
    pub heartbeat_ticks: usize,
    /// Take a snapshot (and compact the log behind it) every this many applied entries.
    pub snapshot_every_entries: u64,
    /// Longest a proposal may wait to commit before the request fails with REQUEST_TIMED_OUT.
    pub proposal_timeout: Duration,
    /// Topic defaults for CreateTopics this controller serves (`num.partitions`,
    /// `default.replication.factor`).
    pub topic_defaults: TopicDefaults,
    /// A broker without a heartbeat for this long is fenced (`broker.session.timeout.ms`).
    pub broker_session_timeout: Duration,
    /// When the controller elects leaders by itself.
    pub elections: ElectionSettings,
    /// Serve the controller listener (raft and the controller channel) even as the only
    /// voter: needed when other processes (observers, brokers) talk to this controller.
    /// Several voters always serve it.
    pub serve_listener: bool,
    /// Every election timeout is exactly `election_ticks` instead of raft-rs's random draw
    /// from `[election_ticks, 2 * election_ticks)` (its own random source, so runs differ).
    /// For deterministic simulation, where the simulator varies when each node ticks.
    pub fixed_election_timeout: bool,
    /// How connections on the controller listener are secured, both ways (voter to voter,
    /// observer to voters, and the controller channel). Default: PLAINTEXT.
    pub link_security: Arc<dyn LinkSecurity>,
    /// Records the first leader of a fresh metadata log writes with `metadata.version`
    /// (the SCRAM credentials of `storage format --add-scram`, as Kafka's bootstrap
    /// checkpoint holds them).
    pub bootstrap_records: Vec<MetadataRecord>,
}

impl QuorumConfig {
    /// A one-voter quorum (combined broker+controller) with default timings.
    pub fn single_node(node_id: i32, metadata_dir: impl Into<PathBuf>, cluster_id: &str) -> Self {
        QuorumConfig {
            node_id,
            voters: vec![Voter {
                id: node_id,
                addr: SocketAddr::from(([127, 0, 0, 1], 9093)),
            }],
            bootstrap_servers: Vec::new(),
            metadata_dir: metadata_dir.into(),
            cluster_id: cluster_id.to_string(),
            tick_interval: Duration::from_millis(100),
            election_ticks: 10,
            heartbeat_ticks: 2,
            snapshot_every_entries: 1000,
            proposal_timeout: Duration::from_secs(30),
            topic_defaults: TopicDefaults::default(),
            broker_session_timeout: Duration::from_millis(9000),
            elections: ElectionSettings::default(),
            serve_listener: false,
            fixed_election_timeout: false,
            link_security: crate::link_security::plaintext(),
            bootstrap_records: Vec::new(),
        }
    }
}

/// The leader elections the active controller makes without being asked, with Kafka's
/// settings and defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ElectionSettings {
    /// `unclean.leader.election.enable` (false): the default of topics without their own.
    pub unclean_default: bool,
    /// `unclean.leader.election.interval.ms` (5 min): how often leaderless partitions of
    /// topics allowing it are elected uncleanly (besides at once when a broker is fenced or
    /// comes back).
    pub unclean_interval: Duration,
    /// `auto.leader.rebalance.enable` (true): move leadership back to preferred replicas.
    pub auto_rebalance: bool,
    /// `leader.imbalance.check.interval.seconds` (300 s).
    pub rebalance_interval: Duration,
}

impl Default for ElectionSettings {
    fn default() -> Self {
        ElectionSettings {
            unclean_default: false,
            unclean_interval: Duration::from_secs(300),
            auto_rebalance: true,
            rebalance_interval: Duration::from_secs(300),
        }
    }
}

/// Broker defaults applied when CreateTopics asks for -1 partitions or replication factor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TopicDefaults {
    /// `num.partitions`.
    pub num_partitions: i32,
    /// `default.replication.factor`.
    pub replication_factor: i16,
}

impl Default for TopicDefaults {
    fn default() -> Self {
        TopicDefaults {
            num_partitions: 1,
            replication_factor: 1,
        }
    }
}

/// Raft ids must be non-zero; Kafka node ids start at 0.
pub(crate) fn raft_id(node_id: i32) -> u64 {
    (node_id as i64 + 1) as u64
}

/// Inverse of [`raft_id`]; -1 for "no node".
pub(crate) fn node_id(raft_id: u64) -> i32 {
    if raft_id == 0 {
        -1
    } else {
        (raft_id - 1) as i32
    }
}
