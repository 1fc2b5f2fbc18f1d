//! DescribeConfigs (key 32): effective topic configs (explicit topic values over
//! broker defaults) and broker configs, with Kafka's sources and types.

use vltava_protocol::ResponseBody;
use vltava_protocol::messages::DescribeConfigsRequest;
use vltava_protocol::messages::describe_configs_request::DescribeConfigsResource;
use vltava_protocol::messages::describe_configs_response::{
    DescribeConfigsResourceResult, DescribeConfigsResponse, DescribeConfigsResult,
    DescribeConfigsSynonym,
};
use vltava_raft::TopicImage;
use vltava_records::TimestampType;
use vltava_storage::LogConfig;

use super::config_synonyms::{BrokerLevels, Synonym, topic_synonyms};
use super::describe_broker_configs::{broker_default, broker_entries, cluster_default_entries};
use crate::broker::Broker;
use crate::error_codes::*;
use crate::handlers::context::{Answer, RequestContext, respond};
use crate::metadata_view::MetadataView;
use vltava_raft::controller::elections::UNCLEAN_CONFIG;

/// Resource type codes.
pub const RESOURCE_TOPIC: i8 = 2;
pub const RESOURCE_BROKER: i8 = 4;

/// Config sources.
pub(crate) const SOURCE_DYNAMIC_TOPIC: i8 = 1;
pub(crate) const SOURCE_DYNAMIC_BROKER: i8 = 2;
pub(crate) const SOURCE_DYNAMIC_DEFAULT_BROKER: i8 = 3;
pub(crate) const SOURCE_STATIC_BROKER: i8 = 4;
pub(crate) const SOURCE_DEFAULT: i8 = 5;

/// Config types.
pub(crate) const T_BOOLEAN: i8 = 1;
pub(crate) const T_STRING: i8 = 2;
pub(crate) const T_INT: i8 = 3;
pub(crate) const T_LONG: i8 = 5;
pub(crate) const T_DOUBLE: i8 = 6;
pub(crate) const T_LIST: i8 = 7;

/// Every topic config with its value under `c`, and its type.
pub fn topic_config_values(c: &LogConfig) -> Vec<(&'static str, String, i8)> {
    let policy = match (c.cleanup_policy.delete, c.cleanup_policy.compact) {
        (true, true) => "delete,compact",
        (false, true) => "compact",
        _ => "delete",
    };
    let ts = match c.message_timestamp_type {
        TimestampType::LogAppendTime => "LogAppendTime",
        _ => "CreateTime",
    };
    vec![
        ("cleanup.policy", policy.to_string(), T_LIST),
        ("compression.type", "producer".to_string(), T_STRING),
        (
            "delete.retention.ms",
            c.delete_retention_ms.to_string(),
            T_LONG,
        ),
        (
            "file.delete.delay.ms",
            c.file_delete_delay_ms.to_string(),
            T_LONG,
        ),
        ("flush.messages", c.flush_messages.to_string(), T_LONG),
        ("flush.ms", c.flush_ms.to_string(), T_LONG),
        (
            "index.interval.bytes",
            c.index_interval_bytes.to_string(),
            T_INT,
        ),
        (
            "max.compaction.lag.ms",
            c.max_compaction_lag_ms.to_string(),
            T_LONG,
        ),
        ("max.message.bytes", c.max_message_bytes.to_string(), T_INT),
        ("message.timestamp.type", ts.to_string(), T_STRING),
        (
            "min.cleanable.dirty.ratio",
            java_double(c.min_cleanable_dirty_ratio),
            T_DOUBLE,
        ),
        (
            "min.compaction.lag.ms",
            c.min_compaction_lag_ms.to_string(),
            T_LONG,
        ),
        ("min.insync.replicas", "1".to_string(), T_INT),
        ("retention.bytes", c.retention_bytes.to_string(), T_LONG),
        ("retention.ms", c.retention_ms.to_string(), T_LONG),
        ("segment.bytes", c.segment_bytes.to_string(), T_INT),
        (
            "segment.index.bytes",
            c.segment_index_bytes.to_string(),
            T_INT,
        ),
        ("segment.ms", c.segment_ms.to_string(), T_LONG),
        (UNCLEAN_CONFIG, "false".to_string(), T_BOOLEAN),
    ]
}

/// A double as Java prints it (`1.0`, not `1`).
fn java_double(v: f64) -> String {
    if v.fract() == 0.0 && v.is_finite() {
        format!("{v:.1}")
    } else {
        v.to_string()
    }
}

/// One described config (`documentation` only when asked for, v3+).
struct Described {
    name: String,
    value: Option<String>,
    source: i8,
    config_type: i8,
    read_only: bool,
    sensitive: bool,
    synonyms: Vec<Synonym>,
    documentation: Option<&'static str>,
}

fn entry(
    version: i16,
    req: &DescribeConfigsRequest,
    d: Described,
) -> DescribeConfigsResourceResult {
    let synonyms = if req.include_synonyms {
        d.synonyms
    } else {
        Vec::new()
    };
    DescribeConfigsResourceResult {
        synonyms: synonyms
            .into_iter()
            .map(|(name, value, source)| DescribeConfigsSynonym {
                name: name.into(),
                value: value.map(Into::into),
                source,
                ..Default::default()
            })
            .collect(),
        name: d.name.into(),
        value: d.value.map(Into::into),
        read_only: d.read_only,
        // IsDefault exists in v0 only; later versions say it with ConfigSource.
        is_default: version == 0 && d.source == SOURCE_DEFAULT,
        config_source: d.source,
        is_sensitive: d.sensitive,
        config_type: d.config_type,
        // Kafka answers null unless documentation was asked for.
        documentation: d
            .documentation
            .filter(|_| req.include_documentation)
            .map(Into::into),
        ..Default::default()
    }
}

