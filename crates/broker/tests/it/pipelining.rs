//! Requests of one connection take effect in arrival order, in raw frames: many
//! Produce requests written back to back on one socket are stored in the order
//! sent, and an idempotent producer that loses its connection mid-pipeline and
//! resends what was not acknowledged ends with neither duplicates nor gaps
//! (duplicates answered with their original offsets); pipelined OffsetCommits
//! leave the last one sent.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use vltava_broker::Node;
use vltava_protocol::frame::{decode_response, encode_request};
use vltava_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use vltava_protocol::messages::offset_commit_request::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use vltava_protocol::messages::offset_fetch_request::OffsetFetchRequestTopic;
use vltava_protocol::messages::produce_response::PartitionProduceResponse;
use vltava_protocol::messages::{
    FetchRequest, FindCoordinatorRequest, InitProducerIdRequest, OffsetCommitRequest,
    OffsetFetchRequest, ProduceRequest, RequestHeader,
};
use vltava_protocol::{ApiKey, RequestBody, ResponseBody};
use vltava_records::{BatchBuilder, BatchBuilderConfig, BatchIter, DecodeLimits};

use crate::support::{Client, LIMIT, produce_request, start_node};

const PRODUCE_VERSION: i16 = 9;

/// A batch of `n` records valued `"{first}".."{first+n-1}"`.
pub(crate) fn batch(pid: i64, epoch: i16, seq: i32, first: usize, n: usize) -> Bytes {
    let mut b = BatchBuilder::new(BatchBuilderConfig {
        producer_id: pid,
        producer_epoch: epoch,
        base_sequence: seq,
        ..BatchBuilderConfig::default()
    });
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    for i in first..first + n {
        b.append(now, None, Some(i.to_string().as_bytes()), &[])
            .unwrap();
    }
    b.build().unwrap()
}

pub(crate) fn produce_frame(corr: i32, acks: i16, topic: &str, records: Bytes) -> Bytes {
    let header = RequestHeader {
        request_api_key: ApiKey::Produce.as_i16(),
        request_api_version: PRODUCE_VERSION,
        correlation_id: corr,
        client_id: Some("pipeline-test".into()),
        ..Default::default()
    };
    let body = RequestBody::from(ProduceRequest {
        acks,
        ..produce_request(topic, 0, records)
    });
    encode_request(&header, &body).unwrap()
}

/// Reads one Produce response; returns its correlation id and partition result.
pub(crate) async fn read_produce(s: &mut TcpStream) -> (i32, PartitionProduceResponse) {
    let mut len = [0u8; 4];
    tokio::time::timeout(LIMIT, s.read_exact(&mut len))
        .await
        .unwrap()
        .unwrap();
    let mut buf = vec![0u8; u32::from_be_bytes(len) as usize];
    s.read_exact(&mut buf).await.unwrap();
    let (h, body) = decode_response(&Bytes::from(buf), ApiKey::Produce, PRODUCE_VERSION).unwrap();
    let ResponseBody::Produce(r) = body else {
        panic!("not a produce response")
    };
    (
        h.correlation_id,
        r.responses[0].partition_responses[0].clone(),
    )
}

