//! `TxnConfig`: the broker settings the transaction coordinator follows,
//! with Kafka's names and defaults, settable by those names.

use crate::error::CoordinatorError;

/// Settings of the transaction coordinator. Field names follow Kafka's
/// broker properties (`transaction.max.timeout.ms` is `max_timeout_ms`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxnConfig {
    /// `transaction.state.log.num.partitions`: partitions of `__transaction_state`.
    pub num_partitions: i32,
    /// `transaction.max.timeout.ms`: highest transaction timeout a producer may ask for.
    pub max_timeout_ms: i32,
    /// `transaction.abort.timed.out.transaction.cleanup.interval.ms`: how
    /// often transactions past their timeout are looked for (and aborted).
    pub abort_timed_out_interval_ms: i64,
    /// `transactional.id.expiration.ms`: how long an idle transactional id
    /// (no transaction open) is kept.
    pub id_expiration_ms: i64,
    /// `transaction.remove.expired.transaction.cleanup.interval.ms`: how often
    /// idle transactional ids are looked for (and removed).
    pub remove_expired_interval_ms: i64,
    /// `offsets.topic.num.partitions`: partitions of `__consumer_offsets`
    /// (AddOffsetsToTxn adds the group's partition to the transaction).
    pub offsets_topic_num_partitions: i32,
    /// The coordinator epoch written into markers (the leader epoch of the
    /// `__transaction_state` partitions on this broker).
    pub coordinator_epoch: i32,
    /// Wait before writing markers again to partitions that failed, and
    /// before retrying a failed write of a completion record.
    pub retry_backoff_ms: i64,
    /// Most transactional ids kept; an InitProducerId that would add one
    /// more is answered COORDINATOR_NOT_AVAILABLE.
    pub max_transactional_ids: usize,
    /// Most partitions one transaction may hold; AddPartitionsToTxn past it
    /// is answered INVALID_REQUEST.
    pub max_partitions_per_txn: usize,
}

impl Default for TxnConfig {
    fn default() -> Self {
        TxnConfig {
            num_partitions: 50,
            max_timeout_ms: 900_000,
            abort_timed_out_interval_ms: 10_000,
            id_expiration_ms: 604_800_000,
            remove_expired_interval_ms: 3_600_000,
            offsets_topic_num_partitions: 50,
            coordinator_epoch: 0,
            retry_backoff_ms: 100,
            max_transactional_ids: 1_000_000,
            max_partitions_per_txn: 100_000,
        }
    }
}

fn parse<T: std::str::FromStr>(key: &str, value: &str) -> Result<T, CoordinatorError> {
    value
        .trim()
        .parse()
        .map_err(|_| CoordinatorError::Config(format!("{key}: not a valid number: {value:?}")))
}

fn positive<T: PartialOrd + Default + std::fmt::Display>(
    key: &str,
    v: T,
) -> Result<T, CoordinatorError> {
    if v > T::default() {
        Ok(v)
    } else {
        Err(CoordinatorError::Config(format!(
            "{key}: must be positive, got {v}"
        )))
    }
}

impl TxnConfig {
    /// The broker property names [`TxnConfig::set`] understands.
    pub const PROPERTIES: [&'static str; 6] = [
        "transaction.state.log.num.partitions",
        "transaction.max.timeout.ms",
        "transaction.abort.timed.out.transaction.cleanup.interval.ms",
        "transactional.id.expiration.ms",
        "transaction.remove.expired.transaction.cleanup.interval.ms",
        "offsets.topic.num.partitions",
    ];

    /// Sets the field of a Kafka broker property. Returns `Ok(false)` for a
    /// property that is not the transaction coordinator's, an error for a
    /// value that does not parse or is not positive.
    pub fn set(&mut self, key: &str, value: &str) -> Result<bool, CoordinatorError> {
        match key {
            "transaction.state.log.num.partitions" => {
                self.num_partitions = positive(key, parse(key, value)?)?
            }
            "transaction.max.timeout.ms" => {
                self.max_timeout_ms = positive(key, parse(key, value)?)?
            }
            "transaction.abort.timed.out.transaction.cleanup.interval.ms" => {
                self.abort_timed_out_interval_ms = positive(key, parse(key, value)?)?
            }
            "transactional.id.expiration.ms" => {
                self.id_expiration_ms = positive(key, parse(key, value)?)?
            }
            "transaction.remove.expired.transaction.cleanup.interval.ms" => {
                self.remove_expired_interval_ms = positive(key, parse(key, value)?)?
            }
            "offsets.topic.num.partitions" => {
                self.offsets_topic_num_partitions = positive(key, parse(key, value)?)?
            }
            _ => return Ok(false),
        }
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_by_kafka_names() {
        let mut c = TxnConfig::default();
        assert!(c.set("transaction.max.timeout.ms", "60000").expect("valid"));
        assert_eq!(c.max_timeout_ms, 60_000);
        assert!(c.set("transaction.state.log.num.partitions", "0").is_err());
        assert!(c.set("transactional.id.expiration.ms", "soon").is_err());
        assert!(!c.set("log.dirs", "/tmp").expect("not ours"));
        for p in TxnConfig::PROPERTIES {
            let mut c = TxnConfig::default();
            assert!(
                c.set(p, "7000").expect("a number fits every property"),
                "{p}"
            );
        }
    }
}
