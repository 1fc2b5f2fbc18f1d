//! Every Kafka broker config Vltava describes (`broker_configs.tsv`, one place): name,
//! Kafka's type and update mode, whether Vltava reads it, and the default. A config is
//! updatable without restart in Vltava only if it is in `configs_schema::BROKER_CONFIGS`
//! (the ones the broker applies); every other listed config is read-only. The synonym
//! groups say which names set the same value (`log.retention.ms` ← `log.retention.minutes`
//! ← `log.retention.hours`), highest precedence first.

use std::sync::LazyLock;

use super::configs_schema::broker_config;

/// Kafka's `ConfigType` codes as DescribeConfigs (v3+) answers them.
pub mod config_type {
    pub const UNKNOWN: i8 = 0;
    pub const BOOLEAN: i8 = 1;
    pub const STRING: i8 = 2;
    pub const INT: i8 = 3;
    pub const SHORT: i8 = 4;
    pub const LONG: i8 = 5;
    pub const DOUBLE: i8 = 6;
    pub const LIST: i8 = 7;
    pub const CLASS: i8 = 8;
    pub const PASSWORD: i8 = 9;
}

/// How Vltava uses a listed config.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Usage {
    /// Applied while the broker runs (dynamic per broker and as the cluster default).
    Dynamic,
    /// Read from the properties at start.
    AtStart,
    /// Listed because Kafka has it; Vltava does not use it.
    Unused,
}

/// One broker config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerConfigDef {
    pub name: &'static str,
    /// A [`config_type`] code.
    pub config_type: i8,
    /// Whether Kafka lets it change without restart.
    pub kafka_dynamic: bool,
    pub usage: Usage,
    /// The default value, `None` where Kafka has none.
    pub default: Option<&'static str>,
}

impl BrokerConfigDef {
    /// Passwords and keys: described without their value.
    pub fn sensitive(&self) -> bool {
        self.config_type == config_type::PASSWORD
    }

    /// Whether DescribeConfigs marks it read-only (not updatable in Vltava).
    pub fn read_only(&self) -> bool {
        self.usage != Usage::Dynamic
    }

    /// The text DescribeConfigs gives when documentation is asked for: what Vltava does
    /// with the setting (Vltava's own words, not Kafka's documentation).
    pub fn documentation(&self) -> &'static str {
        match (self.usage, self.kafka_dynamic) {
            (Usage::Dynamic, _) => {
                "Vltava applies this setting without restart, per broker or as the cluster default."
            }
            (Usage::AtStart, true) => {
                "Vltava reads this setting at start only; Kafka can change it dynamically, Vltava cannot."
            }
            (Usage::AtStart, false) => "Vltava reads this setting at start (read-only).",
            (Usage::Unused, _) => {
                "Listed for Kafka compatibility; Vltava does not use this setting (read-only)."
            }
        }
    }
}

const TABLE: &str = include_str!("broker_configs.tsv");

fn type_code(t: &str) -> i8 {
    use config_type::*;
    match t {
        "BOOLEAN" => BOOLEAN,
        "STRING" => STRING,
        "INT" => INT,
        "SHORT" => SHORT,
        "LONG" => LONG,
        "DOUBLE" => DOUBLE,
        "LIST" => LIST,
        "CLASS" => CLASS,
        "PASSWORD" => PASSWORD,
        _ => UNKNOWN,
    }
}

fn parse(text: &'static str) -> Vec<BrokerConfigDef> {
    text.lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| {
            let mut f = l.split('\t');
            let (name, ty, mode, used, default) =
                (f.next()?, f.next()?, f.next()?, f.next()?, f.next()?);
            let usage = match (broker_config(name).is_some(), used) {
                (true, _) => Usage::Dynamic,
                (false, "start") => Usage::AtStart,
                _ => Usage::Unused,
            };
            Some(BrokerConfigDef {
                name,
                config_type: type_code(ty),
                kafka_dynamic: mode == "dyn",
                usage,
                default: (default != "\\N").then_some(default),
            })
        })
        .collect()
}

static DEFS: LazyLock<Vec<BrokerConfigDef>> = LazyLock::new(|| parse(TABLE));

/// Every listed broker config, sorted by name.
pub fn broker_config_defs() -> &'static [BrokerConfigDef] {
    &DEFS
}

