//! The group and transaction coordinators move with the leaders of their internal topics'
//! partitions (`TestCluster`, three processes; `__consumer_offsets` and `__transaction_state`
//! get Kafka's three replicas and `transaction.state.log.min.isr=2`): a group commits
//! offsets; kill -9 of its coordinator's node moves FindCoordinator to another node, where
//! the committed offset is fetched and new commits work. A transactional id initialised on
//! its coordinator survives kill -9 of that node: InitProducerId on the new coordinator keeps
//! its producer id with a bumped epoch (the state was replicated, not recreated), and a
//! transaction then commits (markers written, CompleteCommit).

#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::time::Duration;

use bytes::Bytes;
use vltava_protocol::messages::add_partitions_to_txn_request::AddPartitionsToTxnTopic;
use vltava_protocol::messages::create_topics_request::CreatableTopic;
use vltava_protocol::messages::metadata_request::MetadataRequestTopic;
use vltava_protocol::messages::offset_commit_request::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use vltava_protocol::messages::offset_fetch_request::OffsetFetchRequestTopic;
use vltava_protocol::messages::{
    AddPartitionsToTxnRequest, CreateTopicsRequest, DescribeTransactionsRequest, EndTxnRequest,
    FindCoordinatorRequest, InitProducerIdRequest, MetadataRequest, OffsetCommitRequest,
    OffsetFetchRequest, ProduceRequest,
};
use vltava_protocol::{RequestBody, ResponseBody};
use vltava_records::{BatchBuilder, BatchBuilderConfig};
use vltava_testkit::cluster::TestCluster;

use crate::support::{Client, produce_request};

/// Upper bound of each wait for the cluster (fencing a dead node takes its 3 s session).
const LIMIT: Duration = Duration::from_secs(60);
const GROUP: &str = "failover-group";
const TXN: &str = "failover-txn";

fn deadline() -> tokio::time::Instant {
    tokio::time::Instant::now() + LIMIT
}

async fn pause() {
    tokio::time::sleep(Duration::from_millis(200)).await;
}

/// The coordinator node of `key` as node `addr` answers it, once it answers one.
async fn coordinator(addr: &str, key: &str, key_type: i8, not: Option<i32>) -> i32 {
    let end = deadline();
    loop {
        let req = FindCoordinatorRequest {
            key: key.into(),
            key_type,
            ..Default::default()
        };
        let ResponseBody::FindCoordinator(r) = Client::connect_addr(addr)
            .await
            .call(3, RequestBody::from(req))
            .await
        else {
            panic!("not a FindCoordinator response")
        };
        if r.error_code == 0 && Some(r.node_id) != not {
            return r.node_id;
        }
        assert!(
            tokio::time::Instant::now() < end,
            "no coordinator for {key}: {r:?}"
        );
        pause().await;
    }
}

/// Commits `offset` for `t`-0 as a simple (generation -1) commit; the partition's code.
async fn commit(addr: &str, offset: i64) -> i16 {
    let req = OffsetCommitRequest {
        group_id: GROUP.into(),
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
    };
    let ResponseBody::OffsetCommit(r) = Client::connect_addr(addr)
        .await
        .call(8, RequestBody::from(req))
        .await
    else {
        panic!("not an OffsetCommit response")
    };
    r.topics[0].partitions[0].error_code
}

/// (code, committed offset of `t`-0).
async fn fetch_offset(addr: &str) -> (i16, i64) {
    let req = OffsetFetchRequest {
        group_id: GROUP.into(),
        topics: Some(vec![OffsetFetchRequestTopic {
            name: "t".into(),
            partition_indexes: vec![0],
            ..Default::default()
        }]),
        ..Default::default()
    };
    let ResponseBody::OffsetFetch(r) = Client::connect_addr(addr)
        .await
        .call(7, RequestBody::from(req))
        .await
    else {
        panic!("not an OffsetFetch response")
    };
    if r.error_code != 0 {
        return (r.error_code, -1);
    }
    let p = &r.topics[0].partitions[0];
    (p.error_code, p.committed_offset)
}

