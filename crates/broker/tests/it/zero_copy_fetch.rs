//! Fetch with records sent from the segment files (`file_records`, `response_send`):
//! a consumer reading a partition spread over many small segments gets every record
//! once, in order, in whole batches, with the partition and response byte limits and
//! the first-batch rule kept, and the records of a v12 answer (sent with `sendfile`)
//! are byte for byte those of a v9 answer (copied) for the same fetches. The TLS
//! listener's copy path is checked in `security.rs` with these helpers.

#![allow(clippy::unwrap_used)]

use bytes::Bytes;
use vltava_protocol::messages::FetchRequest;
use vltava_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use vltava_protocol::{RequestBody, ResponseBody, Uuid};
use vltava_records::{BatchBuilder, BatchBuilderConfig, BatchIter, DecodeLimits};

use crate::support::{Client, start_node};

/// Batches of 1–3 records with values that name their (partition, position).
pub(crate) fn batch(partition: i32, first: usize, n: usize) -> Bytes {
    // Recent timestamps, so retention leaves them alone.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let mut b = BatchBuilder::new(BatchBuilderConfig::default());
    for i in first..first + n {
        let value = format!("p{partition}-v{i:05}-{}", "z".repeat(60 + i % 40));
        b.append(now, Some(b"k"), Some(value.as_bytes()), &[])
            .unwrap();
    }
    b.build().unwrap()
}

/// Produces `batches` batches to each partition of a new topic whose segments hold
/// only a few batches each; returns the topic id and every partition's values in order.
pub(crate) async fn fill(
    c: &mut Client,
    topic: &str,
    partitions: i32,
    batches: usize,
) -> (Uuid, Vec<Vec<String>>) {
    let id = c
        .create_topic_with(topic, partitions, &[("segment.bytes", "1024")])
        .await;
    let mut values = vec![Vec::new(); partitions as usize];
    for p in 0..partitions {
        let mut next = 0;
        for i in 0..batches {
            let n = 1 + i % 3;
            let r = c.produce_raw(9, topic, p, batch(p, next, n)).await;
            assert_eq!(r.error_code, 0);
            for j in next..next + n {
                values[p as usize].push(format!("p{p}-v{j:05}"));
            }
            next += n;
        }
    }
    (id, values)
}

