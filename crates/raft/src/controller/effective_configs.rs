//! A topic's effective configs, resolved the way Kafka does for DescribeConfigs: explicit
//! topic value, else the dynamic per-broker value, else the dynamic cluster default, else the
//! broker's static config (server.properties), else Kafka's default. Topic configs map to
//! their broker-level names (`retention.ms` ← `log.retention.ms`, ...).

use std::collections::BTreeMap;

use super::configs_schema::TOPIC_CONFIGS;
use crate::image::{ConfigResource, ConfigResourceKind, MetadataImage};

/// Kafka's `ConfigSource` codes.
pub mod source {
    pub const DYNAMIC_TOPIC_CONFIG: i8 = 1;
    pub const DYNAMIC_BROKER_CONFIG: i8 = 2;
    pub const DYNAMIC_DEFAULT_BROKER_CONFIG: i8 = 3;
    pub const STATIC_BROKER_CONFIG: i8 = 4;
    pub const DEFAULT_CONFIG: i8 = 5;
}

/// One resolved config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EffectiveConfig {
    pub name: &'static str,
    pub value: String,
    /// A [`source`] code.
    pub source: i8,
}

/// The broker-level config whose value a topic config inherits, if any.
pub fn broker_synonym(topic_config: &str) -> Option<&'static str> {
    Some(match topic_config {
        "cleanup.policy" => "log.cleanup.policy",
        "compression.type" => "compression.type",
        "flush.messages" => "log.flush.interval.messages",
        "flush.ms" => "log.flush.interval.ms",
        "index.interval.bytes" => "log.index.interval.bytes",
        "max.message.bytes" => "message.max.bytes",
        "message.timestamp.type" => "log.message.timestamp.type",
        "message.timestamp.before.max.ms" => "log.message.timestamp.before.max.ms",
        "message.timestamp.after.max.ms" => "log.message.timestamp.after.max.ms",
        "min.insync.replicas" => "min.insync.replicas",
        "retention.bytes" => "log.retention.bytes",
        "retention.ms" => "log.retention.ms",
        "segment.bytes" => "log.segment.bytes",
        "segment.ms" => "log.roll.ms",
        "unclean.leader.election.enable" => "unclean.leader.election.enable",
        _ => return None,
    })
}

/// Every topic config of `topic` as seen by broker `broker_id`, whose static configs are
/// `static_broker` (broker config names).
pub fn effective_topic_configs(
    image: &MetadataImage,
    topic: &str,
    broker_id: i32,
    static_broker: &BTreeMap<String, String>,
) -> Vec<EffectiveConfig> {
    let explicit = image.configs.get(&ConfigResource::topic(topic));
    let per_broker = image.configs.get(&ConfigResource {
        kind: ConfigResourceKind::Broker,
        name: broker_id.to_string(),
    });
    let cluster = image.configs.get(&ConfigResource {
        kind: ConfigResourceKind::Broker,
        name: String::new(),
    });
    TOPIC_CONFIGS
        .iter()
        .map(|d| {
            let found = explicit
                .and_then(|m| m.get(d.name))
                .map(|v| (v.clone(), source::DYNAMIC_TOPIC_CONFIG))
                .or_else(|| {
                    let syn = broker_synonym(d.name)?;
                    per_broker
                        .and_then(|m| m.get(syn))
                        .map(|v| (v.clone(), source::DYNAMIC_BROKER_CONFIG))
                        .or_else(|| {
                            cluster
                                .and_then(|m| m.get(syn))
                                .map(|v| (v.clone(), source::DYNAMIC_DEFAULT_BROKER_CONFIG))
                        })
                        .or_else(|| {
                            static_broker
                                .get(syn)
                                .map(|v| (v.clone(), source::STATIC_BROKER_CONFIG))
                        })
                });
            let (value, source) =
                found.unwrap_or_else(|| (d.default.to_string(), source::DEFAULT_CONFIG));
            EffectiveConfig {
                name: d.name,
                value,
                source,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apply::apply_record;
    use crate::records::MetadataRecord;
    use vltava_protocol::metadata::ConfigRecord;

    fn set(image: &mut MetadataImage, kind: ConfigResourceKind, res: &str, k: &str, v: &str) {
        apply_record(
            image,
            &MetadataRecord::Config(ConfigRecord {
                resource_type: kind.code(),
                resource_name: res.into(),
                name: k.into(),
                value: Some(v.into()),
                ..Default::default()
            }),
        );
    }

    #[test]
    fn precedence_follows_kafka() {
        let mut image = MetadataImage::empty("c");
        let mut statics = BTreeMap::new();
        statics.insert("log.segment.bytes".to_string(), "1000000".to_string());
        set(
            &mut image,
            ConfigResourceKind::Broker,
            "",
            "log.retention.ms",
            "1",
        );
        set(
            &mut image,
            ConfigResourceKind::Broker,
            "1",
            "log.retention.ms",
            "2",
        );
        set(
            &mut image,
            ConfigResourceKind::Broker,
            "",
            "log.cleanup.policy",
            "compact",
        );
        set(
            &mut image,
            ConfigResourceKind::Topic,
            "t",
            "max.message.bytes",
            "77",
        );
        let got = effective_topic_configs(&image, "t", 1, &statics);
        let get = |n: &str| {
            got.iter()
                .find(|c| c.name == n)
                .cloned()
                .map(|c| (c.value, c.source))
        };
        assert_eq!(
            get("retention.ms"),
            Some(("2".into(), source::DYNAMIC_BROKER_CONFIG))
        );
        assert_eq!(
            get("cleanup.policy"),
            Some(("compact".into(), source::DYNAMIC_DEFAULT_BROKER_CONFIG))
        );
        assert_eq!(
            get("segment.bytes"),
            Some(("1000000".into(), source::STATIC_BROKER_CONFIG))
        );
        assert_eq!(
            get("max.message.bytes"),
            Some(("77".into(), source::DYNAMIC_TOPIC_CONFIG))
        );
        assert_eq!(
            get("preallocate"),
            Some(("false".into(), source::DEFAULT_CONFIG))
        );
        let other = effective_topic_configs(&image, "t", 2, &statics);
        let r = other
            .iter()
            .find(|c| c.name == "retention.ms")
            .cloned()
            .map(|c| (c.value, c.source));
        assert_eq!(r, Some(("1".into(), source::DYNAMIC_DEFAULT_BROKER_CONFIG)));
    }
}
