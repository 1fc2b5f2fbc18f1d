//! DescribeConfigs for a BROKER resource, as Kafka 4.1 answers it: every broker config of
//! `broker_config_table` with its value and source (this broker's dynamic config, the
//! cluster's dynamic default, the static properties, the default), its type, whether it
//! is read-only in Vltava, whether it is sensitive (then without value), and its synonyms;
//! then any other name set in the properties or dynamically, which (as Kafka does with a
//! name it does not know) is read-only, sensitive and of unknown type. The resource named
//! "" is the cluster default: only its dynamic configs, each DYNAMIC_DEFAULT_BROKER_CONFIG.

use std::collections::BTreeMap;

use vltava_raft::controller::broker_config_table::{
    BrokerConfigDef, broker_config_def, broker_config_defs, config_type,
};

use super::config_synonyms::{BrokerLevels, Synonym, broker_synonyms};
use super::describe_configs::{SOURCE_DEFAULT, SOURCE_DYNAMIC_DEFAULT_BROKER};
use crate::config::BrokerConfig;

/// One described broker config.
#[derive(Debug, Clone, PartialEq)]
pub struct BrokerEntry {
    pub name: String,
    pub value: Option<String>,
    pub source: i8,
    pub read_only: bool,
    pub sensitive: bool,
    pub config_type: i8,
    pub synonyms: Vec<Synonym>,
    pub documentation: Option<&'static str>,
}

/// The default Vltava runs with for `name`: the table's, except where Vltava derives it
/// (the internal topics' replication on a one-node cluster).
pub fn broker_default(c: &BrokerConfig, name: &str) -> Option<String> {
    let derived = match name {
        "offsets.topic.replication.factor" => Some(c.offsets_topic_replication_factor.to_string()),
        "transaction.state.log.replication.factor" => {
            Some(c.transaction_state_log_replication_factor.to_string())
        }
        "transaction.state.log.min.isr" => Some(c.transaction_state_log_min_isr.to_string()),
        _ => None,
    };
    derived.or_else(|| broker_config_def(name).and_then(|d| d.default.map(str::to_string)))
}

fn entry(def: &BrokerConfigDef, levels: &BrokerLevels<'_>) -> BrokerEntry {
    let sensitive = def.sensitive();
    let synonyms = broker_synonyms(def.name, levels, sensitive);
    let (value, source) = match synonyms.first() {
        Some((_, v, s)) => (v.clone(), *s),
        None => (None, SOURCE_DEFAULT),
    };
    BrokerEntry {
        name: def.name.to_string(),
        value,
        source,
        read_only: def.read_only(),
        sensitive,
        config_type: def.config_type,
        synonyms,
        documentation: Some(def.documentation()),
    }
}

/// A name Kafka does not know: shown without value, as Kafka cannot tell it is harmless.
fn unknown(name: &str, levels: &BrokerLevels<'_>) -> BrokerEntry {
    let synonyms = broker_synonyms(name, levels, true);
    let source = synonyms.first().map_or(SOURCE_DEFAULT, |s| s.2);
    BrokerEntry {
        name: name.to_string(),
        value: None,
        source,
        read_only: true,
        sensitive: true,
        config_type: config_type::UNKNOWN,
        synonyms,
        documentation: None,
    }
}