/// A consumer's sessionless Fetch of `offsets` (one per partition).
pub(crate) fn fetch(
    version: i16,
    topic: &str,
    id: Uuid,
    offsets: &[i64],
    max_bytes: i32,
    partition_max_bytes: i32,
) -> RequestBody {
    let (name, topic_id) = if version >= 13 {
        (Default::default(), id)
    } else {
        (topic.into(), Uuid::default())
    };
    RequestBody::from(FetchRequest {
        max_wait_ms: 0,
        min_bytes: 1,
        max_bytes,
        // Both isolation levels (read_committed bounds its aborted-transaction lookup by
        // where the records end).
        isolation_level: (version % 2) as i8,
        session_id: 0,
        session_epoch: -1,
        topics: vec![FetchTopic {
            topic: name,
            topic_id,
            partitions: offsets
                .iter()
                .enumerate()
                .map(|(p, &o)| FetchPartition {
                    partition: p as i32,
                    current_leader_epoch: -1,
                    fetch_offset: o,
                    last_fetched_epoch: -1,
                    log_start_offset: -1,
                    partition_max_bytes,
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }],
        ..Default::default()
    })
}

/// Each partition's error code and records.
pub(crate) fn records(answer: ResponseBody) -> Vec<(i16, Bytes)> {
    let ResponseBody::Fetch(f) = answer else {
        panic!("not a Fetch answer")
    };
    assert_eq!(f.error_code, 0);
    f.responses
        .into_iter()
        .flat_map(|t| t.partitions)
        .map(|p| (p.error_code, p.records.unwrap_or_default()))
        .collect()
}

/// The values of whole batches, and the offset after the last one.
pub(crate) fn values(records: &Bytes) -> (Vec<String>, Option<i64>) {
    let mut out = Vec::new();
    let mut next = None;
    let mut used = 0;
    for view in BatchIter::new(records) {
        let view = view.unwrap();
        let h = *view.header();
        used += h.total_size();
        next = Some(h.next_offset());
        for r in view.records(&DecodeLimits::default()).unwrap() {
            let v = String::from_utf8(r.value.unwrap().to_vec()).unwrap();
            out.push(v[..v.find("-z").unwrap()].to_string());
        }
    }
    assert_eq!(used, records.len(), "whole batches only");
    (out, next)
}

/// A connection that answers Fetch requests.
pub(crate) trait Fetcher {
    async fn fetch_records(&mut self, version: i16, req: RequestBody) -> Vec<(i16, Bytes)>;
}

impl Fetcher for Client {
    async fn fetch_records(&mut self, version: i16, req: RequestBody) -> Vec<(i16, Bytes)> {
        records(self.call(version, req).await)
    }
}

/// Fetches every partition of `topic` to its end over `conn` at `version`, `max_bytes`
/// per response; returns each partition's values and every answer's records in order.
pub(crate) async fn consume(
    conn: &mut impl Fetcher,
    version: i16,
    (topic, id): (&str, Uuid),
    partitions: usize,
    max_bytes: i32,
    partition_max_bytes: i32,
) -> (Vec<Vec<String>>, Vec<Bytes>) {
    let mut offsets = vec![0i64; partitions];
    let mut got = vec![Vec::new(); partitions];
    let mut all = Vec::new();
    loop {
        let req = fetch(version, topic, id, &offsets, max_bytes, partition_max_bytes);
        let answer = conn.fetch_records(version, req).await;
        assert_eq!(answer.len(), partitions);
        let mut any = false;
        let mut total = 0;
        let mut batches = 0;
        for (p, (code, recs)) in answer.into_iter().enumerate() {
            assert_eq!(
                code, 0,
                "partition {p}, v{version}, offsets {offsets:?}, {max_bytes}/{partition_max_bytes}"
            );
            let (vals, next) = values(&recs);
            if let Some(next) = next {
                // The first batch is returned whole even when larger than the limits;
                // otherwise each partition stays within its limit.
                let first_len = BatchIter::new(&recs)
                    .next()
                    .unwrap()
                    .unwrap()
                    .header()
                    .total_size();
                assert!(recs.len() <= partition_max_bytes as usize || recs.len() == first_len);
                offsets[p] = next;
                any = true;
            }
            total += recs.len();
            batches += BatchIter::new(&recs).count();
            got[p].extend(vals);
            all.push(recs);
        }
        // Over the response limit only with a single batch (the first-batch rule).
        assert!(
            total <= max_bytes as usize || batches == 1,
            "{total} bytes in {batches} batches"
        );
        if !any {
            return (got, all);
        }
    }
}

#[tokio::test]
async fn a_consumer_reads_across_segment_boundaries_with_the_limits_kept() {
    let (node, _d) = start_node().await;
    let mut c = Client::connect(&node).await;
    let (id, expected) = fill(&mut c, "zc", 3, 70).await;
    let dir = _d.path().join("data").join("zc-0");
    let segments = std::fs::read_dir(&dir)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "log")
        })
        .count();
    assert!(segments > 5, "{segments} segments");
    for (max, part_max) in [(100_000, 100_000), (3_000, 700), (50, 50)] {
        let mut per_version = Vec::new();
        for version in [4, 9, 11, 12, 13, 16, 17] {
            let (got, answers) = consume(&mut c, version, ("zc", id), 3, max, part_max).await;
            assert_eq!(got, expected, "v{version}, max {max}/{part_max}");
            per_version.push((version, answers));
        }
        // v9 copies the records; v10+ sends them from the files: the same bytes.
        let copied = &per_version[1].1;
        for (version, answers) in &per_version[2..] {
            assert_eq!(answers, copied, "v{version} vs v9, max {max}/{part_max}");
        }
    }
    node.shutdown().await;
}
