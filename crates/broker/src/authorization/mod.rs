//! Authorization of every request, in one table ([`check`]), when the broker has an
//! authorizer (`authorizer.class.name`). Each API is checked as Kafka checks it:
//!
//! | API | operation on resource (else error) |
//! |---|---|
//! | ApiVersions, SaslHandshake, SaslAuthenticate | none (before authentication) |
//! | Produce | WRITE transactional id if transactional (53); WRITE topic (29) |
//! | Fetch | follower: CLUSTER_ACTION cluster (31); consumer: READ topic (29) |
//! | ListOffsets | DESCRIBE topic (29) |
//! | OffsetForLeaderEpoch | follower: CLUSTER_ACTION cluster (31); else DESCRIBE topic (29) |
//! | Metadata | DESCRIBE topic (29, or hidden); auto-creation: CREATE cluster or topic (29) |
//! | CreateTopics | CREATE cluster or topic (29) |
//! | DeleteTopics, DeleteRecords | DELETE topic (29) |
//! | CreatePartitions | ALTER topic (29) |
//! | DescribeConfigs / AlterConfigs, IncrementalAlterConfigs | DESCRIBE_CONFIGS / ALTER_CONFIGS topic (29) or cluster for brokers (31) |
//! | OffsetCommit | READ group (30); READ topic (29) |
//! | TxnOffsetCommit | WRITE transactional id (53); READ group (30); READ topic (29) |
//! | OffsetFetch | DESCRIBE group (30); DESCRIBE topic (29, or hidden) |
//! | OffsetDelete | DELETE group (30); READ topic (29) |
//! | JoinGroup, SyncGroup, Heartbeat, LeaveGroup, ConsumerGroupHeartbeat | READ group (30) |
//! | DescribeGroups, ConsumerGroupDescribe | DESCRIBE group (30) |
//! | DeleteGroups | DELETE group (30) |
//! | ListGroups | DESCRIBE cluster, else only groups with DESCRIBE group |
//! | FindCoordinator | DESCRIBE group (30) / transactional id (53) |
//! | InitProducerId | transactional: WRITE transactional id (53); idempotent: IDEMPOTENT_WRITE cluster or WRITE on some topic (31) |
//! | AddPartitionsToTxn | v0-3: WRITE transactional id (53), WRITE topic (29); v4+: CLUSTER_ACTION (31) |
//! | AddOffsetsToTxn | WRITE transactional id (53); READ group (30) |
//! | EndTxn | WRITE transactional id (53) |
//! | DescribeTransactions / ListTransactions | DESCRIBE transactional id (53 / hidden) |
//! | WriteTxnMarkers | CLUSTER_ACTION cluster (31) |
//! | DescribeProducers | READ topic (29) |
//! | DescribeTopicPartitions | DESCRIBE topic (29, or hidden) |
//! | DescribeCluster | none; its authorized operations need DESCRIBE cluster |
//! | DescribeLogDirs, DescribeQuorum, DescribeAcls, ListPartitionReassignments, DescribeUserScramCredentials | DESCRIBE cluster (31) |
//! | CreateAcls, DeleteAcls, ElectLeaders, AlterPartitionReassignments, AlterUserScramCredentials, UpdateFeatures, UnregisterBroker, AddRaftVoter, RemoveRaftVoter | ALTER cluster (31) |
//! | DescribeClientQuotas, ListClientMetricsResources | DESCRIBE_CONFIGS cluster (31) |
//! | AlterClientQuotas, AlterReplicaLogDirs | ALTER_CONFIGS / ALTER cluster (31) |
//! | delegation token APIs | not checked: tokens are disabled (DELEGATION_TOKEN_AUTH_DISABLED) |
//!
//! Codes: 29 TOPIC_AUTHORIZATION_FAILED, 30 GROUP_AUTHORIZATION_FAILED,
//! 31 CLUSTER_AUTHORIZATION_FAILED, 53 TRANSACTIONAL_ID_AUTHORIZATION_FAILED. A request is
//! either answered here (its one resource is refused) or run, narrowed to what the
//! principal may do, with a step that completes its answer ([`Checked`]).

mod groups;
mod metadata;
mod reads;
mod refuse;
mod state;
mod topics;

use std::sync::Arc;

use vltava_protocol::{RequestBody, ResponseBody};
use vltava_security::acl::{AclOperation, Authorizer, CLUSTER_NAME, Requester, ResourceType};

pub use state::AclState;

use crate::broker::Broker;
use crate::metadata_view::MetadataView;
use crate::session::Session;
use groups::whole;

