//! The transaction coordinator's tokio driver over an in-memory `TxnIo`,
//! with paused time: the broker's path (`txn_driver::start` + handle),
//! loading, commit through markers, the timeout abort, and a restart that
//! completes a prepared transaction. Plus the group driver's transactional
//! offsets over an `OffsetsLog` that tells transactional batches apart.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use vltava_coordinator::txn_driver::{start as start_txn, start_unowned};
use vltava_coordinator::{
    BoxFuture, CoordinatorError, GroupConfig, OffsetsLog, OffsetsLogEntry, RawRecord, TxnConfig,
    TxnCoordinatorHandle, TxnIo, partition_for, start, txn_partition_for,
};
use vltava_protocol::messages::add_partitions_to_txn_request::AddPartitionsToTxnTopic;
use vltava_protocol::messages::offset_fetch_request::OffsetFetchRequestTopic;
use vltava_protocol::messages::txn_offset_commit_request::{
    TxnOffsetCommitRequestPartition, TxnOffsetCommitRequestTopic,
};
use vltava_protocol::messages::*;
use vltava_protocol::{ApiKey, ResponseBody};

type Marker = (i64, i16, bool, (String, i32));

#[derive(Default)]
struct IoState {
    log: HashMap<i32, Vec<RawRecord>>,
    markers: Vec<Marker>,
    next_pid: i64,
    /// Marker writes answer this code (0: written).
    marker_code: i16,
}

#[derive(Clone, Default)]
struct MemTxnIo {
    state: Arc<Mutex<IoState>>,
}

impl TxnIo for MemTxnIo {
    fn append(&self, partition: i32, records: Vec<RawRecord>) -> BoxFuture<Result<(), i16>> {
        let state = self.state.clone();
        Box::pin(async move {
            // A write takes a little time, like a log.
            tokio::time::sleep(Duration::from_millis(1)).await;
            let mut s = state.lock().map_err(|_| -1i16)?;
            s.log.entry(partition).or_default().extend(records);
            Ok(())
        })
    }

    fn write_markers(
        &self,
        producer_id: i64,
        producer_epoch: i16,
        _coordinator_epoch: i32,
        commit: bool,
        partitions: Vec<(String, i32)>,
    ) -> BoxFuture<Vec<((String, i32), i16)>> {
        let state = self.state.clone();
        Box::pin(async move {
            tokio::time::sleep(Duration::from_millis(2)).await;
            let Ok(mut s) = state.lock() else {
                return partitions.into_iter().map(|tp| (tp, -1)).collect();
            };
            let code = s.marker_code;
            partitions
                .into_iter()
                .map(|tp| {
                    if code == 0 {
                        s.markers
                            .push((producer_id, producer_epoch, commit, tp.clone()));
                    }
                    (tp, code)
                })
                .collect()
        })
    }

    fn allocate_producer_id(&self) -> BoxFuture<Result<i64, i16>> {
        let state = self.state.clone();
        Box::pin(async move {
            let mut s = state.lock().map_err(|_| -1i16)?;
            s.next_pid += 1;
            Ok(s.next_pid)
        })
    }

    fn read_partition(&self, partition: i32) -> BoxFuture<Result<Vec<RawRecord>, i16>> {
        let state = self.state.clone();
        Box::pin(async move {
            let s = state.lock().map_err(|_| -1i16)?;
            Ok(s.log.get(&partition).cloned().unwrap_or_default())
        })
    }
}

impl MemTxnIo {
    fn markers(&self) -> Vec<Marker> {
        self.state.lock().expect("lock").markers.clone()
    }

    fn set_marker_code(&self, code: i16) {
        self.state.lock().expect("lock").marker_code = code;
    }

    fn records(&self) -> Vec<Vec<RawRecord>> {
        let s = self.state.lock().expect("lock");
        let mut parts: Vec<_> = s.log.iter().map(|(p, r)| (*p, r.clone())).collect();
        parts.sort_by_key(|(p, _)| *p);
        parts.into_iter().map(|(_, r)| r).collect()
    }
}

