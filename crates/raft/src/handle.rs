//! `Controller`: the cheap, cloneable handle brokers use. `start` opens (or formats) the metadata
//! dir and spawns the driver; admin methods send the sans-IO controller function to the driver,
//! wait until its records are committed and applied, and return Kafka responses (every item
//! carries its own error code; a failed commit becomes NOT_CONTROLLER / REQUEST_TIMED_OUT).

use std::sync::Arc;

use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;

use vltava_protocol::messages::{
    AlterClientQuotasRequest, AlterClientQuotasResponse, AlterConfigsRequest, AlterConfigsResponse,
    AlterPartitionRequest, AlterPartitionResponse, CreateAclsRequest, CreateAclsResponse,
    CreatePartitionsRequest, CreatePartitionsResponse, CreateTopicsRequest, CreateTopicsResponse,
    DeleteAclsRequest, DeleteAclsResponse, DeleteTopicsRequest, DeleteTopicsResponse,
    ElectLeadersRequest, ElectLeadersResponse, IncrementalAlterConfigsRequest,
    IncrementalAlterConfigsResponse,
};
use vltava_protocol::messages::{
    alter_client_quotas_response, alter_configs_response, create_acls_response,
    create_partitions_response, create_topics_response, delete_acls_response,
    delete_topics_response, elect_leaders_response, incremental_alter_configs_response,
};

use crate::config::{ElectionSettings, QuorumConfig, TopicDefaults, Voter};
use crate::controller::{self, IdSource};
use crate::controller_rpc::{ControllerService, RpcClient};
use crate::driver::{Command, Driver, Heartbeat, HeartbeatState};
use crate::error::{RaftError, codes};
use crate::image::MetadataImage;
use crate::node::RaftNode;
use crate::quorum_status::QuorumStatus;
use crate::records::MetadataRecord;
use crate::tcp_transport::TcpTransport;
use crate::transport::{NoTransport, Transport};

/// Shortest time `start` waits for a one-voter quorum to lead and catch up.
const STARTUP_TIMEOUT_MIN: std::time::Duration = std::time::Duration::from_secs(10);

/// Handle to the running quorum member and controller.
#[derive(Clone, Debug)]
pub struct Controller {
    pub(crate) commands: mpsc::Sender<Command>,
    pub(crate) images: watch::Receiver<Arc<MetadataImage>>,
    pub(crate) node_id: i32,
    task: Arc<std::sync::Mutex<Option<JoinHandle<()>>>>,
    /// Every voter's controller listener, for requests this node must send to the leader.
    pub(crate) voters: Arc<Vec<Voter>>,
    /// The controller channel to other voters; `None` when there are none to talk to.
    pub(crate) rpc: Option<Arc<RpcClient>>,
    /// Topic defaults this controller applies to CreateTopics it serves for other brokers.
    pub(crate) defaults: TopicDefaults,
    pub(crate) elections: ElectionSettings,
    pub(crate) cluster_id: String,
    pub(crate) proposal_timeout: std::time::Duration,
}

impl Controller {
    /// Opens or formats `cfg.metadata_dir` and starts this node's part of the quorum. With one
    /// voter it returns once this node leads and has applied the whole committed log. With
    /// several (or `serve_listener`) it binds this voter's address as the controller
    /// listener, talks to the others over TCP, and returns at once (the image shows the
    /// leader once one is elected).
    pub async fn start(cfg: QuorumConfig) -> Result<Controller, RaftError> {
        if cfg.voters.len() == 1 && !cfg.serve_listener {
            let (_tx, rx) = mpsc::channel(1);
            return Self::start_with_transport(cfg, NoTransport, rx, None).await;
        }
        let Some(me) = cfg.voters.iter().find(|v| v.id == cfg.node_id) else {
            return Err(RaftError::Config(format!(
                "node {} is not a voter",
                cfg.node_id
            )));
        };
        let listener = tokio::net::TcpListener::bind(me.addr).await.map_err(|e| {
            RaftError::Config(format!("cannot bind controller listener {}: {e}", me.addr))
        })?;
        Self::start_with_listener(cfg, listener).await
    }

