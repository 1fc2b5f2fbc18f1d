//! Starting and stopping a whole node: format-on-first-start of the data
//! directory, the partition manager and its background jobs, the metadata
//! view, the group and transaction coordinators (each elected for the
//! partitions of its internal topic this broker leads), and the client
//! listeners (each with its own security; all registered with the controller so
//! Metadata can answer with the endpoints of the listener a client came in on).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::broker::Broker;
use crate::broker_lifecycle::{Lifecycle, Registration};
use crate::config::BrokerConfig;
use crate::partitions::PartitionManager;
use crate::storage_format::{self, FormatError};

/// Why a node could not start.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    #[error(transparent)]
    Format(#[from] FormatError),
    #[error("{what}: {source}")]
    Io {
        what: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Listener(#[from] crate::server::ListenerSetupError),
    #[error("metadata quorum: {0}")]
    Raft(#[from] vltava_raft::RaftError),
    #[error(transparent)]
    ScramBootstrap(#[from] crate::scram_bootstrap::ScramBootstrapError),
    #[error(
        "log dir {dir} belongs to node {found}, not node.id {expected}; format it again or fix node.id"
    )]
    NodeIdMismatch {
        dir: String,
        found: i32,
        expected: i32,
    },
}

/// A running node.
#[derive(Debug)]
pub struct Node {
    /// Where the first client listener is bound.
    pub addr: SocketAddr,
    /// Every client listener's name and bound address, in `listeners` order.
    pub listeners: Vec<(String, SocketAddr)>,
    pub broker: Arc<Broker>,
    shutdown: watch::Sender<bool>,
    servers: Vec<JoinHandle<()>>,
    background: JoinHandle<()>,
    /// The log cleaner's tasks.
    cleaner: Vec<JoinHandle<()>>,
    follower: Option<JoinHandle<()>>,
    /// Follower fetchers, the replicas' ticker and the AlterPartition sender.
    replication: Vec<JoinHandle<()>>,
    lifecycle: Lifecycle,
    heartbeats: JoinHandle<()>,
    reopened_logs: JoinHandle<()>,
}

impl Node {
    /// Starts a node from its configuration.
    pub async fn start(config: BrokerConfig) -> Result<Node, NodeError> {
        let (dir, meta) = open_data_dir(&config)?;
        let partitions = Arc::new(PartitionManager::new(&dir).map_err(|source| NodeError::Io {
            what: format!("opening {}", dir.display()),
            source,
        })?);
        partitions.set_threads(config.num_recovery_threads_per_data_dir);
        vltava_storage::HandleCache::global().set_limit(config.log_inactive_segment_open_files_max);
        // The client port is bound now (its number is registered with the
        // controller) but listens only once the logs and coordinators are loaded:
        // until then connections are refused, so no client waits on a request
        // the broker cannot answer yet.
        let scram = crate::scram_credentials::CredentialSource::default();
        let bound = bind_client_listeners(&config, &scram)?;
        // After the listeners: a listener's own settings are reported first.
        let inter_broker_security = crate::server::inter_broker_security(&config)?;
        let Some(addr) = bound.first().map(|b| b.2) else {
            return Err(crate::config::ConfigError::Missing(
                "listeners (a non-controller listener)",
            )
            .into());
        };
        let listener_addrs: Vec<(String, SocketAddr)> =
            bound.iter().map(|(c, _, a)| (c.name.clone(), *a)).collect();
        let registration = registration(&config, &listener_addrs, addr);
        let node_id = config.node_id;
        let retention = Duration::from_millis(config.log_retention_check_interval_ms.max(1));
        let checkpoints =
            Duration::from_millis(config.log_flush_offset_checkpoint_interval_ms.max(1));
        let quorum = quorum_config(&config, &dir, &meta.cluster_id)?;
        let register_timeout = Duration::from_millis(config.initial_broker_registration_timeout_ms);
        let heartbeat_interval = Duration::from_millis(config.broker_heartbeat_interval_ms);
        let observer = config.roles == crate::config::ProcessRoles::Broker;
        let broker = Arc::new(
            Broker::new(config, partitions.clone())
                .with_inter_broker_security(inter_broker_security),
        );
        let controller = if observer {
            // A broker-only node follows the metadata log of the controllers' quorum.
            vltava_raft::Controller::start_observer(quorum).await?
        } else {
            vltava_raft::Controller::start(quorum).await?
        };
        let lifecycle =
            Lifecycle::register(controller.clone(), registration, register_timeout).await?;
        let heartbeats = lifecycle.spawn_heartbeats(heartbeat_interval);
        scram.set(controller.clone());
        broker.set_controller(controller);
        load_logs(&broker, &partitions)?;
        let follower = crate::metadata_sync::spawn_follower(&broker);
        let replication = spawn_replication(&broker);
        start_coordinators(&broker);
        let hw_checkpoints =
            Duration::from_millis(broker.config.replica_high_watermark_checkpoint_interval_ms);
        let background = partitions.spawn_background(retention, checkpoints, hw_checkpoints);
        let cleaner =
            crate::log_cleaner::LogCleaner::spawn(broker.cleaner_config.subscribe(), &partitions);
        let reopened_logs = spawn_replicas_for_reopened_logs(&broker);
        let (shutdown, rx) = watch::channel(false);
        let slots = crate::server::connection_slots(&broker.config);
        let servers = serve(bound, &broker, &slots, &rx)?;
        tracing::info!(%addr, cluster_id = %meta.cluster_id, node_id, "broker started");
        Ok(Node {
            addr,
            listeners: listener_addrs,
            broker,
            shutdown,
            servers,
            background,
            cleaner,
            follower,
            replication,
            lifecycle,
            heartbeats,
            reopened_logs,
        })
    }

    /// Controlled shutdown (leadership moves away while this node still serves), then stops
    /// accepting connections, closes every log, writes checkpoints and the clean-shutdown
    /// marker.
    pub async fn shutdown(self) {
        self.lifecycle.controlled_shutdown().await;
        self.heartbeats.abort();
        let _ = self.shutdown.send(true);
        for server in self.servers {
            let _ = server.await;
        }
        self.background.abort();
        for task in &self.cleaner {
            task.abort();
        }
        self.reopened_logs.abort();
        for task in &self.replication {
            task.abort();
        }
        if let Some(f) = &self.follower {
            f.abort();
        }
        if let Some(c) = self.broker.controller() {
            c.clone().shutdown().await;
        }
        let partitions = self.broker.partitions.clone();
        let clean = tokio::task::spawn_blocking(move || partitions.close_all())
            .await
            .unwrap_or(false);
        tracing::info!(clean, "broker stopped");
    }
}

impl Node {
    /// The bound address of client listener `name`.
    pub fn listener_addr(&self, name: &str) -> Option<SocketAddr> {
        self.listeners
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, a)| *a)
    }
}

