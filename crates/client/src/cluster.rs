//! The client's view of the cluster: bootstrap, cached metadata (brokers,
//! topics, partition leaders), one connection per broker, metadata refresh
//! and retries with backoff around requests.

use crate::api::ApiRequest;
use crate::config::ClientConfig;
use crate::connection::Connection;
use crate::error::{ClientError, Result};
use crate::kafka_error::code;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::Mutex;
use vltava_protocol::Uuid;
use vltava_protocol::messages::MetadataRequest;
use vltava_protocol::messages::metadata_request::MetadataRequestTopic;
use vltava_protocol::messages::metadata_response::MetadataResponseTopic;

/// One broker as Metadata describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerInfo {
    pub id: i32,
    pub host: String,
    pub port: i32,
    pub rack: Option<String>,
}

impl BrokerInfo {
    pub fn addr(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }
}

/// One partition's leadership.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionInfo {
    pub partition: i32,
    pub leader: i32,
    pub leader_epoch: i32,
    pub replicas: Vec<i32>,
    pub isr: Vec<i32>,
    pub offline: Vec<i32>,
    pub error_code: i16,
}

/// One topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicInfo {
    pub name: String,
    pub id: Uuid,
    pub internal: bool,
    pub error_code: i16,
    pub partitions: Vec<PartitionInfo>,
}

/// A snapshot of cluster metadata.
#[derive(Debug, Clone, Default)]
pub struct ClusterMetadata {
    pub cluster_id: Option<String>,
    pub controller_id: i32,
    pub brokers: BTreeMap<i32, BrokerInfo>,
    pub topics: BTreeMap<String, TopicInfo>,
}

impl ClusterMetadata {
    pub fn leader(&self, topic: &str, partition: i32) -> Option<i32> {
        self.topics
            .get(topic)?
            .partitions
            .iter()
            .find(|p| p.partition == partition)
            .map(|p| p.leader)
            .filter(|l| *l >= 0)
    }

    pub fn partition_count(&self, topic: &str) -> Option<usize> {
        self.topics
            .get(topic)
            .filter(|t| t.error_code == 0 && !t.partitions.is_empty())
            .map(|t| t.partitions.len())
    }
}

#[derive(Debug, Default)]
struct State {
    meta: Arc<ClusterMetadata>,
    conns: HashMap<i32, Arc<Connection>>,
    bootstrap: Option<Arc<Connection>>,
    refreshed: Option<Instant>,
}

/// Shared cluster handle used by producer, consumer and admin client.
#[derive(Debug)]
pub struct Cluster {
    cfg: ClientConfig,
    state: Mutex<State>,
    meta_lock: Mutex<()>,
}

impl Cluster {
    /// Creates the handle and contacts a bootstrap server.
    pub async fn connect(cfg: ClientConfig) -> Result<Arc<Cluster>> {
        if cfg.bootstrap_servers.is_empty() {
            return Err(ClientError::Config("bootstrap.servers is empty".into()));
        }
        let c = Arc::new(Cluster {
            cfg,
            state: Mutex::new(State::default()),
            meta_lock: Mutex::new(()),
        });
        c.refresh(&[]).await?;
        Ok(c)
    }

    pub fn config(&self) -> &ClientConfig {
        &self.cfg
    }

    /// The cached metadata (a shared snapshot: cheap to take).
    pub async fn metadata(&self) -> Arc<ClusterMetadata> {
        self.state.lock().await.meta.clone()
    }

    /// A connection to any broker (a known broker, else a bootstrap server).
    pub async fn any_connection(&self) -> Result<Arc<Connection>> {
        let ids: Vec<i32> = {
            let st = self.state.lock().await;
            if let Some(c) = st.bootstrap.as_ref().filter(|c| !c.is_closed()) {
                return Ok(c.clone());
            }
            st.meta.brokers.keys().copied().collect()
        };
        let mut last = None;
        // An authentication failure (or unusable security settings) ends the search: the
        // next broker refuses alike, and Kafka's clients surface it as it is.
        for id in ids {
            match self.connection(id).await {
                Ok(c) => return Ok(c),
                Err(e) if crate::security::is_fatal(&e) => return Err(e),
                Err(e) => last = Some(e),
            }
        }
        for addr in &self.cfg.bootstrap_servers {
            match Connection::connect(addr, &self.cfg).await {
                Ok(c) => {
                    let c = Arc::new(c);
                    self.state.lock().await.bootstrap = Some(c.clone());
                    return Ok(c);
                }
                Err(e) if crate::security::is_fatal(&e) => return Err(e),
                Err(e) => last = Some(e),
            }
        }
        Err(ClientError::NoBroker(
            last.map(|e| e.to_string())
                .unwrap_or_else(|| "no address".into()),
        ))
    }

