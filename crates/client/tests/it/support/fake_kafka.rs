//! TEST DOUBLE, not a broker: an in-process fake Kafka server answering the
//! requests the client sends from an in-memory model (topics as vectors of
//! batches, one group with an immediate join), so the client can be tested
//! before the real broker exists. Listens on 127.0.0.1, ephemeral port; the
//! task ends when the `FakeKafka` is dropped.

use bytes::{Bytes, BytesMut};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use vltava_protocol::frame::{decode_request, encode_response, split_frame};
use vltava_protocol::messages::*;
use vltava_protocol::{ApiKey, RequestBody, ResponseBody};

#[derive(Debug, Default)]
pub struct FakePartition {
    /// (base offset, next offset, batch bytes with offsets assigned)
    pub batches: Vec<(i64, i64, Bytes)>,
    pub log_start: i64,
    pub next_offset: i64,
    pub leader_epoch: i32,
    /// Next expected sequence per producer id (any first sequence is accepted).
    pub sequences: HashMap<i64, i32>,
}

#[derive(Debug, Default)]
pub struct FakeGroup {
    pub generation: i32,
    pub members: Vec<(String, Bytes)>,
    pub protocol: String,
    pub leader: String,
    pub assignments: HashMap<String, Bytes>,
    pub offsets: BTreeMap<(String, i32), i64>,
}

#[derive(Debug, Default)]
pub struct FakeState {
    pub topics: BTreeMap<String, Vec<FakePartition>>,
    pub groups: BTreeMap<String, FakeGroup>,
    /// Errors to answer the next Produce requests with (per partition), then succeed.
    pub produce_errors: Vec<i16>,
    /// Reject ApiVersions above this version with UNSUPPORTED_VERSION.
    pub max_api_versions_version: i16,
    pub next_producer_id: i64,
    pub produce_requests: usize,
    /// Produce requests are read but never answered (request timeout tests).
    pub stall_produce: bool,
    pub seen_versions: Vec<(ApiKey, i16)>,
    pub configs: BTreeMap<String, BTreeMap<String, String>>,
}

