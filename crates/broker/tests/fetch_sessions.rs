//! Incremental fetch sessions (KIP-227) and produce/fetch round trips against a
//! running node, spoken in raw protocol frames.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use bytes::Bytes;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use vltava_broker::Node;
use vltava_broker::config::{BrokerConfig, parse_properties};
use vltava_protocol::frame::{decode_response, encode_request};
use vltava_protocol::messages::create_topics_request::CreatableTopic;
use vltava_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use vltava_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use vltava_protocol::messages::{
    CreateTopicsRequest, FetchRequest, FetchResponse, ProduceRequest, RequestHeader,
};
use vltava_protocol::{RequestBody, ResponseBody, Uuid};
use vltava_records::{BatchBuilder, BatchBuilderConfig};

const LIMIT: Duration = Duration::from_secs(10);

struct Client {
    s: TcpStream,
    corr: i32,
}

impl Client {
    async fn call(&mut self, version: i16, body: RequestBody) -> ResponseBody {
        self.corr += 1;
        let key = body.api_key();
        let header = RequestHeader {
            request_api_key: key.as_i16(),
            request_api_version: version,
            correlation_id: self.corr,
            client_id: Some("session-test".into()),
            ..Default::default()
        };
        self.s
            .write_all(&encode_request(&header, &body).unwrap())
            .await
            .unwrap();
        let mut len = [0u8; 4];
        tokio::time::timeout(LIMIT, self.s.read_exact(&mut len))
            .await
            .unwrap()
            .unwrap();
        let mut buf = vec![0u8; u32::from_be_bytes(len) as usize];
        self.s.read_exact(&mut buf).await.unwrap();
        let (h, body) = decode_response(&Bytes::from(buf), key, version).unwrap();
        assert_eq!(h.correlation_id, self.corr);
        body
    }

    async fn produce(&mut self, topic: &str, partition: i32, value: &[u8]) -> i64 {
        let mut b = BatchBuilder::new(BatchBuilderConfig::default());
        b.append(1, None, Some(value), &[]).unwrap();
        let req = ProduceRequest {
            acks: -1,
            timeout_ms: 5000,
            topic_data: vec![TopicProduceData {
                name: topic.into(),
                partition_data: vec![PartitionProduceData {
                    index: partition,
                    records: Some(b.build().unwrap()),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        };
        let ResponseBody::Produce(r) = self.call(9, RequestBody::from(req)).await else {
            panic!()
        };
        let p = &r.responses[0].partition_responses[0];
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
    let dir = tempfile::tempdir().unwrap();
    let props = parse_properties(&format!(
        "listeners=PLAINTEXT://127.0.0.1:0,CONTROLLER://127.0.0.1:0\nlog.dirs={}\n",
        dir.path().join("data").display()
    ));
    let node = Node::start(BrokerConfig::from_properties(props).unwrap())
        .await
        .unwrap();
    let mut c = Client {
        s: TcpStream::connect(node.addr).await.unwrap(),
        corr: 0,
    };
    let create = CreateTopicsRequest {
        topics: vec![CreatableTopic {
            name: "s".into(),
            num_partitions: 2,
            replication_factor: 1,
            ..Default::default()
        }],
        timeout_ms: 5000,
        ..Default::default()
    };
    let ResponseBody::CreateTopics(r) = c.call(7, RequestBody::from(create)).await else {
        panic!()
    };
    assert_eq!(r.topics[0].error_code, 0);
    let id = r.topics[0].topic_id;
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