    /// Starts an observer (a broker-only node): it follows the metadata log of the quorum in
    /// `cfg.voters` (or, without voters, the one `cfg.bootstrap_servers` describe) from its
    /// leader, never votes, and sends every request that needs the controller to the leader.
    /// It keeps its image in `cfg.metadata_dir` and resumes from there after a restart.
    /// Returns once it holds everything committed when it started (at most the startup
    /// limit, `proposal_timeout` and at least 10 s).
    pub async fn start_observer(cfg: QuorumConfig) -> Result<Controller, RaftError> {
        if cfg.voters.iter().any(|v| v.id == cfg.node_id) {
            return Err(RaftError::Config(format!(
                "node {} is a voter; an observer must not be",
                cfg.node_id
            )));
        }
        let rpc = Arc::new(RpcClient::with_security(
            format!("vltava-observer-{}", cfg.node_id),
            cfg.link_security.clone(),
        ));
        let limit = cfg.proposal_timeout.max(STARTUP_TIMEOUT_MIN);
        let deadline = tokio::time::Instant::now() + limit;
        let voters = if cfg.voters.is_empty() {
            crate::forward::discover_voters(&rpc, &cfg.bootstrap_servers, deadline).await?
        } else {
            cfg.voters.clone()
        };
        let mut candidates: Vec<std::net::SocketAddr> = voters.iter().map(|v| v.addr).collect();
        for a in &cfg.bootstrap_servers {
            if !candidates.contains(a) {
                candidates.push(*a);
            }
        }
        if candidates.is_empty() {
            return Err(RaftError::Config(
                "an observer needs the voters' addresses or bootstrap servers".into(),
            ));
        }
        let store = crate::observer_store::prepare(&cfg)?;
        let image = crate::observer_store::load(&store, &cfg.cluster_id)
            .unwrap_or_else(|| MetadataImage::empty(&cfg.cluster_id));
        let saved_offset = image.offset;
        let (images_tx, images_rx) = watch::channel(Arc::new(image.clone()));
        let (cmd_tx, cmd_rx) = mpsc::channel(crate::driver::COMMAND_QUEUE);
        let (ready_tx, ready_rx) = oneshot::channel();
        let observer = crate::observer::Observer {
            node_id: cfg.node_id,
            voters: voters.clone(),
            candidates,
            rpc: rpc.clone(),
            image,
            images: images_tx,
            ready: Some(ready_tx),
            next_candidate: 0,
            store,
            saved_offset,
            saved_at: None,
        };
        let fetcher = tokio::spawn(observer.run());
        let task = tokio::spawn(crate::observer::serve_commands(cmd_rx, fetcher));
        let controller = Controller {
            commands: cmd_tx,
            images: images_rx,
            node_id: cfg.node_id,
            task: Arc::new(std::sync::Mutex::new(Some(task))),
            voters: Arc::new(voters),
            rpc: Some(rpc),
            defaults: cfg.topic_defaults,
            elections: cfg.elections,
            cluster_id: cfg.cluster_id.clone(),
            proposal_timeout: cfg.proposal_timeout,
        };
        match tokio::time::timeout_at(deadline, ready_rx).await {
            Ok(Ok(Ok(()))) => Ok(controller),
            Ok(Ok(Err(e))) => {
                controller.shutdown().await;
                Err(e)
            }
            Ok(Err(_)) => Err(RaftError::Stopped),
            Err(_) => {
                controller.shutdown().await;
                Err(RaftError::Unreachable(format!(
                    "no leader of the voters {:?} served the metadata log within {limit:?}",
                    cfg.voters.iter().map(|v| v.id).collect::<Vec<_>>()
                )))
            }
        }
    }

    /// Starts with an already bound controller listener (several voters, TCP transport).
    pub async fn start_with_listener(
        cfg: QuorumConfig,
        listener: tokio::net::TcpListener,
    ) -> Result<Controller, RaftError> {
        let service = Arc::new(ControllerService::default());
        let (transport, inbox) = TcpTransport::start_with_rpc(
            cfg.node_id,
            &cfg.voters,
            listener,
            Some(crate::controller_rpc::service::as_handler(&service)),
            cfg.link_security.clone(),
        );
        let rpc = Arc::new(RpcClient::with_security(
            format!("vltava-controller-channel-{}", cfg.node_id),
            cfg.link_security.clone(),
        ));
        let controller = Self::start_with_transport(cfg, transport, inbox, Some(rpc)).await?;
        service.set(controller.clone());
        Ok(controller)
    }

