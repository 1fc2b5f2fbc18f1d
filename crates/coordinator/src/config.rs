//! `GroupConfig`: the broker settings the group coordinator follows, with
//! Kafka's names and defaults.

/// Settings of the group coordinator. Field names follow Kafka's broker
/// properties (`group.min.session.timeout.ms` is `min_session_timeout_ms`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupConfig {
    /// `group.min.session.timeout.ms`: lowest session timeout a member may ask for.
    pub min_session_timeout_ms: i32,
    /// `group.max.session.timeout.ms`: highest session timeout a member may ask for.
    pub max_session_timeout_ms: i32,
    /// `group.initial.rebalance.delay.ms`: how long the first rebalance of an
    /// empty group waits for more members.
    pub initial_rebalance_delay_ms: i32,
    /// `group.max.size`: most members (joined or pending) one group may have.
    pub max_size: i32,
    /// `offsets.retention.minutes`: how long offsets of an empty group are kept.
    pub offsets_retention_minutes: i64,
    /// `offsets.retention.check.interval.ms`: how often expired offsets are looked for.
    pub offsets_retention_check_interval_ms: i64,
    /// `offset.metadata.max.bytes`: longest metadata string of a committed offset.
    pub offset_metadata_max_bytes: usize,
    /// `offsets.topic.num.partitions`: partitions of `__consumer_offsets`.
    pub offsets_topic_num_partitions: i32,
    /// How long a new member may wait in a rebalance before it is dropped
    /// (Kafka's fixed 5 minutes).
    pub new_member_join_timeout_ms: i64,
    /// Most groups this coordinator keeps; a JoinGroup or commit that would
    /// create one more is refused with COORDINATOR_NOT_AVAILABLE.
    pub max_groups: usize,
    /// Seed of the member id generator (member ids are `<client id>-<uuid>`).
    pub member_id_seed: u64,
}

impl Default for GroupConfig {
    fn default() -> Self {
        GroupConfig {
            min_session_timeout_ms: 6_000,
            max_session_timeout_ms: 1_800_000,
            initial_rebalance_delay_ms: 3_000,
            max_size: i32::MAX,
            offsets_retention_minutes: 10_080,
            offsets_retention_check_interval_ms: 600_000,
            offset_metadata_max_bytes: 4_096,
            offsets_topic_num_partitions: 50,
            new_member_join_timeout_ms: 300_000,
            max_groups: 100_000,
            member_id_seed: 0x5EED_C0FF_EE00,
        }
    }
}
