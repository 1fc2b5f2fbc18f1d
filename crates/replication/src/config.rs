//! `ReplicaConfig`: the broker and topic settings one replica follows.

/// How many acks=all produce requests one partition keeps waiting at most; beyond it a
/// produce is refused before it appends (REQUEST_TIMED_OUT, retriable).
pub const DEFAULT_MAX_PRODUCE_WAITERS: usize = 8192;

/// Kafka's default `replica.lag.time.max.ms`.
pub const DEFAULT_REPLICA_LAG_TIME_MAX_MS: u64 = 30_000;

/// Settings of one replica. Kafka's names: `replica.lag.time.max.ms` (broker) and
/// `min.insync.replicas` (topic, may change at runtime: see
/// [`crate::Replica::set_min_insync_replicas`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplicaConfig {
    /// A follower in the ISR that has not caught up to the leader's log end for longer than
    /// this is proposed for removal from the ISR.
    pub replica_lag_time_max_ms: u64,
    /// acks=all needs at least this many in-sync replicas (the leader counts).
    pub min_insync_replicas: usize,
    /// Bound on waiting acks=all produce requests of the partition.
    pub max_produce_waiters: usize,
}

impl Default for ReplicaConfig {
    fn default() -> Self {
        ReplicaConfig {
            replica_lag_time_max_ms: DEFAULT_REPLICA_LAG_TIME_MAX_MS,
            min_insync_replicas: 1,
            max_produce_waiters: DEFAULT_MAX_PRODUCE_WAITERS,
        }
    }
}