    /// Starts with a given transport and inbox of peer messages; `rpc` reaches the other
    /// voters' controller listeners (without it, requests that need the leader fail with
    /// NOT_CONTROLLER on a node that does not lead).
    pub async fn start_with_transport<T: Transport>(
        cfg: QuorumConfig,
        transport: T,
        inbox: mpsc::Receiver<raft::eraftpb::Message>,
        rpc: Option<Arc<RpcClient>>,
    ) -> Result<Controller, RaftError> {
        let node = RaftNode::open(&cfg)?;
        let (images_tx, images_rx) = watch::channel(Arc::new(node.image().clone()));
        let (cmd_tx, cmd_rx) = mpsc::channel(crate::driver::COMMAND_QUEUE);
        let (ready_tx, ready_rx) = oneshot::channel();
        let driver = Driver::new(
            node,
            transport,
            inbox,
            cmd_rx,
            images_tx,
            ready_tx,
            cfg.tick_interval,
            cfg.proposal_timeout,
            cfg.voters.clone(),
            cfg.broker_session_timeout,
            cfg.elections,
        )
        .with_bootstrap_records(cfg.bootstrap_records.clone());
        let task = tokio::spawn(driver.run());
        match tokio::time::timeout(cfg.proposal_timeout.max(STARTUP_TIMEOUT_MIN), ready_rx).await {
            Ok(Ok(Ok(()))) => {}
            Ok(Ok(Err(e))) => return Err(e),
            Ok(Err(_)) => return Err(RaftError::Stopped),
            Err(_) => {
                task.abort();
                return Err(RaftError::Timeout);
            }
        }
        Ok(Controller {
            commands: cmd_tx,
            images: images_rx,
            node_id: cfg.node_id,
            task: Arc::new(std::sync::Mutex::new(Some(task))),
            voters: Arc::new(cfg.voters.clone()),
            rpc,
            defaults: cfg.topic_defaults,
            elections: cfg.elections,
            cluster_id: cfg.cluster_id.clone(),
            proposal_timeout: cfg.proposal_timeout,
        })
    }

    /// The latest committed image.
    pub fn image(&self) -> Arc<MetadataImage> {
        self.images.borrow().clone()
    }

    /// A receiver that sees every new committed image.
    pub fn subscribe(&self) -> watch::Receiver<Arc<MetadataImage>> {
        self.images.clone()
    }

    /// The metadata quorum as DescribeQuorum reports it. `Err(NotController)` when this node
    /// does not lead the quorum (only the leader knows its followers' progress).
    pub(crate) async fn local_describe_quorum(&self) -> Result<QuorumStatus, RaftError> {
        let (tx, rx) = oneshot::channel();
        if self
            .commands
            .send(Command::DescribeQuorum(tx))
            .await
            .is_err()
        {
            return Err(RaftError::Stopped);
        }
        match rx.await {
            Ok(Some(status)) => Ok(status),
            Ok(None) => Err(RaftError::NotController),
            Err(_) => Err(RaftError::Stopped),
        }
    }