/// Retries `commit` until it succeeds (the coordinator may still be loading).
async fn commit_until_ok(addr: &str, offset: i64) {
    let end = deadline();
    loop {
        let code = commit(addr, offset).await;
        if code == 0 {
            return;
        }
        assert!(tokio::time::Instant::now() < end, "commit {offset}: {code}");
        pause().await;
    }
}

/// The committed offset once the coordinator at `addr` answers without error.
async fn fetched_offset(addr: &str) -> i64 {
    let end = deadline();
    loop {
        let (code, offset) = fetch_offset(addr).await;
        if code == 0 {
            return offset;
        }
        assert!(tokio::time::Instant::now() < end, "OffsetFetch: {code}");
        pause().await;
    }
}

/// (code, producer id, epoch) of InitProducerId for [`TXN`], retried while the
/// coordinator loads or fences.
async fn init_producer(addr: &str) -> (i64, i16) {
    let end = deadline();
    loop {
        let req = InitProducerIdRequest {
            transactional_id: Some(TXN.into()),
            transaction_timeout_ms: 60_000,
            producer_id: -1,
            producer_epoch: -1,
            ..Default::default()
        };
        let ResponseBody::InitProducerId(r) = Client::connect_addr(addr)
            .await
            .call(4, RequestBody::from(req))
            .await
        else {
            panic!("not an InitProducerId response")
        };
        if r.error_code == 0 {
            return (r.producer_id, r.producer_epoch);
        }
        assert!(tokio::time::Instant::now() < end, "InitProducerId: {r:?}");
        pause().await;
    }
}

/// The live leader of `t`-0 as node `addr` reports it (not `dead`).
async fn leader_of_t(addr: &str, dead: Option<i32>) -> i32 {
    let end = deadline();
    loop {
        let req = MetadataRequest {
            topics: Some(vec![MetadataRequestTopic {
                name: Some("t".into()),
                ..Default::default()
            }]),
            ..Default::default()
        };
        let ResponseBody::Metadata(m) = Client::connect_addr(addr)
            .await
            .call(12, RequestBody::from(req))
            .await
        else {
            panic!("not a Metadata response")
        };
        let leader = m.topics[0].partitions.first().map_or(-1, |p| p.leader_id);
        if leader >= 0 && Some(leader) != dead {
            return leader;
        }
        assert!(tokio::time::Instant::now() < end, "no leader for t-0");
        pause().await;
    }
}

fn txn_batch(pid: i64, epoch: i16) -> Bytes {
    let mut b = BatchBuilder::new(BatchBuilderConfig {
        producer_id: pid,
        producer_epoch: epoch,
        base_sequence: 0,
        transactional: true,
        ..BatchBuilderConfig::default()
    });
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    b.append(now, None, Some(b"in-txn"), &[]).unwrap();
    b.build().unwrap()
}