/// The endpoints this broker registers: each of `advertised.listeners` (port 0 means the
/// port its listener of the same name was bound to), or the bound listeners themselves
/// when nothing is advertised.
fn registered_endpoints(
    config: &BrokerConfig,
    bound: &[(String, SocketAddr)],
) -> Vec<vltava_raft::ListenerEndpoint> {
    let bound_port = |name: &str| {
        bound
            .iter()
            .find(|(n, _)| n == name)
            .or(bound.first())
            .map_or(0, |(_, a)| i32::from(a.port()))
    };
    if config.advertised_listeners.is_empty() {
        return bound
            .iter()
            .map(|(name, a)| vltava_raft::ListenerEndpoint {
                name: name.clone(),
                host: a.ip().to_string(),
                port: i32::from(a.port()),
                security_protocol: config.protocol_of(name).id(),
            })
            .collect();
    }
    config
        .advertised_listeners
        .iter()
        .map(|a| vltava_raft::ListenerEndpoint {
            name: a.name.clone(),
            host: a.host.clone(),
            port: if a.port == 0 {
                bound_port(&a.name)
            } else {
                i32::from(a.port)
            },
            security_protocol: config.protocol_of(&a.name).id(),
        })
        .collect()
}

/// The first log dir and its `meta.properties` (formatted with a random cluster id on the
/// first start), checked against `node.id`.
pub(crate) fn open_data_dir(
    config: &BrokerConfig,
) -> Result<(std::path::PathBuf, storage_format::MetaProperties), NodeError> {
    let dir = config
        .log_dirs
        .first()
        .cloned()
        .ok_or(crate::config::ConfigError::Missing("log.dirs"))?;
    let meta = match storage_format::read_meta(&dir)? {
        Some(m) => m,
        None => {
            let id = storage_format::random_id()?;
            tracing::info!(dir = %dir.display(), cluster_id = %id, "formatting data directory on first start");
            storage_format::format_dir(&dir, &id, config.node_id, false)?
        }
    };
    if meta.node_id != config.node_id {
        return Err(NodeError::NodeIdMismatch {
            dir: dir.display().to_string(),
            found: meta.node_id,
            expected: config.node_id,
        });
    }
    Ok((dir, meta))
}