/// Every record value of partition 0, in log order, with its offset.
async fn read_log(c: &mut Client, topic: &str) -> Vec<(i64, usize)> {
    let mut out = Vec::new();
    let mut offset = 0;
    loop {
        let req = FetchRequest {
            replica_id: -1,
            max_wait_ms: 0,
            min_bytes: 0,
            max_bytes: 8 << 20,
            session_epoch: -1,
            topics: vec![FetchTopic {
                topic: topic.into(),
                partitions: vec![FetchPartition {
                    partition: 0,
                    fetch_offset: offset,
                    partition_max_bytes: 8 << 20,
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        };
        let ResponseBody::Fetch(r) = c.call(12, RequestBody::from(req)).await else {
            panic!()
        };
        let p = &r.responses[0].partitions[0];
        assert_eq!(p.error_code, 0);
        let records = p.records.clone().unwrap_or_default();
        let before = out.len();
        for view in BatchIter::new(&records) {
            let Ok(view) = view else { break };
            let h = *view.header();
            for r in view.records(&DecodeLimits::default()).unwrap() {
                let v = std::str::from_utf8(r.value.as_deref().unwrap()).unwrap();
                out.push((r.offset(&h), v.parse().unwrap()));
            }
            offset = h.base_offset + i64::from(h.last_offset_delta) + 1;
        }
        if out.len() == before {
            return out;
        }
    }
}

async fn log_end(c: &mut Client, topic: &str) -> i64 {
    c.latest_offset(topic, 0).await.1
}

async fn init_producer(c: &mut Client) -> (i64, i16) {
    let req = InitProducerIdRequest {
        transactional_id: None,
        transaction_timeout_ms: 60_000,
        producer_id: -1,
        producer_epoch: -1,
        ..Default::default()
    };
    let ResponseBody::InitProducerId(r) = c.call(4, RequestBody::from(req)).await else {
        panic!()
    };
    assert_eq!(r.error_code, 0);
    (r.producer_id, r.producer_epoch)
}

async fn start_with_topic(topic: &str) -> (Node, tempfile::TempDir, Client) {
    let (node, dir) = start_node().await;
    let mut c = Client::connect(&node).await;
    c.create_topic(topic, 1).await;
    (node, dir, c)
}

// Several worker threads: with per-request tasks, requests of one connection
// would race each other here.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn pipelined_produce_requests_are_stored_in_arrival_order() {
    const REQUESTS: usize = 400;
    const PER: usize = 3;
    let (node, _d, mut c) = start_with_topic("pipe").await;
    let mut s = TcpStream::connect(node.addr).await.unwrap();
    let mut all = BytesMut::new();
    for i in 0..REQUESTS {
        let records = batch(-1, -1, -1, i * PER, PER);
        all.extend_from_slice(&produce_frame(i as i32, 1, "pipe", records));
    }
    // Everything written before any answer is read: the broker has the whole
    // pipeline in its buffers at once.
    let (mut rd, mut wr) = s.split();
    let write = async {
        wr.write_all(&all).await.unwrap();
    };
    let read = async {
        let mut answers = Vec::new();
        for _ in 0..REQUESTS {
            let mut len = [0u8; 4];
            tokio::time::timeout(LIMIT, rd.read_exact(&mut len))
                .await
                .unwrap()
                .unwrap();
            let mut buf = vec![0u8; u32::from_be_bytes(len) as usize];
            rd.read_exact(&mut buf).await.unwrap();
            answers.push(Bytes::from(buf));
        }
        answers
    };
    let ((), answers) = tokio::join!(write, read);
    for (i, frame) in answers.into_iter().enumerate() {
        let (h, body) = decode_response(&frame, ApiKey::Produce, PRODUCE_VERSION).unwrap();
        assert_eq!(h.correlation_id, i as i32, "answers in arrival order");
        let ResponseBody::Produce(r) = body else {
            panic!()
        };
        let p = &r.responses[0].partition_responses[0];
        assert_eq!(p.error_code, 0);
        assert_eq!(
            p.base_offset,
            (i * PER) as i64,
            "request {i} appended in order"
        );
    }
    let log = read_log(&mut c, "pipe").await;
    let want: Vec<(i64, usize)> = (0..REQUESTS * PER).map(|i| (i as i64, i)).collect();
    assert_eq!(log, want);
    node.shutdown().await;
}

/// Writes the batches `from..to` (each `PER` records, sequence = first record)
/// on `s` without reading any answer.
async fn write_window(s: &mut TcpStream, pid: i64, epoch: i16, from: usize, to: usize) {
    let mut all = BytesMut::new();
    for b in from..to {
        let first = b * PER_BATCH;
        let records = batch(pid, epoch, first as i32, first, PER_BATCH);
        all.extend_from_slice(&produce_frame(b as i32, -1, "idem", records));
    }
    s.write_all(&all).await.unwrap();
}

const PER_BATCH: usize = 4;
/// Kafka's window: at most five unacknowledged batches per partition.
const WINDOW: usize = 5;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn idempotent_resend_after_a_dropped_connection_leaves_no_duplicates_or_gaps() {
    let (node, _d, mut c) = start_with_topic("idem").await;
    let (pid, epoch) = init_producer(&mut c).await;
    let mut next = 0; // first batch not yet acknowledged
    let rounds = 12;
    for round in 0..rounds {
        let end = next + WINDOW;
        let mut s = TcpStream::connect(node.addr).await.unwrap();
        write_window(&mut s, pid, epoch, next, end).await;
        match round % 3 {
            // Wait until all five are in the log, then lose every answer: the
            // resend must be answered as duplicates with the original offsets.
            0 => {
                let want = (end * PER_BATCH) as i64;
                let deadline = tokio::time::Instant::now() + LIMIT;
                while log_end(&mut c, "idem").await < want {
                    assert!(tokio::time::Instant::now() < deadline, "window not applied");
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            }
            // Read two answers, then drop the connection with three in flight.
            1 => {
                for b in next..next + 2 {
                    let (corr, p) = read_produce(&mut s).await;
                    assert_eq!(corr, b as i32);
                    assert_eq!(p.error_code, 0);
                    assert_eq!(p.base_offset, (b * PER_BATCH) as i64);
                }
                next += 2;
            }
            // Drop at once: any prefix of the window may have been applied.
            _ => {}
        }
        drop(s);
        // The producer's resend: whatever was not acknowledged, in order, on a
        // new connection.
        let mut s = TcpStream::connect(node.addr).await.unwrap();
        write_window(&mut s, pid, epoch, next, end).await;
        for b in next..end {
            let (corr, p) = read_produce(&mut s).await;
            assert_eq!(corr, b as i32);
            assert_eq!(p.error_code, 0, "batch {b}: {:?}", p.error_message);
            assert_eq!(
                p.base_offset,
                (b * PER_BATCH) as i64,
                "batch {b} answered with its one offset"
            );
        }
        next = end;
    }
    let log = read_log(&mut c, "idem").await;
    let total = next * PER_BATCH;
    let want: Vec<(i64, usize)> = (0..total).map(|i| (i as i64, i)).collect();
    assert_eq!(log, want, "every record once, in order");
    // A batch older than the last five is not a duplicate Kafka can answer: it
    // is refused, never stored twice.
    let mut s = TcpStream::connect(node.addr).await.unwrap();
    write_window(&mut s, pid, epoch, 0, 1).await;
    let (_, p) = read_produce(&mut s).await;
    assert_ne!(p.error_code, 0);
    assert_eq!(log_end(&mut c, "idem").await, total as i64);
    node.shutdown().await;
}

fn frame(corr: i32, version: i16, body: RequestBody) -> Bytes {
    let header = RequestHeader {
        request_api_key: body.api_key().as_i16(),
        request_api_version: version,
        correlation_id: corr,
        client_id: Some("pipeline-test".into()),
        ..Default::default()
    };
    encode_request(&header, &body).unwrap()
}

fn offset_commit(offset: i64) -> RequestBody {
    RequestBody::from(OffsetCommitRequest {
        group_id: "pipe-group".into(),
        generation_id_or_member_epoch: -1,
        member_id: "".into(),
        retention_time_ms: -1,
        topics: vec![OffsetCommitRequestTopic {
            name: "commits".into(),
            partitions: vec![OffsetCommitRequestPartition {
                partition_index: 0,
                committed_offset: offset,
                committed_leader_epoch: -1,
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    })
}

/// Commits pipelined on one connection take effect in the order sent: the
/// offset fetched afterwards is the last one written, every time.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn pipelined_offset_commits_take_effect_in_arrival_order() {
    const COMMITS: i64 = 200;
    let (node, _d, mut c) = start_with_topic("commits").await;
    // The first lookup creates __consumer_offsets; the coordinator may still be
    // loading it: look up and commit once until it answers without error.
    let deadline = tokio::time::Instant::now() + LIMIT;
    loop {
        let lookup = FindCoordinatorRequest {
            key: "pipe-group".into(),
            key_type: 0,
            ..Default::default()
        };
        let ResponseBody::FindCoordinator(f) = c.call(3, RequestBody::from(lookup)).await else {
            panic!()
        };
        if f.error_code != 0 {
            assert!(tokio::time::Instant::now() < deadline, "no coordinator");
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        }
        let ResponseBody::OffsetCommit(r) = c.call(8, offset_commit(0)).await else {
            panic!()
        };
        if r.topics[0].partitions[0].error_code == 0 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "coordinator not ready: {}",
            r.topics[0].partitions[0].error_code
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for round in 0..3 {
        let mut s = TcpStream::connect(node.addr).await.unwrap();
        let mut all = BytesMut::new();
        for i in 1..=COMMITS {
            all.extend_from_slice(&frame(i as i32, 8, offset_commit(round * 1000 + i)));
        }
        s.write_all(&all).await.unwrap();
        // The fetch rides the same pipeline, after every commit.
        let fetch = OffsetFetchRequest {
            group_id: "pipe-group".into(),
            topics: Some(vec![OffsetFetchRequestTopic {
                name: "commits".into(),
                partition_indexes: vec![0],
                ..Default::default()
            }]),
            ..Default::default()
        };
        s.write_all(&frame(0, 7, RequestBody::from(fetch)))
            .await
            .unwrap();
        for i in 1..=COMMITS {
            let f = read_frame(&mut s).await;
            let (h, body) = decode_response(&f, ApiKey::OffsetCommit, 8).unwrap();
            assert_eq!(h.correlation_id, i as i32);
            let ResponseBody::OffsetCommit(r) = body else {
                panic!()
            };
            assert_eq!(r.topics[0].partitions[0].error_code, 0);
        }
        let f = read_frame(&mut s).await;
        let ResponseBody::OffsetFetch(r) = decode_response(&f, ApiKey::OffsetFetch, 7).unwrap().1
        else {
            panic!()
        };
        let p = &r.topics[0].partitions[0];
        assert_eq!(p.error_code, 0);
        assert_eq!(p.committed_offset, round * 1000 + COMMITS, "round {round}");
    }
    node.shutdown().await;
}

async fn read_frame(s: &mut TcpStream) -> Bytes {
    let mut len = [0u8; 4];
    tokio::time::timeout(LIMIT, s.read_exact(&mut len))
        .await
        .unwrap()
        .unwrap();
    let mut buf = vec![0u8; u32::from_be_bytes(len) as usize];
    s.read_exact(&mut buf).await.unwrap();
    Bytes::from(buf)
}