/// The running fake. Dropping it stops the listener.
pub struct FakeKafka {
    pub addr: String,
    pub state: Arc<Mutex<FakeState>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeKafka {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakeKafka {
    pub async fn start() -> FakeKafka {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr").to_string();
        let state = Arc::new(Mutex::new(FakeState {
            max_api_versions_version: 3,
            next_producer_id: 1000,
            ..Default::default()
        }));
        let st = state.clone();
        let port: i32 = listener.local_addr().expect("addr").port().into();
        let task = tokio::spawn(async move {
            loop {
                let Ok((sock, _)) = listener.accept().await else {
                    return;
                };
                let st = st.clone();
                tokio::spawn(serve(sock, st, port));
            }
        });
        FakeKafka { addr, state, task }
    }

    pub fn create_topic(&self, name: &str, partitions: usize) {
        let mut st = self.state.lock().expect("lock");
        st.topics.insert(
            name.to_string(),
            (0..partitions).map(|_| FakePartition::default()).collect(),
        );
    }

    /// Every record stored in a partition as (offset, key, value, headers).
    pub fn records(
        &self,
        topic: &str,
        partition: usize,
    ) -> Vec<(
        i64,
        Option<Bytes>,
        Option<Bytes>,
        Vec<(Bytes, Option<Bytes>)>,
    )> {
        let st = self.state.lock().expect("lock");
        let mut out = Vec::new();
        for (_, _, b) in &st.topics[topic][partition].batches {
            for r in vltava_records::RecordsReader::new(b, vltava_records::DecodeLimits::default())
            {
                let (h, r) = r.expect("record");
                out.push((
                    r.offset(&h),
                    r.key.clone(),
                    r.value.clone(),
                    r.headers
                        .iter()
                        .map(|h| (h.key.clone(), h.value.clone()))
                        .collect(),
                ));
            }
        }
        out
    }
}

async fn serve(mut sock: TcpStream, st: Arc<Mutex<FakeState>>, port: i32) {
    let mut buf = BytesMut::new();
    loop {
        match sock.read_buf(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        while let Ok(Some(frame)) = split_frame(&mut buf, 64 << 20) {
            let Ok(req) = decode_request(&frame) else {
                return;
            };
            let v = req.api_version();
            let cid = req.header.correlation_id;
            let (body, reply_v) = {
                let mut s = st.lock().expect("lock");
                s.seen_versions.push((req.api_key, v));
                handle(&mut s, req.body, v, port)
            };
            let Some(body) = body else { continue };
            let Ok(out) = encode_response(cid, reply_v, &body) else {
                return;
            };
            if sock.write_all(&out).await.is_err() {
                return;
            }
        }
    }
}

fn s(x: &str) -> vltava_protocol::SharedStr {
    x.into()
}

fn handle(st: &mut FakeState, body: RequestBody, v: i16, port: i32) -> (Option<ResponseBody>, i16) {
    let r: ResponseBody = match body {
        RequestBody::ApiVersions(_) => {
            let all = [
                ApiKey::Produce,
                ApiKey::Fetch,
                ApiKey::ListOffsets,
                ApiKey::Metadata,
                ApiKey::OffsetCommit,
                ApiKey::OffsetFetch,
                ApiKey::FindCoordinator,
                ApiKey::JoinGroup,
                ApiKey::Heartbeat,
                ApiKey::LeaveGroup,
                ApiKey::SyncGroup,
                ApiKey::ApiVersions,
                ApiKey::CreateTopics,
                ApiKey::DeleteTopics,
                ApiKey::InitProducerId,
                ApiKey::DescribeConfigs,
                ApiKey::IncrementalAlterConfigs,
            ];
            let keys = all
                .iter()
                .map(|k| api_versions_response::ApiVersion {
                    api_key: k.as_i16(),
                    min_version: k.min_version(),
                    max_version: if *k == ApiKey::ApiVersions {
                        st.max_api_versions_version
                    } else {
                        k.max_version()
                    },
                    ..Default::default()
                })
                .collect();
            if v > st.max_api_versions_version {
                // Kafka answers at v0 with the error and its ApiVersions range.
                let resp = ApiVersionsResponse {
                    error_code: 35,
                    api_keys: vec![api_versions_response::ApiVersion {
                        api_key: ApiKey::ApiVersions.as_i16(),
                        min_version: 0,
                        max_version: st.max_api_versions_version,
                        ..Default::default()
                    }],
                    ..Default::default()
                };
                return (Some(resp.into()), 0);
            }
            ApiVersionsResponse {
                api_keys: keys,
                ..Default::default()
            }
            .into()
        }
        RequestBody::Metadata(m) => {
            let names: Vec<String> = match &m.topics {
                None => st.topics.keys().cloned().collect(),
                Some(ts) => ts
                    .iter()
                    .filter_map(|t| t.name.as_ref().map(|n| n.to_string()))
                    .collect(),
            };
            let topics = names
                .iter()
                .map(|n| match st.topics.get(n) {
                    Some(ps) => metadata_response::MetadataResponseTopic {
                        name: Some(s(n)),
                        partitions: ps
                            .iter()
                            .enumerate()
                            .map(|(i, p)| metadata_response::MetadataResponsePartition {
                                partition_index: i as i32,
                                leader_id: 1,
                                leader_epoch: p.leader_epoch,
                                replica_nodes: vec![1],
                                isr_nodes: vec![1],
                                ..Default::default()
                            })
                            .collect(),
                        ..Default::default()
                    },
                    None => metadata_response::MetadataResponseTopic {
                        name: Some(s(n)),
                        error_code: 3,
                        ..Default::default()
                    },
                })
                .collect();
            MetadataResponse {
                brokers: vec![metadata_response::MetadataResponseBroker {
                    node_id: 1,
                    host: s("127.0.0.1"),
                    port,
                    ..Default::default()
                }],
                cluster_id: Some(s("fake-cluster")),
                controller_id: 1,
                topics,
                ..Default::default()
            }
            .into()
        }
        RequestBody::InitProducerId(_) => {
            st.next_producer_id += 1;
            InitProducerIdResponse {
                producer_id: st.next_producer_id,
                producer_epoch: 0,
                ..Default::default()
            }
            .into()
        }
        RequestBody::Produce(_) if st.stall_produce => {
            st.produce_requests += 1;
            return (None, v);
        }
        RequestBody::Produce(p) => {
            st.produce_requests += 1;
            let injected = if st.produce_errors.is_empty() {
                0
            } else {
                st.produce_errors.remove(0)
            };
            let mut responses = Vec::new();
            for t in &p.topic_data {
                let mut prs = Vec::new();
                for pd in &t.partition_data {
                    let mut pr = produce_response::PartitionProduceResponse {
                        index: pd.index,
                        base_offset: -1,
                        log_append_time_ms: -1,
                        ..Default::default()
                    };
                    match st
                        .topics
                        .get_mut(t.name.as_str())
                        .and_then(|ps| ps.get_mut(pd.index as usize))
                    {
                        None => pr.error_code = 3,
                        Some(_) if injected != 0 => pr.error_code = injected,
                        Some(part) => {
                            let mut data = pd.records.clone().unwrap_or_default().to_vec();
                            let view = vltava_records::BatchView::new(&data).expect("batch");
                            view.validate_crc().expect("crc");
                            let h = *view.header();
                            let n = i64::from(h.last_offset_delta) + 1;
                            if h.producer_id >= 0 {
                                let expected = part.sequences.get(&h.producer_id).copied();
                                if expected.is_some_and(|e| e != h.base_sequence) {
                                    pr.error_code = 45;
                                    prs.push(pr);
                                    continue;
                                }
                                part.sequences
                                    .insert(h.producer_id, h.base_sequence + n as i32);
                            }
                            let base = part.next_offset;
                            vltava_records::batch_header::set_base_offset(&mut data, base)
                                .expect("patch");
                            part.batches.push((base, base + n, Bytes::from(data)));
                            part.next_offset += n;
                            pr.base_offset = base;
                        }
                    }
                    prs.push(pr);
                }
                responses.push(produce_response::TopicProduceResponse {
                    name: t.name.clone(),
                    partition_responses: prs,
                    ..Default::default()
                });
            }
            if p.acks == 0 {
                return (None, v);
            }
            ProduceResponse {
                responses,
                ..Default::default()
            }
            .into()
        }
        RequestBody::Fetch(f) => {
            let mut responses = Vec::new();
            for t in &f.topics {
                let mut parts = Vec::new();
                for fp in &t.partitions {
                    let mut pd = fetch_response::PartitionData {
                        partition_index: fp.partition,
                        ..Default::default()
                    };
                    match st
                        .topics
                        .get(t.topic.as_str())
                        .and_then(|ps| ps.get(fp.partition as usize))
                    {
                        None => pd.error_code = 3,
                        Some(part) => {
                            pd.high_watermark = part.next_offset;
                            pd.last_stable_offset = part.next_offset;
                            pd.log_start_offset = part.log_start;
                            if fp.fetch_offset > part.next_offset
                                || fp.fetch_offset < part.log_start
                            {
                                pd.error_code = 1;
                            } else {
                                let mut out = BytesMut::new();
                                for (base, next, b) in &part.batches {
                                    if *next > fp.fetch_offset && *base >= part.log_start.min(*base)
                                    {
                                        out.extend_from_slice(b);
                                        if out.len() >= fp.partition_max_bytes.max(1) as usize {
                                            break;
                                        }
                                    }
                                }
                                pd.records = Some(out.freeze());
                            }
                        }
                    }
                    parts.push(pd);
                }
                responses.push(fetch_response::FetchableTopicResponse {
                    topic: t.topic.clone(),
                    partitions: parts,
                    ..Default::default()
                });
            }
            FetchResponse {
                responses,
                ..Default::default()
            }
            .into()
        }
        RequestBody::ListOffsets(l) => {
            let topics = l
                .topics
                .iter()
                .map(|t| list_offsets_response::ListOffsetsTopicResponse {
                    name: t.name.clone(),
                    partitions: t
                        .partitions
                        .iter()
                        .map(|p| {
                            let part = st
                                .topics
                                .get(t.name.as_str())
                                .and_then(|ps| ps.get(p.partition_index as usize));
                            let mut r = list_offsets_response::ListOffsetsPartitionResponse {
                                partition_index: p.partition_index,
                                timestamp: -1,
                                ..Default::default()
                            };
                            match part {
                                None => r.error_code = 3,
                                Some(part) => {
                                    r.offset = if p.timestamp == -2 {
                                        part.log_start
                                    } else {
                                        part.next_offset
                                    }
                                }
                            }
                            r
                        })
                        .collect(),
                    ..Default::default()
                })
                .collect();
            ListOffsetsResponse {
                topics,
                ..Default::default()
            }
            .into()
        }
        RequestBody::CreateTopics(c) => {
            let mut topics = Vec::new();
            for t in &c.topics {
                let mut r = create_topics_response::CreatableTopicResult {
                    name: t.name.clone(),
                    ..Default::default()
                };
                if st.topics.contains_key(t.name.as_str()) {
                    r.error_code = 36;
                } else {
                    let n = if t.num_partitions < 0 {
                        1
                    } else {
                        t.num_partitions
                    } as usize;
                    if !c.validate_only {
                        st.topics.insert(
                            t.name.to_string(),
                            (0..n).map(|_| FakePartition::default()).collect(),
                        );
                    }
                    r.num_partitions = n as i32;
                    r.replication_factor = 1;
                }
                topics.push(r);
            }
            CreateTopicsResponse {
                topics,
                ..Default::default()
            }
            .into()
        }
        RequestBody::DeleteTopics(d) => {
            let mut names: Vec<String> = d.topic_names.iter().map(|n| n.to_string()).collect();
            names.extend(
                d.topics
                    .iter()
                    .filter_map(|t| t.name.as_ref().map(|n| n.to_string())),
            );
            let responses = names
                .iter()
                .map(|n| delete_topics_response::DeletableTopicResult {
                    name: Some(s(n)),
                    error_code: if st.topics.remove(n).is_some() { 0 } else { 3 },
                    ..Default::default()
                })
                .collect();
            DeleteTopicsResponse {
                responses,
                ..Default::default()
            }
            .into()
        }
        RequestBody::FindCoordinator(_) => FindCoordinatorResponse {
            node_id: 1,
            host: s("127.0.0.1"),
            port,
            ..Default::default()
        }
        .into(),
        RequestBody::JoinGroup(j) => {
            let g = st.groups.entry(j.group_id.to_string()).or_default();
            let member_id = if j.member_id.is_empty() {
                let id = format!("member-{}", g.members.len() + g.generation as usize + 1);
                if v >= 4 {
                    return (
                        Some(
                            JoinGroupResponse {
                                error_code: 79,
                                member_id: s(&id),
                                generation_id: -1,
                                ..Default::default()
                            }
                            .into(),
                        ),
                        v,
                    );
                }
                id
            } else {
                j.member_id.to_string()
            };
            let meta = j
                .protocols
                .first()
                .map(|p| p.metadata.clone())
                .unwrap_or_default();
            g.protocol = j
                .protocols
                .first()
                .map(|p| p.name.to_string())
                .unwrap_or_default();
            if let Some(m) = g.members.iter_mut().find(|m| m.0 == member_id) {
                m.1 = meta;
            } else {
                g.members.push((member_id.clone(), meta));
            }
            g.generation += 1;
            g.leader = g.members[0].0.clone();
            g.assignments.clear();
            let members = if g.leader == member_id {
                g.members
                    .iter()
                    .map(|(id, m)| join_group_response::JoinGroupResponseMember {
                        member_id: s(id),
                        metadata: m.clone(),
                        ..Default::default()
                    })
                    .collect()
            } else {
                vec![]
            };
            JoinGroupResponse {
                generation_id: g.generation,
                protocol_type: Some(s("consumer")),
                protocol_name: Some(s(&g.protocol)),
                leader: s(&g.leader),
                member_id: s(&member_id),
                members,
                ..Default::default()
            }
            .into()
        }
        RequestBody::SyncGroup(sg) => {
            let g = st.groups.entry(sg.group_id.to_string()).or_default();
            for a in &sg.assignments {
                g.assignments
                    .insert(a.member_id.to_string(), a.assignment.clone());
            }
            let error_code = if sg.generation_id != g.generation {
                22
            } else {
                0
            };
            SyncGroupResponse {
                error_code,
                protocol_type: Some(s("consumer")),
                protocol_name: Some(s(&g.protocol)),
                assignment: g
                    .assignments
                    .get(sg.member_id.as_str())
                    .cloned()
                    .unwrap_or_default(),
                ..Default::default()
            }
            .into()
        }
        RequestBody::Heartbeat(h) => {
            let g = st.groups.entry(h.group_id.to_string()).or_default();
            let error_code = if h.generation_id != g.generation {
                27
            } else {
                0
            };
            HeartbeatResponse {
                error_code,
                ..Default::default()
            }
            .into()
        }
        RequestBody::LeaveGroup(l) => {
            if let Some(g) = st.groups.get_mut(l.group_id.as_str()) {
                g.members.retain(|m| {
                    m.0 != l.member_id.as_str()
                        && !l.members.iter().any(|x| x.member_id.as_str() == m.0)
                });
                g.generation += 1;
            }
            LeaveGroupResponse::default().into()
        }
        RequestBody::OffsetCommit(c) => {
            let g = st.groups.entry(c.group_id.to_string()).or_default();
            let topics = c
                .topics
                .iter()
                .map(|t| offset_commit_response::OffsetCommitResponseTopic {
                    name: t.name.clone(),
                    partitions: t
                        .partitions
                        .iter()
                        .map(|p| {
                            g.offsets.insert(
                                (t.name.to_string(), p.partition_index),
                                p.committed_offset,
                            );
                            offset_commit_response::OffsetCommitResponsePartition {
                                partition_index: p.partition_index,
                                ..Default::default()
                            }
                        })
                        .collect(),
                    ..Default::default()
                })
                .collect();
            OffsetCommitResponse {
                topics,
                ..Default::default()
            }
            .into()
        }
        RequestBody::OffsetFetch(f) => {
            let g = st.groups.entry(f.group_id.to_string()).or_default();
            let topics = f
                .topics
                .clone()
                .unwrap_or_default()
                .iter()
                .map(|t| offset_fetch_response::OffsetFetchResponseTopic {
                    name: t.name.clone(),
                    partitions: t
                        .partition_indexes
                        .iter()
                        .map(|p| offset_fetch_response::OffsetFetchResponsePartition {
                            partition_index: *p,
                            committed_offset: g
                                .offsets
                                .get(&(t.name.to_string(), *p))
                                .copied()
                                .unwrap_or(-1),
                            ..Default::default()
                        })
                        .collect(),
                    ..Default::default()
                })
                .collect();
            OffsetFetchResponse {
                topics,
                ..Default::default()
            }
            .into()
        }
        RequestBody::DescribeConfigs(d) => {
            let results = d
                .resources
                .iter()
                .map(|r| describe_configs_response::DescribeConfigsResult {
                    resource_type: r.resource_type,
                    resource_name: r.resource_name.clone(),
                    configs: st
                        .configs
                        .get(r.resource_name.as_str())
                        .map(|m| {
                            m.iter()
                                .map(|(k, val)| {
                                    describe_configs_response::DescribeConfigsResourceResult {
                                        name: s(k),
                                        value: Some(s(val)),
                                        config_source: 1,
                                        ..Default::default()
                                    }
                                })
                                .collect()
                        })
                        .unwrap_or_default(),
                    ..Default::default()
                })
                .collect();
            DescribeConfigsResponse {
                results,
                ..Default::default()
            }
            .into()
        }
        RequestBody::IncrementalAlterConfigs(a) => {
            let mut responses = Vec::new();
            for r in &a.resources {
                let m = st.configs.entry(r.resource_name.to_string()).or_default();
                for c in &r.configs {
                    match (c.config_operation, &c.value) {
                        (0, Some(val)) => {
                            m.insert(c.name.to_string(), val.to_string());
                        }
                        (1, _) => {
                            m.remove(c.name.as_str());
                        }
                        _ => {}
                    }
                }
                responses.push(
                    incremental_alter_configs_response::AlterConfigsResourceResponse {
                        resource_type: r.resource_type,
                        resource_name: r.resource_name.clone(),
                        ..Default::default()
                    },
                );
            }
            IncrementalAlterConfigsResponse {
                responses,
                ..Default::default()
            }
            .into()
        }
        _ => return (None, v),
    };
    (Some(r), v)
}
