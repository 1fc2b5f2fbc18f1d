//! Kafka's topic config names with their types, defaults and valid values, and the broker
//! configs that may be changed dynamically through the controller. Validation returns the
//! message a client sees with INVALID_CONFIG.

/// The type and range of one config value.
#[derive(Debug, Clone, Copy)]
pub enum ConfigType {
    /// Integer (i32) at least `min`, at most `max`.
    Int {
        min: i64,
        max: i64,
    },
    /// Long (i64) at least `min`.
    Long {
        min: i64,
    },
    /// Floating point in `[min, max]`.
    Double {
        min: f64,
        max: f64,
    },
    Boolean,
    /// One of the listed values (case-sensitive, as Kafka's ValidString).
    OneOf(&'static [&'static str]),
    /// Comma-separated list whose items are each one of the listed values.
    ListOf(&'static [&'static str]),
    /// Comma-separated list of free-form items (`*` or `partition:broker`, ...).
    List,
}

/// One known config.
#[derive(Debug, Clone, Copy)]
pub struct ConfigDef {
    pub name: &'static str,
    pub kind: ConfigType,
    /// Kafka's default, as a string.
    pub default: &'static str,
}

const I32_MAX: i64 = i32::MAX as i64;

const fn def(name: &'static str, kind: ConfigType, default: &'static str) -> ConfigDef {
    ConfigDef {
        name,
        kind,
        default,
    }
}

/// Topic-level configs (Kafka 4.0 `LogConfig`), sorted by name.
pub const TOPIC_CONFIGS: &[ConfigDef] = &[
    def(
        "cleanup.policy",
        ConfigType::ListOf(&["delete", "compact"]),
        "delete",
    ),
    def(
        "compression.gzip.level",
        ConfigType::Int { min: -1, max: 9 },
        "-1",
    ),
    def(
        "compression.lz4.level",
        ConfigType::Int { min: 1, max: 17 },
        "9",
    ),
    def(
        "compression.type",
        ConfigType::OneOf(&["uncompressed", "zstd", "lz4", "snappy", "gzip", "producer"]),
        "producer",
    ),
    def(
        "compression.zstd.level",
        ConfigType::Int {
            min: -131072,
            max: 22,
        },
        "3",
    ),
    def(
        "delete.retention.ms",
        ConfigType::Long { min: 0 },
        "86400000",
    ),
    def("file.delete.delay.ms", ConfigType::Long { min: 0 }, "60000"),
    def(
        "flush.messages",
        ConfigType::Long { min: 1 },
        "9223372036854775807",
    ),
    def(
        "flush.ms",
        ConfigType::Long { min: 0 },
        "9223372036854775807",
    ),
    def(
        "follower.replication.throttled.replicas",
        ConfigType::List,
        "",
    ),
    def(
        "index.interval.bytes",
        ConfigType::Int {
            min: 0,
            max: I32_MAX,
        },
        "4096",
    ),
    def(
        "leader.replication.throttled.replicas",
        ConfigType::List,
        "",
    ),
    def("local.retention.bytes", ConfigType::Long { min: -2 }, "-2"),
    def("local.retention.ms", ConfigType::Long { min: -2 }, "-2"),
    def(
        "max.compaction.lag.ms",
        ConfigType::Long { min: 1 },
        "9223372036854775807",
    ),
    def(
        "max.message.bytes",
        ConfigType::Int {
            min: 0,
            max: I32_MAX,
        },
        "1048588",
    ),
    def(
        "message.timestamp.after.max.ms",
        ConfigType::Long { min: 0 },
        "3600000",
    ),
    def(
        "message.timestamp.before.max.ms",
        ConfigType::Long { min: 0 },
        "9223372036854775807",
    ),
    def(
        "message.timestamp.type",
        ConfigType::OneOf(&["CreateTime", "LogAppendTime"]),
        "CreateTime",
    ),
    def(
        "min.cleanable.dirty.ratio",
        ConfigType::Double { min: 0.0, max: 1.0 },
        "0.5",
    ),
    def("min.compaction.lag.ms", ConfigType::Long { min: 0 }, "0"),
    def(
        "min.insync.replicas",
        ConfigType::Int {
            min: 1,
            max: I32_MAX,
        },
        "1",
    ),
    def("preallocate", ConfigType::Boolean, "false"),
    def("remote.log.copy.disable", ConfigType::Boolean, "false"),
    def("remote.log.delete.on.disable", ConfigType::Boolean, "false"),
    def("remote.storage.enable", ConfigType::Boolean, "false"),
    def("retention.bytes", ConfigType::Long { min: i64::MIN }, "-1"),
    def("retention.ms", ConfigType::Long { min: -1 }, "604800000"),
    def(
        "segment.bytes",
        ConfigType::Int {
            min: 14,
            max: I32_MAX,
        },
        "1073741824",
    ),
    def(
        "segment.index.bytes",
        ConfigType::Int {
            min: 4,
            max: I32_MAX,
        },
        "10485760",
    ),
    def("segment.jitter.ms", ConfigType::Long { min: 0 }, "0"),
    def("segment.ms", ConfigType::Long { min: 1 }, "604800000"),
    def(
        "unclean.leader.election.enable",
        ConfigType::Boolean,
        "false",
    ),
];

