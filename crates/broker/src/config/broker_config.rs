//! `BrokerConfig`: the typed broker settings, read from merged properties with
//! Kafka's names and defaults (except `log.dirs`, which defaults to
//! `./vltava-data`, and the listeners, which default to 127.0.0.1).

use std::net::SocketAddr;
use std::path::PathBuf;

use vltava_storage::LogConfig;

use super::properties::Properties;

/// A configuration value that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("invalid value {value:?} for {key}: {reason}")]
    Invalid {
        key: String,
        value: String,
        reason: String,
    },
    #[error("missing required setting {0}")]
    Missing(&'static str),
}

/// One entry of `listeners` / `advertised.listeners`: `NAME://host:port`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listener {
    pub name: String,
    pub host: String,
    pub port: u16,
}

/// The broker's settings. Field names follow the Kafka property they come from.
#[derive(Debug, Clone)]
pub struct BrokerConfig {
    /// `node.id`
    pub node_id: i32,
    /// `process.roles`
    pub process_roles: Vec<String>,
    /// `process.roles` as what this node runs.
    pub roles: super::roles::ProcessRoles,
    /// `listeners`
    pub listeners: Vec<Listener>,
    /// `advertised.listeners` (defaults to the client listeners)
    pub advertised_listeners: Vec<Listener>,
    /// `controller.listener.names`
    pub controller_listener_names: Vec<String>,
    /// `listener.security.protocol.map`, with Kafka's default
    pub listener_security_protocol_map: std::collections::BTreeMap<String, super::SecurityProtocol>,
    /// `inter.broker.listener.name` (or the listener `security.inter.broker.protocol`
    /// names): the listener other brokers' replica fetchers and requests connect to
    pub inter_broker_listener_name: String,
    /// `controller.quorum.voters` as (id, host, port)
    pub controller_quorum_voters: Vec<(i32, String, u16)>,
    /// `controller.quorum.bootstrap.servers` as (host, port)
    pub controller_quorum_bootstrap_servers: Vec<(String, u16)>,
    /// `log.dirs` (or `log.dir`)
    pub log_dirs: Vec<PathBuf>,
    /// `num.partitions`
    pub num_partitions: i32,
    /// `default.replication.factor`
    pub default_replication_factor: i16,
    /// `broker.rack`
    pub broker_rack: Option<String>,
    /// `broker.session.timeout.ms`: a broker without a heartbeat this long is fenced
    pub broker_session_timeout_ms: u64,
    /// `broker.heartbeat.interval.ms`
    pub broker_heartbeat_interval_ms: u64,
    /// `unclean.leader.election.enable`: the default of topics without their own
    pub unclean_leader_election_enable: bool,
    /// `unclean.leader.election.interval.ms`: how often the controller elects leaderless
    /// partitions uncleanly where allowed
    pub unclean_leader_election_interval_ms: u64,
    /// `auto.leader.rebalance.enable`: the controller moves leadership back to preferred
    /// replicas
    pub auto_leader_rebalance_enable: bool,
    /// `leader.imbalance.check.interval.seconds`
    pub leader_imbalance_check_interval_seconds: u64,
    /// `replica.lag.time.max.ms`: an ISR follower not caught up this long leaves the ISR
    pub replica_lag_time_max_ms: u64,
    /// `min.insync.replicas`: the broker default of the topic config
    pub min_insync_replicas: usize,
    /// `replica.fetch.max.bytes`: bytes per partition in a follower's Fetch
    pub replica_fetch_max_bytes: i32,
    /// `replica.fetch.response.max.bytes`: bytes per follower Fetch response
    pub replica_fetch_response_max_bytes: i32,
    /// `replica.fetch.wait.max.ms`: how long a follower's Fetch waits on the leader
    pub replica_fetch_wait_max_ms: i32,
    /// `replica.fetch.min.bytes`
    pub replica_fetch_min_bytes: i32,
    /// `replica.fetch.backoff.ms`: pause after a failed follower Fetch
    pub replica_fetch_backoff_ms: u64,
    /// `replica.high.watermark.checkpoint.interval.ms`: how often every log's high
    /// watermark is written to `replication-offset-checkpoint`
    pub replica_high_watermark_checkpoint_interval_ms: u64,
    /// `initial.broker.registration.timeout.ms`: how long start-up waits to register
    pub initial_broker_registration_timeout_ms: u64,
    /// `auto.create.topics.enable`
    pub auto_create_topics_enable: bool,
    /// `message.max.bytes`
    pub message_max_bytes: i32,
    /// `socket.request.max.bytes`
    pub socket_request_max_bytes: usize,
    /// `connections.max.idle.ms`
    pub connections_max_idle_ms: u64,
    /// `max.connections`
    pub max_connections: usize,
    /// `queued.max.requests`: also the bound on pipelined requests per connection
    pub queued_max_requests: usize,
    /// `quota.window.num`: samples a client quota's rate is measured over
    pub quota_window_num: usize,
    /// `quota.window.size.seconds`: the length of each sample
    pub quota_window_size_seconds: u64,
    /// `log.retention.check.interval.ms`
    pub log_retention_check_interval_ms: u64,
    /// `log.cleaner.*`: the log cleaner's threads, backoff, memory and IO rate
    pub log_cleaner: crate::log_cleaner::CleanerConfig,
    /// `log.flush.offset.checkpoint.interval.ms`
    pub log_flush_offset_checkpoint_interval_ms: u64,
    /// `num.recovery.threads.per.data.dir`: threads opening (and closing) logs at
    /// start, shutdown and when many partitions are created at once (Kafka 4's
    /// default, 2)
    pub num_recovery_threads_per_data_dir: usize,
    /// `log.inactive.segment.open.files.max` (Vltava's own): open `.log` files of
    /// inactive segments kept across all logs (`vltava_storage::HandleCache`)
    pub log_inactive_segment_open_files_max: usize,
    /// `offsets.topic.num.partitions`
    pub offsets_topic_num_partitions: i32,
    /// `offsets.topic.segment.bytes`
    pub offsets_topic_segment_bytes: i64,
    /// `offsets.topic.replication.factor`: Kafka's 3, or 1 on a single-voter
    /// quorum (the one-node default, as Kafka's single-node `server.properties`
    /// sets it). `__consumer_offsets` is not created while fewer brokers live.
    pub offsets_topic_replication_factor: i16,
    /// `offsets.commit.timeout.ms`: how long a coordinator write waits for the
    /// ISR before failing (COORDINATOR_NOT_AVAILABLE)
    pub offsets_commit_timeout_ms: u64,
    /// `transaction.state.log.replication.factor`: like
    /// `offsets.topic.replication.factor`, for `__transaction_state`
    pub transaction_state_log_replication_factor: i16,
    /// `transaction.state.log.min.isr`: `__transaction_state`'s
    /// `min.insync.replicas` (Kafka's 2, or 1 on a single-voter quorum)
    pub transaction_state_log_min_isr: i32,
    /// `transaction.state.log.num.partitions`
    pub transaction_state_log_num_partitions: i32,
    /// `transaction.state.log.segment.bytes`
    pub transaction_state_log_segment_bytes: i64,
    /// `transaction.max.timeout.ms`
    pub transaction_max_timeout_ms: i32,
    /// `transaction.abort.timed.out.transaction.cleanup.interval.ms`
    pub transaction_abort_timed_out_transaction_cleanup_interval_ms: i64,
    /// `transactional.id.expiration.ms`
    pub transactional_id_expiration_ms: i64,
    /// `transaction.partition.verification.enable` (KIP-890)
    pub transaction_partition_verification_enable: bool,
    /// `fetch.max.bytes`: the cap on one Fetch response
    pub fetch_max_bytes: i32,
    /// `max.incremental.fetch.session.cache.slots`
    pub max_incremental_fetch_session_cache_slots: usize,
    /// `group.min.session.timeout.ms`
    pub group_min_session_timeout_ms: i32,
    /// `group.max.session.timeout.ms`
    pub group_max_session_timeout_ms: i32,
    /// `group.initial.rebalance.delay.ms`
    pub group_initial_rebalance_delay_ms: i32,
    /// `group.max.size`
    pub group_max_size: i32,
    /// `offsets.retention.minutes`
    pub offsets_retention_minutes: i64,
    /// `offsets.retention.check.interval.ms`
    pub offsets_retention_check_interval_ms: i64,
    /// `offset.metadata.max.bytes`
    pub offset_metadata_max_bytes: usize,
    /// Topic-level defaults derived from the broker's `log.*` settings.
    pub log_defaults: LogConfig,
    /// The authorizer (`authorizer.class.name`, `super.users`, ...); `None`: no authorizer.
    pub authorizer: Option<vltava_security::acl::AuthorizerConfig>,
    /// Every property as given (for DescribeConfigs and pass-through).
    pub raw: Properties,
}

