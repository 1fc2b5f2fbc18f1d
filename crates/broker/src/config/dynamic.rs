//! The broker settings a dynamic broker config changes while the broker runs (Kafka's
//! "dynamic broker configs"): the topic defaults behind every topic config a topic does not
//! set, `min.insync.replicas` and the log cleaner's settings. They are read from the
//! static properties overlaid by the cluster-default dynamic configs, then by this broker's
//! own (`BrokerConfig::dynamic_settings`), so a dynamic value wins over a static one and a
//! broker's own over the cluster default; within that, Kafka's synonym rule holds
//! (`log.retention.ms` over `log.retention.minutes` over `log.retention.hours`).

use vltava_storage::LogConfig;

use super::broker_config::{BrokerConfig, ConfigError, Reader, invalid};
use super::properties::Properties;
use crate::log_cleaner::CleanerConfig;

/// Settings that follow dynamic broker configs.
#[derive(Debug, Clone, PartialEq)]
pub struct DynamicSettings {
    /// Topic defaults from the broker's `log.*` settings and `message.max.bytes`.
    pub log_defaults: LogConfig,
    /// `min.insync.replicas` for topics without their own.
    pub min_insync_replicas: usize,
    /// `log.cleaner.*`.
    pub cleaner: CleanerConfig,
}

/// Broker names of topic-level settings (the broker setting each topic config inherits).
const TOPIC_LEVEL: &[(&str, &str)] = &[
    ("log.retention.bytes", "retention.bytes"),
    ("log.segment.bytes", "segment.bytes"),
    ("log.roll.ms", "segment.ms"),
    ("log.index.size.max.bytes", "segment.index.bytes"),
    ("log.index.interval.bytes", "index.interval.bytes"),
    ("log.cleanup.policy", "cleanup.policy"),
    ("log.cleaner.delete.retention.ms", "delete.retention.ms"),
    ("log.cleaner.min.compaction.lag.ms", "min.compaction.lag.ms"),
    ("log.cleaner.max.compaction.lag.ms", "max.compaction.lag.ms"),
    (
        "log.cleaner.min.cleanable.ratio",
        "min.cleanable.dirty.ratio",
    ),
    ("log.flush.interval.messages", "flush.messages"),
    ("log.flush.interval.ms", "flush.ms"),
    ("log.message.timestamp.type", "message.timestamp.type"),
    (
        "log.message.timestamp.before.max.ms",
        "message.timestamp.before.max.ms",
    ),
    (
        "log.message.timestamp.after.max.ms",
        "message.timestamp.after.max.ms",
    ),
    ("message.max.bytes", "max.message.bytes"),
    ("compression.type", "compression.type"),
    ("log.segment.delete.delay.ms", "file.delete.delay.ms"),
];

/// Reads the dynamic settings from `r`.
pub(super) fn settings_from(r: &Reader<'_>) -> Result<DynamicSettings, ConfigError> {
    let mut log_defaults = LogConfig::default();
    let hours: i64 = r.int("log.retention.hours", 168)?;
    let mut retention_ms = hours.saturating_mul(3_600_000);
    if let Some(m) = r.get("log.retention.minutes") {
        retention_ms = m
            .parse::<i64>()
            .map_err(|_| invalid("log.retention.minutes", m, "not a number"))?
            .saturating_mul(60_000);
    }
    log_defaults.retention_ms = r.int("log.retention.ms", retention_ms)?;
    if let Some(h) = r.get("log.roll.hours") {
        let h: i64 = h
            .parse()
            .map_err(|_| invalid("log.roll.hours", h, "not a number"))?;
        log_defaults.segment_ms = h.saturating_mul(3_600_000);
    }
    for (broker_key, topic_key) in TOPIC_LEVEL {
        if let Some(v) = r.get(broker_key) {
            log_defaults
                .set(topic_key, v)
                .map_err(|e| invalid(broker_key, v, &e.to_string()))?;
        }
    }
    Ok(DynamicSettings {
        log_defaults,
        min_insync_replicas: r.int::<usize>("min.insync.replicas", 1)?.max(1),
        cleaner: CleanerConfig {
            enable: r.bool("log.cleaner.enable", true)?,
            threads: r.int::<usize>("log.cleaner.threads", 1)?,
            backoff_ms: r.int::<u64>("log.cleaner.backoff.ms", 15_000)?.max(1),
            dedupe_buffer_size: r.int::<usize>(
                "log.cleaner.dedupe.buffer.size",
                vltava_storage::DEDUPE_BUFFER_BYTES,
            )?,
            io_max_bytes_per_second: r.double("log.cleaner.io.max.bytes.per.second", f64::MAX)?,
        },
    })
}