/// Broker configs updatable through (Incremental)AlterConfigs, per broker and as the cluster
/// default: exactly those the broker applies without restart (topic defaults, the log
/// cleaner, unclean elections). Every other broker config Kafka lists is read-only in Vltava
/// (`broker_config_table`); names Kafka does not list, such as the replication throttle
/// rates `kafka-reassign-partitions --verify` clears, are stored as given and unused.
pub const BROKER_CONFIGS: &[ConfigDef] = &[
    def(
        "compression.type",
        ConfigType::OneOf(&["uncompressed", "zstd", "lz4", "snappy", "gzip", "producer"]),
        "producer",
    ),
    def(
        "log.cleaner.backoff.ms",
        ConfigType::Long { min: 0 },
        "15000",
    ),
    def(
        "log.cleaner.dedupe.buffer.size",
        ConfigType::Long { min: 0 },
        "134217728",
    ),
    def(
        "log.cleaner.delete.retention.ms",
        ConfigType::Long { min: 0 },
        "86400000",
    ),
    def(
        "log.cleaner.io.max.bytes.per.second",
        ConfigType::Double {
            min: 0.0,
            max: f64::MAX,
        },
        "1.7976931348623157E308",
    ),
    def(
        "log.cleaner.max.compaction.lag.ms",
        ConfigType::Long { min: 1 },
        "9223372036854775807",
    ),
    def(
        "log.cleaner.min.cleanable.ratio",
        ConfigType::Double { min: 0.0, max: 1.0 },
        "0.5",
    ),
    def(
        "log.cleaner.min.compaction.lag.ms",
        ConfigType::Long { min: 0 },
        "0",
    ),
    def(
        "log.cleaner.threads",
        ConfigType::Int {
            min: 1,
            max: I32_MAX,
        },
        "1",
    ),
    def(
        "log.cleanup.policy",
        ConfigType::ListOf(&["delete", "compact"]),
        "delete",
    ),
    def(
        "log.flush.interval.messages",
        ConfigType::Long { min: 1 },
        "9223372036854775807",
    ),
    def("log.flush.interval.ms", ConfigType::Long { min: 0 }, ""),
    def(
        "log.index.interval.bytes",
        ConfigType::Int {
            min: 0,
            max: I32_MAX,
        },
        "4096",
    ),
    def(
        "log.index.size.max.bytes",
        ConfigType::Int {
            min: 4,
            max: I32_MAX,
        },
        "10485760",
    ),
    def(
        "log.message.timestamp.after.max.ms",
        ConfigType::Long { min: 0 },
        "3600000",
    ),
    def(
        "log.message.timestamp.before.max.ms",
        ConfigType::Long { min: 0 },
        "9223372036854775807",
    ),
    def(
        "log.message.timestamp.type",
        ConfigType::OneOf(&["CreateTime", "LogAppendTime"]),
        "CreateTime",
    ),
    def(
        "log.retention.bytes",
        ConfigType::Long { min: i64::MIN },
        "-1",
    ),
    def("log.retention.ms", ConfigType::Long { min: -1 }, ""),
    def("log.roll.ms", ConfigType::Long { min: 1 }, ""),
    def(
        "log.segment.bytes",
        ConfigType::Int {
            min: 14,
            max: I32_MAX,
        },
        "1073741824",
    ),
    def(
        "log.segment.delete.delay.ms",
        ConfigType::Long { min: 0 },
        "60000",
    ),
    def(
        "message.max.bytes",
        ConfigType::Int {
            min: 0,
            max: I32_MAX,
        },
        "1048588",
    ),
    def(
        "min.insync.replicas",
        ConfigType::Int {
            min: 1,
            max: I32_MAX,
        },
        "1",
    ),
    def(
        "unclean.leader.election.enable",
        ConfigType::Boolean,
        "false",
    ),
];

/// The definition of topic config `name`.
pub fn topic_config(name: &str) -> Option<&'static ConfigDef> {
    TOPIC_CONFIGS.iter().find(|d| d.name == name)
}

/// The definition of dynamic broker config `name`.
pub fn broker_config(name: &str) -> Option<&'static ConfigDef> {
    BROKER_CONFIGS.iter().find(|d| d.name == name)
}