pub(super) fn invalid(key: &str, value: &str, reason: &str) -> ConfigError {
    ConfigError::Invalid {
        key: key.to_string(),
        value: value.to_string(),
        reason: reason.to_string(),
    }
}

pub(super) struct Reader<'a>(pub(super) &'a Properties);

impl Reader<'_> {
    pub(super) fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(|s| s.trim())
    }
    pub(super) fn int<T: std::str::FromStr>(
        &self,
        key: &str,
        default: T,
    ) -> Result<T, ConfigError> {
        match self.get(key) {
            None => Ok(default),
            Some(v) => v.parse().map_err(|_| invalid(key, v, "not a number")),
        }
    }
    pub(super) fn double(&self, key: &str, default: f64) -> Result<f64, ConfigError> {
        match self.get(key) {
            None => Ok(default),
            Some(v) => match v.parse::<f64>() {
                Ok(d) if !d.is_nan() => Ok(d),
                _ => Err(invalid(key, v, "not a number")),
            },
        }
    }
    pub(super) fn bool(&self, key: &str, default: bool) -> Result<bool, ConfigError> {
        match self.get(key) {
            None => Ok(default),
            Some(v) if v.eq_ignore_ascii_case("true") => Ok(true),
            Some(v) if v.eq_ignore_ascii_case("false") => Ok(false),
            Some(v) => Err(invalid(key, v, "not true/false")),
        }
    }
    pub(super) fn list(&self, key: &str, default: &str) -> Vec<String> {
        self.get(key)
            .unwrap_or(default)
            .split(',')
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect()
    }
}