/// The listed config `name`.
pub fn broker_config_def(name: &str) -> Option<&'static BrokerConfigDef> {
    let defs = broker_config_defs();
    defs.binary_search_by(|d| d.name.cmp(name))
        .ok()
        .map(|i| &defs[i])
}

/// Names that set one value, highest precedence first.
const SYNONYM_GROUPS: &[&[&str]] = &[
    &[
        "log.retention.ms",
        "log.retention.minutes",
        "log.retention.hours",
    ],
    &["log.roll.ms", "log.roll.hours"],
    &["log.roll.jitter.ms", "log.roll.jitter.hours"],
    &["log.flush.interval.ms", "log.flush.scheduler.interval.ms"],
];

/// The synonyms Kafka consults for `name`, highest precedence first: its group from
/// `name` on (a lower-precedence name never reads a higher one), or `name` alone.
pub fn synonym_names(name: &str) -> Vec<&str> {
    for g in SYNONYM_GROUPS {
        if let Some(i) = g.iter().position(|n| *n == name) {
            return g[i..].to_vec();
        }
    }
    vec![name]
}

#[cfg(test)]
mod tests {
    use super::super::configs_schema::BROKER_CONFIGS;
    use super::*;

    #[test]
    fn table_is_sorted_complete_and_consistent() {
        let defs = broker_config_defs();
        assert!(defs.len() > 300, "{} configs", defs.len());
        for w in defs.windows(2) {
            assert!(w[0].name < w[1].name, "{} !< {}", w[0].name, w[1].name);
        }
        for d in defs {
            assert_ne!(d.config_type, config_type::UNKNOWN, "{}", d.name);
        }
        // What Vltava updates dynamically, Kafka does too, and each is listed.
        for c in BROKER_CONFIGS {
            let d = broker_config_def(c.name).unwrap_or_else(|| panic!("{} unlisted", c.name));
            assert!(d.kafka_dynamic, "{} is read-only in Kafka", c.name);
            assert_eq!(d.usage, Usage::Dynamic);
            if let Some(def) = d.default {
                assert_eq!(def, c.default, "{}", c.name);
            }
        }
    }

    #[test]
    fn kafka_facts_carry_over() {
        // (name, type, Kafka dynamic, sensitive, read-only in Vltava, default)
        type Case<'a> = (&'a str, i8, bool, bool, bool, Option<&'a str>);
        let cases: &[Case<'_>] = &[
            (
                "log.retention.ms",
                config_type::LONG,
                true,
                false,
                false,
                None,
            ),
            (
                "log.retention.hours",
                config_type::INT,
                false,
                false,
                true,
                Some("168"),
            ),
            (
                "message.max.bytes",
                config_type::INT,
                true,
                false,
                false,
                Some("1048588"),
            ),
            ("log.dirs", config_type::STRING, false, false, true, None),
            (
                "ssl.keystore.password",
                config_type::PASSWORD,
                true,
                true,
                true,
                None,
            ),
            (
                "num.io.threads",
                config_type::INT,
                true,
                false,
                true,
                Some("8"),
            ),
            (
                "log.cleaner.threads",
                config_type::INT,
                true,
                false,
                false,
                Some("1"),
            ),
            (
                "offsets.topic.replication.factor",
                config_type::SHORT,
                false,
                false,
                true,
                Some("3"),
            ),
        ];
        for (name, ty, dynamic, sensitive, read_only, default) in cases {
            let d = broker_config_def(name).unwrap();
            assert_eq!(
                (
                    d.config_type,
                    d.kafka_dynamic,
                    d.sensitive(),
                    d.read_only(),
                    d.default
                ),
                (*ty, *dynamic, *sensitive, *read_only, *default),
                "{name}"
            );
        }
        assert!(broker_config_def("no.such.config").is_none());
    }

    #[test]
    fn synonyms_run_from_the_name_down() {
        assert_eq!(
            synonym_names("log.retention.ms"),
            [
                "log.retention.ms",
                "log.retention.minutes",
                "log.retention.hours"
            ]
        );
        assert_eq!(
            synonym_names("log.retention.minutes"),
            ["log.retention.minutes", "log.retention.hours"]
        );
        assert_eq!(synonym_names("message.max.bytes"), ["message.max.bytes"]);
    }
}