impl BrokerConfig {
    /// The settings under the dynamic configs `cluster` (the cluster default) and `broker`
    /// (this broker's own) over the static properties.
    pub fn dynamic_settings(
        &self,
        cluster: &Properties,
        broker: &Properties,
    ) -> Result<DynamicSettings, ConfigError> {
        let mut merged = self.raw.clone();
        merged.extend(cluster.iter().map(|(k, v)| (k.clone(), v.clone())));
        merged.extend(broker.iter().map(|(k, v)| (k.clone(), v.clone())));
        settings_from(&Reader(&merged))
    }

    /// The settings of the static properties alone.
    pub fn static_settings(&self) -> DynamicSettings {
        DynamicSettings {
            log_defaults: self.log_defaults.clone(),
            min_insync_replicas: self.min_insync_replicas,
            cleaner: self.log_cleaner,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn props(kv: &[(&str, &str)]) -> Properties {
        kv.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn per_broker_over_cluster_default_over_static_over_default() {
        // (static, cluster default, per broker, expected retention.ms, segment.bytes)
        type Kv<'a> = &'a [(&'a str, &'a str)];
        let cases: &[(Kv<'_>, Kv<'_>, Kv<'_>, i64, u64)] = &[
            (&[], &[], &[], 168 * 3_600_000, 1 << 30),
            (
                &[("log.retention.hours", "1")],
                &[],
                &[],
                3_600_000,
                1 << 30,
            ),
            (
                &[("log.retention.hours", "1")],
                &[("log.retention.ms", "7000")],
                &[],
                7000,
                1 << 30,
            ),
            (
                &[("log.retention.ms", "9000"), ("log.segment.bytes", "4096")],
                &[("log.retention.ms", "7000"), ("log.segment.bytes", "8192")],
                &[("log.retention.ms", "5000")],
                5000,
                8192,
            ),
            (
                &[("log.retention.minutes", "2")],
                &[],
                &[("log.segment.bytes", "1024")],
                120_000,
                1024,
            ),
        ];
        for (i, (st, cl, br, retention, segment)) in cases.iter().enumerate() {
            let c = BrokerConfig::from_properties(props(st)).unwrap();
            let s = c.dynamic_settings(&props(cl), &props(br)).unwrap();
            assert_eq!(s.log_defaults.retention_ms, *retention, "case {i}");
            assert_eq!(s.log_defaults.segment_bytes, *segment, "case {i}");
        }
    }

    #[test]
    fn message_size_isr_and_cleaner_follow_dynamic_values() {
        let c = BrokerConfig::from_properties(props(&[("log.cleaner.threads", "2")])).unwrap();
        assert_eq!(
            c.static_settings(),
            c.dynamic_settings(&props(&[]), &props(&[])).unwrap()
        );
        let s = c
            .dynamic_settings(
                &props(&[("message.max.bytes", "2000"), ("min.insync.replicas", "2")]),
                &props(&[
                    ("log.cleaner.threads", "3"),
                    ("log.cleaner.io.max.bytes.per.second", "1000.5"),
                ]),
            )
            .unwrap();
        assert_eq!(s.log_defaults.max_message_bytes, 2000);
        assert_eq!(s.min_insync_replicas, 2);
        assert_eq!(s.cleaner.threads, 3);
        assert_eq!(s.cleaner.io_max_bytes_per_second, 1000.5);
        assert!(
            c.dynamic_settings(&props(&[("log.segment.bytes", "x")]), &props(&[]))
                .is_err()
        );
    }
}