/// Parses `NAME://host:port` (an empty host means all interfaces).
pub fn parse_listener(key: &str, s: &str) -> Result<Listener, ConfigError> {
    let (name, rest) = s
        .split_once("://")
        .ok_or_else(|| invalid(key, s, "expected NAME://host:port"))?;
    let (host, port) = rest
        .rsplit_once(':')
        .ok_or_else(|| invalid(key, s, "expected NAME://host:port"))?;
    let port: u16 = port.parse().map_err(|_| invalid(key, s, "bad port"))?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    Ok(Listener {
        name: name.to_string(),
        host: host.to_string(),
        port,
    })
}

/// `advertised.listeners`, by default the listeners that are not controller
/// listeners.
fn advertised_listeners(
    r: &Reader<'_>,
    listeners: &[Listener],
    controller_listener_names: &[String],
) -> Result<Vec<Listener>, ConfigError> {
    match r.get("advertised.listeners") {
        Some(v) if !v.is_empty() => v
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|l| parse_listener("advertised.listeners", l))
            .collect(),
        _ => Ok(listeners
            .iter()
            .filter(|l| !controller_listener_names.contains(&l.name))
            .cloned()
            .collect()),
    }
}

/// `controller.quorum.voters` (`id@host:port`, ...), by default this node on
/// its first controller listener.
fn quorum_voters(
    r: &Reader<'_>,
    node_id: i32,
    listeners: &[Listener],
    controller_listener_names: &[String],
) -> Result<Vec<(i32, String, u16)>, ConfigError> {
    const KEY: &str = "controller.quorum.voters";
    let default_voters = listeners
        .iter()
        .find(|l| controller_listener_names.contains(&l.name))
        .map(|l| format!("{node_id}@{}:{}", l.host, l.port))
        .unwrap_or_default();
    let mut voters = Vec::new();
    for v in r.list(KEY, &default_voters) {
        let (id, addr) = v
            .split_once('@')
            .ok_or_else(|| invalid(KEY, &v, "expected id@host:port"))?;
        let id: i32 = id.parse().map_err(|_| invalid(KEY, &v, "bad id"))?;
        let (host, port) = addr
            .rsplit_once(':')
            .ok_or_else(|| invalid(KEY, &v, "expected id@host:port"))?;
        let port: u16 = port.parse().map_err(|_| invalid(KEY, &v, "bad port"))?;
        voters.push((id, host.to_string(), port));
    }
    Ok(voters)
}

