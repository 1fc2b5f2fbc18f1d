//! Routes a decoded request to its handler. Every API the broker advertises is
//! answered: implemented ones by their handler (group APIs and TxnOffsetCommit
//! by the group coordinator, transactional InitProducerId and the other
//! transaction APIs by the transaction coordinator), the rest by
//! `handlers::unsupported` with Kafka's error for a missing feature.
//! `Ok(None)` means no response is sent (Produce with acks=0). `Err` is only for
//! requests that cannot reach here through a started node (an API that is not
//! advertised, which the connection rejects before decoding, or a request before
//! the controller and coordinator are wired); the connection is then closed.

use std::sync::Arc;

use vltava_protocol::frame::Request;
use vltava_protocol::messages::ApiVersionsRequest;
use vltava_protocol::{ApiKey, RequestBody, ResponseBody};

use crate::authorization::{self, Checked, Post};
use crate::broker::Broker;
use crate::handlers::{
    acls, add_partitions_to_txn, admin, api_versions, commit_split, delete_records,
    describe_client_quotas, describe_cluster, describe_configs, describe_log_dirs,
    describe_producers, describe_quorum, describe_scram_credentials, describe_topic_partitions,
    fetch, find_coordinator, init_producer_id, list_offsets, metadata, mutation_quota,
    offset_for_leader_epoch, produce, security, unsupported, write_txn_markers,
};
use crate::listener_endpoints::localize;
use crate::session::Session;

/// Why a request got no answer.
#[derive(Debug, thiserror::Error)]
pub enum Unanswered {
    /// The API is not advertised in ApiVersions.
    #[error("{0:?} is not advertised by this broker")]
    NotAdvertised(ApiKey),
    /// The controller or a coordinator is not wired yet (the listener only
    /// starts after all are).
    #[error("{0:?} arrived before the node finished starting")]
    NotStarted(ApiKey),
}

/// A request whose effects are done: its answer, or a Produce's acks=all waits.
pub enum Dispatched {
    /// The answer now (`None`: no response is sent).
    Now(Option<Box<ResponseBody>>),
    /// A Produce's answer once its acks=all waits end; the connection may run its next
    /// request meanwhile (this one's appends are complete).
    Later(std::pin::Pin<Box<dyn std::future::Future<Output = Option<ResponseBody>> + Send>>),
}

impl std::fmt::Debug for Dispatched {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Dispatched::Now(answer) => f.debug_tuple("Now").field(answer).finish(),
            Dispatched::Later(_) => f.write_str("Later(..)"),
        }
    }
}

/// Handles one request up to the end of its effects: [`dispatch`], except that a
/// Produce returns as soon as it has appended, with its acks=all waits to await. With an
/// authorizer the request is first checked (`authorization::check`): refused whole, or run
/// narrowed to what the principal may do and its answer completed.
pub async fn dispatch_effects(
    broker: Arc<Broker>,
    mut req: Request,
    session: Arc<Session>,
) -> Result<Dispatched, Unanswered> {
    let body = std::mem::replace(
        &mut req.body,
        RequestBody::from(ApiVersionsRequest::default()),
    );
    let post = match authorization::check(&broker, &session, body, req.api_version()) {
        Checked::Answer(answer) => return Ok(Dispatched::Now(Some(Box::new(answer)))),
        Checked::Run(body, post) => {
            req.body = body;
            post
        }
    };
    if let RequestBody::Produce(r) = &req.body {
        return Ok(match produce::begin(&broker, r, req.api_version()).await {
            produce::Begun::Now(answer) => {
                let mut answer = answer.map(|a| Box::new(finish(post, *a)));
                if let Some(body) = answer.as_deref_mut() {
                    localize(body, &broker.metadata(), &session.listener);
                }
                Dispatched::Now(answer)
            }
            produce::Begun::Later(answer) => Dispatched::Later(Box::pin(async move {
                let mut body = answer.await.map(|a| finish(post, a));
                if let Some(body) = body.as_mut() {
                    localize(body, &broker.metadata(), &session.listener);
                }
                body
            })),
        });
    }
    dispatch(broker, req, session)
        .await
        .map(|answer| Dispatched::Now(answer.map(|a| Box::new(finish(post, a)))))
}

/// `answer` completed by the authorization step, if there is one.
fn finish(post: Option<Post>, answer: ResponseBody) -> ResponseBody {
    match post {
        Some(p) => p(answer),
        None => answer,
    }
}

/// Handles one request.
pub async fn dispatch(
    broker: Arc<Broker>,
    req: Request,
    session: Arc<Session>,
) -> Result<Option<ResponseBody>, Unanswered> {
    let listener = session.listener.clone();
    let answer = dispatch_unlocalized(broker.clone(), req, session).await?;
    Ok(answer.map(|mut body| {
        localize(&mut body, &broker.metadata(), &listener);
        body
    }))
}