fn wanted(keys: &Option<Vec<vltava_protocol::SharedStr>>, name: &str) -> bool {
    keys.as_ref()
        .is_none_or(|ks| ks.is_empty() || ks.iter().any(|k| k.as_str() == name))
}

/// Handles DescribeConfigs.
pub async fn handle(cx: &RequestContext<'_>, req: DescribeConfigsRequest) -> Answer {
    respond(answer(cx.broker, &req, cx.version))
}

/// The answer to `req`.
fn answer(broker: &Broker, req: &DescribeConfigsRequest, version: i16) -> ResponseBody {
    let metadata = broker.metadata();
    let results = req
        .resources
        .iter()
        .map(|r| {
            let mut result = DescribeConfigsResult {
                resource_type: r.resource_type,
                resource_name: r.resource_name.clone(),
                ..Default::default()
            };
            match r.resource_type {
                RESOURCE_TOPIC => match metadata.topic(r.resource_name.as_str()) {
                    None => result.error_code = UNKNOWN_TOPIC_OR_PARTITION,
                    Some(t) => {
                        result.configs = topic_configs(broker, &metadata, t, r, req, version)
                    }
                },
                RESOURCE_BROKER => {
                    let ok = r.resource_name.is_empty()
                        || r.resource_name.as_str() == broker.config.node_id.to_string();
                    if !ok {
                        result.error_code = INVALID_REQUEST;
                        result.error_message = Some("not this broker".into());
                    } else {
                        result.configs = broker_configs(broker, &metadata, r, req, version);
                    }
                }
                _ => {
                    result.error_code = INVALID_REQUEST;
                    result.error_message = Some("unsupported resource type".into());
                }
            }
            result
        })
        .collect();
    ResponseBody::from(DescribeConfigsResponse {
        results,
        ..Default::default()
    })
}

/// The configs of topic `t` that `r` asks for, each with its source and synonyms.
fn topic_configs(
    broker: &Broker,
    metadata: &MetadataView,
    t: &TopicImage,
    r: &DescribeConfigsResource,
    req: &DescribeConfigsRequest,
    version: i16,
) -> Vec<DescribeConfigsResourceResult> {
    let mut configs = Vec::new();
    let effective = broker.log_config(&t.name, metadata);
    let own = metadata.image().topic_configs(&t.name);
    let default = |n: &str| broker_default(&broker.config, n);
    let levels = BrokerLevels {
        broker: metadata.broker_dynamic_configs(),
        cluster: metadata.cluster_dynamic_configs(),
        statics: &broker.config.raw,
        default: &default,
    };
    for (name, value, ty) in topic_config_values(&effective) {
        if !wanted(&r.configuration_keys, name) {
            continue;
        }
        let synonyms = topic_synonyms(name, own.get(name), &levels);
        // The value's source is its first synonym's (Kafka's rule);
        // an internal topic's own settings count as defaults.
        let source = if own.contains_key(name) {
            SOURCE_DYNAMIC_TOPIC
        } else {
            synonyms.first().map_or(SOURCE_DEFAULT, |s| s.2)
        };
        // Settings the log does not hold take their broker setting's
        // value (the first synonym), as the controller and the replica
        // manager do.
        let from_broker = matches!(name, "min.insync.replicas" | UNCLEAN_CONFIG);
        let value = own.get(name).cloned().unwrap_or_else(|| {
            synonyms
                .first()
                .filter(|_| from_broker)
                .and_then(|s| s.1.clone())
                .unwrap_or(value)
        });
        let d = Described {
            name: name.to_string(),
            value: Some(value),
            source,
            config_type: ty,
            read_only: false,
            sensitive: false,
            synonyms,
            documentation: None,
        };
        configs.push(entry(version, req, d));
    }
    configs
}

/// The configs of this broker (or, for an empty name, the cluster's defaults) that `r`
/// asks for.
fn broker_configs(
    broker: &Broker,
    metadata: &MetadataView,
    r: &DescribeConfigsResource,
    req: &DescribeConfigsRequest,
    version: i16,
) -> Vec<DescribeConfigsResourceResult> {
    let mut configs = Vec::new();
    let entries = if r.resource_name.is_empty() {
        cluster_default_entries(metadata.cluster_dynamic_configs())
    } else {
        broker_entries(
            &broker.config,
            metadata.cluster_dynamic_configs(),
            metadata.broker_dynamic_configs(),
        )
    };
    for e in entries {
        if wanted(&r.configuration_keys, &e.name) {
            let d = Described {
                name: e.name,
                value: e.value,
                source: e.source,
                config_type: e.config_type,
                read_only: e.read_only,
                sensitive: e.sensitive,
                synonyms: e.synonyms,
                documentation: e.documentation,
            };
            configs.push(entry(version, req, d));
        }
    }
    configs
}