/// How often a log opened on retry is looked for (the retry itself runs every second).
const REOPENED_CHECK: Duration = Duration::from_millis(500);

/// Applies the current metadata again whenever a log that could not be opened (descriptors
/// or disk ran out) opened on a retry, so it gets its replica (leader or follower) at once
/// rather than at the next metadata change.
/// What this node registers with the controller: its id, rack and endpoints, the
/// first of them (else the first bound address) as its host and port.
fn registration(
    config: &BrokerConfig,
    listener_addrs: &[(String, SocketAddr)],
    addr: SocketAddr,
) -> Registration {
    let endpoints = registered_endpoints(config, listener_addrs);
    let (host, port) = endpoints
        .first()
        .map(|e| (e.host.clone(), e.port))
        .unwrap_or_else(|| (addr.ip().to_string(), i32::from(addr.port())));
    Registration {
        node_id: config.node_id,
        host,
        port,
        endpoints,
        rack: config.broker_rack.clone(),
    }
}

/// The follower fetchers, the replicas' ticker and the AlterPartition sender.
fn spawn_replication(broker: &Arc<Broker>) -> Vec<JoinHandle<()>> {
    let tick = Duration::from_millis((broker.config.replica_lag_time_max_ms / 4).clamp(10, 100));
    let mut replication = vec![
        crate::replica_fetcher::spawn(broker),
        broker.replicas.spawn_ticker(tick),
    ];
    replication.extend(crate::alter_partition_sender::spawn(broker));
    replication
}

/// A client listener's port, bound but not yet listening.
type BoundListener = (
    Arc<crate::server::ListenerContext>,
    tokio::net::TcpSocket,
    SocketAddr,
);

/// Binds the port of every client listener (in `listeners` order).
fn bind_client_listeners(
    config: &BrokerConfig,
    scram: &crate::scram_credentials::CredentialSource,
) -> Result<Vec<BoundListener>, NodeError> {
    let mut bound = Vec::new();
    for l in config.client_listeners() {
        let ctx = Arc::new(crate::server::ListenerContext::from_config(
            config, &l.name, scram,
        )?);
        let bind = crate::config::bind_addr(l)?;
        let socket = bind_client_port(bind).map_err(|source| NodeError::Io {
            what: format!("binding {} ({bind})", l.name),
            source,
        })?;
        let addr = socket.local_addr().map_err(|source| NodeError::Io {
            what: "reading the bound address".into(),
            source,
        })?;
        bound.push((ctx, socket, addr));
    }
    Ok(bound)
}

/// Loads the partition logs of the current metadata image, then removes the
/// clean-shutdown marker.
fn load_logs(broker: &Arc<Broker>, partitions: &PartitionManager) -> Result<(), NodeError> {
    let loading = std::time::Instant::now();
    let clean = partitions.clean_start();
    crate::metadata_sync::sync_now(broker);
    tracing::info!(
        logs = partitions.all().len(),
        clean_shutdown = clean,
        ms = loading.elapsed().as_millis() as u64,
        "partition logs loaded"
    );
    partitions.finish_startup().map_err(|source| NodeError::Io {
        what: "removing the clean-shutdown marker".into(),
        source,
    })
}

/// Starts the group and transaction coordinators. They serve the partitions of
/// their internal topics this broker leads: elected now for those of the
/// current image (each loads them, answering COORDINATOR_LOAD_IN_PROGRESS
/// meanwhile), then by every new image (loads on gaining leadership, unloads on
/// losing it).
fn start_coordinators(broker: &Arc<Broker>) {
    let (coordinator, _coordinator_task) = vltava_coordinator::start_unowned(
        broker.group_config(),
        crate::offsets_log::OffsetsTopicLog::new(
            broker.replicas.clone(),
            broker.config.offsets_commit_timeout_ms,
        ),
        broker.config.offsets_topic_num_partitions,
    );
    broker.set_coordinator(coordinator);
    let txn = vltava_coordinator::txn_driver::start_unowned(
        broker.txn_config(),
        crate::txn_io::BrokerTxnIo::new(broker),
    );
    broker.set_txn_coordinator(txn);
}

/// Starts listening on every bound port, one server task each.
fn serve(
    bound: Vec<BoundListener>,
    broker: &Arc<Broker>,
    slots: &Arc<tokio::sync::Semaphore>,
    shutdown: &watch::Receiver<bool>,
) -> Result<Vec<JoinHandle<()>>, NodeError> {
    let mut servers = Vec::new();
    for (ctx, socket, addr) in bound {
        let listener = socket
            .listen(LISTEN_BACKLOG)
            .map_err(|source| NodeError::Io {
                what: format!("listening on {addr}"),
                source,
            })?;
        tracing::info!(listener = %ctx.name, protocol = %ctx.protocol, %addr, "listening");
        servers.push(tokio::spawn(crate::server::run(
            listener,
            ctx,
            broker.clone(),
            slots.clone(),
            shutdown.clone(),
        )));
    }
    Ok(servers)
}

