//! ACLs and the authorizer end to end, in raw frames from a `User:ANONYMOUS` connection:
//! without an authorizer the ACL APIs say SECURITY_DISABLED; with one, a principal without
//! ACLs is refused with Kafka's codes; ACLs (created through the controller, as an admin
//! would) grant and deny as Kafka's do (prefixed patterns, DENY over ALLOW, implied
//! DESCRIBE); `super.users` may do everything; ACLs survive a restart.

#![allow(clippy::unwrap_used)]

use vltava_broker::Node;
use vltava_broker::metadata_sync::sync_now;
use vltava_protocol::messages::create_acls_request::AclCreation;
use vltava_protocol::messages::delete_acls_request::DeleteAclsFilter;
use vltava_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use vltava_protocol::messages::find_coordinator_request::FindCoordinatorRequest;
use vltava_protocol::messages::join_group_request::JoinGroupRequestProtocol;
use vltava_protocol::messages::metadata_request::MetadataRequestTopic;
use vltava_protocol::messages::{
    CreateAclsRequest, DeleteAclsRequest, DescribeAclsRequest, FetchRequest, InitProducerIdRequest,
    JoinGroupRequest, MetadataRequest,
};
use vltava_protocol::{RequestBody, ResponseBody};

use crate::pipelining::batch;
use crate::support::{Client, produce_request, start_node_in, start_node_with};

const AUTHORIZER: &str =
    "authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer\n";

/// An ACL for `User:ANONYMOUS` from any host.
fn acl(resource_type: i8, name: &str, pattern: i8, op: i8, permission: i8) -> AclCreation {
    AclCreation {
        resource_type,
        resource_name: name.into(),
        resource_pattern_type: pattern,
        principal: "User:ANONYMOUS".into(),
        host: "*".into(),
        operation: op,
        permission_type: permission,
        ..Default::default()
    }
}

const TOPIC: i8 = 2;
const GROUP: i8 = 3;
const CLUSTER: i8 = 4;
const LITERAL: i8 = 3;
const PREFIXED: i8 = 4;
const ALLOW: i8 = 3;
const DENY: i8 = 2;
const READ: i8 = 3;
const WRITE: i8 = 4;
const ALTER: i8 = 7;
const DESCRIBE: i8 = 8;

/// Creates ACLs as an administrator would (straight through the controller).
async fn grant(node: &Node, creations: Vec<AclCreation>) {
    let c = node.broker.controller().unwrap();
    let r = c
        .create_acls(
            CreateAclsRequest {
                creations,
                ..Default::default()
            },
            3,
        )
        .await;
    assert!(r.results.iter().all(|x| x.error_code == 0), "{r:?}");
    sync_now(&node.broker);
}

/// Creates a topic as an administrator would.
async fn admin_topic(node: &Node, name: &str) {
    let c = node.broker.controller().unwrap();
    let req = vltava_broker::handlers::admin::create_topic_request(name, 1, &[]);
    let r = c.create_topics(req, 7, &node.broker.topic_defaults()).await;
    assert_eq!(r.topics[0].error_code, 0, "{r:?}");
    sync_now(&node.broker);
}

async fn produce_code(c: &mut Client, topic: &str) -> i16 {
    c.produce_raw(9, topic, 0, batch(-1, -1, -1, 0, 1))
        .await
        .error_code
}