    /// The connection to broker `id`, opened on first use and reopened after a failure.
    pub async fn connection(&self, id: i32) -> Result<Arc<Connection>> {
        let addr = {
            let st = self.state.lock().await;
            if let Some(c) = st.conns.get(&id).filter(|c| !c.is_closed()) {
                return Ok(c.clone());
            }
            st.meta
                .brokers
                .get(&id)
                .map(BrokerInfo::addr)
                .ok_or_else(|| {
                    ClientError::NoBroker(format!("broker {id} is not in the metadata"))
                })?
        };
        let conn = Arc::new(Connection::connect(&addr, &self.cfg).await?);
        let mut st = self.state.lock().await;
        if let Some(c) = st.conns.get(&id).filter(|c| !c.is_closed()) {
            return Ok(c.clone());
        }
        st.conns.insert(id, conn.clone());
        Ok(conn)
    }

    /// A connection to the host and port given (a coordinator from FindCoordinator),
    /// shared with the broker's own connection when the id is known.
    pub async fn connection_to(&self, id: i32, host: &str, port: i32) -> Result<Arc<Connection>> {
        {
            let mut st = self.state.lock().await;
            Arc::make_mut(&mut st.meta)
                .brokers
                .entry(id)
                .or_insert_with(|| BrokerInfo {
                    id,
                    host: host.to_string(),
                    port,
                    rack: None,
                });
        }
        self.connection(id).await
    }

    /// Refreshes metadata for `topics` (all topics when empty), retrying with backoff.
    pub async fn refresh(&self, topics: &[String]) -> Result<ClusterMetadata> {
        self.refresh_with(topics, false).await
    }

    /// Like [`Cluster::refresh`], asking the broker to auto-create missing topics.
    pub async fn refresh_with(
        &self,
        topics: &[String],
        auto_create: bool,
    ) -> Result<ClusterMetadata> {
        let _one_at_a_time = self.meta_lock.lock().await;
        let resp = self.send_any(metadata_request(topics, auto_create)).await?;
        let mut st = self.state.lock().await;
        let meta = Arc::make_mut(&mut st.meta);
        meta.cluster_id = resp.cluster_id.as_ref().map(|s| s.to_string());
        meta.controller_id = resp.controller_id;
        let brokers: BTreeMap<i32, BrokerInfo> = resp
            .brokers
            .iter()
            .map(|b| {
                (
                    b.node_id,
                    BrokerInfo {
                        id: b.node_id,
                        host: b.host.to_string(),
                        port: b.port,
                        rack: b.rack.as_ref().map(|r| r.to_string()),
                    },
                )
            })
            .collect();
        if !brokers.is_empty() {
            meta.brokers = brokers;
        }
        if topics.is_empty() {
            meta.topics.clear();
        }
        for t in &resp.topics {
            let Some(name) = t.name.as_ref() else {
                continue;
            };
            meta.topics.insert(name.to_string(), topic_info(name, t));
        }
        // Connections to brokers that left the cluster are dropped.
        let known: Vec<i32> = st.meta.brokers.keys().copied().collect();
        st.conns.retain(|id, _| known.contains(id));
        st.refreshed = Some(Instant::now());
        Ok(ClusterMetadata::clone(&st.meta))
    }

    /// The metadata for `topic`, refreshing once if it is unknown or stale.
    pub async fn topic(&self, topic: &str, auto_create: bool) -> Result<TopicInfo> {
        {
            let st = self.state.lock().await;
            let fresh = st
                .refreshed
                .is_some_and(|t| t.elapsed() < self.cfg.metadata_max_age);
            if let Some(t) = st
                .meta
                .topics
                .get(topic)
                .filter(|t| t.error_code == 0 && fresh)
            {
                return Ok(t.clone());
            }
        }
        let mut attempt = 0;
        loop {
            let meta = self.refresh_with(&[topic.to_string()], auto_create).await?;
            match meta.topics.get(topic) {
                Some(t) if t.error_code == 0 && !t.partitions.is_empty() => return Ok(t.clone()),
                Some(t)
                    if crate::kafka_error::is_retriable(t.error_code)
                        && t.error_code != code::UNKNOWN_TOPIC_OR_PARTITION
                        && attempt < self.cfg.retries =>
                {
                    tokio::time::sleep(self.cfg.backoff(attempt)).await;
                    attempt += 1;
                }
                Some(t)
                    if t.error_code == code::UNKNOWN_TOPIC_OR_PARTITION
                        && auto_create
                        && attempt < 3 =>
                {
                    tokio::time::sleep(self.cfg.backoff(attempt)).await;
                    attempt += 1;
                }
                Some(t) if t.error_code != 0 => {
                    return Err(ClientError::kafka(
                        t.error_code,
                        format!("metadata for {topic}"),
                        None,
                    ));
                }
                _ => return Err(ClientError::UnknownTopic(topic.to_string())),
            }
        }
    }