async fn init(h: &TxnCoordinatorHandle, tid: &str, timeout: i32) -> InitProducerIdResponse {
    let req = InitProducerIdRequest {
        transactional_id: Some(tid.into()),
        transaction_timeout_ms: timeout,
        producer_id: -1,
        producer_epoch: -1,
        ..Default::default()
    };
    match h.handle(ApiKey::InitProducerId, 4, req.into()).await {
        ResponseBody::InitProducerId(r) => r,
        other => panic!("{other:?}"),
    }
}

async fn add(h: &TxnCoordinatorHandle, tid: &str, pid: i64, epoch: i16, topic: &str) -> i16 {
    let req = AddPartitionsToTxnRequest {
        v3_and_below_transactional_id: tid.into(),
        v3_and_below_producer_id: pid,
        v3_and_below_producer_epoch: epoch,
        v3_and_below_topics: vec![AddPartitionsToTxnTopic {
            name: topic.into(),
            partitions: vec![0, 1],
            ..Default::default()
        }],
        ..Default::default()
    };
    match h.handle(ApiKey::AddPartitionsToTxn, 3, req.into()).await {
        ResponseBody::AddPartitionsToTxn(r) => {
            r.results_by_topic_v3_and_below[0].results_by_partition[0].partition_error_code
        }
        other => panic!("{other:?}"),
    }
}

async fn end(h: &TxnCoordinatorHandle, tid: &str, pid: i64, epoch: i16, commit: bool) -> i16 {
    let req = EndTxnRequest {
        transactional_id: tid.into(),
        producer_id: pid,
        producer_epoch: epoch,
        committed: commit,
        ..Default::default()
    };
    match h.handle(ApiKey::EndTxn, 3, req.into()).await {
        ResponseBody::EndTxn(r) => r.error_code,
        other => panic!("{other:?}"),
    }
}

