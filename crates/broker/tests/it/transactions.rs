//! Transactions over raw frames: FindCoordinator for transactional ids,
//! transactional Produce, WriteTxnMarkers (and its error paths), the last
//! stable offset and aborted transactions of read_committed fetches, and the
//! transaction coordinator's answers to requests out of order.

#![allow(clippy::unwrap_used)]

use crate::support::{Client, produce_request, start_node, start_node_in, start_node_with};
use bytes::Bytes;
use vltava_protocol::messages::add_partitions_to_txn_request::AddPartitionsToTxnTopic;
use vltava_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use vltava_protocol::messages::fetch_response::PartitionData;
use vltava_protocol::messages::offset_fetch_request::OffsetFetchRequestTopic;
use vltava_protocol::messages::txn_offset_commit_request::{
    TxnOffsetCommitRequestPartition, TxnOffsetCommitRequestTopic,
};
use vltava_protocol::messages::write_txn_markers_request::{
    WritableTxnMarker, WritableTxnMarkerTopic,
};
use vltava_protocol::messages::{
    AddOffsetsToTxnRequest, AddPartitionsToTxnRequest, DescribeTransactionsRequest, EndTxnRequest,
    FetchRequest, FindCoordinatorRequest, InitProducerIdRequest, ListTransactionsRequest,
    OffsetFetchRequest, ProduceRequest, TxnOffsetCommitRequest, WriteTxnMarkersRequest,
};
use vltava_protocol::{RequestBody, ResponseBody};
use vltava_records::{BatchBuilder, BatchBuilderConfig, BatchIter};

use vltava_protocol::error_codes::CONCURRENT_TRANSACTIONS;
use vltava_protocol::error_codes::INVALID_PRODUCER_EPOCH;
use vltava_protocol::error_codes::INVALID_PRODUCER_ID_MAPPING;
use vltava_protocol::error_codes::INVALID_REQUEST;
use vltava_protocol::error_codes::INVALID_TXN_STATE;
use vltava_protocol::error_codes::NOT_COORDINATOR;
use vltava_protocol::error_codes::NOT_ENOUGH_REPLICAS;
use vltava_protocol::error_codes::OUT_OF_ORDER_SEQUENCE_NUMBER;
use vltava_protocol::error_codes::UNKNOWN_TOPIC_OR_PARTITION;
use vltava_protocol::error_codes::UNSTABLE_OFFSET_COMMIT;

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

fn batch(pid: i64, epoch: i16, seq: i32, transactional: bool, n: usize) -> Bytes {
    let mut b = BatchBuilder::new(BatchBuilderConfig {
        producer_id: pid,
        producer_epoch: epoch,
        base_sequence: seq,
        transactional,
        ..BatchBuilderConfig::default()
    });
    for i in 0..n {
        b.append(now() + i as i64, None, Some(b"txn-value"), &[])
            .unwrap();
    }
    b.build().unwrap()
}

async fn produce(c: &mut Client, txn_id: Option<&str>, topic: &str, records: Bytes) -> (i16, i64) {
    let req = ProduceRequest {
        transactional_id: txn_id.map(Into::into),
        ..produce_request(topic, 0, records)
    };
    let ResponseBody::Produce(r) = c.call(9, RequestBody::from(req)).await else {
        panic!()
    };
    let p = &r.responses[0].partition_responses[0];
    (p.error_code, p.base_offset)
}

async fn fetch(c: &mut Client, topic: &str, isolation: i8) -> PartitionData {
    fetch_limited(c, topic, isolation, 1 << 20).await
}

