//! The `Controller` methods brokers call: each runs where the quorum leader is. On the leader
//! it runs locally; on another voter the request goes over the controller channel to the
//! leader's controller listener (Kafka's forwarding); while no leader is known it waits up to
//! [`LEADER_WAIT`]. If the channel fails, or this node learns of another leader (or of an
//! election) while the request waits for the old one, the local path answers
//! (NOT_CONTROLLER, unless this node became leader meanwhile), so every item of a response
//! still carries an error code, and the caller's retry goes to the new leader: a request
//! never waits out its whole timeout on a controller that stopped (Kafka's broker-to-controller
//! channel likewise drops its connection when the active controller changes).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use vltava_protocol::messages::broker_registration_request::Listener;
use vltava_protocol::messages::describe_quorum_request::{PartitionData, TopicData};
use vltava_protocol::messages::{
    AllocateProducerIdsRequest, AlterClientQuotasRequest, AlterClientQuotasResponse,
    AlterConfigsRequest, AlterConfigsResponse, AlterPartitionRequest, AlterPartitionResponse,
    BrokerHeartbeatRequest, BrokerRegistrationRequest, CreateAclsRequest, CreateAclsResponse,
    CreatePartitionsRequest, CreatePartitionsResponse, CreateTopicsRequest, CreateTopicsResponse,
    DeleteAclsRequest, DeleteAclsResponse, DeleteTopicsRequest, DeleteTopicsResponse,
    DescribeQuorumRequest, ElectLeadersRequest, ElectLeadersResponse,
    IncrementalAlterConfigsRequest, IncrementalAlterConfigsResponse,
};
use vltava_protocol::{ApiKey, RequestBody, ResponseBody};

use crate::config::TopicDefaults;
use crate::controller_rpc::RpcError;
use crate::driver::HeartbeatState;
use crate::error::{RaftError, codes};
use crate::handle::Controller;
use crate::image::{ListenerEndpoint, MetadataImage};
use crate::quorum_status::QuorumStatus;
use crate::quorum_wire::{self, METADATA_TOPIC};

/// Longest a request waits for a quorum leader to be known.
pub const LEADER_WAIT: Duration = Duration::from_secs(5);

/// Where a request that needs the leader runs.
pub(crate) enum Route {
    Local,
    Remote(Leader),
}

/// Another node leading the quorum, as this node's image names it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Leader {
    id: i32,
    addr: SocketAddr,
}