/// `controller.quorum.bootstrap.servers` (`host:port`, ...), empty by default.
fn quorum_bootstrap_servers(r: &Reader<'_>) -> Result<Vec<(String, u16)>, ConfigError> {
    const KEY: &str = "controller.quorum.bootstrap.servers";
    let mut servers = Vec::new();
    for v in r.list(KEY, "") {
        let (host, port) = v
            .rsplit_once(':')
            .ok_or_else(|| invalid(KEY, &v, "expected host:port"))?;
        let port: u16 = port.parse().map_err(|_| invalid(KEY, &v, "bad port"))?;
        servers.push((host.to_string(), port));
    }
    Ok(servers)
}

/// `log.dirs` (or `log.dir`), `./vltava-data` when neither is set; an empty
/// list is an error.
fn log_dirs(r: &Reader<'_>) -> Result<Vec<PathBuf>, ConfigError> {
    let log_dirs: Vec<PathBuf> = match r.get("log.dirs").or(r.get("log.dir")) {
        Some(v) => v
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(PathBuf::from)
            .collect(),
        None => vec![PathBuf::from("./vltava-data")],
    };
    if log_dirs.is_empty() {
        return Err(ConfigError::Missing("log.dirs"));
    }
    Ok(log_dirs)
}

impl BrokerConfig {
    /// Builds the typed configuration from merged properties: the listeners,
    /// quorum and directories parsed by the functions above, then one field per
    /// setting. The struct literal stays whole: it is a table (one line per
    /// property and its default), easier to check against Kafka's list than split.
    pub fn from_properties(raw: Properties) -> Result<BrokerConfig, ConfigError> {
        let r = Reader(&raw);
        let node_id: i32 = r.int("node.id", 1)?;
        let process_roles = r.list("process.roles", "broker,controller");
        let controller_listener_names = r.list("controller.listener.names", "CONTROLLER");
        let listeners = r
            .list(
                "listeners",
                "PLAINTEXT://127.0.0.1:9092,CONTROLLER://127.0.0.1:9093",
            )
            .iter()
            .map(|l| parse_listener("listeners", l))
            .collect::<Result<Vec<_>, _>>()?;
        let advertised_listeners =
            advertised_listeners(&r, &listeners, &controller_listener_names)?;
        let controller_quorum_voters =
            quorum_voters(&r, node_id, &listeners, &controller_listener_names)?;
        let controller_quorum_bootstrap_servers = quorum_bootstrap_servers(&r)?;
        let roles = super::roles::ProcessRoles::parse(&process_roles)?;
        let listener_security_protocol_map =
            super::listener_security::protocol_map(&raw, &controller_listener_names)?;
        super::listener_security::check_listeners(
            &listener_security_protocol_map,
            &listeners,
            &advertised_listeners,
        )?;
        let inter_broker_listener_name = super::listener_security::inter_broker_listener(
            &raw,
            &advertised_listeners,
            roles.is_broker(),
        )?;
        let log_dirs = log_dirs(&r)?;

        let dynamic = super::dynamic::settings_from(&r)?;

        // One combined voter is the one-node default: Kafka's single-node properties
        // set the internal topics to one replica; a cluster (several voters, or any
        // node with split roles) gets Kafka's defaults.
        let single =
            controller_quorum_voters.len() <= 1 && roles == super::roles::ProcessRoles::Combined;
        let (internal_rf, txn_min_isr) = if single { (1, 1) } else { (3, 2) };
        let config = BrokerConfig {
            node_id,
            process_roles,
            roles,
            listeners,
            advertised_listeners,
            controller_listener_names,
            listener_security_protocol_map,
            inter_broker_listener_name,
            controller_quorum_voters,
            controller_quorum_bootstrap_servers,
            log_dirs,
            num_partitions: r.int("num.partitions", 1)?,
            default_replication_factor: r.int("default.replication.factor", 1)?,
            broker_rack: r
                .get("broker.rack")
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty()),
            broker_session_timeout_ms: r.int::<u64>("broker.session.timeout.ms", 9_000)?.max(1),
            broker_heartbeat_interval_ms: r
                .int::<u64>("broker.heartbeat.interval.ms", 2_000)?
                .max(1),
            unclean_leader_election_enable: r.bool("unclean.leader.election.enable", false)?,
            unclean_leader_election_interval_ms: r
                .int::<u64>("unclean.leader.election.interval.ms", 300_000)?
                .max(1),
            auto_leader_rebalance_enable: r.bool("auto.leader.rebalance.enable", true)?,
            leader_imbalance_check_interval_seconds: r
                .int::<u64>("leader.imbalance.check.interval.seconds", 300)?
                .max(1),
            replica_lag_time_max_ms: r.int::<u64>("replica.lag.time.max.ms", 30_000)?.max(1),
            min_insync_replicas: dynamic.min_insync_replicas,
            replica_fetch_max_bytes: r.int("replica.fetch.max.bytes", 1_048_576)?,
            replica_fetch_response_max_bytes: r
                .int("replica.fetch.response.max.bytes", 10_485_760)?,
            replica_fetch_wait_max_ms: r.int("replica.fetch.wait.max.ms", 500)?,
            replica_fetch_min_bytes: r.int("replica.fetch.min.bytes", 1)?,
            replica_fetch_backoff_ms: r.int("replica.fetch.backoff.ms", 1_000)?,
            replica_high_watermark_checkpoint_interval_ms: r
                .int::<u64>("replica.high.watermark.checkpoint.interval.ms", 5_000)?
                .max(1),
            initial_broker_registration_timeout_ms: r
                .int::<u64>("initial.broker.registration.timeout.ms", 60_000)?
                .max(1),
            auto_create_topics_enable: r.bool("auto.create.topics.enable", true)?,
            message_max_bytes: r.int("message.max.bytes", 1_048_588)?,
            socket_request_max_bytes: r.int("socket.request.max.bytes", 104_857_600)?,
            connections_max_idle_ms: r.int("connections.max.idle.ms", 600_000)?,
            max_connections: r.int("max.connections", i32::MAX as usize)?,
            queued_max_requests: r.int::<usize>("queued.max.requests", 500)?.max(1),
            quota_window_num: r.int::<usize>("quota.window.num", 11)?.clamp(2, 1_000),
            quota_window_size_seconds: r
                .int::<u64>("quota.window.size.seconds", 1)?
                .clamp(1, 3_600),
            log_retention_check_interval_ms: r.int("log.retention.check.interval.ms", 300_000)?,
            log_cleaner: dynamic.cleaner,
            log_flush_offset_checkpoint_interval_ms: r
                .int("log.flush.offset.checkpoint.interval.ms", 60_000)?,
            num_recovery_threads_per_data_dir: r
                .int::<usize>("num.recovery.threads.per.data.dir", 2)?
                .max(1),
            log_inactive_segment_open_files_max: r
                .int::<usize>(
                    "log.inactive.segment.open.files.max",
                    vltava_storage::DEFAULT_INACTIVE_SEGMENT_OPEN_FILES,
                )?
                .max(1),
            offsets_topic_num_partitions: r.int("offsets.topic.num.partitions", 50)?,
            offsets_topic_segment_bytes: r.int("offsets.topic.segment.bytes", 104_857_600)?,
            offsets_topic_replication_factor: r
                .int::<i16>("offsets.topic.replication.factor", internal_rf)?
                .max(1),
            offsets_commit_timeout_ms: r.int::<u64>("offsets.commit.timeout.ms", 5_000)?.max(1),
            transaction_state_log_replication_factor: r
                .int::<i16>("transaction.state.log.replication.factor", internal_rf)?
                .max(1),
            transaction_state_log_min_isr: r
                .int::<i32>("transaction.state.log.min.isr", txn_min_isr)?
                .max(1),
            transaction_state_log_num_partitions: r
                .int::<i32>("transaction.state.log.num.partitions", 50)?
                .max(1),
            transaction_state_log_segment_bytes: r
                .int("transaction.state.log.segment.bytes", 104_857_600)?,
            transaction_max_timeout_ms: r.int("transaction.max.timeout.ms", 900_000)?,
            transaction_abort_timed_out_transaction_cleanup_interval_ms: r.int(
                "transaction.abort.timed.out.transaction.cleanup.interval.ms",
                10_000,
            )?,
            transactional_id_expiration_ms: r.int("transactional.id.expiration.ms", 604_800_000)?,
            transaction_partition_verification_enable: r
                .bool("transaction.partition.verification.enable", true)?,
            fetch_max_bytes: r.int("fetch.max.bytes", 57_671_680)?,
            max_incremental_fetch_session_cache_slots: r
                .int("max.incremental.fetch.session.cache.slots", 1000)?,
            group_min_session_timeout_ms: r.int("group.min.session.timeout.ms", 6_000)?,
            group_max_session_timeout_ms: r.int("group.max.session.timeout.ms", 1_800_000)?,
            group_initial_rebalance_delay_ms: r.int("group.initial.rebalance.delay.ms", 3_000)?,
            group_max_size: r.int("group.max.size", i32::MAX)?,
            offsets_retention_minutes: r.int("offsets.retention.minutes", 10_080)?,
            offsets_retention_check_interval_ms: r
                .int("offsets.retention.check.interval.ms", 600_000)?,
            offset_metadata_max_bytes: r.int("offset.metadata.max.bytes", 4_096)?,
            log_defaults: dynamic.log_defaults,
            authorizer: super::authorizer::authorizer_config(&raw)?,
            raw,
        };
        super::roles::validate(&config)?;
        Ok(config)
    }

    /// The listener clients connect to (the first that is not a controller listener).
    pub fn client_listener(&self) -> Option<&Listener> {
        self.client_listeners().next()
    }

    /// Every listener that is not a controller listener, in `listeners` order.
    pub fn client_listeners(&self) -> impl Iterator<Item = &Listener> {
        self.listeners
            .iter()
            .filter(|l| !self.controller_listener_names.contains(&l.name))
    }

    /// The security protocol of listener `name` (PLAINTEXT when unmapped, which
    /// validation rules out for configured listeners).
    pub fn protocol_of(&self, name: &str) -> super::SecurityProtocol {
        self.listener_security_protocol_map
            .get(name)
            .copied()
            .unwrap_or(super::SecurityProtocol::Plaintext)
    }

    /// The address clients are told to use for this broker.
    pub fn advertised(&self) -> Option<&Listener> {
        self.advertised_listeners.first()
    }

    /// The socket address to bind the client listener to.
    pub fn client_bind_addr(&self) -> Result<SocketAddr, ConfigError> {
        let l = self.client_listener().ok_or(ConfigError::Missing(
            "listeners (a non-controller listener)",
        ))?;
        bind_addr(l)
    }
}