pub use crate::error_codes::TRANSACTIONAL_ID_AUTHORIZATION_FAILED;
pub use vltava_protocol::error_codes::{
    CLUSTER_AUTHORIZATION_FAILED, GROUP_AUTHORIZATION_FAILED, TOPIC_AUTHORIZATION_FAILED,
};

/// What completes the answer of a narrowed request.
pub type Post = Box<dyn FnOnce(ResponseBody) -> ResponseBody + Send>;

fn post(f: impl FnOnce(ResponseBody) -> ResponseBody + Send + 'static) -> Option<Post> {
    Some(Box::new(f))
}

/// The outcome of a check.
pub enum Checked {
    /// Run this request (perhaps narrowed), then pass its answer through the step.
    Run(RequestBody, Option<Post>),
    /// The answer, without running the request.
    Answer(ResponseBody),
}

impl std::fmt::Debug for Checked {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Checked::Run(body, post) => f
                .debug_tuple("Run")
                .field(&body.api_key())
                .field(&post.is_some())
                .finish(),
            Checked::Answer(answer) => f.debug_tuple("Answer").field(&answer.api_key()).finish(),
        }
    }
}

/// A principal's view of the authorizer.
#[derive(Clone, Debug)]
pub struct Access {
    authz: Arc<Authorizer>,
    session: Arc<Session>,
}

impl Access {
    fn requester(&self) -> Requester<'_> {
        Requester {
            principal: &self.session.principal,
            host: self.session.peer_ip,
        }
    }

    /// May the principal perform `op` on resource `name` of type `rt`?
    pub fn allowed(&self, op: AclOperation, rt: ResourceType, name: &str) -> bool {
        self.authz.authorize(self.requester(), op, rt, name)
    }

    /// `op` on topic `name`.
    pub fn topic(&self, op: AclOperation, name: &str) -> bool {
        self.allowed(op, ResourceType::Topic, name)
    }

    /// `op` on group `id`.
    pub fn group(&self, op: AclOperation, id: &str) -> bool {
        self.allowed(op, ResourceType::Group, id)
    }

    /// `op` on transactional id `id`.
    pub fn txn(&self, op: AclOperation, id: &str) -> bool {
        self.allowed(op, ResourceType::TransactionalId, id)
    }

    /// `op` on the cluster.
    pub fn cluster(&self, op: AclOperation) -> bool {
        self.allowed(op, ResourceType::Cluster, CLUSTER_NAME)
    }

    /// `op` on some resource of type `rt`.
    pub fn any(&self, op: AclOperation, rt: ResourceType) -> bool {
        self.authz.authorize_any(self.requester(), op, rt)
    }

    /// The `*_authorized_operations` bits of resource `name` of type `rt`.
    pub fn operations(&self, rt: ResourceType, name: &str) -> i32 {
        self.authz.authorized_operations(self.requester(), rt, name)
    }
}

/// Checks `body` (at `version`) from `session`; without an authorizer every request runs.
pub fn check(broker: &Broker, session: &Arc<Session>, body: RequestBody, version: i16) -> Checked {
    let Some(authz) = broker.acls.authorizer() else {
        return Checked::Run(body, None);
    };
    let a = Access {
        authz,
        session: session.clone(),
    };
    let metadata = broker.metadata();
    check_with(
        &a,
        &metadata,
        broker.config.auto_create_topics_enable,
        body,
        version,
    )
}