    /// Sends `req` to any broker, retrying retriable failures with backoff.
    pub async fn send_any<R: ApiRequest + Clone>(&self, req: R) -> Result<R::Response> {
        let mut attempt = 0;
        loop {
            let r = match self.any_connection().await {
                Ok(c) => c.send(req.clone()).await,
                Err(e) => Err(e),
            };
            match r {
                Err(e) if e.is_retriable() && attempt < self.cfg.retries => {
                    self.forget_bootstrap().await;
                    tokio::time::sleep(self.cfg.backoff(attempt)).await;
                    attempt += 1;
                }
                other => return other,
            }
        }
    }

    /// Sends `req` to broker `id`, retrying connection failures with backoff.
    pub async fn send_to<R: ApiRequest + Clone>(&self, id: i32, req: R) -> Result<R::Response> {
        let mut attempt = 0;
        loop {
            let r = match self.connection(id).await {
                Ok(c) => c.send(req.clone()).await,
                Err(e) => Err(e),
            };
            match r {
                Err(
                    e @ (ClientError::Io { .. }
                    | ClientError::Disconnected(_)
                    | ClientError::Timeout(_)),
                ) if attempt < self.cfg.retries => {
                    let _ = e;
                    tokio::time::sleep(self.cfg.backoff(attempt)).await;
                    attempt += 1;
                }
                other => return other,
            }
        }
    }

    /// Sends `req` to the controller (any broker when it is unknown).
    pub async fn send_controller<R: ApiRequest + Clone>(&self, req: R) -> Result<R::Response> {
        let id = self.state.lock().await.meta.controller_id;
        if id >= 0 && self.state.lock().await.meta.brokers.contains_key(&id) {
            self.send_to(id, req).await
        } else {
            self.send_any(req).await
        }
    }

    async fn forget_bootstrap(&self) {
        let mut st = self.state.lock().await;
        if st.bootstrap.as_ref().is_some_and(|c| c.is_closed()) {
            st.bootstrap = None;
        }
    }

    /// Closes every connection.
    pub async fn close(&self) {
        let mut st = self.state.lock().await;
        for c in st.conns.values() {
            c.close();
        }
        st.conns.clear();
        if let Some(c) = st.bootstrap.take() {
            c.close();
        }
    }
}

/// The Metadata request for `topics` (all topics when empty).
fn metadata_request(topics: &[String], auto_create: bool) -> MetadataRequest {
    MetadataRequest {
        topics: if topics.is_empty() {
            None
        } else {
            Some(
                topics
                    .iter()
                    .map(|t| MetadataRequestTopic {
                        name: Some(t.as_str().into()),
                        ..Default::default()
                    })
                    .collect(),
            )
        },
        allow_auto_topic_creation: auto_create,
        ..Default::default()
    }
}

/// Topic `name` as the Metadata response `t` describes it, partitions in order.
fn topic_info(name: &str, t: &MetadataResponseTopic) -> TopicInfo {
    let mut partitions: Vec<PartitionInfo> = t
        .partitions
        .iter()
        .map(|p| PartitionInfo {
            partition: p.partition_index,
            leader: p.leader_id,
            leader_epoch: p.leader_epoch,
            replicas: p.replica_nodes.clone(),
            isr: p.isr_nodes.clone(),
            offline: p.offline_replicas.clone(),
            error_code: p.error_code,
        })
        .collect();
    partitions.sort_by_key(|p| p.partition);
    TopicInfo {
        name: name.to_string(),
        id: t.topic_id,
        internal: t.is_internal,
        error_code: t.error_code,
        partitions,
    }
}
