//! The tokio driver over an in-memory `OffsetsLog`, with paused time:
//! the broker's path (`start` + `CoordinatorHandle::handle`), delayed
//! JoinGroup responses, session expiry, and reload after a restart.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::common::{Harness, subscription};
use bytes::Bytes;
use vltava_coordinator::{
    CoordinatorError, CoordinatorHandle, GroupConfig, OffsetsLog, codes, start,
};
use vltava_protocol::messages::offset_commit_request::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use vltava_protocol::messages::offset_fetch_request::OffsetFetchRequestTopic;
use vltava_protocol::messages::*;
use vltava_protocol::{ApiKey, ResponseBody};

type Partitions = Arc<Mutex<HashMap<i32, Vec<(Bytes, Option<Bytes>)>>>>;

#[derive(Clone, Default)]
struct MemLog {
    parts: Partitions,
}

impl OffsetsLog for MemLog {
    fn append(
        &mut self,
        partition: i32,
        records: Vec<(Bytes, Option<Bytes>)>,
    ) -> Result<(), CoordinatorError> {
        let mut parts = self
            .parts
            .lock()
            .map_err(|e| CoordinatorError::Log(e.to_string()))?;
        parts.entry(partition).or_default().extend(records);
        Ok(())
    }

    fn read_all(
        &mut self,
        partition: i32,
    ) -> Result<Vec<(Bytes, Option<Bytes>)>, CoordinatorError> {
        let parts = self
            .parts
            .lock()
            .map_err(|e| CoordinatorError::Log(e.to_string()))?;
        Ok(parts.get(&partition).cloned().unwrap_or_default())
    }
}

fn cfg() -> GroupConfig {
    GroupConfig {
        initial_rebalance_delay_ms: 3_000,
        ..GroupConfig::default()
    }
}

async fn join(h: &CoordinatorHandle, member: &str) -> JoinGroupResponse {
    let req = Harness::join_req("g", member, None, &["t"]);
    match h.handle(ApiKey::JoinGroup, 9, req.into()).await {
        ResponseBody::JoinGroup(r) => r,
        other => panic!("{other:?}"),
    }
}

async fn fetch(h: &CoordinatorHandle) -> OffsetFetchResponse {
    let req = OffsetFetchRequest {
        group_id: "g".into(),
        topics: Some(vec![OffsetFetchRequestTopic {
            name: "t".into(),
            partition_indexes: vec![0, 1],
            ..Default::default()
        }]),
        ..Default::default()
    };
    match h.handle(ApiKey::OffsetFetch, 7, req.into()).await {
        ResponseBody::OffsetFetch(r) => r,
        other => panic!("{other:?}"),
    }
}