/// Checks `value` against `def`; the error text is the client-visible message.
pub fn validate_value(def: &ConfigDef, value: &str) -> Result<(), String> {
    let name = def.name;
    let v = value.trim();
    let invalid = |why: &str| {
        Err(format!(
            "Invalid value {value} for configuration {name}: {why}"
        ))
    };
    match def.kind {
        ConfigType::Int { min, max } => match v.parse::<i32>() {
            Ok(n) if i64::from(n) < min => invalid(&format!("Value must be at least {min}")),
            Ok(n) if i64::from(n) > max => invalid(&format!("Value must be no more than {max}")),
            Ok(_) => Ok(()),
            Err(_) => invalid("Not a number of type INT"),
        },
        ConfigType::Long { min } => match v.parse::<i64>() {
            Ok(n) if n < min => invalid(&format!("Value must be at least {min}")),
            Ok(_) => Ok(()),
            Err(_) => invalid("Not a number of type LONG"),
        },
        ConfigType::Double { min, max } => match v.parse::<f64>() {
            Ok(n) if n.is_nan() || n < min || n > max => {
                invalid(&format!("Value must be between {min} and {max}"))
            }
            Ok(_) => Ok(()),
            Err(_) => invalid("Not a number of type DOUBLE"),
        },
        ConfigType::Boolean => {
            if v.eq_ignore_ascii_case("true") || v.eq_ignore_ascii_case("false") {
                Ok(())
            } else {
                invalid("Expected value to be either true or false")
            }
        }
        ConfigType::OneOf(allowed) => {
            if allowed.contains(&v) {
                Ok(())
            } else {
                invalid(&format!("String must be one of: {}", allowed.join(", ")))
            }
        }
        ConfigType::ListOf(allowed) => {
            for item in list_items(v) {
                if !allowed.contains(&item) {
                    return invalid(&format!("String must be one of: {}", allowed.join(", ")));
                }
            }
            Ok(())
        }
        ConfigType::List => {
            let items: Vec<&str> = list_items(v).collect();
            if items == ["*"] {
                return Ok(());
            }
            for item in items {
                let ok = item
                    .split_once(':')
                    .is_some_and(|(p, b)| p.parse::<i32>().is_ok() && b.parse::<i32>().is_ok());
                if !ok {
                    return invalid(
                        "must be the literal '*' or a list of replicas in the format [PartitionId]:[BrokerId]",
                    );
                }
            }
            Ok(())
        }
    }
}

/// Whether `def` is a list type (APPEND and SUBTRACT apply to it).
pub fn is_list(def: &ConfigDef) -> bool {
    matches!(def.kind, ConfigType::ListOf(_) | ConfigType::List)
}

/// Non-empty trimmed items of a comma-separated list.
pub fn list_items(v: &str) -> impl Iterator<Item = &str> {
    v.split(',').map(str::trim).filter(|s| !s.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(name: &str, value: &str) -> bool {
        validate_value(topic_config(name).unwrap(), value).is_ok()
    }

    #[test]
    fn topic_config_values() {
        assert!(check("cleanup.policy", "compact,delete"));
        assert!(!check("cleanup.policy", "compacted"));
        assert!(check("retention.ms", "-1"));
        assert!(!check("retention.ms", "-2"));
        assert!(!check("retention.ms", "1h"));
        assert!(check("segment.bytes", "1048576"));
        assert!(!check("segment.bytes", "10"));
        assert!(!check("segment.bytes", "4294967296"));
        assert!(check("min.insync.replicas", "2"));
        assert!(!check("min.insync.replicas", "0"));
        assert!(check("message.timestamp.type", "LogAppendTime"));
        assert!(!check("message.timestamp.type", "logappendtime"));
        assert!(check("compression.type", "zstd"));
        assert!(!check("compression.type", "brotli"));
        assert!(check("min.cleanable.dirty.ratio", "0.1"));
        assert!(!check("min.cleanable.dirty.ratio", "1.5"));
        assert!(check("preallocate", "TRUE"));
        assert!(!check("preallocate", "yes"));
        assert!(check("leader.replication.throttled.replicas", "0:1,1:2"));
        assert!(check("leader.replication.throttled.replicas", "*"));
        assert!(!check("leader.replication.throttled.replicas", "0-1"));
        assert!(topic_config("no.such.config").is_none());
    }

    #[test]
    fn tables_are_sorted_and_unique() {
        for t in [TOPIC_CONFIGS, BROKER_CONFIGS] {
            for w in t.windows(2) {
                assert!(w[0].name < w[1].name, "{} !< {}", w[0].name, w[1].name);
            }
        }
    }
}