fn spawn_replicas_for_reopened_logs(broker: &Arc<Broker>) -> JoinHandle<()> {
    let weak = Arc::downgrade(broker);
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(REOPENED_CHECK).await;
            let Some(b) = weak.upgrade() else { return };
            if b.partitions.take_reopened() {
                let image = b.metadata().shared_image().clone();
                let _ = tokio::task::spawn_blocking(move || b.apply_metadata(image)).await;
            }
        }
    })
}

/// Pending connections the kernel queues for the client listener.
const LISTEN_BACKLOG: u32 = 1024;

/// A socket bound to `addr` (address reuse on, as a listener's) that does not
/// listen yet.
fn bind_client_port(addr: SocketAddr) -> std::io::Result<tokio::net::TcpSocket> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    Ok(socket)
}

/// The metadata quorum settings: the metadata log lives in
/// `<first log dir>/__cluster_metadata-0`, like Kafka's default
/// `metadata.log.dir`; voters come from `controller.quorum.voters`.
pub(crate) fn quorum_config(
    config: &BrokerConfig,
    dir: &std::path::Path,
    cluster_id: &str,
) -> Result<vltava_raft::QuorumConfig, NodeError> {
    let metadata_dir = match config.raw.get("metadata.log.dir") {
        Some(d) if !d.trim().is_empty() => std::path::PathBuf::from(d.trim()),
        _ => dir.join(format!(
            "{}-0",
            vltava_protocol::internal_topics::METADATA_TOPIC
        )),
    };
    let mut q = vltava_raft::QuorumConfig::single_node(config.node_id, metadata_dir, cluster_id);
    let mut voters = Vec::new();
    for (id, host, port) in &config.controller_quorum_voters {
        let addr = socket_addr(host, *port, "controller.quorum.voters")?;
        voters.push(vltava_raft::Voter { id: *id, addr });
    }
    if !voters.is_empty() || config.roles == crate::config::ProcessRoles::Broker {
        q.voters = voters;
    }
    for (host, port) in &config.controller_quorum_bootstrap_servers {
        q.bootstrap_servers.push(socket_addr(
            host,
            *port,
            "controller.quorum.bootstrap.servers",
        )?);
    }
    q.topic_defaults = vltava_raft::TopicDefaults {
        num_partitions: config.num_partitions,
        replication_factor: config.default_replication_factor,
    };
    q.broker_session_timeout = Duration::from_millis(config.broker_session_timeout_ms);
    q.elections = vltava_raft::ElectionSettings {
        unclean_default: config.unclean_leader_election_enable,
        unclean_interval: Duration::from_millis(config.unclean_leader_election_interval_ms),
        auto_rebalance: config.auto_leader_rebalance_enable,
        rebalance_interval: Duration::from_secs(config.leader_imbalance_check_interval_seconds),
    };
    q.link_security = crate::controller_link::from_config(config)?;
    if config.roles.is_controller()
        && let Some(bootstrap_dir) = crate::scram_bootstrap::metadata_log_dir(config)
    {
        q.bootstrap_records = crate::scram_bootstrap::read_records(&bootstrap_dir)?;
    }
    // A lone voter serves its controller listener when others may talk to it: always as a
    // controller-only node, and when the voters are configured explicitly (brokers-only
    // nodes may follow it), as Kafka's single controller does.
    q.serve_listener = config.roles == crate::config::ProcessRoles::Controller
        || config
            .raw
            .get("controller.quorum.voters")
            .is_some_and(|v| !v.trim().is_empty());
    Ok(q)
}

/// `host:port` of a quorum setting as a socket address (`localhost` is 127.0.0.1).
fn socket_addr(host: &str, port: u16, key: &str) -> Result<SocketAddr, NodeError> {
    let host = if host == "localhost" {
        "127.0.0.1"
    } else {
        host
    };
    let addr = format!("{host}:{port}")
        .parse()
        .or_else(|_| format!("[{host}]:{port}").parse())
        .map_err(|_| crate::config::ConfigError::Invalid {
            key: key.into(),
            value: format!("{host}:{port}"),
            reason: "host must be an IP address".into(),
        })?;
    Ok(addr)
}
