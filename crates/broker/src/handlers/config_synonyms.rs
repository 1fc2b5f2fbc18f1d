//! Config synonyms for DescribeConfigs (`IncludeSynonyms`, v1+), as Kafka 4 lists them:
//! every place a value could come from, highest precedence first. For a broker setting:
//! each level in turn (this broker's dynamic config, the cluster's dynamic default, the
//! static properties, the default), and within a level each synonym name from the
//! described one down (`log.retention.ms`, `log.retention.minutes`, `log.retention.hours`);
//! entries before the first one carrying the described name itself are dropped, so a
//! setting without a default (`log.retention.ms`) lists only what was set under its own
//! name and below. A topic config lists its own value first, then its broker setting's.
//! The first synonym's source is the described value's source.

use std::collections::BTreeMap;

use vltava_raft::controller::broker_config_table::synonym_names;

use super::describe_configs::{
    SOURCE_DEFAULT, SOURCE_DYNAMIC_BROKER, SOURCE_DYNAMIC_DEFAULT_BROKER, SOURCE_DYNAMIC_TOPIC,
    SOURCE_STATIC_BROKER,
};

/// (name, value, source); the value is `None` for a sensitive setting.
pub type Synonym = (String, Option<String>, i8);

/// Where a broker setting's value can come from, highest precedence first.
pub struct BrokerLevels<'a> {
    /// This broker's dynamic configs.
    pub broker: &'a BTreeMap<String, String>,
    /// The cluster-default dynamic configs.
    pub cluster: &'a BTreeMap<String, String>,
    /// The static properties.
    pub statics: &'a BTreeMap<String, String>,
    /// The default of a name, if it has one.
    pub default: &'a dyn Fn(&str) -> Option<String>,
}

