//! `GroupConfig`: the broker settings the group coordinator follows, with
//! Kafka's names and defaults, settable by those names.

use crate::error::CoordinatorError;

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

fn parse<T: std::str::FromStr>(key: &str, value: &str) -> Result<T, CoordinatorError> {
    value
        .trim()
        .parse()
        .map_err(|_| CoordinatorError::Config(format!("{key}: not a valid number: {value:?}")))
}

impl GroupConfig {
    /// The broker property names [`GroupConfig::set`] understands.
    pub const PROPERTIES: [&'static str; 8] = [
        "group.min.session.timeout.ms",
        "group.max.session.timeout.ms",
        "group.initial.rebalance.delay.ms",
        "group.max.size",
        "offsets.retention.minutes",
        "offsets.retention.check.interval.ms",
        "offset.metadata.max.bytes",
        "offsets.topic.num.partitions",
    ];

    /// Sets the field of a Kafka broker property. Returns `Ok(false)` for a
    /// property that is not the group coordinator's, an error for a value
    /// that does not parse or is out of range.
    pub fn set(&mut self, key: &str, value: &str) -> Result<bool, CoordinatorError> {
        let positive = |v: i64| {
            if v > 0 {
                Ok(v)
            } else {
                Err(CoordinatorError::Config(format!(
                    "{key}: must be positive, got {v}"
                )))
            }
        };
        match key {
            "group.min.session.timeout.ms" => self.min_session_timeout_ms = parse(key, value)?,
            "group.max.session.timeout.ms" => self.max_session_timeout_ms = parse(key, value)?,
            "group.initial.rebalance.delay.ms" => {
                let v: i32 = parse(key, value)?;
                if v < 0 {
                    return Err(CoordinatorError::Config(format!(
                        "{key}: must not be negative"
                    )));
                }
                self.initial_rebalance_delay_ms = v;
            }
            "group.max.size" => {
                self.max_size = i32::try_from(positive(parse(key, value)?)?)
                    .map_err(|_| CoordinatorError::Config(format!("{key}: out of range")))?
            }
            "offsets.retention.minutes" => {
                self.offsets_retention_minutes = positive(parse(key, value)?)?
            }
            "offsets.retention.check.interval.ms" => {
                self.offsets_retention_check_interval_ms = positive(parse(key, value)?)?
            }
            "offset.metadata.max.bytes" => self.offset_metadata_max_bytes = parse(key, value)?,
            "offsets.topic.num.partitions" => {
                self.offsets_topic_num_partitions = i32::try_from(positive(parse(key, value)?)?)
                    .map_err(|_| CoordinatorError::Config(format!("{key}: out of range")))?
            }
            _ => return Ok(false),
        }
        if self.min_session_timeout_ms > self.max_session_timeout_ms {
            return Err(CoordinatorError::Config(
                "group.min.session.timeout.ms is above group.max.session.timeout.ms".into(),
            ));
        }
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_by_kafka_names() {
        let mut c = GroupConfig::default();
        assert!(
            c.set("group.initial.rebalance.delay.ms", "0")
                .expect("valid")
        );
        assert_eq!(c.initial_rebalance_delay_ms, 0);
        assert!(c.set("offsets.topic.num.partitions", " 3 ").expect("valid"));
        assert_eq!(c.offsets_topic_num_partitions, 3);
        assert!(!c.set("log.dirs", "/tmp").expect("not ours"));
        assert!(c.set("group.max.size", "0").is_err());
        assert!(c.set("offsets.retention.minutes", "soon").is_err());
        assert!(c.set("group.min.session.timeout.ms", "2000000").is_err());
        for p in GroupConfig::PROPERTIES {
            let mut c = GroupConfig::default();
            assert!(
                c.set(p, "7000").expect("a number fits every property"),
                "{p}"
            );
        }
    }
}
