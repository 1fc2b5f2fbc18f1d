//! DescribeConfigs for a BROKER resource: every setting the broker resolved, as Kafka
//! lists them: a dynamic value (DYNAMIC_BROKER_CONFIG) over a value from the
//! properties file (STATIC_BROKER_CONFIG) over the default (DEFAULT_CONFIG).

use std::collections::BTreeMap;

use crate::config::{BrokerConfig, Properties};

use super::config_synonyms::{Synonym, broker_synonyms};
use super::describe_configs::{
    SOURCE_DEFAULT, T_BOOLEAN, T_INT, T_LIST, T_LONG, T_SHORT, T_STRING,
};

/// The typed broker settings with their effective values and Kafka's config types.
fn resolved(c: &BrokerConfig) -> Vec<(&'static str, String, i8)> {
    let s = |v: &dyn ToString| v.to_string();
    let dirs: Vec<String> = c.log_dirs.iter().map(|d| d.display().to_string()).collect();
    vec![
        ("node.id", s(&c.node_id), T_INT),
        ("process.roles", c.process_roles.join(","), T_LIST),
        ("log.dirs", dirs.join(","), T_LIST),
        ("num.partitions", s(&c.num_partitions), T_INT),
        (
            "default.replication.factor",
            s(&c.default_replication_factor),
            T_INT,
        ),
        ("min.insync.replicas", s(&c.min_insync_replicas), T_INT),
        (
            "auto.create.topics.enable",
            s(&c.auto_create_topics_enable),
            T_BOOLEAN,
        ),
        ("message.max.bytes", s(&c.message_max_bytes), T_INT),
        (
            "socket.request.max.bytes",
            s(&c.socket_request_max_bytes),
            T_INT,
        ),
        (
            "connections.max.idle.ms",
            s(&c.connections_max_idle_ms),
            T_LONG,
        ),
        ("max.connections", s(&c.max_connections), T_INT),
        ("queued.max.requests", s(&c.queued_max_requests), T_INT),
        ("quota.window.num", s(&c.quota_window_num), T_INT),
        (
            "quota.window.size.seconds",
            s(&c.quota_window_size_seconds),
            T_INT,
        ),
        (
            "broker.session.timeout.ms",
            s(&c.broker_session_timeout_ms),
            T_INT,
        ),
        (
            "broker.heartbeat.interval.ms",
            s(&c.broker_heartbeat_interval_ms),
            T_INT,
        ),
        (
            "replica.lag.time.max.ms",
            s(&c.replica_lag_time_max_ms),
            T_LONG,
        ),
        (
            "unclean.leader.election.enable",
            s(&c.unclean_leader_election_enable),
            T_BOOLEAN,
        ),
        (
            "auto.leader.rebalance.enable",
            s(&c.auto_leader_rebalance_enable),
            T_BOOLEAN,
        ),
        (
            "leader.imbalance.check.interval.seconds",
            s(&c.leader_imbalance_check_interval_seconds),
            T_LONG,
        ),
        (
            "replica.fetch.max.bytes",
            s(&c.replica_fetch_max_bytes),
            T_INT,
        ),
        (
            "replica.fetch.response.max.bytes",
            s(&c.replica_fetch_response_max_bytes),
            T_INT,
        ),
        (
            "replica.fetch.wait.max.ms",
            s(&c.replica_fetch_wait_max_ms),
            T_INT,
        ),
        (
            "replica.fetch.min.bytes",
            s(&c.replica_fetch_min_bytes),
            T_INT,
        ),
        (
            "replica.fetch.backoff.ms",
            s(&c.replica_fetch_backoff_ms),
            T_INT,
        ),
        (
            "log.retention.check.interval.ms",
            s(&c.log_retention_check_interval_ms),
            T_LONG,
        ),
        (
            "num.recovery.threads.per.data.dir",
            s(&c.num_recovery_threads_per_data_dir),
            T_INT,
        ),
        (
            "offsets.topic.num.partitions",
            s(&c.offsets_topic_num_partitions),
            T_INT,
        ),
        (
            "offsets.topic.segment.bytes",
            s(&c.offsets_topic_segment_bytes),
            T_INT,
        ),
        (
            "offsets.topic.replication.factor",
            s(&c.offsets_topic_replication_factor),
            T_SHORT,
        ),
        (
            "offsets.commit.timeout.ms",
            s(&c.offsets_commit_timeout_ms),
            T_INT,
        ),
        (
            "offsets.retention.minutes",
            s(&c.offsets_retention_minutes),
            T_INT,
        ),
        (
            "offset.metadata.max.bytes",
            s(&c.offset_metadata_max_bytes),
            T_INT,
        ),
        (
            "transaction.state.log.num.partitions",
            s(&c.transaction_state_log_num_partitions),
            T_INT,
        ),
        (
            "transaction.state.log.replication.factor",
            s(&c.transaction_state_log_replication_factor),
            T_SHORT,
        ),
        (
            "transaction.state.log.min.isr",
            s(&c.transaction_state_log_min_isr),
            T_INT,
        ),
        (
            "transaction.max.timeout.ms",
            s(&c.transaction_max_timeout_ms),
            T_INT,
        ),
        (
            "transactional.id.expiration.ms",
            s(&c.transactional_id_expiration_ms),
            T_INT,
        ),
        ("fetch.max.bytes", s(&c.fetch_max_bytes), T_INT),
        (
            "group.min.session.timeout.ms",
            s(&c.group_min_session_timeout_ms),
            T_INT,
        ),
        (
            "group.max.session.timeout.ms",
            s(&c.group_max_session_timeout_ms),
            T_INT,
        ),
        (
            "group.initial.rebalance.delay.ms",
            s(&c.group_initial_rebalance_delay_ms),
            T_INT,
        ),
        ("group.max.size", s(&c.group_max_size), T_INT),
    ]
}