impl std::fmt::Debug for BrokerLevels<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BrokerLevels")
            .field("broker", self.broker)
            .field("cluster", self.cluster)
            .field("statics", &self.statics.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

/// Each topic config's broker setting.
const TOPIC_TO_BROKER: &[(&str, &str)] = &[
    ("cleanup.policy", "log.cleanup.policy"),
    ("compression.type", "compression.type"),
    ("delete.retention.ms", "log.cleaner.delete.retention.ms"),
    ("file.delete.delay.ms", "log.segment.delete.delay.ms"),
    ("flush.messages", "log.flush.interval.messages"),
    ("flush.ms", "log.flush.interval.ms"),
    ("index.interval.bytes", "log.index.interval.bytes"),
    ("max.compaction.lag.ms", "log.cleaner.max.compaction.lag.ms"),
    ("max.message.bytes", "message.max.bytes"),
    ("message.timestamp.type", "log.message.timestamp.type"),
    (
        "min.cleanable.dirty.ratio",
        "log.cleaner.min.cleanable.ratio",
    ),
    ("min.compaction.lag.ms", "log.cleaner.min.compaction.lag.ms"),
    ("min.insync.replicas", "min.insync.replicas"),
    ("retention.bytes", "log.retention.bytes"),
    ("retention.ms", "log.retention.ms"),
    ("segment.bytes", "log.segment.bytes"),
    ("segment.index.bytes", "log.index.size.max.bytes"),
    ("segment.ms", "log.roll.ms"),
    (
        "unclean.leader.election.enable",
        "unclean.leader.election.enable",
    ),
];

/// The synonyms of topic config `name`: the topic's own value, then its broker setting's.
pub fn topic_synonyms(
    name: &str,
    topic_value: Option<&String>,
    levels: &BrokerLevels<'_>,
) -> Vec<Synonym> {
    let mut out = Vec::new();
    if let Some(v) = topic_value {
        out.push((name.to_string(), Some(v.clone()), SOURCE_DYNAMIC_TOPIC));
    }
    if let Some((_, broker_key)) = TOPIC_TO_BROKER.iter().find(|(t, _)| *t == name) {
        out.extend(broker_synonyms(broker_key, levels, false));
    }
    out
}

/// The synonyms of broker setting `name` (values hidden when `sensitive`).
pub fn broker_synonyms(name: &str, levels: &BrokerLevels<'_>, sensitive: bool) -> Vec<Synonym> {
    let names = synonym_names(name);
    let hide = |v: String| (!sensitive).then_some(v);
    let mut out: Vec<Synonym> = Vec::new();
    for (map, source) in [
        (levels.broker, SOURCE_DYNAMIC_BROKER),
        (levels.cluster, SOURCE_DYNAMIC_DEFAULT_BROKER),
        (levels.statics, SOURCE_STATIC_BROKER),
    ] {
        for n in &names {
            if let Some(v) = map.get(*n) {
                out.push((n.to_string(), hide(v.clone()), source));
            }
        }
    }
    for n in &names {
        if let Some(v) = (levels.default)(n) {
            out.push((n.to_string(), hide(v), SOURCE_DEFAULT));
        }
    }
    match out.iter().position(|s| s.0 == name) {
        Some(i) => out.split_off(i),
        None => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(kv: &[(&str, &str)]) -> BTreeMap<String, String> {
        kv.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn kafka_default(n: &str) -> Option<String> {
        match n {
            "log.retention.hours" => Some("168".into()),
            "log.segment.bytes" => Some("1073741824".into()),
            "message.max.bytes" => Some("1048588".into()),
            "log.cleanup.policy" => Some("delete".into()),
            _ => None,
        }
    }

    fn syn(n: &str, v: &str, s: i8) -> Synonym {
        (n.into(), Some(v.into()), s)
    }

    /// Each case as Kafka 4.1.1 answered it (`kafka-configs --describe --all`).
    #[test]
    fn broker_synonyms_follow_kafka() {
        let none = BTreeMap::new();
        let statics = map(&[("log.retention.minutes", "600")]);
        let cluster = map(&[
            ("log.retention.ms", "7000"),
            ("log.segment.bytes", "1048576"),
        ]);
        let broker = map(&[("log.segment.bytes", "2097152")]);
        let levels = BrokerLevels {
            broker: &broker,
            cluster: &cluster,
            statics: &statics,
            default: &kafka_default,
        };
        let cases: Vec<(&str, Vec<Synonym>)> = vec![
            (
                "log.retention.ms",
                vec![
                    syn("log.retention.ms", "7000", SOURCE_DYNAMIC_DEFAULT_BROKER),
                    syn("log.retention.minutes", "600", SOURCE_STATIC_BROKER),
                    syn("log.retention.hours", "168", SOURCE_DEFAULT),
                ],
            ),
            (
                "log.retention.minutes",
                vec![
                    syn("log.retention.minutes", "600", SOURCE_STATIC_BROKER),
                    syn("log.retention.hours", "168", SOURCE_DEFAULT),
                ],
            ),
            (
                "log.segment.bytes",
                vec![
                    syn("log.segment.bytes", "2097152", SOURCE_DYNAMIC_BROKER),
                    syn(
                        "log.segment.bytes",
                        "1048576",
                        SOURCE_DYNAMIC_DEFAULT_BROKER,
                    ),
                    syn("log.segment.bytes", "1073741824", SOURCE_DEFAULT),
                ],
            ),
            (
                "message.max.bytes",
                vec![syn("message.max.bytes", "1048588", SOURCE_DEFAULT)],
            ),
        ];
        for (name, want) in cases {
            assert_eq!(broker_synonyms(name, &levels, false), want, "{name}");
        }
        // Nothing set under log.retention.ms or below it but the hours default: none.
        let bare = BrokerLevels {
            broker: &none,
            cluster: &none,
            statics: &none,
            default: &kafka_default,
        };
        assert!(broker_synonyms("log.retention.ms", &bare, false).is_empty());
        let secret = map(&[("ssl.keystore.password", "x")]);
        let hidden = BrokerLevels {
            statics: &secret,
            ..bare
        };
        assert_eq!(
            broker_synonyms("ssl.keystore.password", &hidden, true),
            vec![("ssl.keystore.password".into(), None, SOURCE_STATIC_BROKER)]
        );
    }

    #[test]
    fn topic_synonyms_follow_kafka() {
        let none = BTreeMap::new();
        let bare = BrokerLevels {
            broker: &none,
            cluster: &none,
            statics: &none,
            default: &kafka_default,
        };
        // As Kafka 4.1 answers for a topic created with max.message.bytes=2000.
        assert_eq!(
            topic_synonyms("max.message.bytes", Some(&"2000".into()), &bare),
            vec![
                syn("max.message.bytes", "2000", SOURCE_DYNAMIC_TOPIC),
                syn("message.max.bytes", "1048588", SOURCE_DEFAULT),
            ]
        );
        // retention.ms: its broker setting has no default, so no synonym at all.
        assert!(topic_synonyms("retention.ms", None, &bare).is_empty());
        let statics = map(&[
            ("log.retention.ms", "1000"),
            ("log.cleanup.policy", "compact"),
        ]);
        let cluster = map(&[("log.cleanup.policy", "delete,compact")]);
        let levels = BrokerLevels {
            cluster: &cluster,
            statics: &statics,
            ..bare
        };
        assert_eq!(
            topic_synonyms("retention.ms", None, &levels),
            vec![
                syn("log.retention.ms", "1000", SOURCE_STATIC_BROKER),
                syn("log.retention.hours", "168", SOURCE_DEFAULT),
            ]
        );
        let sources: Vec<i8> = topic_synonyms("cleanup.policy", None, &levels)
            .iter()
            .map(|x| x.2)
            .collect();
        assert_eq!(
            sources,
            vec![
                SOURCE_DYNAMIC_DEFAULT_BROKER,
                SOURCE_STATIC_BROKER,
                SOURCE_DEFAULT
            ]
        );
    }
}