    /// Runs `f` on the driver against the pending image; returns its response (if it ran) and
    /// whether its records committed.
    async fn run<R: Send + 'static>(
        &self,
        f: impl FnOnce(&MetadataImage, &mut dyn IdSource) -> (R, Vec<MetadataRecord>) + Send + 'static,
    ) -> (Option<R>, Result<(), RaftError>) {
        let (resp_tx, mut resp_rx) = oneshot::channel();
        let (done_tx, done_rx) = oneshot::channel();
        let build = Box::new(move |image: &MetadataImage, ids: &mut dyn IdSource| {
            let (resp, records) = f(image, ids);
            let _ = resp_tx.send(resp);
            records
        });
        if self
            .commands
            .send(Command::Propose {
                build,
                done: done_tx,
            })
            .await
            .is_err()
        {
            return (None, Err(RaftError::Stopped));
        }
        let result = done_rx.await.unwrap_or(Err(RaftError::Stopped));
        (resp_rx.try_recv().ok(), result)
    }

    /// Runs an admin request through [`Handle::run`]. When the proposal fails
    /// (not leader, stopped, timed out), every item still marked successful in the
    /// response (or in `fallback()`, built from the request, if the controller never
    /// produced one) gets the failure's code and message via `mark_failed`.
    pub(crate) async fn run_admin<R: Default + Send + 'static>(
        &self,
        f: impl FnOnce(&MetadataImage, &mut dyn IdSource) -> (R, Vec<MetadataRecord>) + Send + 'static,
        fallback: impl FnOnce() -> R,
        mark_failed: impl FnOnce(&mut R, i16, String),
    ) -> R {
        match self.run(f).await {
            (Some(resp), Ok(())) => resp,
            (resp, Err(e)) => {
                let mut resp = resp.unwrap_or_else(fallback);
                mark_failed(&mut resp, e.kafka_code(), e.to_string());
                resp
            }
            (None, Ok(())) => R::default(),
        }
    }

    /// A broker's heartbeat, on this node's driver (NOT_CONTROLLER unless it leads).
    pub(crate) async fn local_heartbeat(
        &self,
        id: i32,
        epoch: i64,
        want_fence: bool,
        want_shut_down: bool,
    ) -> Result<HeartbeatState, RaftError> {
        let (reply, rx) = oneshot::channel();
        let hb = Heartbeat {
            id,
            epoch,
            want_fence,
            want_shut_down,
        };
        if self
            .commands
            .send(Command::Heartbeat(hb, reply))
            .await
            .is_err()
        {
            return Err(RaftError::Stopped);
        }
        rx.await.unwrap_or(Err(RaftError::Stopped))
    }

    /// Registers (or re-registers) a broker, unfenced, and elects it for the offline
    /// partitions whose ISR holds it. Returns its broker epoch.
    pub(crate) async fn local_register_broker(
        &self,
        id: i32,
        endpoints: Vec<crate::image::ListenerEndpoint>,
        rack: Option<String>,
    ) -> Result<i64, RaftError> {
        let unclean = self.elections.unclean_default;
        let (epoch, r) = self
            .run(move |image, _| {
                let rec =
                    controller::register_broker_endpoints(image, id, &endpoints, rack.as_deref());
                let epoch = match &rec {
                    MetadataRecord::RegisterBroker(b) => b.broker_epoch,
                    _ => -1,
                };
                let records = controller::fencing::register_and_elect(image, rec);
                (
                    epoch,
                    controller::elections::then_unclean_elections(image, records, unclean),
                )
            })
            .await;
        r?;
        epoch.ok_or(RaftError::Stopped)
    }

    /// CreateTopics at `version`.
    pub(crate) async fn local_create_topics(
        &self,
        req: CreateTopicsRequest,
        version: i16,
        defaults: &TopicDefaults,
    ) -> CreateTopicsResponse {
        let names: Vec<_> = req.topics.iter().map(|t| t.name.clone()).collect();
        let defaults = *defaults;
        self.run_admin(
            move |image, ids| controller::create_topics(image, &req, version, &defaults, ids),
            || CreateTopicsResponse {
                topics: names
                    .into_iter()
                    .map(|name| create_topics_response::CreatableTopicResult {
                        name,
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            },
            |resp, code, message| {
                for t in resp
                    .topics
                    .iter_mut()
                    .filter(|t| t.error_code == codes::NONE)
                {
                    t.error_code = code;
                    t.error_message = (version >= 1).then(|| message.clone().into());
                    t.topic_id = Default::default();
                    t.num_partitions = -1;
                    t.replication_factor = -1;
                    t.configs = None;
                }
            },
        )
        .await
    }

    /// DeleteTopics at `version`.
    pub(crate) async fn local_delete_topics(
        &self,
        req: DeleteTopicsRequest,
        version: i16,
    ) -> DeleteTopicsResponse {
        let targets: Vec<_> = if version >= 6 {
            req.topics
                .iter()
                .map(|t| (t.name.clone(), t.topic_id))
                .collect()
        } else {
            req.topic_names
                .iter()
                .map(|n| (Some(n.clone()), Default::default()))
                .collect()
        };
        self.run_admin(
            move |image, _| controller::delete_topics(image, &req, version),
            || DeleteTopicsResponse {
                responses: targets
                    .into_iter()
                    .map(
                        |(name, topic_id)| delete_topics_response::DeletableTopicResult {
                            name,
                            topic_id,
                            ..Default::default()
                        },
                    )
                    .collect(),
                ..Default::default()
            },
            |resp, code, message| {
                for t in resp
                    .responses
                    .iter_mut()
                    .filter(|t| t.error_code == codes::NONE)
                {
                    t.error_code = code;
                    t.error_message = (version >= 5).then(|| message.clone().into());
                }
            },
        )
        .await
    }

    /// CreatePartitions at `version`.
    pub(crate) async fn local_create_partitions(
        &self,
        req: CreatePartitionsRequest,
        version: i16,
    ) -> CreatePartitionsResponse {
        let names: Vec<_> = req.topics.iter().map(|t| t.name.clone()).collect();
        self.run_admin(
            move |image, _| controller::create_partitions(image, &req, version),
            || CreatePartitionsResponse {
                results: names
                    .into_iter()
                    .map(
                        |name| create_partitions_response::CreatePartitionsTopicResult {
                            name,
                            ..Default::default()
                        },
                    )
                    .collect(),
                ..Default::default()
            },
            |resp, code, message| {
                for t in resp
                    .results
                    .iter_mut()
                    .filter(|t| t.error_code == codes::NONE)
                {
                    t.error_code = code;
                    t.error_message = Some(message.clone().into());
                }
            },
        )
        .await
    }

    /// ElectLeaders at `version`.
    pub(crate) async fn local_elect_leaders(
        &self,
        req: ElectLeadersRequest,
        version: i16,
    ) -> ElectLeadersResponse {
        let named = req.topic_partitions.clone();
        self.run_admin(
            move |image, _| controller::elect_leaders(image, &req),
            || ElectLeadersResponse {
                replica_election_results: named
                    .into_iter()
                    .flatten()
                    .map(|t| elect_leaders_response::ReplicaElectionResult {
                        topic: t.topic,
                        partition_result: t
                            .partitions
                            .into_iter()
                            .map(|p| elect_leaders_response::PartitionResult {
                                partition_id: p,
                                ..Default::default()
                            })
                            .collect(),
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            },
            |resp, code, message| {
                let mut marked = false;
                for p in resp
                    .replica_election_results
                    .iter_mut()
                    .flat_map(|t| t.partition_result.iter_mut())
                    .filter(|p| p.error_code == codes::NONE)
                {
                    p.error_code = code;
                    p.error_message = Some(message.clone().into());
                    marked = true;
                }
                if !marked && version >= 1 {
                    resp.error_code = code;
                }
            },
        )
        .await
    }

    /// IncrementalAlterConfigs at `version`.
    pub(crate) async fn local_incremental_alter_configs(
        &self,
        req: IncrementalAlterConfigsRequest,
        version: i16,
    ) -> IncrementalAlterConfigsResponse {
        let resources: Vec<_> = req
            .resources
            .iter()
            .map(|r| (r.resource_type, r.resource_name.clone()))
            .collect();
        self.run_admin(
            move |image, _| controller::incremental_alter_configs(image, &req, version),
            || IncrementalAlterConfigsResponse {
                responses: resources
                    .into_iter()
                    .map(|(resource_type, resource_name)| {
                        incremental_alter_configs_response::AlterConfigsResourceResponse {
                            resource_type,
                            resource_name,
                            ..Default::default()
                        }
                    })
                    .collect(),
                ..Default::default()
            },
            |resp, code, message| {
                for r in resp
                    .responses
                    .iter_mut()
                    .filter(|r| r.error_code == codes::NONE)
                {
                    r.error_code = code;
                    r.error_message = Some(message.clone().into());
                }
            },
        )
        .await
    }

    /// AlterConfigs (replace-all) at `version`.
    pub(crate) async fn local_alter_configs(
        &self,
        req: AlterConfigsRequest,
        version: i16,
    ) -> AlterConfigsResponse {
        let resources: Vec<_> = req
            .resources
            .iter()
            .map(|r| (r.resource_type, r.resource_name.clone()))
            .collect();
        self.run_admin(
            move |image, _| controller::alter_configs(image, &req, version),
            || AlterConfigsResponse {
                responses: resources
                    .into_iter()
                    .map(|(resource_type, resource_name)| {
                        alter_configs_response::AlterConfigsResourceResponse {
                            resource_type,
                            resource_name,
                            ..Default::default()
                        }
                    })
                    .collect(),
                ..Default::default()
            },
            |resp, code, message| {
                for r in resp
                    .responses
                    .iter_mut()
                    .filter(|r| r.error_code == codes::NONE)
                {
                    r.error_code = code;
                    r.error_message = Some(message.clone().into());
                }
            },
        )
        .await
    }

    pub(crate) async fn local_alter_client_quotas(
        &self,
        req: AlterClientQuotasRequest,
        version: i16,
    ) -> AlterClientQuotasResponse {
        let entities: Vec<_> = req
            .entries
            .iter()
            .map(|e| {
                e.entity
                    .iter()
                    .map(|d| alter_client_quotas_response::EntityData {
                        entity_type: d.entity_type.clone(),
                        entity_name: d.entity_name.clone(),
                        ..Default::default()
                    })
                    .collect::<Vec<_>>()
            })
            .collect();
        self.run_admin(
            move |image, _| controller::alter_client_quotas(image, &req, version),
            || AlterClientQuotasResponse {
                entries: entities
                    .into_iter()
                    .map(|entity| alter_client_quotas_response::EntryData {
                        entity,
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            },
            |resp, code, message| {
                for e in resp
                    .entries
                    .iter_mut()
                    .filter(|e| e.error_code == codes::NONE)
                {
                    e.error_code = code;
                    e.error_message = Some(message.clone().into());
                }
            },
        )
        .await
    }

    /// CreateAcls on this node's controller.
    pub(crate) async fn local_create_acls(&self, req: CreateAclsRequest) -> CreateAclsResponse {
        let n = req.creations.len();
        self.run_admin(
            move |image, ids| controller::create_acls(image, &req, ids),
            || CreateAclsResponse {
                results: vec![create_acls_response::AclCreationResult::default(); n],
                ..Default::default()
            },
            |resp, code, message| {
                for r in resp
                    .results
                    .iter_mut()
                    .filter(|r| r.error_code == codes::NONE)
                {
                    r.error_code = code;
                    r.error_message = Some(message.clone().into());
                }
            },
        )
        .await
    }

    /// DeleteAcls on this node's controller.
    pub(crate) async fn local_delete_acls(&self, req: DeleteAclsRequest) -> DeleteAclsResponse {
        let n = req.filters.len();
        self.run_admin(
            move |image, _| controller::delete_acls(image, &req),
            || DeleteAclsResponse {
                filter_results: vec![delete_acls_response::DeleteAclsFilterResult::default(); n],
                ..Default::default()
            },
            |resp, code, message| {
                for r in resp
                    .filter_results
                    .iter_mut()
                    .filter(|r| r.error_code == codes::NONE)
                {
                    r.error_code = code;
                    r.error_message = Some(message.clone().into());
                    r.matching_acls.clear();
                }
            },
        )
        .await
    }

    /// AlterPartition at `version` on this node's controller; a request-level error code when
    /// the proposal did not commit.
    pub(crate) async fn local_alter_partition(
        &self,
        req: AlterPartitionRequest,
        version: i16,
    ) -> AlterPartitionResponse {
        match self
            .run(move |image, _| controller::alter_partition(image, &req, version))
            .await
        {
            (Some(resp), Ok(())) => resp,
            (_, Err(e)) => AlterPartitionResponse {
                error_code: e.kafka_code(),
                ..Default::default()
            },
            (None, Ok(())) => AlterPartitionResponse {
                error_code: codes::NOT_CONTROLLER,
                ..Default::default()
            },
        }
    }

    /// Takes a block of producer ids (a block of 1000 when `count` is not positive).
    /// Returns (first id, number of ids).
    pub(crate) async fn local_allocate_producer_ids(
        &self,
        broker_id: i32,
        count: i32,
    ) -> Result<(i64, i32), RaftError> {
        let (resp, result) = self
            .run(move |image, _| {
                let (first, len, rec) = controller::allocate_producer_ids(image, broker_id, count);
                ((first, len), vec![rec])
            })
            .await;
        result?;
        resp.ok_or(RaftError::Stopped)
    }

    /// Stops the driver (pending requests fail with NOT_CONTROLLER) and waits for it.
    pub async fn shutdown(self) {
        let (tx, rx) = oneshot::channel();
        if self.commands.send(Command::Shutdown(tx)).await.is_ok() {
            let _ = rx.await;
        }
        let task = self.task.lock().ok().and_then(|mut t| t.take());
        if let Some(task) = task {
            let _ = task.await;
        }
    }
}