/// The socket address to bind listener `l` to (an empty host means all interfaces).
pub fn bind_addr(l: &Listener) -> Result<SocketAddr, ConfigError> {
    let host = if l.host.is_empty() {
        "0.0.0.0"
    } else {
        &l.host
    };
    let host = if host == "localhost" {
        "127.0.0.1"
    } else {
        host
    };
    format!("{host}:{}", l.port)
        .parse()
        .or_else(|_| format!("[{host}]:{}", l.port).parse())
        .map_err(|_| {
            invalid(
                "listeners",
                &l.host,
                "host must be an IP address or localhost",
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse_properties;

    #[test]
    fn defaults_are_a_single_combined_node() {
        let c = BrokerConfig::from_properties(Properties::new()).unwrap();
        assert_eq!(c.node_id, 1);
        assert_eq!(c.process_roles, vec!["broker", "controller"]);
        assert_eq!(c.client_bind_addr().unwrap().to_string(), "127.0.0.1:9092");
        assert_eq!(c.advertised().unwrap().port, 9092);
        assert_eq!(
            c.controller_quorum_voters,
            vec![(1, "127.0.0.1".into(), 9093)]
        );
        assert_eq!(c.log_dirs, vec![PathBuf::from("./vltava-data")]);
        assert_eq!(c.message_max_bytes, 1_048_588);
        assert_eq!(c.log_defaults.retention_ms, 168 * 3_600_000);
        assert!(c.auto_create_topics_enable);
        // One voter: the internal topics have one replica.
        assert_eq!(c.offsets_topic_replication_factor, 1);
        assert_eq!(c.transaction_state_log_replication_factor, 1);
        assert_eq!(c.transaction_state_log_min_isr, 1);
    }

    #[test]
    fn a_cluster_gets_kafkas_internal_topic_defaults() {
        let voters =
            "controller.quorum.voters=0@127.0.0.1:9093,1@127.0.0.1:9095,2@127.0.0.1:9097\n";
        let c = BrokerConfig::from_properties(parse_properties(voters)).unwrap();
        assert_eq!(c.offsets_topic_replication_factor, 3);
        assert_eq!(c.transaction_state_log_replication_factor, 3);
        assert_eq!(c.transaction_state_log_min_isr, 2);
        let p = parse_properties(&format!(
            "{voters}offsets.topic.replication.factor=2\ntransaction.state.log.min.isr=1\n"
        ));
        let c = BrokerConfig::from_properties(p).unwrap();
        assert_eq!(c.offsets_topic_replication_factor, 2);
        assert_eq!(c.transaction_state_log_min_isr, 1);
    }

    #[test]
    fn broker_log_settings_become_topic_defaults() {
        let p = parse_properties(
            "log.retention.ms=1000\nlog.segment.bytes=4096\nlog.cleanup.policy=compact\nlisteners=PLAINTEXT://127.0.0.1:0\nadvertised.listeners=PLAINTEXT://example:9\n",
        );
        let c = BrokerConfig::from_properties(p).unwrap();
        assert_eq!(c.log_defaults.retention_ms, 1000);
        assert_eq!(c.log_defaults.segment_bytes, 4096);
        assert!(c.log_defaults.cleanup_policy.compact);
        assert_eq!(c.advertised().unwrap().host, "example");
    }

    #[test]
    fn log_cleaner_settings_with_kafkas_defaults() {
        let c = BrokerConfig::from_properties(Properties::new()).unwrap();
        assert_eq!(c.log_cleaner, crate::log_cleaner::CleanerConfig::default());
        assert_eq!(c.log_defaults.min_cleanable_dirty_ratio, 0.5);
        let p = parse_properties(
            "log.cleaner.enable=false\nlog.cleaner.threads=2\nlog.cleaner.backoff.ms=100\n\
             log.cleaner.dedupe.buffer.size=1048576\nlog.cleaner.io.max.bytes.per.second=1e6\n\
             log.cleaner.min.cleanable.ratio=0.1\nlog.cleaner.max.compaction.lag.ms=5000\n",
        );
        let c = BrokerConfig::from_properties(p).unwrap();
        assert!(!c.log_cleaner.enable);
        assert_eq!(c.log_cleaner.threads, 2);
        assert_eq!(c.log_cleaner.backoff_ms, 100);
        assert_eq!(
            c.log_cleaner.clean_options().dedupe_buffer_bytes,
            512 * 1024
        );
        assert_eq!(c.log_cleaner.io_max_bytes_per_second, 1e6);
        assert_eq!(c.log_defaults.min_cleanable_dirty_ratio, 0.1);
        assert_eq!(c.log_defaults.max_compaction_lag_ms, 5000);
        for bad in [
            "log.cleaner.io.max.bytes.per.second=fast\n",
            "log.cleaner.min.cleanable.ratio=2\n",
        ] {
            assert!(
                BrokerConfig::from_properties(parse_properties(bad)).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn bad_values_are_errors() {
        let p = parse_properties("node.id=x\n");
        assert!(BrokerConfig::from_properties(p).is_err());
        let p = parse_properties("listeners=nonsense\n");
        assert!(BrokerConfig::from_properties(p).is_err());
    }
}
