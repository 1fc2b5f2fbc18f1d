//! Config synonyms for DescribeConfigs (`IncludeSynonyms`, v1+), as Kafka 4 lists them:
//! every place a value could come from, highest precedence first (a topic's own value,
//! then the broker setting behind it, dynamic, static, default). A synonym whose broker
//! setting has no default in Kafka (`log.retention.ms`, `log.roll.ms`,
//! `log.flush.interval.ms`) appears only when set. The first synonym's source is the
//! source of the described value.

use std::collections::BTreeMap;

use super::describe_configs::{
    SOURCE_DEFAULT, SOURCE_DYNAMIC_BROKER, SOURCE_DYNAMIC_TOPIC, SOURCE_STATIC_BROKER,
};

/// (name, value, source)
pub type Synonym = (String, String, i8);

/// Each topic config's broker setting and whether Kafka gives that setting a default.
const TOPIC_TO_BROKER: &[(&str, &str, bool)] = &[
    ("cleanup.policy", "log.cleanup.policy", true),
    ("compression.type", "compression.type", true),
    (
        "delete.retention.ms",
        "log.cleaner.delete.retention.ms",
        true,
    ),
    ("file.delete.delay.ms", "log.segment.delete.delay.ms", true),
    ("flush.messages", "log.flush.interval.messages", true),
    ("flush.ms", "log.flush.interval.ms", false),
    ("index.interval.bytes", "log.index.interval.bytes", true),
    (
        "max.compaction.lag.ms",
        "log.cleaner.max.compaction.lag.ms",
        true,
    ),
    ("max.message.bytes", "message.max.bytes", true),
    ("message.timestamp.type", "log.message.timestamp.type", true),
    (
        "min.cleanable.dirty.ratio",
        "log.cleaner.min.cleanable.ratio",
        true,
    ),
    (
        "min.compaction.lag.ms",
        "log.cleaner.min.compaction.lag.ms",
        true,
    ),
    ("min.insync.replicas", "min.insync.replicas", true),
    ("retention.bytes", "log.retention.bytes", true),
    ("retention.ms", "log.retention.ms", false),
    ("segment.bytes", "log.segment.bytes", true),
    ("segment.index.bytes", "log.index.size.max.bytes", true),
    ("segment.ms", "log.roll.ms", false),
    (
        "unclean.leader.election.enable",
        "unclean.leader.election.enable",
        true,
    ),
];

/// The synonyms of topic config `name`: the topic's own value, then its broker setting
/// (dynamic, static, default; `default` is the broker's default for it).
pub fn topic_synonyms(
    name: &str,
    topic_value: Option<&String>,
    raw: &BTreeMap<String, String>,
    dynamic: &BTreeMap<String, String>,
    default: &str,
) -> Vec<Synonym> {
    let mut out = Vec::new();
    if let Some(v) = topic_value {
        out.push((name.to_string(), v.clone(), SOURCE_DYNAMIC_TOPIC));
    }
    if let Some((_, broker_key, has_default)) = TOPIC_TO_BROKER.iter().find(|(t, ..)| *t == name) {
        let default = has_default.then(|| default.to_string());
        out.extend(broker_synonyms(broker_key, raw, dynamic, default));
    }
    out
}

/// The synonyms of broker setting `name`: dynamic, static, then the default if any.
pub fn broker_synonyms(
    name: &str,
    raw: &BTreeMap<String, String>,
    dynamic: &BTreeMap<String, String>,
    default: Option<String>,
) -> Vec<Synonym> {
    let mut out = Vec::new();
    if let Some(v) = dynamic.get(name) {
        out.push((name.to_string(), v.clone(), SOURCE_DYNAMIC_BROKER));
    }
    if let Some(v) = raw.get(name) {
        out.push((name.to_string(), v.clone(), SOURCE_STATIC_BROKER));
    }
    if let Some(d) = default {
        out.push((name.to_string(), d, SOURCE_DEFAULT));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(kv: &[(&str, &str)]) -> BTreeMap<String, String> {
        kv.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn topic_synonyms_follow_kafka() {
        let none = BTreeMap::new();
        // As Kafka 4.1 answers for a topic created with max.message.bytes=2000.
        let s = topic_synonyms(
            "max.message.bytes",
            Some(&"2000".into()),
            &none,
            &none,
            "1048588",
        );
        assert_eq!(
            s,
            vec![
                (
                    "max.message.bytes".into(),
                    "2000".into(),
                    SOURCE_DYNAMIC_TOPIC
                ),
                ("message.max.bytes".into(), "1048588".into(), SOURCE_DEFAULT),
            ]
        );
        // retention.ms: its broker setting has no default, so no synonym at all.
        assert!(topic_synonyms("retention.ms", None, &none, &none, "604800000").is_empty());
        let raw = map(&[
            ("log.retention.ms", "1000"),
            ("log.cleanup.policy", "compact"),
        ]);
        let dynamic = map(&[("log.cleanup.policy", "delete,compact")]);
        assert_eq!(
            topic_synonyms("retention.ms", None, &raw, &none, "604800000"),
            vec![(
                "log.retention.ms".into(),
                "1000".into(),
                SOURCE_STATIC_BROKER
            )]
        );
        let s = topic_synonyms("cleanup.policy", None, &raw, &dynamic, "delete");
        let sources: Vec<i8> = s.iter().map(|x| x.2).collect();
        assert_eq!(
            sources,
            vec![SOURCE_DYNAMIC_BROKER, SOURCE_STATIC_BROKER, SOURCE_DEFAULT]
        );
    }
}