/// Commits one transaction of [`TXN`] (producer `pid`, `epoch`) with a record on `t`-0:
/// AddPartitionsToTxn and EndTxn at the coordinator `coord`, the record at the leader.
async fn commit_transaction(coord: &str, leader: &str, pid: i64, epoch: i16) {
    let add = AddPartitionsToTxnRequest {
        v3_and_below_transactional_id: TXN.into(),
        v3_and_below_producer_id: pid,
        v3_and_below_producer_epoch: epoch,
        v3_and_below_topics: vec![AddPartitionsToTxnTopic {
            name: "t".into(),
            partitions: vec![0],
            ..Default::default()
        }],
        ..Default::default()
    };
    let ResponseBody::AddPartitionsToTxn(r) = Client::connect_addr(coord)
        .await
        .call(3, RequestBody::from(add))
        .await
    else {
        panic!("not an AddPartitionsToTxn response")
    };
    assert_eq!(
        r.results_by_topic_v3_and_below[0].results_by_partition[0].partition_error_code,
        0
    );
    let end = deadline();
    loop {
        let req = ProduceRequest {
            transactional_id: Some(TXN.into()),
            timeout_ms: 30_000,
            ..produce_request("t", 0, txn_batch(pid, epoch))
        };
        let ResponseBody::Produce(r) = Client::connect_addr(leader)
            .await
            .call(9, RequestBody::from(req))
            .await
        else {
            panic!("not a Produce response")
        };
        let code = r.responses[0].partition_responses[0].error_code;
        if code == 0 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < end,
            "transactional produce: {code}"
        );
        pause().await;
    }
    let req = EndTxnRequest {
        transactional_id: TXN.into(),
        producer_id: pid,
        producer_epoch: epoch,
        committed: true,
        ..Default::default()
    };
    let ResponseBody::EndTxn(r) = Client::connect_addr(coord)
        .await
        .call(3, RequestBody::from(req))
        .await
    else {
        panic!("not an EndTxn response")
    };
    assert_eq!(r.error_code, 0);
    let end = deadline();
    loop {
        let req = DescribeTransactionsRequest {
            transactional_ids: vec![TXN.into()],
            ..Default::default()
        };
        let ResponseBody::DescribeTransactions(r) = Client::connect_addr(coord)
            .await
            .call(0, RequestBody::from(req))
            .await
        else {
            panic!("not a DescribeTransactions response")
        };
        let s = &r.transaction_states[0];
        if s.transaction_state.as_str() == "CompleteCommit" {
            assert_eq!((s.producer_id, s.producer_epoch), (pid, epoch));
            return;
        }
        assert!(tokio::time::Instant::now() < end, "not committed: {s:?}");
        pause().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn coordinators_move_with_their_partitions_after_kill_9() {
    let bin = Path::new(env!("CARGO_BIN_EXE_vltava"));
    let mut cluster =
        tokio::task::spawn_blocking(move || TestCluster::start_with(3, Some(bin), &[]))
            .await
            .unwrap()
            .unwrap();
    let addr = |c: &TestCluster, id: i32| c.addr(usize::try_from(id).unwrap());
    let req = CreateTopicsRequest {
        topics: vec![CreatableTopic {
            name: "t".into(),
            num_partitions: 1,
            replication_factor: 3,
            ..Default::default()
        }],
        timeout_ms: 30_000,
        ..Default::default()
    };
    let ResponseBody::CreateTopics(r) = Client::connect_addr(&cluster.addr(0))
        .await
        .call(7, RequestBody::from(req))
        .await
    else {
        panic!("not a CreateTopics response")
    };
    assert_eq!(r.topics[0].error_code, 0);

    // Groups: commit on the coordinator, kill it, fetch and commit on the next one.
    let first = coordinator(&cluster.addr(0), GROUP, 0, None).await;
    commit_until_ok(&addr(&cluster, first), 42).await;
    assert_eq!(fetched_offset(&addr(&cluster, first)).await, 42);
    cluster.kill(usize::try_from(first).unwrap()).unwrap();
    let survivor = addr(&cluster, (first + 1) % 3);
    let second = coordinator(&survivor, GROUP, 0, Some(first)).await;
    assert_ne!(second, first);
    assert_eq!(fetched_offset(&addr(&cluster, second)).await, 42);
    commit_until_ok(&addr(&cluster, second), 43).await;
    assert_eq!(fetched_offset(&addr(&cluster, second)).await, 43);
    let node = usize::try_from(first).unwrap();
    cluster = tokio::task::spawn_blocking(move || {
        cluster.restart(node).unwrap();
        cluster
    })
    .await
    .unwrap();

    // Transactions: an id initialised on its coordinator, which is then killed.
    let txn_first = coordinator(&cluster.addr(0), TXN, 1, None).await;
    let (pid, epoch) = init_producer(&addr(&cluster, txn_first)).await;
    cluster.kill(usize::try_from(txn_first).unwrap()).unwrap();
    let survivor = addr(&cluster, (txn_first + 1) % 3);
    let txn_second = coordinator(&survivor, TXN, 1, Some(txn_first)).await;
    let coord = addr(&cluster, txn_second);
    let (pid2, epoch2) = init_producer(&coord).await;
    assert_eq!(pid2, pid, "the new coordinator knows the id's producer");
    assert!(epoch2 > epoch, "epoch bumped: {epoch} -> {epoch2}");
    let leader = leader_of_t(&survivor, Some(txn_first)).await;
    commit_transaction(&coord, &addr(&cluster, leader), pid2, epoch2).await;
}