/// [`dispatch`] with each broker's default address in the answer.
async fn dispatch_unlocalized(
    broker: Arc<Broker>,
    req: Request,
    session: Arc<Session>,
) -> Result<Option<ResponseBody>, Unanswered> {
    let client_host = session.client_host();
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
        RequestBody::Produce(r) => return Ok(produce::handle(&broker, &r, version).await),
        RequestBody::Fetch(r) => fetch::handle(&broker, &r, version).await,
        RequestBody::ListOffsets(r) => list_offsets::handle(&broker, &r, version),
        RequestBody::Metadata(r) => {
            let pending = admin::auto_create_for_metadata(&broker, &r, version).await;
            let cache = broker.metadata();
            metadata::handle(&cache, &r, version, &pending)
        }
        RequestBody::InitProducerId(r) if r.transactional_id.is_none() => {
            init_producer_id::handle(&broker, &r).await
        }
        body @ (RequestBody::InitProducerId(_)
        | RequestBody::AddPartitionsToTxn(_)
        | RequestBody::AddOffsetsToTxn(_)
        | RequestBody::EndTxn(_)
        | RequestBody::DescribeTransactions(_)
        | RequestBody::ListTransactions(_)) => {
            let refused = match &body {
                RequestBody::AddPartitionsToTxn(r) if version <= 3 => {
                    add_partitions_to_txn::refuse_unknown(&broker.metadata(), r)
                }
                _ => None,
            };
            if let Some(answer) = refused {
                return Ok(Some(answer));
            }
            let Some(txn) = broker.txn_coordinator() else {
                return Err(Unanswered::NotStarted(key));
            };
            txn.handle(key, version, body).await
        }
        RequestBody::WriteTxnMarkers(r) => write_txn_markers::handle(&broker, &r).await,
        body @ (RequestBody::CreateTopics(_)
        | RequestBody::DeleteTopics(_)
        | RequestBody::CreatePartitions(_)
        | RequestBody::ElectLeaders(_)
        | RequestBody::AlterPartitionReassignments(_)
        | RequestBody::AlterConfigs(_)
        | RequestBody::IncrementalAlterConfigs(_)
        | RequestBody::AlterClientQuotas(_)
        | RequestBody::AlterUserScramCredentials(_)) => {
            let mut body = body;
            let refused = mutation_quota::admit(&broker, &session, &client_id, &mut body, version);
            match admin::handle(&broker, body, version).await {
                Some(mut b) => {
                    refused.answer(&mut b);
                    b
                }
                None => return Err(Unanswered::NotStarted(key)),
            }
        }
        RequestBody::DescribeClientQuotas(r) => {
            describe_client_quotas::handle(&broker.metadata(), &r)
        }
        RequestBody::DescribeConfigs(r) => describe_configs::handle(&broker, &r, version),
        RequestBody::ListPartitionReassignments(r) => {
            let Some(controller) = broker.controller() else {
                return Err(Unanswered::NotStarted(key));
            };
            ResponseBody::from(vltava_raft::controller::list_partition_reassignments(
                &controller.image(),
                &r,
            ))
        }
        RequestBody::DescribeUserScramCredentials(r) => {
            let Some(controller) = broker.controller() else {
                return Err(Unanswered::NotStarted(key));
            };
            describe_scram_credentials::handle(&controller.image(), &r)
        }
        RequestBody::DeleteRecords(r) => delete_records::handle(&broker, &r),
        RequestBody::OffsetForLeaderEpoch(r) => offset_for_leader_epoch::handle(&broker, &r),
        RequestBody::DescribeLogDirs(r) => describe_log_dirs::handle(&broker, &r),
        RequestBody::DescribeProducers(r) => describe_producers::handle(&broker, &r),
        RequestBody::DescribeTopicPartitions(r) => describe_topic_partitions::handle(&broker, &r),
        RequestBody::DescribeCluster(r) => describe_cluster::handle(&broker, &r, version),
        RequestBody::DescribeQuorum(r) => describe_quorum::handle(&broker, &r, version).await,
        RequestBody::FindCoordinator(r) => find_coordinator::handle(&broker, &r, version).await,
        RequestBody::OffsetCommit(r) => {
            let Some(coordinator) = broker.coordinator() else {
                return Err(Unanswered::NotStarted(key));
            };
            let cache = broker.metadata();
            commit_split::handle(&cache, coordinator, (&client_id, &client_host), version, r).await
        }
        RequestBody::TxnOffsetCommit(r) => {
            let Some(coordinator) = broker.coordinator() else {
                return Err(Unanswered::NotStarted(key));
            };
            let cache = broker.metadata();
            commit_split::handle(&cache, coordinator, (&client_id, &client_host), version, r).await
        }
        body @ (RequestBody::JoinGroup(_)
        | RequestBody::SyncGroup(_)
        | RequestBody::Heartbeat(_)
        | RequestBody::LeaveGroup(_)
        | RequestBody::OffsetFetch(_)
        | RequestBody::DescribeGroups(_)
        | RequestBody::ListGroups(_)
        | RequestBody::DeleteGroups(_)
        | RequestBody::OffsetDelete(_)
        | RequestBody::ConsumerGroupDescribe(_)) => {
            let Some(coordinator) = broker.coordinator() else {
                return Err(Unanswered::NotStarted(key));
            };
            coordinator
                .handle_from(&client_id, &client_host, key, version, body)
                .await
        }
        b @ (RequestBody::DescribeAcls(_)
        | RequestBody::CreateAcls(_)
        | RequestBody::DeleteAcls(_)) => match acls::handle(&broker, &b, version).await {
            Some(answer) => answer,
            None => match security::handle(&b) {
                Some(answer) => answer,
                None => return Err(Unanswered::NotAdvertised(key)),
            },
        },
        other => match security::handle(&other) {
            Some(b) => b,
            None => match unsupported::handle(&broker.metadata(), &session, &other, version) {
                Some(b) => b,
                None => return Err(Unanswered::NotAdvertised(key)),
            },
        },
    };
    Ok(Some(body))
}