#[tokio::test(start_paused = true)]
async fn broker_path_join_sync_commit_fetch_and_reload() {
    let log = MemLog::default();
    let (h, task) = start(cfg(), log.clone(), 50);
    assert!(h.wait_loaded().await);

    let first = join(&h, "").await;
    assert_eq!(first.error_code, codes::MEMBER_ID_REQUIRED);
    let member = first.member_id.as_str().to_owned();
    // The initial rebalance delay holds the response; paused time runs it out.
    let before = tokio::time::Instant::now();
    let joined = join(&h, &member).await;
    assert!(before.elapsed() >= Duration::from_millis(3_000));
    assert_eq!(joined.error_code, 0);
    assert_eq!(joined.generation_id, 1);

    let sync = SyncGroupRequest {
        group_id: "g".into(),
        generation_id: 1,
        member_id: member.as_str().into(),
        assignments: vec![
            vltava_protocol::messages::sync_group_request::SyncGroupRequestAssignment {
                member_id: member.as_str().into(),
                assignment: Bytes::from_static(b"assign"),
                ..Default::default()
            },
        ],
        ..Default::default()
    };
    match h.handle(ApiKey::SyncGroup, 5, sync.into()).await {
        ResponseBody::SyncGroup(r) => {
            assert_eq!(r.error_code, 0);
            assert_eq!(&r.assignment[..], b"assign");
        }
        other => panic!("{other:?}"),
    }
    let hb = HeartbeatRequest {
        group_id: "g".into(),
        generation_id: 1,
        member_id: member.as_str().into(),
        ..Default::default()
    };
    assert!(matches!(
        h.handle(ApiKey::Heartbeat, 4, hb.clone().into()).await,
        ResponseBody::Heartbeat(r) if r.error_code == 0
    ));
    let commit = OffsetCommitRequest {
        group_id: "g".into(),
        generation_id_or_member_epoch: 1,
        member_id: member.as_str().into(),
        topics: vec![OffsetCommitRequestTopic {
            name: "t".into(),
            partitions: vec![OffsetCommitRequestPartition {
                partition_index: 0,
                committed_offset: 42,
                committed_leader_epoch: 3,
                committed_metadata: Some("meta".into()),
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    };
    match h.handle(ApiKey::OffsetCommit, 8, commit.into()).await {
        ResponseBody::OffsetCommit(r) => assert_eq!(r.topics[0].partitions[0].error_code, 0),
        other => panic!("{other:?}"),
    }
    let f = fetch(&h).await;
    assert_eq!(f.topics[0].partitions[0].committed_offset, 42);
    assert_eq!(f.topics[0].partitions[0].committed_leader_epoch, 3);
    assert_eq!(f.topics[0].partitions[1].committed_offset, -1);

    // Everything went to the group's partition of __consumer_offsets.
    let p = vltava_coordinator::partition_for("g", 50);
    assert!(
        log.parts
            .lock()
            .expect("lock")
            .get(&p)
            .is_some_and(|r| r.len() >= 2)
    );

    // Restart over the same log: offsets and the group come back.
    drop(h);
    task.await.expect("task ends when handles are gone");
    let (h2, _task2) = start(cfg(), log.clone(), 50);
    assert!(h2.wait_loaded().await);
    let f = fetch(&h2).await;
    assert_eq!(f.topics[0].partitions[0].committed_offset, 42);
    assert_eq!(
        f.topics[0].partitions[0]
            .metadata
            .as_ref()
            .map(|s| s.as_str()),
        Some("meta")
    );
    let d = DescribeGroupsRequest {
        groups: vec!["g".into()],
        ..Default::default()
    };
    match h2.handle(ApiKey::DescribeGroups, 5, d.into()).await {
        ResponseBody::DescribeGroups(r) => {
            assert_eq!(r.groups[0].group_state.as_str(), "Stable");
            assert_eq!(r.groups[0].members.len(), 1);
            assert_eq!(&r.groups[0].members[0].member_assignment[..], b"assign");
        }
        other => panic!("{other:?}"),
    }
    // The reloaded member heartbeats on; without heartbeats its session ends.
    assert!(matches!(
        h2.handle(ApiKey::Heartbeat, 4, hb.clone().into()).await,
        ResponseBody::Heartbeat(r) if r.error_code == 0
    ));
    tokio::time::sleep(Duration::from_millis(10_001)).await;
    match h2.handle(ApiKey::Heartbeat, 4, hb.into()).await {
        ResponseBody::Heartbeat(r) => assert_eq!(r.error_code, codes::UNKNOWN_MEMBER_ID),
        other => panic!("{other:?}"),
    }
}

#[tokio::test(start_paused = true)]
async fn second_member_waits_for_rebalance() {
    let (h, _task) = start(cfg(), MemLog::default(), 10);
    assert!(h.wait_loaded().await);
    let a = join(&h, "").await.member_id.as_str().to_owned();
    assert_eq!(join(&h, &a).await.generation_id, 1);
    let b = join(&h, "").await.member_id.as_str().to_owned();
    let h2 = h.clone();
    let b2 = b.clone();
    let waiting_b = tokio::spawn(async move { join(&h2, &b2).await });
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(!waiting_b.is_finished());
    let ra = join(&h, &a).await;
    let rb = waiting_b.await.expect("join b");
    assert_eq!((ra.generation_id, rb.generation_id), (2, 2));
    assert_eq!(ra.leader, rb.leader);
    let _ = subscription(&["t"]);
}

#[tokio::test(start_paused = true)]
async fn requests_before_load_end_get_load_in_progress() {
    let (h, _task) = start(cfg(), MemLog::default(), 50);
    // The first request races the load of 50 partitions and loses.
    let r = join(&h, "").await;
    assert_eq!(r.error_code, codes::COORDINATOR_LOAD_IN_PROGRESS);
    assert!(h.wait_loaded().await);
    assert_eq!(join(&h, "").await.error_code, codes::MEMBER_ID_REQUIRED);
}

#[tokio::test(start_paused = true)]
async fn mismatched_api_key_is_refused() {
    let (h, _task) = start(cfg(), MemLog::default(), 1);
    let body = HeartbeatRequest::default().into();
    match h.handle(ApiKey::SyncGroup, 3, body).await {
        ResponseBody::SyncGroup(r) => assert_eq!(r.error_code, codes::INVALID_REQUEST),
        other => panic!("{other:?}"),
    }
}

/// A log that fails its first reads and then every append while `broken`.
#[derive(Clone, Default)]
struct FlakyLog {
    inner: MemLog,
    failing_reads: Arc<Mutex<u32>>,
    broken: Arc<Mutex<bool>>,
}

impl OffsetsLog for FlakyLog {
    fn append(
        &mut self,
        partition: i32,
        records: Vec<(Bytes, Option<Bytes>)>,
    ) -> Result<(), CoordinatorError> {
        if *self.broken.lock().expect("lock") {
            return Err(CoordinatorError::Log("disk gone".into()));
        }
        self.inner.append(partition, records)
    }

    fn read_all(
        &mut self,
        partition: i32,
    ) -> Result<Vec<(Bytes, Option<Bytes>)>, CoordinatorError> {
        let mut left = self.failing_reads.lock().expect("lock");
        if *left > 0 {
            *left -= 1;
            return Err(CoordinatorError::Log("not yet".into()));
        }
        self.inner.read_all(partition)
    }
}

/// An OffsetCommit of `offset` for t-0 by the simple (generation -1) group "g".
pub(crate) fn simple_commit(offset: i64) -> OffsetCommitRequest {
    OffsetCommitRequest {
        group_id: "g".into(),
        generation_id_or_member_epoch: -1,
        topics: vec![OffsetCommitRequestTopic {
            name: "t".into(),
            partitions: vec![OffsetCommitRequestPartition {
                partition_index: 0,
                committed_offset: offset,
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    }
}

#[tokio::test(start_paused = true)]
async fn failed_reads_are_retried_and_failed_appends_refuse_the_commit() {
    let log = FlakyLog::default();
    *log.failing_reads.lock().expect("lock") = 3;
    log.inner
        .clone()
        .append(
            vltava_coordinator::partition_for("g", 5),
            vec![
                vltava_coordinator::records::offset_commit_record(
                    "g",
                    "t",
                    0,
                    Some(&vltava_protocol::coordinator::OffsetCommitValue {
                        offset: 7,
                        ..Default::default()
                    }),
                )
                .expect("encodes"),
            ],
        )
        .expect("append");
    let (h, _task) = start(cfg(), log.clone(), 5);
    assert!(h.wait_loaded().await, "loading gets past failed reads");
    assert_eq!(fetch(&h).await.topics[0].partitions[0].committed_offset, 7);

    *log.broken.lock().expect("lock") = true;
    match h
        .handle(ApiKey::OffsetCommit, 8, simple_commit(8).into())
        .await
    {
        ResponseBody::OffsetCommit(r) => {
            assert_eq!(
                r.topics[0].partitions[0].error_code,
                codes::COORDINATOR_NOT_AVAILABLE
            )
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(fetch(&h).await.topics[0].partitions[0].committed_offset, 7);
    *log.broken.lock().expect("lock") = false;
    match h
        .handle(ApiKey::OffsetCommit, 8, simple_commit(8).into())
        .await
    {
        ResponseBody::OffsetCommit(r) => assert_eq!(r.topics[0].partitions[0].error_code, 0),
        other => panic!("{other:?}"),
    }
    assert_eq!(fetch(&h).await.topics[0].partitions[0].committed_offset, 8);
}

#[tokio::test(start_paused = true)]
async fn requests_the_coordinator_does_not_serve_are_answered() {
    let (h, _task) = start(cfg(), MemLog::default(), 1);
    assert!(h.wait_loaded().await);
    let body = ProduceRequest::default().into();
    let r = tokio::time::timeout(Duration::from_secs(5), h.handle(ApiKey::Produce, 9, body))
        .await
        .expect("answered at once");
    assert!(matches!(r, ResponseBody::Heartbeat(r) if r.error_code == codes::INVALID_REQUEST));
    // A version the API does not have.
    let body = HeartbeatRequest::default().into();
    match h.handle(ApiKey::Heartbeat, 99, body).await {
        ResponseBody::Heartbeat(r) => assert_eq!(r.error_code, 35),
        other => panic!("{other:?}"),
    }
}
