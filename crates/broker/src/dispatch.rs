//! Routes a decoded request to its handler: each is called the same way,
//! `handle(&RequestContext, request).await` (`handlers::context`). Every API the broker advertises is
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
use vltava_protocol::{RequestBody, ResponseBody};

use crate::authorization::{self, Checked, Post};
use crate::broker::Broker;
pub use crate::handlers::Unanswered;
use crate::handlers::{
    Answer, RequestContext, acls, admin, api_versions, commit_split, delete_records,
    describe_client_quotas, describe_cluster, describe_configs, describe_log_dirs,
    describe_producers, describe_quorum, describe_scram_credentials, describe_topic_partitions,
    fetch, find_coordinator, groups, init_producer_id, list_offsets, metadata,
    offset_for_leader_epoch, produce, transactions, unsupported, write_txn_markers,
};
use crate::listener_endpoints::localize;
use crate::session::Session;

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
pub async fn dispatch(broker: Arc<Broker>, req: Request, session: Arc<Session>) -> Answer {
    let listener = session.listener.clone();
    let answer = dispatch_unlocalized(broker.clone(), req, session).await?;
    Ok(answer.map(|mut body| {
        localize(&mut body, &broker.metadata(), &listener);
        body
    }))
}

/// [`dispatch`] with each broker's default address in the answer.
async fn dispatch_unlocalized(broker: Arc<Broker>, req: Request, session: Arc<Session>) -> Answer {
    let client_id = req
        .header
        .client_id
        .as_ref()
        .map(|c| c.as_str().to_string())
        .unwrap_or_default();
    let cx = RequestContext {
        broker: &broker,
        key: req.api_key,
        version: req.api_version(),
        correlation_id: req.header.correlation_id,
        client_id: &client_id,
        session: &session,
    };
    handle(&cx, req.body).await
}

/// Runs `body`'s handler.
async fn handle(cx: &RequestContext<'_>, body: RequestBody) -> Answer {
    match body {
        RequestBody::ApiVersions(r) => api_versions::handle(cx, r).await,
        RequestBody::Produce(r) => produce::handle(cx, r).await,
        RequestBody::Fetch(r) => fetch::handle(cx, r).await,
        RequestBody::ListOffsets(r) => list_offsets::handle(cx, r).await,
        RequestBody::Metadata(r) => metadata::handle(cx, r).await,
        RequestBody::InitProducerId(r) if r.transactional_id.is_none() => {
            init_producer_id::handle(cx, r).await
        }
        body @ (RequestBody::InitProducerId(_)
        | RequestBody::AddPartitionsToTxn(_)
        | RequestBody::AddOffsetsToTxn(_)
        | RequestBody::EndTxn(_)
        | RequestBody::DescribeTransactions(_)
        | RequestBody::ListTransactions(_)) => transactions::handle(cx, body).await,
        RequestBody::WriteTxnMarkers(r) => write_txn_markers::handle(cx, r).await,
        body @ (RequestBody::CreateTopics(_)
        | RequestBody::DeleteTopics(_)
        | RequestBody::CreatePartitions(_)
        | RequestBody::ElectLeaders(_)
        | RequestBody::AlterPartitionReassignments(_)
        | RequestBody::AlterConfigs(_)
        | RequestBody::IncrementalAlterConfigs(_)
        | RequestBody::AlterClientQuotas(_)
        | RequestBody::AlterUserScramCredentials(_)) => admin::handle(cx, body).await,
        RequestBody::ListPartitionReassignments(r) => {
            admin::list_partition_reassignments(cx, r).await
        }
        RequestBody::DescribeClientQuotas(r) => describe_client_quotas::handle(cx, r).await,
        RequestBody::DescribeConfigs(r) => describe_configs::handle(cx, r).await,
        RequestBody::DescribeUserScramCredentials(r) => {
            describe_scram_credentials::handle(cx, r).await
        }
        RequestBody::DeleteRecords(r) => delete_records::handle(cx, r).await,
        RequestBody::OffsetForLeaderEpoch(r) => offset_for_leader_epoch::handle(cx, r).await,
        RequestBody::DescribeLogDirs(r) => describe_log_dirs::handle(cx, r).await,
        RequestBody::DescribeProducers(r) => describe_producers::handle(cx, r).await,
        RequestBody::DescribeTopicPartitions(r) => describe_topic_partitions::handle(cx, r).await,
        RequestBody::DescribeCluster(r) => describe_cluster::handle(cx, r).await,
        RequestBody::DescribeQuorum(r) => describe_quorum::handle(cx, r).await,
        RequestBody::FindCoordinator(r) => find_coordinator::handle(cx, r).await,
        RequestBody::OffsetCommit(r) => commit_split::handle(cx, r).await,
        RequestBody::TxnOffsetCommit(r) => commit_split::handle(cx, r).await,
        body @ (RequestBody::JoinGroup(_)
        | RequestBody::SyncGroup(_)
        | RequestBody::Heartbeat(_)
        | RequestBody::LeaveGroup(_)
        | RequestBody::OffsetFetch(_)
        | RequestBody::DescribeGroups(_)
        | RequestBody::ListGroups(_)
        | RequestBody::DeleteGroups(_)
        | RequestBody::OffsetDelete(_)
        | RequestBody::ConsumerGroupDescribe(_)) => groups::handle(cx, body).await,
        body @ (RequestBody::DescribeAcls(_)
        | RequestBody::CreateAcls(_)
        | RequestBody::DeleteAcls(_)) => acls::handle(cx, body).await,
        other => unsupported::handle(cx, other).await,
    }
}
