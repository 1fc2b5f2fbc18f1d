//! DescribeConfigs for a BROKER resource: every setting the broker resolved, as Kafka
//! lists them: a dynamic value (DYNAMIC_BROKER_CONFIG) over a value from the
//! properties file (STATIC_BROKER_CONFIG) over the default (DEFAULT_CONFIG).

use std::collections::BTreeMap;

use crate::config::BrokerConfig;

use super::describe_configs::{
    SOURCE_DEFAULT, SOURCE_DYNAMIC_BROKER, SOURCE_STATIC_BROKER, T_BOOLEAN, T_INT, T_LIST, T_LONG,
    T_SHORT, T_STRING,
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

/// Every described entry as (name, value, source, type): the resolved settings, then
/// any other property of the file, each overridden by a dynamic broker config.
pub fn broker_entries(
    c: &BrokerConfig,
    dynamic: &BTreeMap<String, String>,
) -> Vec<(String, String, i8, i8)> {
    let mut out = Vec::new();
    let mut push = |name: &str, value: String, source: i8, ty: i8| match dynamic.get(name) {
        Some(d) => out.push((name.to_string(), d.clone(), SOURCE_DYNAMIC_BROKER, ty)),
        None => out.push((name.to_string(), value, source, ty)),
    };
    let typed = resolved(c);
    for (name, value, ty) in &typed {
        let source = if c.raw.contains_key(*name) {
            SOURCE_STATIC_BROKER
        } else {
            SOURCE_DEFAULT
        };
        push(name, value.clone(), source, *ty);
    }
    for (k, v) in &c.raw {
        if !typed.iter().any(|(n, _, _)| *n == k) {
            push(k, v.clone(), SOURCE_STATIC_BROKER, T_STRING);
        }
    }
    for (k, v) in dynamic {
        if !out.iter().any(|(n, ..)| n == k) {
            out.push((k.clone(), v.clone(), SOURCE_DYNAMIC_BROKER, T_STRING));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Properties;

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
        assert_eq!(
            find("num.partitions"),
            (
                "num.partitions".into(),
                "3".into(),
                SOURCE_STATIC_BROKER,
                T_INT
            )
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
