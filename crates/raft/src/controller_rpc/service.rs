//! [`ControllerService`]: what the controller listener answers for other brokers. Each request
//! runs on this node's controller as if it were local (never forwarded again), so a node that
//! does not lead answers NOT_CONTROLLER and the sender looks for the new leader. Observers
//! fetch the metadata log here too (`metadata_service`).

use std::sync::{Arc, OnceLock};

use vltava_protocol::frame::Request;
use vltava_protocol::messages::{
    AllocateProducerIdsResponse, BrokerHeartbeatRequest, BrokerHeartbeatResponse,
    BrokerRegistrationRequest, BrokerRegistrationResponse,
};
use vltava_protocol::{RequestBody, ResponseBody};

use super::{RpcFuture, RpcHandler};
use crate::error::codes;
use crate::handle::Controller;

/// The controller-channel handler of one voter; it serves nothing until [`Self::set`].
#[derive(Debug, Default)]
pub struct ControllerService {
    controller: OnceLock<Controller>,
}

impl ControllerService {
    /// Starts serving through `controller` (once; later calls are ignored).
    pub fn set(&self, controller: Controller) {
        let _ = self.controller.set(controller);
    }
}

impl RpcHandler for ControllerService {
    fn handle(&self, request: Request) -> RpcFuture {
        let controller = self.controller.get().cloned();
        Box::pin(async move {
            let c = controller?;
            let version = request.api_version();
            Some(match request.body {
                RequestBody::CreateTopics(r) => {
                    let defaults = c.defaults;
                    ResponseBody::from(c.local_create_topics(r, version, &defaults).await)
                }
                RequestBody::DeleteTopics(r) => {
                    ResponseBody::from(c.local_delete_topics(r, version).await)
                }
                RequestBody::CreatePartitions(r) => {
                    ResponseBody::from(c.local_create_partitions(r, version).await)
                }
                RequestBody::AlterConfigs(r) => {
                    ResponseBody::from(c.local_alter_configs(r, version).await)
                }
                RequestBody::AlterClientQuotas(r) => {
                    ResponseBody::from(c.local_alter_client_quotas(r, version).await)
                }
                RequestBody::ElectLeaders(r) => {
                    ResponseBody::from(c.local_elect_leaders(r, version).await)
                }
                RequestBody::AlterPartitionReassignments(r) => {
                    ResponseBody::from(c.local_alter_partition_reassignments(r).await)
                }
                RequestBody::IncrementalAlterConfigs(r) => {
                    ResponseBody::from(c.local_incremental_alter_configs(r, version).await)
                }
                RequestBody::AlterUserScramCredentials(r) => {
                    ResponseBody::from(c.local_alter_user_scram_credentials(r).await)
                }
                RequestBody::CreateAcls(r) => ResponseBody::from(c.local_create_acls(r).await),
                RequestBody::DeleteAcls(r) => ResponseBody::from(c.local_delete_acls(r).await),
                RequestBody::BrokerRegistration(r) => register_broker(&c, &r).await,
                RequestBody::BrokerHeartbeat(r) => heartbeat(&c, &r).await,
                RequestBody::AlterPartition(r) => {
                    ResponseBody::from(c.local_alter_partition(r, version).await)
                }
                RequestBody::AllocateProducerIds(r) => allocate_producer_ids(&c, r.broker_id).await,
                RequestBody::DescribeQuorum(_) => describe_quorum(&c).await,
                RequestBody::Fetch(r) => {
                    ResponseBody::from(super::metadata_service::fetch(&c, r, version).await)
                }
                RequestBody::FetchSnapshot(r) => {
                    ResponseBody::from(super::metadata_service::fetch_snapshot(&c, r).await)
                }
                _ => return None,
            })
        })
    }
}

/// BrokerRegistration: the broker's new epoch, refused for another cluster's broker.
async fn register_broker(c: &Controller, r: &BrokerRegistrationRequest) -> ResponseBody {
    let mut resp = BrokerRegistrationResponse {
        broker_epoch: -1,
        ..Default::default()
    };
    if r.cluster_id.as_str() != c.cluster_id {
        resp.error_code = codes::INCONSISTENT_CLUSTER_ID;
    } else {
        let endpoints = r
            .listeners
            .iter()
            .map(|l| crate::image::ListenerEndpoint {
                name: l.name.to_string(),
                host: l.host.to_string(),
                port: i32::from(l.port),
                security_protocol: l.security_protocol,
            })
            .collect();
        let rack = r.rack.as_ref().map(|s| s.to_string());
        match c.local_register_broker(r.broker_id, endpoints, rack).await {
            Ok(epoch) => resp.broker_epoch = epoch,
            Err(e) => resp.error_code = e.kafka_code(),
        }
    }
    ResponseBody::from(resp)
}

/// BrokerHeartbeat: the broker's state, or fenced on an error.
async fn heartbeat(c: &Controller, r: &BrokerHeartbeatRequest) -> ResponseBody {
    let mut resp = BrokerHeartbeatResponse::default();
    match c
        .local_heartbeat(r.broker_id, r.broker_epoch, r.want_fence, r.want_shut_down)
        .await
    {
        Ok(state) => {
            resp.is_caught_up = true;
            resp.is_fenced = state.fenced;
            resp.should_shut_down = state.should_shut_down;
        }
        Err(e) => {
            resp.error_code = e.kafka_code();
            resp.is_fenced = true;
        }
    }
    ResponseBody::from(resp)
}

/// AllocateProducerIds: the next block of producer ids for `broker_id`.
async fn allocate_producer_ids(c: &Controller, broker_id: i32) -> ResponseBody {
    let mut resp = AllocateProducerIdsResponse::default();
    match c.local_allocate_producer_ids(broker_id, 0).await {
        Ok((first, len)) => {
            resp.producer_id_start = first;
            resp.producer_id_len = len;
        }
        Err(e) => resp.error_code = e.kafka_code(),
    }
    ResponseBody::from(resp)
}

/// DescribeQuorum: the quorum as this node leads it, else NOT_LEADER_OR_FOLLOWER.
async fn describe_quorum(c: &Controller) -> ResponseBody {
    ResponseBody::from(match c.local_describe_quorum().await {
        Ok(status) => {
            crate::quorum_wire::to_response(&status, crate::quorum_wire::CHANNEL_LISTENER)
        }
        Err(e) => crate::quorum_wire::error_response(
            match e {
                crate::RaftError::NotController => codes::NOT_LEADER_OR_FOLLOWER,
                other => other.kafka_code(),
            },
            "this node does not lead the metadata quorum",
        ),
    })
}

/// A [`ControllerService`] behind the handler trait object the transport takes.
pub(crate) fn as_handler(service: &Arc<ControllerService>) -> Arc<dyn RpcHandler> {
    service.clone()
}