/// The table: what `body` needs, for the principal of `a`, over `metadata`
/// (`auto_create`: `auto.create.topics.enable`).
// Long, and kept whole: a table, one match with one arm per API (the longer checks are
// in `topics`, `reads`, `groups` and `metadata`); split, no API's rule would be easier
// to find.
fn check_with(
    a: &Access,
    metadata: &MetadataView,
    auto_create: bool,
    body: RequestBody,
    version: i16,
) -> Checked {
    use AclOperation::*;
    let cluster = |body: RequestBody, op: AclOperation| {
        let allowed = a.cluster(op);
        whole(body, version, allowed, CLUSTER_AUTHORIZATION_FAILED)
    };
    let group_read = |allowed: bool, body: RequestBody| {
        whole(body, version, allowed, GROUP_AUTHORIZATION_FAILED)
    };
    match body {
        b @ (RequestBody::ApiVersions(_)
        | RequestBody::SaslHandshake(_)
        | RequestBody::SaslAuthenticate(_)) => Checked::Run(b, None),
        RequestBody::Produce(r) => topics::produce(a, r),
        RequestBody::Fetch(r) => reads::fetch(a, metadata, r, version),
        RequestBody::ListOffsets(r) => reads::list_offsets(a, r),
        RequestBody::OffsetForLeaderEpoch(r) => reads::offset_for_leader_epoch(a, r),
        RequestBody::Metadata(r) => metadata::metadata(a, metadata, auto_create, r, version),
        RequestBody::CreateTopics(r) => topics::create_topics(a, r),
        RequestBody::DeleteTopics(r) => topics::delete_topics(a, metadata, r),
        RequestBody::CreatePartitions(r) => topics::create_partitions(a, r),
        RequestBody::DeleteRecords(r) => topics::delete_records(a, r),
        RequestBody::DescribeConfigs(r) => reads::describe_configs(a, r),
        RequestBody::AlterConfigs(r) => topics::alter_configs(a, r),
        RequestBody::IncrementalAlterConfigs(r) => topics::incremental_alter_configs(a, r),
        RequestBody::OffsetCommit(r) => groups::offset_commit(a, r, version),
        RequestBody::TxnOffsetCommit(r) => groups::txn_offset_commit(a, r, version),
        RequestBody::OffsetFetch(r) => groups::offset_fetch(a, r, version),
        RequestBody::OffsetDelete(r) => groups::offset_delete(a, r, version),
        RequestBody::JoinGroup(r) => group_read(a.group(Read, r.group_id.as_str()), r.into()),
        RequestBody::SyncGroup(r) => group_read(a.group(Read, r.group_id.as_str()), r.into()),
        RequestBody::Heartbeat(r) => group_read(a.group(Read, r.group_id.as_str()), r.into()),
        RequestBody::LeaveGroup(r) => group_read(a.group(Read, r.group_id.as_str()), r.into()),
        RequestBody::ConsumerGroupHeartbeat(r) => {
            group_read(a.group(Read, r.group_id.as_str()), r.into())
        }
        RequestBody::DescribeGroups(r) => groups::describe_groups(a, r),
        RequestBody::ConsumerGroupDescribe(r) => groups::consumer_group_describe(a, r),
        RequestBody::DeleteGroups(r) => groups::delete_groups(a, r),
        RequestBody::ListGroups(r) => groups::list_groups(a, r),
        RequestBody::FindCoordinator(r) => groups::find_coordinator(a, r, version),
        RequestBody::InitProducerId(r) => groups::init_producer_id(a, r, version),
        RequestBody::AddPartitionsToTxn(r) => groups::add_partitions_to_txn(a, r, version),
        RequestBody::AddOffsetsToTxn(r) => groups::add_offsets_to_txn(a, r, version),
        RequestBody::EndTxn(r) => {
            let allowed = a.txn(Write, r.transactional_id.as_str());
            whole(
                RequestBody::from(r),
                version,
                allowed,
                TRANSACTIONAL_ID_AUTHORIZATION_FAILED,
            )
        }
        RequestBody::DescribeTransactions(r) => groups::describe_transactions(a, r),
        RequestBody::ListTransactions(r) => groups::list_transactions(a, r),
        RequestBody::DescribeProducers(r) => reads::describe_producers(a, r),
        RequestBody::DescribeTopicPartitions(r) => reads::describe_topic_partitions(a, r),
        RequestBody::DescribeCluster(r) => reads::describe_cluster(a, r),
        b @ RequestBody::WriteTxnMarkers(_) => cluster(b, ClusterAction),
        b @ (RequestBody::DescribeLogDirs(_)
        | RequestBody::DescribeQuorum(_)
        | RequestBody::DescribeAcls(_)
        | RequestBody::ListPartitionReassignments(_)
        | RequestBody::DescribeUserScramCredentials(_)) => cluster(b, Describe),
        b @ (RequestBody::CreateAcls(_)
        | RequestBody::DeleteAcls(_)
        | RequestBody::ElectLeaders(_)
        | RequestBody::AlterPartitionReassignments(_)
        | RequestBody::AlterUserScramCredentials(_)
        | RequestBody::UpdateFeatures(_)
        | RequestBody::UnregisterBroker(_)
        | RequestBody::AddRaftVoter(_)
        | RequestBody::RemoveRaftVoter(_)
        | RequestBody::AlterReplicaLogDirs(_)) => cluster(b, Alter),
        b @ (RequestBody::DescribeClientQuotas(_) | RequestBody::ListClientMetricsResources(_)) => {
            cluster(b, DescribeConfigs)
        }
        b @ RequestBody::AlterClientQuotas(_) => cluster(b, AlterConfigs),
        // Delegation tokens are disabled, and the APIs no broker listener serves are refused
        // before dispatch: these run unchecked.
        other => Checked::Run(other, None),
    }
}

#[cfg(test)]
mod tests;