async fn fetch_code(c: &mut Client, topic: &str) -> i16 {
    let req = FetchRequest {
        replica_id: -1,
        max_wait_ms: 0,
        max_bytes: 1 << 20,
        session_epoch: -1,
        topics: vec![FetchTopic {
            topic: topic.into(),
            partitions: vec![FetchPartition {
                partition: 0,
                partition_max_bytes: 1 << 20,
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    };
    let ResponseBody::Fetch(r) = c.call(11, RequestBody::from(req)).await else {
        panic!()
    };
    assert_eq!(r.error_code, 0);
    r.responses[0].partitions[0].error_code
}

/// Metadata for `names` (None: all topics): (name, error code) of each topic shown.
async fn metadata(c: &mut Client, names: Option<&[&str]>) -> Vec<(String, i16)> {
    let req = MetadataRequest {
        topics: names.map(|ns| {
            ns.iter()
                .map(|n| MetadataRequestTopic {
                    name: Some((*n).into()),
                    ..Default::default()
                })
                .collect()
        }),
        allow_auto_topic_creation: false,
        ..Default::default()
    };
    let ResponseBody::Metadata(r) = c.call(12, RequestBody::from(req)).await else {
        panic!()
    };
    let mut out: Vec<(String, i16)> = r
        .topics
        .iter()
        .map(|t| (t.name.as_ref().unwrap().to_string(), t.error_code))
        .collect();
    out.sort();
    out
}

async fn join_code(c: &mut Client, group: &str) -> i16 {
    let req = JoinGroupRequest {
        group_id: group.into(),
        session_timeout_ms: 10_000,
        rebalance_timeout_ms: 10_000,
        member_id: "".into(),
        protocol_type: "consumer".into(),
        protocols: vec![JoinGroupRequestProtocol {
            name: "range".into(),
            metadata: Default::default(),
            ..Default::default()
        }],
        ..Default::default()
    };
    let ResponseBody::JoinGroup(r) = c.call(5, RequestBody::from(req)).await else {
        panic!()
    };
    r.error_code
}

async fn describe_acls(c: &mut Client) -> (i16, usize) {
    let req = DescribeAclsRequest {
        resource_type_filter: 1,
        resource_name_filter: None,
        pattern_type_filter: 1,
        principal_filter: None,
        host_filter: None,
        operation: 1,
        permission_type: 1,
        ..Default::default()
    };
    let ResponseBody::DescribeAcls(r) = c.call(3, RequestBody::from(req)).await else {
        panic!()
    };
    (r.error_code, r.resources.iter().map(|x| x.acls.len()).sum())
}

#[tokio::test]
async fn without_an_authorizer_acl_apis_say_security_disabled() {
    let (node, _dir) = start_node_with("").await;
    let mut c = Client::connect(&node).await;
    assert_eq!(describe_acls(&mut c).await.0, 54);
    c.create_topic("open", 1).await;
    assert_eq!(produce_code(&mut c, "open").await, 0);
    node.shutdown().await;
}

#[tokio::test]
async fn without_acls_every_request_is_refused_with_kafkas_codes() {
    let (node, _dir) = start_node_with(&format!("{AUTHORIZER}super.users=User:admin\n")).await;
    admin_topic(&node, "t").await;
    let mut c = Client::connect(&node).await;
    assert_eq!(metadata(&mut c, None).await, vec![], "t is hidden");
    assert_eq!(
        metadata(&mut c, Some(&["t", "missing"])).await,
        vec![("missing".into(), 29), ("t".into(), 29)]
    );
    assert_eq!(produce_code(&mut c, "t").await, 29);
    assert_eq!(fetch_code(&mut c, "t").await, 29);
    assert_eq!(
        c.create_topic_answer("new", 1, 1, &[], 5000)
            .await
            .error_code,
        29
    );
    assert_eq!(join_code(&mut c, "g").await, 30);
    let ResponseBody::FindCoordinator(f) = c
        .call(
            3,
            RequestBody::from(FindCoordinatorRequest {
                key: "g".into(),
                key_type: 0,
                ..Default::default()
            }),
        )
        .await
    else {
        panic!()
    };
    assert_eq!(f.error_code, 30);
    for (txn, code) in [(None, 31), (Some("tx"), 53)] {
        let req = InitProducerIdRequest {
            transactional_id: txn.map(Into::into),
            transaction_timeout_ms: 10_000,
            producer_id: -1,
            producer_epoch: -1,
            ..Default::default()
        };
        let ResponseBody::InitProducerId(r) = c.call(4, RequestBody::from(req)).await else {
            panic!()
        };
        assert_eq!(r.error_code, code, "transactional id {txn:?}");
    }
    assert_eq!(describe_acls(&mut c).await.0, 31);
    let ResponseBody::CreateAcls(r) = c
        .call(
            3,
            RequestBody::from(CreateAclsRequest {
                creations: vec![acl(TOPIC, "t", LITERAL, WRITE, ALLOW)],
                ..Default::default()
            }),
        )
        .await
    else {
        panic!()
    };
    assert_eq!(r.results[0].error_code, 31);
    node.shutdown().await;
}

#[tokio::test]
async fn acls_grant_and_deny_as_kafkas_and_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let props = format!("{AUTHORIZER}super.users=User:admin\n");
    let node = start_node_in(dir.path(), &props).await;
    for t in ["orders-1", "orders-secret", "other"] {
        admin_topic(&node, t).await;
    }
    grant(
        &node,
        vec![
            acl(TOPIC, "orders-", PREFIXED, WRITE, ALLOW),
            acl(TOPIC, "orders-secret", LITERAL, WRITE, DENY),
            acl(TOPIC, "*", LITERAL, READ, ALLOW),
            acl(GROUP, "app-", PREFIXED, READ, ALLOW),
            acl(CLUSTER, "kafka-cluster", LITERAL, ALTER, ALLOW),
            acl(CLUSTER, "kafka-cluster", LITERAL, DESCRIBE, ALLOW),
        ],
    )
    .await;
    let mut c = Client::connect(&node).await;
    assert_eq!(produce_code(&mut c, "orders-1").await, 0);
    assert_eq!(produce_code(&mut c, "orders-secret").await, 29, "DENY wins");
    assert_eq!(produce_code(&mut c, "other").await, 29);
    assert_eq!(fetch_code(&mut c, "other").await, 0, "READ on *");
    // READ and WRITE imply DESCRIBE: every topic is visible.
    assert_eq!(metadata(&mut c, None).await.len(), 3);
    // Authorized (the answer is the coordinator's: NOT_COORDINATOR before
    // __consumer_offsets exists), unlike a group outside the prefix.
    assert_ne!(join_code(&mut c, "app-1").await, 30);
    assert_eq!(join_code(&mut c, "other-app").await, 30);
    // ALTER on the cluster lets this principal manage ACLs itself.
    assert_eq!(describe_acls(&mut c).await, (0, 6));
    let ResponseBody::DeleteAcls(r) = c
        .call(
            3,
            RequestBody::from(DeleteAclsRequest {
                filters: vec![DeleteAclsFilter {
                    resource_type_filter: TOPIC,
                    resource_name_filter: Some("orders-secret".into()),
                    pattern_type_filter: 2,
                    principal_filter: None,
                    host_filter: None,
                    operation: 1,
                    permission_type: 1,
                    ..Default::default()
                }],
                ..Default::default()
            }),
        )
        .await
    else {
        panic!()
    };
    // MATCH selects the literal DENY, the prefixed ALLOW and the READ on `*`.
    assert_eq!(r.filter_results[0].matching_acls.len(), 3, "{r:?}");
    assert_eq!(describe_acls(&mut c).await, (0, 3));
    assert_eq!(produce_code(&mut c, "orders-1").await, 29);
    drop(c);
    node.shutdown().await;

    let node = start_node_in(dir.path(), &props).await;
    let mut c = Client::connect(&node).await;
    assert_eq!(
        describe_acls(&mut c).await,
        (0, 3),
        "ACLs survive a restart"
    );
    assert_ne!(join_code(&mut c, "app-2").await, 30);
    assert_eq!(join_code(&mut c, "other-app").await, 30);
    assert_eq!(produce_code(&mut c, "orders-1").await, 29);
    node.shutdown().await;
}

#[tokio::test]
async fn super_users_may_do_everything() {
    let (node, _dir) = start_node_with(&format!(
        "{AUTHORIZER}super.users=User:admin;User:ANONYMOUS\n"
    ))
    .await;
    let mut c = Client::connect(&node).await;
    c.create_topic("t", 1).await;
    assert_eq!(produce_code(&mut c, "t").await, 0);
    assert_eq!(fetch_code(&mut c, "t").await, 0);
    assert_eq!(metadata(&mut c, None).await, vec![("t".into(), 0)]);
    assert_eq!(describe_acls(&mut c).await, (0, 0));
    node.shutdown().await;
}

/// DescribeCluster asking for the cluster's authorized operations: (error, operations).
async fn describe_cluster(c: &mut Client) -> (i16, i32) {
    let req = vltava_protocol::messages::DescribeClusterRequest {
        include_cluster_authorized_operations: true,
        endpoint_type: 1,
        ..Default::default()
    };
    let ResponseBody::DescribeCluster(d) = c.call(1, RequestBody::from(req)).await else {
        panic!()
    };
    (d.error_code, d.cluster_authorized_operations)
}

/// The `*_authorized_operations` fields: a topic with READ shows READ and the DESCRIBE it
/// implies; the cluster's operations appear in DescribeCluster only for principals that may
/// DESCRIBE it.
#[tokio::test]
async fn authorized_operations_are_reported() {
    let (node, _dir) = start_node_with(&format!("{AUTHORIZER}super.users=User:admin\n")).await;
    admin_topic(&node, "t").await;
    grant(&node, vec![acl(TOPIC, "t", LITERAL, READ, ALLOW)]).await;
    let mut c = Client::connect(&node).await;
    let req = MetadataRequest {
        topics: None,
        include_topic_authorized_operations: true,
        ..Default::default()
    };
    let ResponseBody::Metadata(m) = c.call(12, RequestBody::from(req)).await else {
        panic!()
    };
    assert_eq!(m.topics.len(), 1);
    assert_eq!(m.topics[0].topic_authorized_operations, (1 << 3) | (1 << 8));
    assert_eq!(
        describe_cluster(&mut c).await,
        (0, i32::MIN),
        "no DESCRIBE on the cluster"
    );
    grant(
        &node,
        vec![acl(CLUSTER, "kafka-cluster", LITERAL, DESCRIBE, ALLOW)],
    )
    .await;
    assert_eq!(describe_cluster(&mut c).await, (0, 1 << 8));
    node.shutdown().await;
}

/// A transactional Produce needs WRITE on its transactional id: without it every partition
/// is refused TRANSACTIONAL_ID_AUTHORIZATION_FAILED, even one whose topic may be written.
#[tokio::test]
async fn transactional_produce_needs_the_transactional_id() {
    use vltava_protocol::messages::ProduceRequest;
    let (node, _dir) = start_node_with(&format!("{AUTHORIZER}super.users=User:admin\n")).await;
    admin_topic(&node, "t").await;
    grant(&node, vec![acl(TOPIC, "t", LITERAL, WRITE, ALLOW)]).await;
    let mut c = Client::connect(&node).await;
    let req = ProduceRequest {
        transactional_id: Some("tx".into()),
        ..produce_request("t", 0, batch(-1, -1, -1, 0, 1))
    };
    let ResponseBody::Produce(r) = c.call(9, RequestBody::from(req)).await else {
        panic!()
    };
    assert_eq!(r.responses[0].partition_responses[0].error_code, 53);
    node.shutdown().await;
}
