//! Group member ids handed out by the coordinator a node runs: a member that
//! joins after a restart must not get the id of a member the node reloaded from
//! `__consumer_offsets` (every librdkafka client, kcat included, asks with the
//! same client id `rdkafka`, so the ids differ only by their generated part).

#![allow(clippy::unwrap_used)]

use vltava_protocol::messages::join_group_request::JoinGroupRequestProtocol;
use vltava_protocol::messages::sync_group_request::SyncGroupRequestAssignment;
use vltava_protocol::messages::{
    FindCoordinatorRequest, JoinGroupRequest, JoinGroupResponse, SyncGroupRequest,
};
use vltava_protocol::{RequestBody, ResponseBody};

use crate::support::{Client, start_node_in};

const GROUP: &str = "restart-ids";
use vltava_protocol::error_codes::COORDINATOR_LOAD_IN_PROGRESS;
use vltava_protocol::error_codes::MEMBER_ID_REQUIRED;
const PROPS: &str = "group.initial.rebalance.delay.ms=0\n";

async fn find_coordinator(c: &mut Client) {
    let req = FindCoordinatorRequest {
        key: GROUP.into(),
        key_type: 0,
        ..Default::default()
    };
    let ResponseBody::FindCoordinator(r) = c.call(3, RequestBody::from(req)).await else {
        panic!("not a FindCoordinator response")
    };
    assert_eq!(r.error_code, 0, "{r:?}");
}

async fn join(c: &mut Client, member_id: &str) -> JoinGroupResponse {
    let req = JoinGroupRequest {
        group_id: GROUP.into(),
        session_timeout_ms: 30_000,
        rebalance_timeout_ms: 30_000,
        member_id: member_id.into(),
        protocol_type: "consumer".into(),
        protocols: vec![JoinGroupRequestProtocol {
            name: "range".into(),
            metadata: bytes::Bytes::from_static(b"\x00\x00\x00\x00\x00\x00\x00\x00"),
            ..Default::default()
        }],
        ..Default::default()
    };
    let ResponseBody::JoinGroup(r) = c.call(5, RequestBody::from(req)).await else {
        panic!("not a JoinGroup response")
    };
    r
}

/// The member id a new member is told to join with (the MEMBER_ID_REQUIRED round).
async fn new_member_id(c: &mut Client) -> String {
    let deadline = tokio::time::Instant::now() + crate::support::LIMIT;
    let mut r = join(c, "").await;
    // After a restart the coordinator answers COORDINATOR_LOAD_IN_PROGRESS until
    // it has read __consumer_offsets back.
    while r.error_code == COORDINATOR_LOAD_IN_PROGRESS && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        r = join(c, "").await;
    }
    assert_eq!(r.error_code, MEMBER_ID_REQUIRED, "{r:?}");
    assert!(r.member_id.starts_with("raw-test-"), "{r:?}");
    r.member_id.to_string()
}

#[tokio::test]
async fn member_joining_after_restart_gets_an_id_no_reloaded_member_has() {
    let dir = tempfile::tempdir().unwrap();

    // First run: one member joins and syncs; the group is stored in __consumer_offsets.
    let node = start_node_in(dir.path(), PROPS).await;
    let mut c = Client::connect(&node).await;
    find_coordinator(&mut c).await;
    let first = new_member_id(&mut c).await;
    let r = join(&mut c, &first).await;
    assert_eq!(r.error_code, 0, "{r:?}");
    assert_eq!(r.leader, first.as_str());
    let sync = SyncGroupRequest {
        group_id: GROUP.into(),
        generation_id: r.generation_id,
        member_id: first.as_str().into(),
        assignments: vec![SyncGroupRequestAssignment {
            member_id: first.as_str().into(),
            assignment: bytes::Bytes::new(),
            ..Default::default()
        }],
        ..Default::default()
    };
    let ResponseBody::SyncGroup(s) = c.call(3, RequestBody::from(sync)).await else {
        panic!("not a SyncGroup response")
    };
    assert_eq!(s.error_code, 0, "{s:?}");
    drop(c);
    node.shutdown().await;

    // Second run: the group (with `first` as its member) is reloaded; a new
    // member with the same client id asks for an id.
    let node = start_node_in(dir.path(), PROPS).await;
    let mut c = Client::connect(&node).await;
    find_coordinator(&mut c).await;
    let second = new_member_id(&mut c).await;
    assert_ne!(
        second, first,
        "a new member after the restart got the id of the member reloaded from the log"
    );
    drop(c);
    node.shutdown().await;
}