/// Settings without a default in Kafka: their synonyms list only where they were set.
const NO_DEFAULT: &[&str] = &["node.id", "process.roles", "log.dirs"];

/// Every described entry as (name, value, source, type, synonyms): the resolved
/// settings, then any other property of the file, each overridden by a dynamic broker
/// config. The synonyms say where the value could come from, first the one it did.
pub fn broker_entries(
    c: &BrokerConfig,
    dynamic: &BTreeMap<String, String>,
) -> Vec<(String, String, i8, i8, Vec<Synonym>)> {
    // The values of a broker given no properties at all.
    let defaults = BrokerConfig::from_properties(Properties::new())
        .map(|d| resolved(&d))
        .unwrap_or_default();
    let mut out = Vec::new();
    let typed = resolved(c);
    for (name, value, ty) in &typed {
        let default = match NO_DEFAULT.contains(name) {
            true => None,
            false => defaults.iter().find(|d| d.0 == *name).map(|d| d.1.clone()),
        };
        let synonyms = broker_synonyms(name, &c.raw, dynamic, default);
        let (value, source) = match synonyms.first() {
            Some((_, v, s)) => (v.clone(), *s),
            None => (value.clone(), SOURCE_DEFAULT),
        };
        out.push((name.to_string(), value, source, *ty, synonyms));
    }
    let mut untyped: Vec<&String> = c.raw.keys().chain(dynamic.keys()).collect();
    untyped.sort();
    untyped.dedup();
    for k in untyped {
        if typed.iter().any(|(n, _, _)| *n == k) {
            continue;
        }
        let synonyms = broker_synonyms(k, &c.raw, dynamic, None);
        if let Some((_, v, s)) = synonyms.first().cloned() {
            out.push((k.clone(), v, s, T_STRING, synonyms));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Properties;
    use crate::handlers::describe_configs::{SOURCE_DYNAMIC_BROKER, SOURCE_STATIC_BROKER};

    #[test]
    fn defaults_static_and_dynamic_values_carry_their_sources() {
        let mut raw = Properties::new();
        raw.insert("num.partitions".into(), "3".into());
        raw.insert("some.other.setting".into(), "x".into());
        let c = BrokerConfig::from_properties(raw).unwrap();
        let mut dynamic = BTreeMap::new();
        dynamic.insert("message.max.bytes".to_string(), "2000000".to_string());
        dynamic.insert("log.cleaner.threads".to_string(), "2".to_string());
        let e = broker_entries(&c, &dynamic);
        let find = |n: &str| e.iter().find(|x| x.0 == n).cloned().unwrap();
        let n = find("num.partitions");
        assert_eq!((n.1.as_str(), n.2, n.3), ("3", SOURCE_STATIC_BROKER, T_INT));
        // As Kafka lists them: where the value came from, then the default.
        assert_eq!(
            n.4,
            vec![
                ("num.partitions".into(), "3".into(), SOURCE_STATIC_BROKER),
                ("num.partitions".into(), "1".into(), SOURCE_DEFAULT),
            ]
        );
        assert!(
            find("node.id").4.is_empty(),
            "node.id has no default and was not set"
        );
        assert_eq!(find("default.replication.factor").2, SOURCE_DEFAULT);
        assert_eq!(find("default.replication.factor").1, "1");
        assert_eq!(find("message.max.bytes").1, "2000000");
        assert_eq!(find("message.max.bytes").2, SOURCE_DYNAMIC_BROKER);
        assert_eq!(find("some.other.setting").2, SOURCE_STATIC_BROKER);
        assert_eq!(find("log.cleaner.threads").2, SOURCE_DYNAMIC_BROKER);
        assert_eq!(e.iter().filter(|x| x.0 == "message.max.bytes").count(), 1);
    }
}
