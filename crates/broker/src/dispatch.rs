//! Routes a decoded request to its handler. `Ok(None)` means no response is
//! sent (Produce with acks=0); `Err` means the API is not served by this broker
//! and the connection is closed.

use std::sync::Arc;

use vltava_protocol::frame::Request;
use vltava_protocol::{ApiKey, RequestBody, ResponseBody};

use crate::broker::Broker;
use crate::handlers::{
    admin, api_versions, delete_records, describe_cluster, describe_configs, describe_log_dirs,
    describe_topic_partitions, fetch, find_coordinator, init_producer_id, list_offsets, metadata,
    offset_for_leader_epoch, produce, security,
};

/// A request this broker advertises but has no handler for yet.
#[derive(Debug, thiserror::Error)]
#[error("{0:?} is not handled by this broker")]
pub struct Unhandled(pub ApiKey);

/// Handles one request.
pub async fn dispatch(
    broker: Arc<Broker>,
    req: Request,
    client_host: String,
) -> Result<Option<ResponseBody>, Unhandled> {
    let version = req.api_version();
    let client_id = req
        .header
        .client_id
        .as_ref()
        .map(|c| c.as_str().to_string())
        .unwrap_or_default();
    let key = req.api_key;
    let body = match req.body {
        RequestBody::ApiVersions(r) => api_versions::handle(&r, version),
        RequestBody::Produce(r) => return Ok(produce::handle(&broker, &r, version)),
        RequestBody::Fetch(r) => fetch::handle(&broker, &r, version).await,
        RequestBody::ListOffsets(r) => list_offsets::handle(&broker, &r, version),
        RequestBody::Metadata(r) => {
            let pending = admin::auto_create_for_metadata(&broker, &r, version).await;
            let cache = broker.metadata();
            metadata::handle(&cache, &r, version, &pending)
        }
        RequestBody::InitProducerId(r) => init_producer_id::handle(&broker, &r).await,
        body @ (RequestBody::CreateTopics(_)
        | RequestBody::DeleteTopics(_)
        | RequestBody::CreatePartitions(_)
        | RequestBody::AlterConfigs(_)
        | RequestBody::IncrementalAlterConfigs(_)) => {
            match admin::handle(&broker, body, version).await {
                Some(b) => b,
                None => return Err(Unhandled(key)),
            }
        }
        RequestBody::DescribeConfigs(r) => describe_configs::handle(&broker, &r, version),
        RequestBody::DeleteRecords(r) => delete_records::handle(&broker, &r),
        RequestBody::OffsetForLeaderEpoch(r) => offset_for_leader_epoch::handle(&broker, &r),
        RequestBody::DescribeLogDirs(r) => describe_log_dirs::handle(&broker, &r),
        RequestBody::DescribeTopicPartitions(r) => describe_topic_partitions::handle(&broker, &r),
        RequestBody::DescribeCluster(r) => describe_cluster::handle(&broker, &r, version),
        RequestBody::FindCoordinator(r) => find_coordinator::handle(&broker, &r, version).await,
        body @ (RequestBody::JoinGroup(_)
        | RequestBody::SyncGroup(_)
        | RequestBody::Heartbeat(_)
        | RequestBody::LeaveGroup(_)
        | RequestBody::OffsetCommit(_)
        | RequestBody::OffsetFetch(_)
        | RequestBody::DescribeGroups(_)
        | RequestBody::ListGroups(_)
        | RequestBody::DeleteGroups(_)
        | RequestBody::OffsetDelete(_)) => {
            let Some(coordinator) = broker.coordinator() else {
                return Err(Unhandled(key));
            };
            coordinator
                .handle_from(&client_id, &client_host, key, version, body)
                .await
        }
        other => match security::handle(&other) {
            Some(b) => b,
            None => return Err(Unhandled(key)),
        },
    };
    Ok(Some(body))
}
