//! The metadata and fetch paths over 10,000 partitions (100 topics × 100, made
//! by one CreateTopics): DescribeTopicPartitions walked page by page with
//! Kafka's cursor gives every partition exactly once, in (topic, partition)
//! order, at several page sizes; a cursor outside an explicit topic list is
//! INVALID_REQUEST; and one incremental fetch session (KIP-227) holds all
//! 10,000 partitions and then sends only the partition that got data.

#![allow(clippy::unwrap_used)]

use std::time::Instant;

use vltava_protocol::messages::create_topics_request::CreatableTopic;
use vltava_protocol::messages::describe_topic_partitions_request::{Cursor, TopicRequest};
use vltava_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use vltava_protocol::messages::{
    CreateTopicsRequest, DescribeTopicPartitionsRequest, DescribeTopicPartitionsResponse,
    FetchRequest, FetchResponse,
};
use vltava_protocol::{RequestBody, ResponseBody, Uuid};
use vltava_records::{BatchBuilder, BatchBuilderConfig};

use crate::support::{Client, start_node_in};

const TOPICS: usize = 100;
const PER_TOPIC: i32 = 100;

fn name(i: usize) -> String {
    format!("tt-{i:03}")
}

async fn describe(
    c: &mut Client,
    topics: &[&str],
    limit: i32,
    cursor: Option<(String, i32)>,
) -> DescribeTopicPartitionsResponse {
    let req = DescribeTopicPartitionsRequest {
        topics: topics
            .iter()
            .map(|t| TopicRequest {
                name: (*t).into(),
                ..Default::default()
            })
            .collect(),
        response_partition_limit: limit,
        cursor: cursor.map(|(t, p)| Cursor {
            topic_name: t.into(),
            partition_index: p,
            ..Default::default()
        }),
        ..Default::default()
    };
    let ResponseBody::DescribeTopicPartitions(r) = c.call(0, RequestBody::from(req)).await else {
        panic!()
    };
    r
}

/// Walks every page; returns the (topic, partition) pairs in answer order and
/// the number of pages.
async fn walk(c: &mut Client, limit: i32) -> (Vec<(String, i32)>, usize) {
    let mut seen = Vec::new();
    let mut cursor = None;
    let mut pages = 0;
    loop {
        let r = describe(c, &[], limit, cursor).await;
        pages += 1;
        let mut on_page = 0;
        for t in &r.topics {
            assert_eq!(t.error_code, 0);
            assert!(
                !t.partitions.is_empty(),
                "a topic on a page without partitions"
            );
            for p in &t.partitions {
                assert_eq!(p.error_code, 0);
                seen.push((
                    t.name.as_ref().unwrap().as_str().to_string(),
                    p.partition_index,
                ));
                on_page += 1;
            }
        }
        assert!(on_page <= limit.min(2000) as usize, "page of {on_page}");
        match r.next_cursor {
            Some(next) => {
                assert!(on_page > 0, "an empty page with a cursor never ends");
                cursor = Some((next.topic_name.as_str().to_string(), next.partition_index));
            }
            None => return (seen, pages),
        }
        assert!(pages < 20_000);
    }
}