/// A fetch from offset 0 returning at most `max_bytes` (at least one batch).
async fn fetch_limited(
    c: &mut Client,
    topic: &str,
    isolation: i8,
    max_bytes: i32,
) -> PartitionData {
    let req = FetchRequest {
        replica_id: -1,
        max_wait_ms: 0,
        min_bytes: 0,
        max_bytes: 1 << 20,
        isolation_level: isolation,
        session_epoch: -1,
        topics: vec![FetchTopic {
            topic: topic.into(),
            partitions: vec![FetchPartition {
                partition: 0,
                fetch_offset: 0,
                partition_max_bytes: max_bytes,
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    };
    let ResponseBody::Fetch(r) = c.call(12, RequestBody::from(req)).await else {
        panic!()
    };
    r.responses[0].partitions[0].clone()
}

async fn write_marker(
    c: &mut Client,
    topic: &str,
    partition: i32,
    pid: i64,
    epoch: i16,
    commit: bool,
) -> i16 {
    let req = WriteTxnMarkersRequest {
        markers: vec![WritableTxnMarker {
            producer_id: pid,
            producer_epoch: epoch,
            transaction_result: commit,
            coordinator_epoch: 0,
            topics: vec![WritableTxnMarkerTopic {
                name: topic.into(),
                partition_indexes: vec![partition],
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    };
    let ResponseBody::WriteTxnMarkers(r) = c.call(1, RequestBody::from(req)).await else {
        panic!()
    };
    assert_eq!(r.markers[0].producer_id, pid);
    assert_eq!(
        r.markers[0].topics[0].partitions[0].partition_index,
        partition
    );
    r.markers[0].topics[0].partitions[0].error_code
}

async fn init_txn(c: &mut Client, txn_id: &str) -> (i16, i64, i16) {
    let req = InitProducerIdRequest {
        transactional_id: Some(txn_id.into()),
        transaction_timeout_ms: 60_000,
        producer_id: -1,
        producer_epoch: -1,
        ..Default::default()
    };
    let ResponseBody::InitProducerId(r) = c.call(4, RequestBody::from(req)).await else {
        panic!()
    };
    (r.error_code, r.producer_id, r.producer_epoch)
}

fn record_count(records: &Option<Bytes>) -> usize {
    let bytes = records.clone().unwrap_or_default();
    BatchIter::new(&bytes)
        .map(|b| b.unwrap())
        .filter(|b| !b.header().attributes.is_control())
        .map(|b| b.header().record_count as usize)
        .sum()
}

#[tokio::test]
async fn find_coordinator_for_transactional_ids_creates_the_state_topic() {
    let (node, _dir) = start_node().await;
    let mut c = Client::connect(&node).await;
    for version in [1i16, 3, 4] {
        let req = if version >= 4 {
            FindCoordinatorRequest {
                key_type: 1,
                coordinator_keys: vec!["txn-a".into(), "txn-b".into()],
                ..Default::default()
            }
        } else {
            FindCoordinatorRequest {
                key: "txn-a".into(),
                key_type: 1,
                ..Default::default()
            }
        };
        let ResponseBody::FindCoordinator(r) = c.call(version, RequestBody::from(req)).await else {
            panic!()
        };
        if version >= 4 {
            assert_eq!(r.coordinators.len(), 2);
            for k in &r.coordinators {
                assert_eq!((k.error_code, k.node_id), (0, 1), "{k:?}");
                assert_eq!(k.port, i32::from(node.addr.port()));
            }
        } else {
            assert_eq!((r.error_code, r.node_id), (0, 1));
            assert_eq!(r.port, i32::from(node.addr.port()));
        }
    }
    let meta = node.broker.metadata();
    let topic = meta.topic("__transaction_state").expect("created");
    assert_eq!(topic.partitions.len(), 50);
    // An unknown key type is refused.
    let req = FindCoordinatorRequest {
        key: "x".into(),
        key_type: 7,
        ..Default::default()
    };
    let ResponseBody::FindCoordinator(r) = c.call(3, RequestBody::from(req)).await else {
        panic!()
    };
    assert_eq!(r.error_code, INVALID_REQUEST);
    node.shutdown().await;
}

#[tokio::test]
async fn markers_end_transactions_and_read_committed_fetches_follow_them() {
    // Markers are written by hand here, with no coordinator transaction
    // behind the batches: produce verification (KIP-890) would refuse them.
    let (node, _dir) = start_node_with("transaction.partition.verification.enable=false").await;
    let mut c = Client::connect(&node).await;
    c.create_topic("t", 1).await;
    let pid = 4242;

    // An open transaction holds the last stable offset at its first offset.
    assert_eq!(
        produce(&mut c, Some("raw"), "t", batch(pid, 0, 0, true, 3)).await,
        (0, 0)
    );
    let p = fetch(&mut c, "t", 1).await;
    assert_eq!((p.high_watermark, p.last_stable_offset), (3, 0));
    assert_eq!(record_count(&p.records), 0);
    assert_eq!(p.aborted_transactions.as_deref(), Some(&[][..]));
    let p = fetch(&mut c, "t", 0).await;
    assert_eq!(record_count(&p.records), 3);
    assert_eq!(p.aborted_transactions, None);

    // Plain batches of that producer are refused while its transaction is open.
    let (code, _) = produce(&mut c, None, "t", batch(pid, 0, 3, false, 1)).await;
    assert_eq!(code, INVALID_TXN_STATE);

    // ABORT: read_committed sees the records with the aborted transaction.
    assert_eq!(write_marker(&mut c, "t", 0, pid, 0, false).await, 0);
    let p = fetch(&mut c, "t", 1).await;
    assert_eq!((p.high_watermark, p.last_stable_offset), (4, 4));
    let aborted = p.aborted_transactions.clone().unwrap();
    assert_eq!(aborted.len(), 1);
    assert_eq!((aborted[0].producer_id, aborted[0].first_offset), (pid, 0));

    // A second transaction, committed: no aborted entry for its range.
    assert_eq!(
        produce(&mut c, Some("raw"), "t", batch(pid, 0, 3, true, 2)).await,
        (0, 4)
    );
    assert_eq!(write_marker(&mut c, "t", 0, pid, 0, true).await, 0);
    let p = fetch(&mut c, "t", 1).await;
    assert_eq!((p.high_watermark, p.last_stable_offset), (7, 7));
    assert_eq!(p.aborted_transactions.unwrap().len(), 1);
    assert_eq!(record_count(&p.records), 5);

    // Error paths: a stale producer epoch, an unknown partition.
    assert_eq!(
        produce(&mut c, Some("raw"), "t", batch(pid, 1, 0, true, 1))
            .await
            .0,
        0
    );
    assert_eq!(
        write_marker(&mut c, "t", 0, pid, 0, true).await,
        INVALID_PRODUCER_EPOCH
    );
    assert_eq!(
        write_marker(&mut c, "nope", 0, pid, 1, true).await,
        UNKNOWN_TOPIC_OR_PARTITION
    );
    assert_eq!(
        write_marker(&mut c, "t", 9, pid, 1, true).await,
        UNKNOWN_TOPIC_OR_PARTITION
    );

    // A second aborted transaction: a fetch returning only the first batch
    // lists only the transaction it overlaps; a whole fetch lists both.
    assert_eq!(write_marker(&mut c, "t", 0, pid, 1, false).await, 0);
    let p = fetch(&mut c, "t", 1).await;
    let firsts: Vec<i64> = p
        .aborted_transactions
        .unwrap()
        .iter()
        .map(|a| a.first_offset)
        .collect();
    assert_eq!(firsts, vec![0, 7]);
    let p = fetch_limited(&mut c, "t", 1, 1).await;
    assert_eq!(record_count(&p.records), 3);
    assert_eq!(p.aborted_transactions.unwrap().len(), 1);
    node.shutdown().await;
}

#[tokio::test]
async fn coordinator_refuses_requests_out_of_order_and_keeps_ids_across_restart() {
    let dir = tempfile::tempdir().unwrap();
    let node = start_node_in(dir.path(), "").await;
    let mut c = Client::connect(&node).await;
    c.create_topic("t", 1).await;
    // Before __transaction_state exists nobody coordinates the id.
    let never = EndTxnRequest {
        transactional_id: "never".into(),
        producer_id: 1,
        committed: true,
        ..Default::default()
    };
    let ResponseBody::EndTxn(r) = c.call(3, RequestBody::from(never)).await else {
        panic!()
    };
    assert_eq!(r.error_code, NOT_COORDINATOR);
    find_coordinator(&mut c, "never", 1).await;
    // EndTxn for an id the coordinator never saw.
    let end = |pid, epoch| EndTxnRequest {
        transactional_id: "never".into(),
        producer_id: pid,
        producer_epoch: epoch,
        committed: true,
        ..Default::default()
    };
    let ResponseBody::EndTxn(r) = c.call(3, RequestBody::from(end(1, 0))).await else {
        panic!()
    };
    assert_eq!(r.error_code, INVALID_PRODUCER_ID_MAPPING);
    let (code, pid, epoch) = init_txn(&mut c, "kept").await;
    assert_eq!(code, 0);
    assert!(pid >= 0);
    // Adding a partition with a wrong epoch is fenced; with the right one it works.
    let add = |epoch| AddPartitionsToTxnRequest {
        v3_and_below_transactional_id: "kept".into(),
        v3_and_below_producer_id: pid,
        v3_and_below_producer_epoch: epoch,
        v3_and_below_topics: vec![AddPartitionsToTxnTopic {
            name: "t".into(),
            partitions: vec![0],
            ..Default::default()
        }],
        ..Default::default()
    };
    let ResponseBody::AddPartitionsToTxn(r) = c.call(3, RequestBody::from(add(epoch + 5))).await
    else {
        panic!()
    };
    assert_ne!(
        r.results_by_topic_v3_and_below[0].results_by_partition[0].partition_error_code,
        0
    );
    let ResponseBody::AddPartitionsToTxn(r) = c.call(3, RequestBody::from(add(epoch))).await else {
        panic!()
    };
    assert_eq!(
        r.results_by_topic_v3_and_below[0].results_by_partition[0].partition_error_code,
        0
    );
    node.shutdown().await;

    // After a restart the id is known (loaded from __transaction_state): the
    // next InitProducerId aborts the open transaction first (answering
    // CONCURRENT_TRANSACTIONS until that is done, like Kafka), then keeps the
    // producer id and bumps the epoch.
    let node = start_node_in(dir.path(), "").await;
    let mut c = Client::connect(&node).await;
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    let (pid2, epoch2) = loop {
        let (code, pid2, epoch2) = init_txn(&mut c, "kept").await;
        if code == 0 {
            break (pid2, epoch2);
        }
        assert_eq!(code, CONCURRENT_TRANSACTIONS);
        assert!(tokio::time::Instant::now() < deadline);
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    assert_eq!(pid2, pid);
    assert!(epoch2 > epoch);
    node.shutdown().await;
}

async fn find_coordinator(c: &mut Client, key: &str, key_type: i8) {
    let req = FindCoordinatorRequest {
        key: key.into(),
        key_type,
        ..Default::default()
    };
    let ResponseBody::FindCoordinator(r) = c.call(3, RequestBody::from(req)).await else {
        panic!()
    };
    assert_eq!(r.error_code, 0);
}

/// (error code, offset) of `t`-0 for `group`, asking for stable offsets.
async fn stable_offset(c: &mut Client, group: &str) -> (i16, i64) {
    let req = OffsetFetchRequest {
        group_id: group.into(),
        topics: Some(vec![OffsetFetchRequestTopic {
            name: "t".into(),
            partition_indexes: vec![0],
            ..Default::default()
        }]),
        require_stable: true,
        ..Default::default()
    };
    let ResponseBody::OffsetFetch(r) = c.call(7, RequestBody::from(req)).await else {
        panic!()
    };
    let p = &r.topics[0].partitions[0];
    (p.error_code, p.committed_offset)
}

#[tokio::test]
async fn a_whole_transaction_with_offsets_over_raw_frames() {
    let (node, _dir) = start_node().await;
    let mut c = Client::connect(&node).await;
    c.create_topic("t", 1).await;
    find_coordinator(&mut c, "full", 1).await;
    find_coordinator(&mut c, "g", 0).await;
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    let (pid, epoch) = loop {
        let (code, pid, epoch) = init_txn(&mut c, "full").await;
        if code == 0 {
            break (pid, epoch);
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "InitProducerId: {code}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    let add = AddPartitionsToTxnRequest {
        v3_and_below_transactional_id: "full".into(),
        v3_and_below_producer_id: pid,
        v3_and_below_producer_epoch: epoch,
        v3_and_below_topics: vec![AddPartitionsToTxnTopic {
            name: "t".into(),
            partitions: vec![0],
            ..Default::default()
        }],
        ..Default::default()
    };
    let ResponseBody::AddPartitionsToTxn(r) = c.call(3, RequestBody::from(add)).await else {
        panic!()
    };
    assert_eq!(
        r.results_by_topic_v3_and_below[0].results_by_partition[0].partition_error_code,
        0
    );
    assert_eq!(
        produce(&mut c, Some("full"), "t", batch(pid, epoch, 0, true, 2)).await,
        (0, 0)
    );
    let add_offsets = AddOffsetsToTxnRequest {
        transactional_id: "full".into(),
        producer_id: pid,
        producer_epoch: epoch,
        group_id: "g".into(),
        ..Default::default()
    };
    let ResponseBody::AddOffsetsToTxn(r) = c.call(3, RequestBody::from(add_offsets)).await else {
        panic!()
    };
    assert_eq!(r.error_code, 0);
    let commit = TxnOffsetCommitRequest {
        transactional_id: "full".into(),
        group_id: "g".into(),
        producer_id: pid,
        producer_epoch: epoch,
        generation_id: -1,
        member_id: "".into(),
        topics: vec![TxnOffsetCommitRequestTopic {
            name: "t".into(),
            partitions: vec![TxnOffsetCommitRequestPartition {
                partition_index: 0,
                committed_offset: 7,
                committed_leader_epoch: -1,
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    };
    // The group coordinator may still be loading __consumer_offsets (14).
    loop {
        let ResponseBody::TxnOffsetCommit(r) = c.call(3, RequestBody::from(commit.clone())).await
        else {
            panic!()
        };
        match r.topics[0].partitions[0].error_code {
            0 => break,
            14 => assert!(tokio::time::Instant::now() < deadline),
            code => panic!("TxnOffsetCommit: {code}"),
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    // Pending until the transaction ends.
    assert_eq!(stable_offset(&mut c, "g").await.0, UNSTABLE_OFFSET_COMMIT);
    let ResponseBody::ListTransactions(r) = c
        .call(1, RequestBody::from(ListTransactionsRequest::default()))
        .await
    else {
        panic!()
    };
    let listed = r
        .transaction_states
        .iter()
        .find(|s| s.transactional_id.as_str() == "full")
        .expect("listed");
    assert_eq!(
        (listed.producer_id, listed.transaction_state.as_str()),
        (pid, "Ongoing")
    );

    let end = EndTxnRequest {
        transactional_id: "full".into(),
        producer_id: pid,
        producer_epoch: epoch,
        committed: true,
        ..Default::default()
    };
    let ResponseBody::EndTxn(r) = c.call(3, RequestBody::from(end)).await else {
        panic!()
    };
    assert_eq!(r.error_code, 0);
    // Markers follow the EndTxn answer: the data partition's LSO passes the
    // COMMIT marker and the offset becomes stable.
    loop {
        let p = fetch(&mut c, "t", 1).await;
        let offset = stable_offset(&mut c, "g").await;
        if p.last_stable_offset == 3 && offset == (0, 7) {
            assert_eq!(record_count(&p.records), 2);
            assert_eq!(p.aborted_transactions.as_deref(), Some(&[][..]));
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{p:?} {offset:?}");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let describe = DescribeTransactionsRequest {
        transactional_ids: vec!["full".into()],
        ..Default::default()
    };
    let ResponseBody::DescribeTransactions(r) = c.call(0, RequestBody::from(describe)).await else {
        panic!()
    };
    let s = &r.transaction_states[0];
    assert_eq!(s.error_code, 0);
    assert_eq!((s.producer_id, s.producer_epoch), (pid, epoch));
    assert_eq!(s.transaction_state.as_str(), "CompleteCommit");
    // The offsets partition of the group holds the transactional record and
    // its COMMIT marker.
    let part = vltava_coordinator::partition_for("g", 50);
    let offsets = node
        .broker
        .partitions
        .get("__consumer_offsets", part)
        .unwrap();
    let end = offsets.log().log_end_offset();
    assert!(end >= 2, "{end}");
    node.shutdown().await;
}

#[tokio::test]
async fn a_prepare_commit_found_at_start_gets_its_markers() {
    // As if the node died between writing PrepareCommit and the markers.
    let dir = tempfile::tempdir().unwrap();
    let no_verify = "transaction.partition.verification.enable=false";
    let node = start_node_in(dir.path(), no_verify).await;
    let mut c = Client::connect(&node).await;
    c.create_topic("t", 1).await;
    find_coordinator(&mut c, "prep", 1).await;
    let pid = 777;
    assert_eq!(
        produce(&mut c, Some("prep"), "t", batch(pid, 0, 0, true, 2)).await,
        (0, 0)
    );
    let snapshot = vltava_coordinator::TxnSnapshot {
        producer_id: pid,
        last_producer_id: -1,
        producer_epoch: 0,
        last_producer_epoch: -1,
        timeout_ms: 60_000,
        state: vltava_coordinator::TxnState::PrepareCommit,
        partitions: [("t".to_string(), 0)].into_iter().collect(),
        start_ms: now(),
        last_update_ms: now(),
    };
    let record = vltava_coordinator::txn_record("prep", Some(&snapshot)).unwrap();
    vltava_broker::txn_log::TxnStateLog::new(node.broker.replicas.clone(), 5_000)
        .append(vltava_coordinator::txn_partition_for("prep", 50), &[record])
        .await
        .unwrap();
    assert_eq!(fetch(&mut c, "t", 1).await.last_stable_offset, 0);
    node.shutdown().await;

    let node = start_node_in(dir.path(), no_verify).await;
    let mut c = Client::connect(&node).await;
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let p = fetch(&mut c, "t", 1).await;
        if p.last_stable_offset == 3 {
            assert_eq!(record_count(&p.records), 2);
            assert_eq!(p.aborted_transactions.as_deref(), Some(&[][..]));
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{p:?}");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let describe = DescribeTransactionsRequest {
        transactional_ids: vec!["prep".into()],
        ..Default::default()
    };
    loop {
        let ResponseBody::DescribeTransactions(r) =
            c.call(0, RequestBody::from(describe.clone())).await
        else {
            panic!()
        };
        let s = &r.transaction_states[0];
        if s.transaction_state.as_str() == "CompleteCommit" {
            assert_eq!(s.producer_id, pid);
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{s:?}");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    node.shutdown().await;
}

#[tokio::test]
async fn transactional_produce_is_verified_with_the_coordinator() {
    let (node, _dir) = start_node().await;
    let mut c = Client::connect(&node).await;
    c.create_topic("t", 2).await;
    find_coordinator(&mut c, "v", 1).await;
    // A producer id the coordinator does not know.
    let (code, _) = produce(&mut c, Some("v"), "t", batch(99, 0, 0, true, 1)).await;
    assert_eq!(code, INVALID_PRODUCER_ID_MAPPING);
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    let (pid, epoch) = loop {
        let (code, pid, epoch) = init_txn(&mut c, "v").await;
        if code == 0 {
            break (pid, epoch);
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "InitProducerId: {code}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    // Partition 0 is not in the transaction yet.
    let (code, _) = produce(&mut c, Some("v"), "t", batch(pid, epoch, 0, true, 1)).await;
    assert_eq!(code, INVALID_TXN_STATE);
    let add = AddPartitionsToTxnRequest {
        v3_and_below_transactional_id: "v".into(),
        v3_and_below_producer_id: pid,
        v3_and_below_producer_epoch: epoch,
        v3_and_below_topics: vec![AddPartitionsToTxnTopic {
            name: "t".into(),
            partitions: vec![0],
            ..Default::default()
        }],
        ..Default::default()
    };
    let ResponseBody::AddPartitionsToTxn(r) = c.call(3, RequestBody::from(add)).await else {
        panic!()
    };
    assert_eq!(
        r.results_by_topic_v3_and_below[0].results_by_partition[0].partition_error_code,
        0
    );
    assert_eq!(
        produce(&mut c, Some("v"), "t", batch(pid, epoch, 0, true, 2)).await,
        (0, 0)
    );
    // Later batches of the open transaction append without asking again.
    assert_eq!(
        produce(&mut c, Some("v"), "t", batch(pid, epoch, 2, true, 1)).await,
        (0, 2)
    );
    // An older epoch is fenced.
    let (code, _) = produce(&mut c, Some("v"), "t", batch(pid, epoch - 1, 0, true, 1)).await;
    assert_ne!(code, 0);
    let end = EndTxnRequest {
        transactional_id: "v".into(),
        producer_id: pid,
        producer_epoch: epoch,
        committed: true,
        ..Default::default()
    };
    let ResponseBody::EndTxn(r) = c.call(3, RequestBody::from(end)).await else {
        panic!()
    };
    assert_eq!(r.error_code, 0);
    loop {
        let p = fetch(&mut c, "t", 1).await;
        if p.last_stable_offset == 4 {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline);
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    // The transaction is over: partition 0 is no longer in one (retriable
    // NOT_ENOUGH_REPLICAS while the coordinator still completes it).
    let (code, _) = produce(&mut c, Some("v"), "t", batch(pid, epoch, 3, true, 1)).await;
    assert!(
        code == INVALID_TXN_STATE || code == NOT_ENOUGH_REPLICAS,
        "{code}"
    );
    node.shutdown().await;
}

#[tokio::test]
async fn sequences_of_an_aborted_transaction_are_not_taken_for_retries() {
    // librdkafka's abort purges a batch awaiting retry (after NOT_LEADER_OR_FOLLOWER)
    // and gives its sequence to the next transaction's batch, though the old leader had
    // written it. Kafka answers that batch as a duplicate and its records are lost.
    let (node, _dir) = start_node_with("transaction.partition.verification.enable=false").await;
    let mut c = Client::connect(&node).await;
    c.create_topic("t", 1).await;
    let pid = 4343;
    assert_eq!(
        produce(&mut c, Some("raw"), "t", batch(pid, 0, 0, true, 1)).await,
        (0, 0)
    );
    // Within the transaction a copy is a retry, answered with the first offsets.
    assert_eq!(
        produce(&mut c, Some("raw"), "t", batch(pid, 0, 0, true, 1)).await,
        (0, 0)
    );
    assert_eq!(write_marker(&mut c, "t", 0, pid, 0, false).await, 0);
    // The next transaction re-using sequence 0 is out of order, and nothing is written.
    assert_eq!(
        produce(&mut c, Some("raw"), "t", batch(pid, 0, 0, true, 1))
            .await
            .0,
        OUT_OF_ORDER_SEQUENCE_NUMBER
    );
    assert_eq!(fetch(&mut c, "t", 0).await.high_watermark, 2);
    // The sequence after the aborted batch continues.
    assert_eq!(
        produce(&mut c, Some("raw"), "t", batch(pid, 0, 1, true, 1)).await,
        (0, 2)
    );
    assert_eq!(write_marker(&mut c, "t", 0, pid, 0, true).await, 0);
    // Both records are there, the first one aborted.
    let p = fetch(&mut c, "t", 1).await;
    assert_eq!((p.last_stable_offset, record_count(&p.records)), (4, 2));
    let aborted = p.aborted_transactions.unwrap();
    assert_eq!(aborted.len(), 1);
    assert_eq!((aborted[0].producer_id, aborted[0].first_offset), (pid, 0));
    node.shutdown().await;
}
