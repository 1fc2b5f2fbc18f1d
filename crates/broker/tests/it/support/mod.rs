//! Shared helpers for tests that talk to a running node in raw protocol frames.

#![allow(dead_code, clippy::unwrap_used)]

use std::time::Duration;

use bytes::Bytes;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use vltava_broker::Node;
use vltava_broker::config::{BrokerConfig, parse_properties};
use vltava_protocol::frame::{decode_response, encode_request};
use vltava_protocol::messages::create_topics_request::{CreatableTopic, CreatableTopicConfig};
use vltava_protocol::messages::create_topics_response::CreatableTopicResult;
use vltava_protocol::messages::delete_records_request::{
    DeleteRecordsPartition, DeleteRecordsTopic,
};
use vltava_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use vltava_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use vltava_protocol::messages::produce_response::PartitionProduceResponse;
use vltava_protocol::messages::{
    CreateTopicsRequest, DeleteRecordsRequest, ListOffsetsRequest, ProduceRequest, RequestHeader,
};
use vltava_protocol::{RequestBody, ResponseBody, Uuid};

pub const LIMIT: Duration = Duration::from_secs(10);

/// Starts a node on an ephemeral port in a fresh directory.
pub async fn start_node() -> (Node, tempfile::TempDir) {
    start_node_with("").await
}

/// Starts a node with extra `server.properties` lines.
pub async fn start_node_with(extra: &str) -> (Node, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let node = start_node_in(dir.path(), extra).await;
    (node, dir)
}

/// Starts a node whose data lives in `dir/data` (formatted on first start,
/// reopened on the next: a restart).
pub async fn start_node_in(dir: &std::path::Path, extra: &str) -> Node {
    let props = parse_properties(&format!(
        "listeners=PLAINTEXT://127.0.0.1:0,CONTROLLER://127.0.0.1:0\nlog.dirs={}\n{extra}",
        dir.join("data").display()
    ));
    Node::start(BrokerConfig::from_properties(props).unwrap())
        .await
        .unwrap()
}

/// One connection speaking raw requests.
pub struct Client {
    s: TcpStream,
    corr: i32,
}

impl Client {
    pub async fn connect(node: &Node) -> Client {
        Client {
            s: TcpStream::connect(node.addr).await.unwrap(),
            corr: 0,
        }
    }

    /// Connects to a broker by `host:port` (one running as a process).
    pub async fn connect_addr(addr: &str) -> Client {
        Client {
            s: TcpStream::connect(addr).await.unwrap(),
            corr: 0,
        }
    }

    /// Sends one request and returns its response.
    pub async fn call(&mut self, version: i16, body: RequestBody) -> ResponseBody {
        self.corr += 1;
        let key = body.api_key();
        let header = RequestHeader {
            request_api_key: key.as_i16(),
            request_api_version: version,
            correlation_id: self.corr,
            client_id: Some("raw-test".into()),
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

    /// ListOffsets "latest" of one partition: (error code, offset).
    pub async fn latest_offset(&mut self, topic: &str, partition: i32) -> (i16, i64) {
        let req = ListOffsetsRequest {
            replica_id: -1,
            topics: vec![ListOffsetsTopic {
                name: topic.into(),
                partitions: vec![ListOffsetsPartition {
                    partition_index: partition,
                    timestamp: -1,
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        };
        let ResponseBody::ListOffsets(r) = self.call(7, RequestBody::from(req)).await else {
            panic!("not a ListOffsets response")
        };
        let p = &r.topics[0].partitions[0];
        (p.error_code, p.offset)
    }

    /// Creates a topic; returns its id.
    /// DeleteRecords of partition 0 of `topic` before `offset`: (error code, low watermark).
    pub async fn delete_records(&mut self, topic: &str, offset: i64) -> (i16, i64) {
        let req = DeleteRecordsRequest {
            topics: vec![DeleteRecordsTopic {
                name: topic.into(),
                partitions: vec![DeleteRecordsPartition {
                    partition_index: 0,
                    offset,
                    ..Default::default()
                }],
                ..Default::default()
            }],
            timeout_ms: 5000,
            ..Default::default()
        };
        let ResponseBody::DeleteRecords(r) = self.call(2, RequestBody::from(req)).await else {
            panic!("not a DeleteRecords response")
        };
        let p = &r.topics[0].partitions[0];
        (p.error_code, p.low_watermark)
    }

    pub async fn create_topic(&mut self, name: &str, partitions: i32) -> Uuid {
        self.create_topic_with(name, partitions, &[]).await
    }

    /// Creates a topic with topic configs; returns its id.
    pub async fn create_topic_with(
        &mut self,
        name: &str,
        partitions: i32,
        configs: &[(&str, &str)],
    ) -> Uuid {
        let r = self
            .create_topic_answer(name, partitions, 1, configs, 5000)
            .await;
        assert_eq!(r.error_code, 0);
        r.topic_id
    }

    /// Sends CreateTopics (v7) for one topic and returns its result, whatever the error.
    pub async fn create_topic_answer(
        &mut self,
        name: &str,
        partitions: i32,
        replication_factor: i16,
        configs: &[(&str, &str)],
        timeout_ms: i32,
    ) -> CreatableTopicResult {
        let create = CreateTopicsRequest {
            topics: vec![CreatableTopic {
                name: name.into(),
                num_partitions: partitions,
                replication_factor,
                configs: configs
                    .iter()
                    .map(|(k, v)| CreatableTopicConfig {
                        name: (*k).into(),
                        value: Some((*v).into()),
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            }],
            timeout_ms,
            ..Default::default()
        };
        let ResponseBody::CreateTopics(mut r) = self.call(7, RequestBody::from(create)).await
        else {
            panic!("not a CreateTopics response")
        };
        r.topics.remove(0)
    }

    /// Produces `records` (whole batches) to one partition at `version`.
    pub async fn produce_raw(
        &mut self,
        version: i16,
        topic: &str,
        partition: i32,
        records: Bytes,
    ) -> PartitionProduceResponse {
        let req = produce_request(topic, partition, records);
        let ResponseBody::Produce(r) = self.call(version, RequestBody::from(req)).await else {
            panic!()
        };
        r.responses[0].partition_responses[0].clone()
    }
}

/// A Produce of `records` (whole batches) to one partition, acks=all, waiting up to 5 s
/// (callers set other fields over it).
pub fn produce_request(topic: &str, partition: i32, records: Bytes) -> ProduceRequest {
    ProduceRequest {
        acks: -1,
        timeout_ms: 5000,
        topic_data: vec![TopicProduceData {
            name: topic.into(),
            partition_data: vec![PartitionProduceData {
                index: partition,
                records: Some(records),
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    }
}