/// Resolves once `images` name a leader other than `leader` (-1 during an election); never
/// when the images end (the node is stopping: the call's own timeout ends the wait).
async fn leader_changed(mut images: watch::Receiver<Arc<MetadataImage>>, leader: i32) {
    loop {
        if images.borrow_and_update().controller_id != leader {
            return;
        }
        if images.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

/// The voters of the quorum, asked of `bootstrap` (controller listeners) with DescribeQuorum
/// until one of them (the leader) answers, or `deadline`.
pub(crate) async fn discover_voters(
    rpc: &crate::controller_rpc::RpcClient,
    bootstrap: &[SocketAddr],
    deadline: tokio::time::Instant,
) -> Result<Vec<crate::config::Voter>, RaftError> {
    if bootstrap.is_empty() {
        return Err(RaftError::Config(
            "an observer needs controller.quorum.voters or controller.quorum.bootstrap.servers"
                .into(),
        ));
    }
    let version = ApiKey::DescribeQuorum.max_version();
    loop {
        for addr in bootstrap {
            let req = describe_quorum_request();
            if let Ok(ResponseBody::DescribeQuorum(r)) = rpc
                .call(
                    *addr,
                    RequestBody::from(req),
                    version,
                    Duration::from_secs(2),
                )
                .await
            {
                if let Ok(status) = quorum_wire::from_response(&r) {
                    if !status.voter_endpoints.is_empty() {
                        return Ok(status.voter_endpoints);
                    }
                }
            }
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(RaftError::Unreachable(format!(
                "no leader among controller.quorum.bootstrap.servers {bootstrap:?} described the quorum"
            )));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn describe_quorum_request() -> DescribeQuorumRequest {
    DescribeQuorumRequest {
        topics: vec![TopicData {
            topic_name: METADATA_TOPIC.into(),
            partitions: vec![PartitionData {
                partition_index: 0,
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    }
}

impl Controller {
    /// This node's id.
    pub fn node_id(&self) -> i32 {
        self.node_id
    }

    /// The active controller's node id, -1 while none is known.
    pub fn leader_id(&self) -> i32 {
        self.images.borrow().controller_id
    }

    pub(crate) async fn route(&self) -> Route {
        if self.rpc.is_none() {
            return Route::Local;
        }
        let mut images = self.images.clone();
        let deadline = tokio::time::Instant::now() + LEADER_WAIT;
        loop {
            let leader = images.borrow_and_update().controller_id;
            if leader == self.node_id {
                return Route::Local;
            }
            if let Some(v) = self.voters.iter().find(|v| v.id == leader) {
                return Route::Remote(Leader {
                    id: leader,
                    addr: v.addr,
                });
            }
            match tokio::time::timeout_at(deadline, images.changed()).await {
                Ok(Ok(())) => {}
                _ => return Route::Local,
            }
        }
    }

    /// Sends `body` to `leader`; `None` when the channel failed, or when this node's image
    /// stops naming `leader` before it answers (a new election: the old leader may be
    /// stopped and would keep the request until the timeout; a broker heartbeat held there
    /// meanwhile would get the healthy broker fenced by the new leader). When the leader
    /// cannot be reached (its process died, a pooled connection went stale), the request is
    /// tried once more on a fresh connection, then on the next leader this node learns of
    /// within [`LEADER_WAIT`] (a new election, or an observer finding it); a call that timed
    /// out is not repeated, since the leader may have run it.
    pub(crate) async fn forward(
        &self,
        leader: Leader,
        body: RequestBody,
        version: i16,
    ) -> Option<ResponseBody> {
        let rpc = self.rpc.as_ref()?;
        let timeout = self.proposal_timeout + Duration::from_secs(5);
        let deadline = tokio::time::Instant::now() + LEADER_WAIT;
        let mut leader = leader;
        let mut same_again = true;
        loop {
            let answer = tokio::select! {
                r = rpc.call(leader.addr, body.clone(), version, timeout) => r,
                () = leader_changed(self.images.clone(), leader.id) => return None,
            };
            match answer {
                Ok(r) => return Some(r),
                Err(RpcError::Timeout(_)) => return None,
                Err(_) if same_again => same_again = false,
                Err(_) => leader = self.next_leader(leader.addr, deadline).await?,
            }
        }
    }

    /// A leader other than the one at `failed`, once this node's image names one (before
    /// `deadline`); `None` when none does, or this node leads.
    async fn next_leader(
        &self,
        failed: SocketAddr,
        deadline: tokio::time::Instant,
    ) -> Option<Leader> {
        let mut images = self.images.clone();
        loop {
            let leader = images.borrow_and_update().controller_id;
            if leader == self.node_id {
                return None;
            }
            if let Some(v) = self
                .voters
                .iter()
                .find(|v| v.id == leader && v.addr != failed)
            {
                return Some(Leader {
                    id: v.id,
                    addr: v.addr,
                });
            }
            match tokio::time::timeout_at(deadline, images.changed()).await {
                Ok(Ok(())) => {}
                _ => return None,
            }
        }
    }

    /// Waits (at most [`LEADER_WAIT`]) until this node's own image satisfies `applied`: after
    /// a forwarded request the leader has committed the change, and this node's next answers
    /// should already show it.
    pub(crate) async fn wait_applied(&self, applied: impl Fn(&MetadataImage) -> bool) {
        let mut images = self.images.clone();
        let _ = tokio::time::timeout(LEADER_WAIT, async {
            loop {
                if applied(&images.borrow_and_update()) {
                    return;
                }
                if images.changed().await.is_err() {
                    return;
                }
            }
        })
        .await;
    }

    /// CreateTopics at `version`, on the active controller (its own topic defaults apply when
    /// it is another node).
    pub async fn create_topics(
        &self,
        req: CreateTopicsRequest,
        version: i16,
        defaults: &TopicDefaults,
    ) -> CreateTopicsResponse {
        if let Route::Remote(leader) = self.route().await {
            let body = RequestBody::from(req.clone());
            if let Some(ResponseBody::CreateTopics(r)) = self.forward(leader, body, version).await {
                let created: Vec<String> = r
                    .topics
                    .iter()
                    .filter(|t| t.error_code == codes::NONE && !req.validate_only)
                    .map(|t| t.name.to_string())
                    .collect();
                self.wait_applied(|i| created.iter().all(|n| i.topics.contains_key(n)))
                    .await;
                return r;
            }
        }
        self.local_create_topics(req, version, defaults).await
    }

    /// DeleteTopics at `version`, on the active controller.
    pub async fn delete_topics(
        &self,
        req: DeleteTopicsRequest,
        version: i16,
    ) -> DeleteTopicsResponse {
        if let Route::Remote(leader) = self.route().await {
            let body = RequestBody::from(req.clone());
            if let Some(ResponseBody::DeleteTopics(r)) = self.forward(leader, body, version).await {
                let deleted: Vec<String> = r
                    .responses
                    .iter()
                    .filter(|t| t.error_code == codes::NONE)
                    .filter_map(|t| t.name.as_ref().map(|n| n.to_string()))
                    .collect();
                self.wait_applied(|i| deleted.iter().all(|n| !i.topics.contains_key(n)))
                    .await;
                return r;
            }
        }
        self.local_delete_topics(req, version).await
    }

    /// CreatePartitions at `version`, on the active controller.
    pub async fn create_partitions(
        &self,
        req: CreatePartitionsRequest,
        version: i16,
    ) -> CreatePartitionsResponse {
        if let Route::Remote(leader) = self.route().await {
            let body = RequestBody::from(req.clone());
            if let Some(ResponseBody::CreatePartitions(r)) =
                self.forward(leader, body, version).await
            {
                let grown: Vec<(String, usize)> = req
                    .topics
                    .iter()
                    .filter(|t| {
                        r.results
                            .iter()
                            .any(|x| x.name == t.name && x.error_code == codes::NONE)
                    })
                    .map(|t| (t.name.to_string(), usize::try_from(t.count).unwrap_or(0)))
                    .collect();
                if !req.validate_only {
                    self.wait_applied(|i| {
                        grown.iter().all(|(n, count)| {
                            i.topics
                                .get(n)
                                .is_some_and(|t| t.partitions.len() >= *count)
                        })
                    })
                    .await;
                }
                return r;
            }
        }
        self.local_create_partitions(req, version).await
    }

    /// ElectLeaders at `version`, on the active controller; returns once this node's image
    /// shows the elections made (a new leader epoch for each).
    pub async fn elect_leaders(
        &self,
        req: ElectLeadersRequest,
        version: i16,
    ) -> ElectLeadersResponse {
        if let Route::Remote(leader) = self.route().await {
            let before = self.image();
            let body = RequestBody::from(req.clone());
            if let Some(ResponseBody::ElectLeaders(r)) = self.forward(leader, body, version).await {
                let elected: Vec<(String, i32, i32)> = r
                    .replica_election_results
                    .iter()
                    .flat_map(|t| {
                        t.partition_result
                            .iter()
                            .filter(|p| p.error_code == codes::NONE)
                            .map(move |p| (t.topic.to_string(), p.partition_id))
                    })
                    .map(|(topic, p)| {
                        let epoch = before
                            .topics
                            .get(&topic)
                            .and_then(|t| t.partitions.get(&p))
                            .map_or(-1, |x| x.leader_epoch);
                        (topic, p, epoch)
                    })
                    .collect();
                self.wait_applied(|i| {
                    elected.iter().all(|(topic, p, epoch)| {
                        i.topics
                            .get(topic)
                            .and_then(|t| t.partitions.get(p))
                            .is_none_or(|x| x.leader_epoch > *epoch)
                    })
                })
                .await;
                return r;
            }
        }
        self.local_elect_leaders(req, version).await
    }

    /// IncrementalAlterConfigs at `version`, on the active controller.
    pub async fn incremental_alter_configs(
        &self,
        req: IncrementalAlterConfigsRequest,
        version: i16,
    ) -> IncrementalAlterConfigsResponse {
        if let Route::Remote(leader) = self.route().await {
            let body = RequestBody::from(req.clone());
            if let Some(ResponseBody::IncrementalAlterConfigs(r)) =
                self.forward(leader, body, version).await
            {
                return r;
            }
        }
        self.local_incremental_alter_configs(req, version).await
    }

    /// AlterClientQuotas at `version`, on the active controller.
    pub async fn alter_client_quotas(
        &self,
        req: AlterClientQuotasRequest,
        version: i16,
    ) -> AlterClientQuotasResponse {
        if let Route::Remote(leader) = self.route().await {
            let body = RequestBody::from(req.clone());
            if let Some(ResponseBody::AlterClientQuotas(r)) =
                self.forward(leader, body, version).await
            {
                return r;
            }
        }
        self.local_alter_client_quotas(req, version).await
    }

    /// AlterConfigs (replace-all) at `version`, on the active controller.
    pub async fn alter_configs(
        &self,
        req: AlterConfigsRequest,
        version: i16,
    ) -> AlterConfigsResponse {
        if let Route::Remote(leader) = self.route().await {
            let body = RequestBody::from(req.clone());
            if let Some(ResponseBody::AlterConfigs(r)) = self.forward(leader, body, version).await {
                return r;
            }
        }
        self.local_alter_configs(req, version).await
    }

    /// CreateAcls at `version`, on the active controller; once it answers, this node's image
    /// holds the ACLs it created.
    pub async fn create_acls(&self, req: CreateAclsRequest, version: i16) -> CreateAclsResponse {
        if let Route::Remote(leader) = self.route().await {
            let body = RequestBody::from(req.clone());
            if let Some(ResponseBody::CreateAcls(r)) = self.forward(leader, body, version).await {
                let created: Vec<_> = req
                    .creations
                    .iter()
                    .zip(&r.results)
                    .filter(|(_, res)| res.error_code == codes::NONE)
                    .filter_map(|(c, _)| crate::acl_wire::binding_from_creation(c).ok())
                    .collect();
                self.wait_applied(|i| created.iter().all(|b| i.acls.values().any(|x| x == b)))
                    .await;
                return r;
            }
        }
        self.local_create_acls(req).await
    }

    /// DeleteAcls at `version`, on the active controller; once it answers, this node's image
    /// no longer holds the ACLs it deleted.
    pub async fn delete_acls(&self, req: DeleteAclsRequest, version: i16) -> DeleteAclsResponse {
        if let Route::Remote(leader) = self.route().await {
            let body = RequestBody::from(req.clone());
            if let Some(ResponseBody::DeleteAcls(r)) = self.forward(leader, body, version).await {
                let gone: Vec<(i8, String, i8, String, String, i8, i8)> = r
                    .filter_results
                    .iter()
                    .flat_map(|f| f.matching_acls.iter())
                    .map(|m| {
                        (
                            m.resource_type,
                            m.resource_name.to_string(),
                            m.pattern_type,
                            m.principal.to_string(),
                            m.host.to_string(),
                            m.operation,
                            m.permission_type,
                        )
                    })
                    .collect();
                self.wait_applied(|i| {
                    !i.acls.values().any(|b| {
                        gone.iter().any(|g| {
                            *g == (
                                b.pattern.resource_type.code(),
                                b.pattern.name.clone(),
                                b.pattern.pattern_type.code(),
                                b.entry.principal.clone(),
                                b.entry.host.clone(),
                                b.entry.operation.code(),
                                b.entry.permission.code(),
                            )
                        })
                    })
                })
                .await;
                return r;
            }
        }
        self.local_delete_acls(req).await
    }

    /// Registers (or re-registers) broker `id` with one PLAINTEXT listener, unfenced;
    /// returns its broker epoch.
    pub async fn register_broker(
        &self,
        id: i32,
        host: String,
        port: i32,
        rack: Option<String>,
    ) -> Result<i64, RaftError> {
        let endpoints = vec![crate::controller::plaintext(&host, port)];
        self.register_broker_endpoints(id, endpoints, rack).await
    }

    /// Registers (or re-registers) broker `id` with all its listeners (the first is its
    /// default address), unfenced; returns its broker epoch.
    pub async fn register_broker_endpoints(
        &self,
        id: i32,
        endpoints: Vec<ListenerEndpoint>,
        rack: Option<String>,
    ) -> Result<i64, RaftError> {
        if let Route::Remote(leader) = self.route().await {
            let req = BrokerRegistrationRequest {
                broker_id: id,
                cluster_id: self.cluster_id.as_str().into(),
                listeners: endpoints
                    .iter()
                    .map(|e| Listener {
                        name: e.name.as_str().into(),
                        host: e.host.as_str().into(),
                        port: u16::try_from(e.port).unwrap_or(0),
                        security_protocol: e.security_protocol,
                        ..Default::default()
                    })
                    .collect(),
                rack: rack.as_deref().map(Into::into),
                previous_broker_epoch: -1,
                ..Default::default()
            };
            let version = ApiKey::BrokerRegistration.max_version();
            return match self.forward(leader, RequestBody::from(req), version).await {
                Some(ResponseBody::BrokerRegistration(r)) if r.error_code == codes::NONE => {
                    Ok(r.broker_epoch)
                }
                Some(ResponseBody::BrokerRegistration(r)) => Err(RaftError::Kafka {
                    code: r.error_code,
                    message: format!("registering broker {id}"),
                }),
                _ => Err(RaftError::NotController),
            };
        }
        self.local_register_broker(id, endpoints, rack).await
    }

    /// A heartbeat of broker `id` at `epoch`. `want_shut_down` starts its controlled shutdown:
    /// it is fenced (its leadership moves away) and told `should_shut_down` once that is
    /// committed.
    pub async fn heartbeat(
        &self,
        id: i32,
        epoch: i64,
        want_fence: bool,
        want_shut_down: bool,
    ) -> Result<HeartbeatState, RaftError> {
        if let Route::Remote(leader) = self.route().await {
            let req = BrokerHeartbeatRequest {
                broker_id: id,
                broker_epoch: epoch,
                current_metadata_offset: self.image().offset,
                want_fence,
                want_shut_down,
                ..Default::default()
            };
            let version = ApiKey::BrokerHeartbeat.max_version();
            return match self.forward(leader, RequestBody::from(req), version).await {
                Some(ResponseBody::BrokerHeartbeat(r)) if r.error_code == codes::NONE => {
                    Ok(HeartbeatState {
                        fenced: r.is_fenced,
                        should_shut_down: r.should_shut_down,
                    })
                }
                Some(ResponseBody::BrokerHeartbeat(r)) => Err(RaftError::Kafka {
                    code: r.error_code,
                    message: format!("heartbeat of broker {id}"),
                }),
                _ => Err(RaftError::NotController),
            };
        }
        self.local_heartbeat(id, epoch, want_fence, want_shut_down)
            .await
    }

    /// The metadata quorum as its leader sees it (DescribeQuorum), asked of the leader when
    /// this node does not lead.
    pub async fn describe_quorum(&self) -> Result<QuorumStatus, RaftError> {
        if let Route::Remote(leader) = self.route().await {
            let req = describe_quorum_request();
            let version = ApiKey::DescribeQuorum.max_version();
            return match self.forward(leader, RequestBody::from(req), version).await {
                Some(ResponseBody::DescribeQuorum(r)) => quorum_wire::from_response(&r),
                _ => Err(RaftError::NotController),
            };
        }
        self.local_describe_quorum().await
    }

    /// Takes a block of producer ids for this node (a block of 1000 when `count` is not
    /// positive). Returns (first id, number of ids).
    pub async fn allocate_producer_ids(&self, count: i32) -> Result<(i64, i32), RaftError> {
        let id = self.node_id;
        if let Route::Remote(leader) = self.route().await {
            let epoch = self.image().brokers.get(&id).map(|b| b.epoch).unwrap_or(-1);
            let req = AllocateProducerIdsRequest {
                broker_id: id,
                broker_epoch: epoch,
                ..Default::default()
            };
            let version = ApiKey::AllocateProducerIds.max_version();
            return match self.forward(leader, RequestBody::from(req), version).await {
                Some(ResponseBody::AllocateProducerIds(r)) if r.error_code == codes::NONE => {
                    Ok((r.producer_id_start, r.producer_id_len))
                }
                Some(ResponseBody::AllocateProducerIds(r)) => Err(RaftError::Kafka {
                    code: r.error_code,
                    message: "allocating producer ids".into(),
                }),
                _ => Err(RaftError::NotController),
            };
        }
        self.local_allocate_producer_ids(id, count).await
    }

    /// AlterPartition (ISR changes of partitions this broker leads), on the active controller.
    /// `req` must be shaped for version 3 (topic ids, `NewIsrWithEpochs`): that is the version
    /// it runs or is forwarded at; a field v3 cannot carry fails the forward (NOT_CONTROLLER).
    /// After a forwarded success this waits until this node's image shows the partition
    /// epochs the answer names, so the broker applies the change before it acts on it again.
    /// A failed channel answers NOT_CONTROLLER (the replica resends).
    pub async fn alter_partition(&self, req: AlterPartitionRequest) -> AlterPartitionResponse {
        let version = ApiKey::AlterPartition.max_version();
        if let Route::Remote(leader) = self.route().await {
            let body = RequestBody::from(req);
            return match self.forward(leader, body, version).await {
                Some(ResponseBody::AlterPartition(r)) => {
                    let committed: Vec<(vltava_protocol::Uuid, i32, i32)> = r
                        .topics
                        .iter()
                        .flat_map(|t| {
                            t.partitions
                                .iter()
                                .filter(|p| p.error_code == codes::NONE)
                                .map(move |p| (t.topic_id, p.partition_index, p.partition_epoch))
                        })
                        .collect();
                    self.wait_applied(|i| {
                        committed.iter().all(|(id, p, epoch)| {
                            i.topic_by_id(id)
                                .and_then(|t| t.partitions.get(p))
                                .is_none_or(|p| p.partition_epoch >= *epoch)
                        })
                    })
                    .await;
                    r
                }
                _ => AlterPartitionResponse {
                    error_code: codes::NOT_CONTROLLER,
                    ..Default::default()
                },
            };
        }
        self.local_alter_partition(req, version).await
    }
}