/// The transaction's state and producer epoch, or the error code as the state when the
/// answer is an error.
async fn describe(h: &TxnCoordinatorHandle, tid: &str) -> (String, i16) {
    let req = DescribeTransactionsRequest {
        transactional_ids: vec![tid.into()],
        ..Default::default()
    };
    match h.handle(ApiKey::DescribeTransactions, 0, req.into()).await {
        ResponseBody::DescribeTransactions(r) => {
            let s = &r.transaction_states[0];
            if s.error_code != 0 {
                return (format!("error {}", s.error_code), s.producer_epoch);
            }
            (s.transaction_state.as_str().to_owned(), s.producer_epoch)
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test(start_paused = true)]
async fn serves_after_load_and_commits_through_markers() {
    let io = MemTxnIo::default();
    let h = start_txn(TxnConfig::default(), io.clone());
    assert_eq!(init(&h, "app", 60_000).await.error_code, 14);
    assert_eq!(h.load(Vec::new()).await, 0);
    h.finish_load().await;
    assert!(h.wait_loaded().await);
    let r = init(&h, "app", 60_000).await;
    assert_eq!((r.error_code, r.producer_id, r.producer_epoch), (0, 1, 0));
    assert_eq!(add(&h, "app", 1, 0, "t").await, 0);
    assert_eq!(end(&h, "app", 1, 0, true).await, 0);
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(describe(&h, "app").await, ("CompleteCommit".to_owned(), 0));
    let mut m = io.markers();
    m.sort();
    assert_eq!(
        m,
        vec![(1, 0, true, ("t".into(), 0)), (1, 0, true, ("t".into(), 1))]
    );
    // A request routed to the wrong API is refused, not lost.
    let r = h
        .handle(ApiKey::EndTxn, 3, InitProducerIdRequest::default().into())
        .await;
    assert!(matches!(r, ResponseBody::EndTxn(e) if e.error_code == 42));
}

#[tokio::test(start_paused = true)]
async fn times_out_an_open_transaction() {
    let io = MemTxnIo::default();
    let cfg = TxnConfig {
        abort_timed_out_interval_ms: 1_000,
        ..TxnConfig::default()
    };
    let h = start_txn(cfg, io.clone());
    h.finish_load().await;
    let r = init(&h, "app", 5_000).await;
    assert_eq!(add(&h, "app", r.producer_id, 0, "t").await, 0);
    tokio::time::sleep(Duration::from_millis(3_000)).await;
    assert_eq!(describe(&h, "app").await.0, "Ongoing");
    tokio::time::sleep(Duration::from_millis(4_000)).await;
    assert_eq!(describe(&h, "app").await, ("CompleteAbort".to_owned(), 1));
    assert!(io.markers().iter().all(|m| (m.1, m.2) == (1, false)));
    assert_eq!(io.markers().len(), 2);
    assert_eq!(end(&h, "app", r.producer_id, 0, true).await, 90);
}

#[tokio::test(start_paused = true)]
async fn a_restart_completes_a_prepared_commit() {
    let io = MemTxnIo::default();
    io.set_marker_code(6); // markers cannot be written: stays PrepareCommit
    let h = start_txn(TxnConfig::default(), io.clone());
    h.finish_load().await;
    let r = init(&h, "app", 60_000).await;
    assert_eq!(add(&h, "app", r.producer_id, 0, "t").await, 0);
    assert_eq!(end(&h, "app", r.producer_id, 0, true).await, 0);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(describe(&h, "app").await.0, "PrepareCommit");
    assert!(io.markers().is_empty());
    drop(h);
    // Restart over the same log, markers writable again.
    let io2 = MemTxnIo::default();
    let h2 = start_txn(TxnConfig::default(), io2.clone());
    for records in io.records() {
        assert_eq!(h2.load(records).await, 0);
    }
    h2.finish_load().await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(describe(&h2, "app").await.0, "CompleteCommit");
    assert_eq!(io2.markers().len(), 2);
    assert!(io2.markers().iter().all(|m| m.2));
}

#[tokio::test(start_paused = true)]
async fn an_elected_partition_is_loaded_and_its_timed_out_transaction_aborted() {
    let io = MemTxnIo::default();
    let cfg = TxnConfig {
        abort_timed_out_interval_ms: 1_000,
        ..TxnConfig::default()
    };
    let p = txn_partition_for("app", cfg.num_partitions);
    let h = start_unowned(cfg.clone(), io.clone());
    assert_eq!(
        init(&h, "app", 5_000).await.error_code,
        16,
        "not elected yet"
    );
    h.elect(p, 3);
    let r = init(&h, "app", 5_000).await;
    assert_eq!(r.error_code, 0);
    assert_eq!(add(&h, "app", r.producer_id, 0, "t").await, 0);
    // The coordinator's node dies with the transaction open; the partition's
    // next leader elects its own coordinator over the same (replicated) log.
    drop(h);
    let h2 = start_unowned(cfg, io.clone());
    assert_eq!(
        describe(&h2, "app").await,
        ("error 16".to_owned(), 0),
        "not served before the election: NOT_COORDINATOR"
    );
    h2.elect(p, 4);
    assert_eq!(describe(&h2, "app").await, ("Ongoing".to_owned(), 0));
    tokio::time::sleep(Duration::from_millis(8_000)).await;
    assert_eq!(describe(&h2, "app").await, ("CompleteAbort".to_owned(), 1));
    assert_eq!(io.markers().len(), 2);
    assert!(io.markers().iter().all(|m| (m.1, m.2) == (1, false)));
}

/// An offsets log that keeps batches with their producer and markers.
#[derive(Clone, Default)]
struct TxnOffsetsLog {
    parts: Arc<Mutex<HashMap<i32, Vec<OffsetsLogEntry>>>>,
}

impl OffsetsLog for TxnOffsetsLog {
    fn append(
        &mut self,
        partition: i32,
        records: Vec<(Bytes, Option<Bytes>)>,
    ) -> Result<(), CoordinatorError> {
        let mut parts = self
            .parts
            .lock()
            .map_err(|e| CoordinatorError::Log(e.to_string()))?;
        parts.entry(partition).or_default().extend(
            records
                .into_iter()
                .map(|(key, value)| OffsetsLogEntry::Record { key, value }),
        );
        Ok(())
    }

    fn read_all(&mut self, _: i32) -> Result<Vec<(Bytes, Option<Bytes>)>, CoordinatorError> {
        Err(CoordinatorError::Log("read_entries is used".into()))
    }

    fn append_transactional(
        &mut self,
        partition: i32,
        producer_id: i64,
        producer_epoch: i16,
        records: Vec<(Bytes, Option<Bytes>)>,
    ) -> Result<(), CoordinatorError> {
        if producer_epoch < 0 {
            return Err(CoordinatorError::Refused {
                code: 47,
                message: "fenced".into(),
            });
        }
        let mut parts = self
            .parts
            .lock()
            .map_err(|e| CoordinatorError::Log(e.to_string()))?;
        parts
            .entry(partition)
            .or_default()
            .extend(
                records
                    .into_iter()
                    .map(|(key, value)| OffsetsLogEntry::Transactional {
                        producer_id,
                        key,
                        value,
                    }),
            );
        Ok(())
    }

    fn read_entries(&mut self, partition: i32) -> Result<Vec<OffsetsLogEntry>, CoordinatorError> {
        let parts = self
            .parts
            .lock()
            .map_err(|e| CoordinatorError::Log(e.to_string()))?;
        Ok(parts.get(&partition).cloned().unwrap_or_default())
    }
}

impl TxnOffsetsLog {
    fn marker(&self, partition: i32, producer_id: i64, commit: bool) {
        self.parts
            .lock()
            .expect("lock")
            .entry(partition)
            .or_default()
            .push(OffsetsLogEntry::Marker {
                producer_id,
                commit,
            });
    }
}

fn txn_commit(pid: i64, epoch: i16, offset: i64) -> TxnOffsetCommitRequest {
    TxnOffsetCommitRequest {
        transactional_id: "tx".into(),
        group_id: "g".into(),
        producer_id: pid,
        producer_epoch: epoch,
        generation_id: -1,
        topics: vec![TxnOffsetCommitRequestTopic {
            name: "t".into(),
            partitions: vec![TxnOffsetCommitRequestPartition {
                partition_index: 0,
                committed_offset: offset,
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    }
}

async fn fetch_stable(h: &vltava_coordinator::CoordinatorHandle) -> (i64, i16) {
    let req = OffsetFetchRequest {
        group_id: "g".into(),
        topics: Some(vec![OffsetFetchRequestTopic {
            name: "t".into(),
            partition_indexes: vec![0],
            ..Default::default()
        }]),
        require_stable: true,
        ..Default::default()
    };
    match h.handle(ApiKey::OffsetFetch, 7, req.into()).await {
        ResponseBody::OffsetFetch(r) => {
            let p = &r.topics[0].partitions[0];
            (p.committed_offset, p.error_code)
        }
        other => panic!("{other:?}"),
    }
}

async fn txn_commit_code(
    h: &vltava_coordinator::CoordinatorHandle,
    req: TxnOffsetCommitRequest,
) -> i16 {
    match h.handle(ApiKey::TxnOffsetCommit, 3, req.into()).await {
        ResponseBody::TxnOffsetCommit(r) => r.topics[0].partitions[0].error_code,
        other => panic!("{other:?}"),
    }
}

#[tokio::test(start_paused = true)]
async fn group_driver_keeps_txn_offsets_pending_across_a_restart() {
    let log = TxnOffsetsLog::default();
    let (h, _task) = start(GroupConfig::default(), log.clone(), 50);
    assert!(h.wait_loaded().await);
    assert_eq!(txn_commit_code(&h, txn_commit(7, 0, 100)).await, 0);
    assert_eq!(txn_commit_code(&h, txn_commit(7, -1, 5)).await, 47);
    assert_eq!(fetch_stable(&h).await, (-1, 88));
    // Restart before the marker: still pending after reload.
    drop(h);
    let (h, _task) = start(GroupConfig::default(), log.clone(), 50);
    assert!(h.wait_loaded().await);
    assert_eq!(fetch_stable(&h).await, (-1, 88));
    // The COMMIT marker is written, then the coordinator is told.
    let p = partition_for("g", 50);
    log.marker(p, 7, true);
    assert!(h.complete_txn_marker(p, 7, true).await);
    assert_eq!(fetch_stable(&h).await, (100, 0));
    // And after another restart the marker in the log commits it again.
    drop(h);
    let (h, _task) = start(GroupConfig::default(), log.clone(), 50);
    assert!(h.wait_loaded().await);
    assert_eq!(fetch_stable(&h).await, (100, 0));
}
