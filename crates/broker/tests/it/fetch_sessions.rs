//! Incremental fetch sessions (KIP-227) and produce/fetch round trips against a
//! running node, spoken in raw protocol frames.

#![allow(clippy::unwrap_used)]

use vltava_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use vltava_protocol::messages::{FetchRequest, FetchResponse};
use vltava_protocol::{RequestBody, ResponseBody, Uuid};
use vltava_records::{BatchBuilder, BatchBuilderConfig};

use crate::support::{Client, start_node};

trait SessionFetch {
    async fn produce(&mut self, topic: &str, partition: i32, value: &[u8]) -> i64;
    async fn fetch(
        &mut self,
        id: i32,
        epoch: i32,
        topic_id: Uuid,
        parts: &[(i32, i64)],
    ) -> FetchResponse;
}

impl SessionFetch for Client {
    async fn produce(&mut self, topic: &str, partition: i32, value: &[u8]) -> i64 {
        let mut b = BatchBuilder::new(BatchBuilderConfig::default());
        // A current timestamp: old ones are due for time retention (7 days).
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as i64;
        b.append(now, None, Some(value), &[]).unwrap();
        let p = self
            .produce_raw(9, topic, partition, b.build().unwrap())
            .await;
        assert_eq!(p.error_code, 0);
        p.base_offset
    }

    async fn fetch(
        &mut self,
        id: i32,
        epoch: i32,
        topic_id: Uuid,
        parts: &[(i32, i64)],
    ) -> FetchResponse {
        let req = FetchRequest {
            replica_id: -1,
            max_wait_ms: 0,
            min_bytes: 0,
            max_bytes: 1 << 20,
            session_id: id,
            session_epoch: epoch,
            topics: if parts.is_empty() {
                vec![]
            } else {
                vec![FetchTopic {
                    topic_id,
                    partitions: parts
                        .iter()
                        .map(|(p, o)| FetchPartition {
                            partition: *p,
                            fetch_offset: *o,
                            partition_max_bytes: 1 << 20,
                            ..Default::default()
                        })
                        .collect(),
                    ..Default::default()
                }]
            },
            ..Default::default()
        };
        let ResponseBody::Fetch(r) = self.call(13, RequestBody::from(req)).await else {
            panic!()
        };
        r
    }
}

fn partitions_in(r: &FetchResponse) -> Vec<i32> {
    r.responses
        .iter()
        .flat_map(|t| t.partitions.iter().map(|p| p.partition_index))
        .collect()
}

#[tokio::test]
async fn incremental_sessions_send_only_news() {
    let (node, _dir) = start_node().await;
    let mut c = Client::connect(&node).await;
    let id = c.create_topic("s", 2).await;
    assert_eq!(c.produce("s", 0, b"a").await, 0);
    assert_eq!(c.produce("s", 1, b"b").await, 0);

    // A new session: full response, a session id.
    let r = c.fetch(0, 0, id, &[(0, 0), (1, 0)]).await;
    assert_eq!(r.error_code, 0);
    assert_ne!(r.session_id, 0);
    let session = r.session_id;
    assert_eq!(partitions_in(&r), vec![0, 1]);
    assert_eq!(r.responses[0].topic_id, id);
    // Incremental with new offsets and nothing new: no partitions.
    let r = c.fetch(session, 1, id, &[(0, 1), (1, 1)]).await;
    assert_eq!((r.error_code, r.session_id), (0, session));
    assert!(partitions_in(&r).is_empty());
    // New data on partition 1 only: only partition 1 comes back.
    c.produce("s", 1, b"c").await;
    let r = c.fetch(session, 2, id, &[]).await;
    assert_eq!(partitions_in(&r), vec![1]);
    let p = &r.responses[0].partitions[0];
    assert_eq!(p.high_watermark, 2);
    assert!(!p.records.as_ref().unwrap().is_empty());
    // Wrong epoch and unknown session are errors.
    let r = c.fetch(session, 9, id, &[]).await;
    assert_eq!(r.error_code, 71);
    let r = c.fetch(session + 1, 1, id, &[]).await;
    assert_eq!(r.error_code, 70);
    // Closing the session: a sessionless full fetch.
    let r = c.fetch(session, -1, id, &[(0, 0)]).await;
    assert_eq!((r.error_code, r.session_id), (0, 0));
    assert_eq!(partitions_in(&r), vec![0]);
    let r = c.fetch(session, 3, id, &[]).await;
    assert_eq!(r.error_code, 70);
    // An unknown topic id.
    let r = c.fetch(0, -1, Uuid::from_u128(42), &[(0, 0)]).await;
    assert_eq!(r.responses[0].partitions[0].error_code, 100);
    node.shutdown().await;
}