/// Every config of this broker (`own` are its dynamic configs, `cluster` the cluster
/// default's), sorted by name.
pub fn broker_entries(
    c: &BrokerConfig,
    cluster: &BTreeMap<String, String>,
    own: &BTreeMap<String, String>,
) -> Vec<BrokerEntry> {
    let default = |n: &str| broker_default(c, n);
    let levels = BrokerLevels {
        broker: own,
        cluster,
        statics: &c.raw,
        default: &default,
    };
    let mut out: Vec<BrokerEntry> = broker_config_defs()
        .iter()
        .map(|d| entry(d, &levels))
        .collect();
    let mut others: Vec<&String> = c
        .raw
        .keys()
        .chain(cluster.keys())
        .chain(own.keys())
        .filter(|k| broker_config_def(k).is_none())
        .collect();
    others.sort();
    others.dedup();
    out.extend(others.into_iter().map(|k| unknown(k, &levels)));
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

/// The cluster default resource (""): each dynamic default config.
pub fn cluster_default_entries(cluster: &BTreeMap<String, String>) -> Vec<BrokerEntry> {
    cluster
        .iter()
        .map(|(k, v)| {
            let def = broker_config_def(k);
            let sensitive = def.is_none_or(|d| d.sensitive());
            let value = (!sensitive).then(|| v.clone());
            BrokerEntry {
                name: k.clone(),
                value: value.clone(),
                source: SOURCE_DYNAMIC_DEFAULT_BROKER,
                read_only: def.is_none_or(|d| d.read_only()),
                sensitive,
                config_type: def.map_or(config_type::UNKNOWN, |d| d.config_type),
                synonyms: vec![(k.clone(), value, SOURCE_DYNAMIC_DEFAULT_BROKER)],
                documentation: def.map(|d| d.documentation()),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Properties;
    use crate::handlers::describe_configs::{SOURCE_DYNAMIC_BROKER, SOURCE_STATIC_BROKER};

    fn map(kv: &[(&str, &str)]) -> BTreeMap<String, String> {
        kv.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    /// (name, value, source, read-only, sensitive, type, synonym names and sources), each
    /// as Kafka 4.1.1 describes it for the same settings, except where Vltava differs on
    /// purpose (num.io.threads: Vltava has no such pool to resize, so read-only).
    #[test]
    fn entries_carry_kafkas_sources_flags_and_synonyms() {
        let mut raw = Properties::new();
        raw.insert("num.partitions".into(), "3".into());
        raw.insert("log.retention.minutes".into(), "600".into());
        raw.insert("ssl.keystore.password".into(), "secret".into());
        raw.insert("some.unknown.thing".into(), "1".into());
        let c = BrokerConfig::from_properties(raw).unwrap();
        let cluster = map(&[
            ("log.retention.ms", "7000"),
            ("log.segment.bytes", "1048576"),
        ]);
        let own = map(&[("log.segment.bytes", "2097152"), ("no.such.config", "2")]);
        let e = broker_entries(&c, &cluster, &own);
        let find = |n: &str| e.iter().find(|x| x.name == n).cloned().unwrap();
        type Row<'a> = (
            &'a str,
            Option<&'a str>,
            i8,
            bool,
            bool,
            i8,
            Vec<(&'a str, i8)>,
        );
        let rows: Vec<Row<'_>> = vec![
            (
                "num.partitions",
                Some("3"),
                SOURCE_STATIC_BROKER,
                true,
                false,
                config_type::INT,
                vec![
                    ("num.partitions", SOURCE_STATIC_BROKER),
                    ("num.partitions", SOURCE_DEFAULT),
                ],
            ),
            (
                "log.retention.ms",
                Some("7000"),
                SOURCE_DYNAMIC_DEFAULT_BROKER,
                false,
                false,
                config_type::LONG,
                vec![
                    ("log.retention.ms", SOURCE_DYNAMIC_DEFAULT_BROKER),
                    ("log.retention.minutes", SOURCE_STATIC_BROKER),
                    ("log.retention.hours", SOURCE_DEFAULT),
                ],
            ),
            (
                "log.segment.bytes",
                Some("2097152"),
                SOURCE_DYNAMIC_BROKER,
                false,
                false,
                config_type::INT,
                vec![
                    ("log.segment.bytes", SOURCE_DYNAMIC_BROKER),
                    ("log.segment.bytes", SOURCE_DYNAMIC_DEFAULT_BROKER),
                    ("log.segment.bytes", SOURCE_DEFAULT),
                ],
            ),
            (
                "ssl.keystore.password",
                None,
                SOURCE_STATIC_BROKER,
                true,
                true,
                config_type::PASSWORD,
                vec![("ssl.keystore.password", SOURCE_STATIC_BROKER)],
            ),
            (
                "some.unknown.thing",
                None,
                SOURCE_STATIC_BROKER,
                true,
                true,
                config_type::UNKNOWN,
                vec![("some.unknown.thing", SOURCE_STATIC_BROKER)],
            ),
            (
                "no.such.config",
                None,
                SOURCE_DYNAMIC_BROKER,
                true,
                true,
                config_type::UNKNOWN,
                vec![("no.such.config", SOURCE_DYNAMIC_BROKER)],
            ),
            (
                "log.roll.ms",
                None,
                SOURCE_DEFAULT,
                false,
                false,
                config_type::LONG,
                vec![],
            ),
            (
                "num.io.threads",
                Some("8"),
                SOURCE_DEFAULT,
                true,
                false,
                config_type::INT,
                vec![("num.io.threads", SOURCE_DEFAULT)],
            ),
            (
                "offsets.topic.replication.factor",
                Some("1"),
                SOURCE_DEFAULT,
                true,
                false,
                config_type::SHORT,
                vec![("offsets.topic.replication.factor", SOURCE_DEFAULT)],
            ),
        ];
        for (name, value, source, ro, sensitive, ty, syns) in rows {
            let x = find(name);
            assert_eq!(
                (
                    x.value.as_deref(),
                    x.source,
                    x.read_only,
                    x.sensitive,
                    x.config_type
                ),
                (value, source, ro, sensitive, ty),
                "{name}"
            );
            let got: Vec<(&str, i8)> = x.synonyms.iter().map(|s| (s.0.as_str(), s.2)).collect();
            assert_eq!(got, syns, "{name}");
            if sensitive {
                assert!(x.synonyms.iter().all(|s| s.1.is_none()), "{name}");
            }
        }
        assert!(e.len() > 300);
        assert_eq!(
            e.iter().filter(|x| x.name == "log.segment.bytes").count(),
            1
        );
        for w in e.windows(2) {
            assert!(w[0].name < w[1].name);
        }
        let d = cluster_default_entries(&cluster);
        assert_eq!(d.len(), 2);
        assert!(
            d.iter()
                .all(|x| x.source == SOURCE_DYNAMIC_DEFAULT_BROKER && !x.read_only)
        );
    }
}