async fn fetch(c: &mut Client, id: i32, epoch: i32, topics: Vec<FetchTopic>) -> FetchResponse {
    let req = FetchRequest {
        replica_id: -1,
        max_wait_ms: 0,
        min_bytes: 0,
        max_bytes: 16 << 20,
        session_id: id,
        session_epoch: epoch,
        topics,
        ..Default::default()
    };
    let ResponseBody::Fetch(r) = c.call(13, RequestBody::from(req)).await else {
        panic!()
    };
    r
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paging_and_a_fetch_session_over_ten_thousand_partitions() {
    // On a tmpfs when there is one: creating 10,000 logs on a busy disk is
    // dominated by directory fsyncs (about 11 ms a partition here).
    let dir = match std::path::Path::new("/dev/shm").is_dir() {
        true => tempfile::tempdir_in("/dev/shm").unwrap(),
        false => tempfile::tempdir().unwrap(),
    };
    let node = start_node_in(dir.path(), "").await;
    let mut c = Client::connect(&node).await;
    let t0 = Instant::now();
    // One request per topic: each answers within the client's limit in a
    // debug build.
    let mut ids: Vec<Uuid> = Vec::new();
    for chunk in 0..TOPICS {
        let create = CreateTopicsRequest {
            topics: (chunk..chunk + 1)
                .map(|i| CreatableTopic {
                    name: name(i).into(),
                    num_partitions: PER_TOPIC,
                    replication_factor: 1,
                    ..Default::default()
                })
                .collect(),
            timeout_ms: 60_000,
            ..Default::default()
        };
        let ResponseBody::CreateTopics(r) = c.call(7, RequestBody::from(create)).await else {
            panic!()
        };
        assert!(r.topics.iter().all(|t| t.error_code == 0));
        ids.extend(r.topics.iter().map(|t| t.topic_id));
        if chunk % 10 == 9 {
            eprintln!("{} topics after {:?}", chunk + 1, t0.elapsed());
        }
    }
    eprintln!("created 10,000 partitions in {:?}", t0.elapsed());

    let want: Vec<(String, i32)> = (0..TOPICS)
        .flat_map(|i| (0..PER_TOPIC).map(move |p| (name(i), p)))
        .collect();
    let t0 = Instant::now();
    for (limit, pages) in [(2000, 5), (777, 13), (100, 100), (5000, 5)] {
        let (seen, n) = walk(&mut c, limit).await;
        assert_eq!(seen.len(), want.len(), "limit {limit}");
        assert!(
            seen == want,
            "limit {limit}: not every partition once, in order"
        );
        assert_eq!(n, pages, "limit {limit}");
    }
    eprintln!("paged 4 times in {:?}", t0.elapsed());

    // An explicit list: from the cursor's topic and partition on; a cursor
    // topic outside the list is refused.
    let r = describe(
        &mut c,
        &["tt-007", "tt-003", "tt-005"],
        120,
        Some(("tt-005".into(), 60)),
    )
    .await;
    let got: Vec<(String, usize, i32)> = r
        .topics
        .iter()
        .map(|t| {
            let first = t.partitions.first().map_or(-1, |p| p.partition_index);
            (
                t.name.as_ref().unwrap().as_str().to_string(),
                t.partitions.len(),
                first,
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("tt-005".to_string(), 40, 60),
            ("tt-007".to_string(), 80, 0)
        ]
    );
    let next = r.next_cursor.unwrap();
    assert_eq!(
        (next.topic_name.as_str(), next.partition_index),
        ("tt-007", 80)
    );
    let r = describe(
        &mut c,
        &["tt-007", "tt-005"],
        120,
        Some(("tt-007".into(), 80)),
    )
    .await;
    assert_eq!(r.topics.len(), 1);
    assert_eq!(r.topics[0].partitions.len(), 20);
    assert!(r.next_cursor.is_none());
    let r = describe(&mut c, &["tt-001"], 10, Some(("tt-002".into(), 0))).await;
    assert_eq!(r.topics[0].error_code, 42, "INVALID_REQUEST");

    // One fetch session over all of them: the full fetch answers every
    // partition, incremental ones only what changed.
    let topics: Vec<FetchTopic> = ids
        .iter()
        .map(|id| FetchTopic {
            topic_id: *id,
            partitions: (0..PER_TOPIC)
                .map(|p| FetchPartition {
                    partition: p,
                    fetch_offset: 0,
                    partition_max_bytes: 1 << 10,
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        })
        .collect();
    let t0 = Instant::now();
    let full = fetch(&mut c, 0, 0, topics).await;
    assert_eq!(full.error_code, 0);
    assert_ne!(full.session_id, 0, "a session was made");
    let n: usize = full.responses.iter().map(|t| t.partitions.len()).sum();
    assert_eq!(n, 10_000);
    let id = full.session_id;
    let r = fetch(&mut c, id, 1, vec![]).await;
    assert_eq!((r.error_code, r.session_id), (0, id));
    assert!(
        r.responses.iter().all(|t| t.partitions.is_empty()),
        "nothing new"
    );
    let mut b = BatchBuilder::new(BatchBuilderConfig::default());
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    b.append(now, None, Some(b"news"), &[]).unwrap();
    assert_eq!(
        c.produce_raw(9, &name(42), 17, b.build().unwrap())
            .await
            .error_code,
        0
    );
    let r = fetch(&mut c, id, 2, vec![]).await;
    let sent: Vec<(Uuid, i32, i64)> = r
        .responses
        .iter()
        .flat_map(|t| {
            t.partitions
                .iter()
                .map(move |p| (t.topic_id, p.partition_index, p.high_watermark))
        })
        .collect();
    assert_eq!(sent, [(ids[42], 17, 1)]);
    eprintln!(
        "fetch session over 10,000 partitions: 3 fetches in {:?}",
        t0.elapsed()
    );
}
