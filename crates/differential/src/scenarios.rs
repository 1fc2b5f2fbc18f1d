//! The request sequences sent to both brokers. Each scenario uses topics and groups of its
//! own, builds every request the same way for both (ids a broker assigned, such as topic
//! and producer ids, are read from its own earlier answers), and records the steps whose
//! answers are compared. Set-up and waits (for leaders after a create, for a deletion to
//! show) go unrecorded.

use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use bytes::Bytes;
use vltava_protocol::messages::add_partitions_to_txn_request::{
    AddPartitionsToTxnTopic, AddPartitionsToTxnTransaction,
};
use vltava_protocol::messages::create_partitions_request::CreatePartitionsTopic;
use vltava_protocol::messages::create_topics_request::{CreatableTopic, CreatableTopicConfig};
use vltava_protocol::messages::delete_records_request::{
    DeleteRecordsPartition, DeleteRecordsTopic,
};
use vltava_protocol::messages::delete_topics_request::DeleteTopicState;
use vltava_protocol::messages::describe_configs_request::DescribeConfigsResource;
use vltava_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use vltava_protocol::messages::join_group_request::JoinGroupRequestProtocol;
use vltava_protocol::messages::leave_group_request::MemberIdentity;
use vltava_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use vltava_protocol::messages::metadata_request::MetadataRequestTopic;
use vltava_protocol::messages::offset_commit_request::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use vltava_protocol::messages::offset_fetch_request::{
    OffsetFetchRequestGroup, OffsetFetchRequestTopic, OffsetFetchRequestTopics,
};
use vltava_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use vltava_protocol::messages::sync_group_request::SyncGroupRequestAssignment;
use vltava_protocol::messages::{
    AddPartitionsToTxnRequest, CreatePartitionsRequest, CreateTopicsRequest, DeleteRecordsRequest,
    DeleteTopicsRequest, DescribeConfigsRequest, DescribeGroupsRequest,
    DescribeTransactionsRequest, EndTxnRequest, FetchRequest, FindCoordinatorRequest,
    HeartbeatRequest, InitProducerIdRequest, JoinGroupRequest, LeaveGroupRequest,
    ListGroupsRequest, ListOffsetsRequest, MetadataRequest, OffsetCommitRequest,
    OffsetFetchRequest, ProduceRequest, SyncGroupRequest,
};
use vltava_protocol::{ApiKey, Uuid};
use vltava_records::builder::{BatchBuilder, BatchBuilderConfig};

use crate::session::Session;

/// The scenarios, by name (the order they run in).
pub const SCENARIOS: &[&str] = &[
    "topics",
    "produce_fetch",
    "offsets",
    "group",
    "idempotence",
    "transactions",
    "recorded_clients",
    "every_api",
    "validation",
];

/// Runs scenario `name` on `s`; `captures` holds the recorded client frames.
pub async fn run(name: &str, s: &mut Session, captures: &std::path::Path) -> Result<()> {
    match name {
        "recorded_clients" => crate::recorded::replay(s, captures).await,
        "topics" => topics(s).await,
        "produce_fetch" => produce_fetch(s).await,
        "offsets" => offsets(s).await,
        "group" => group(s).await,
        "idempotence" => idempotence(s).await,
        "transactions" => transactions(s).await,
        "every_api" => crate::every_api::every_api(s).await,
        "validation" => crate::validation::validation(s).await,
        _ => bail!("no scenario {name}"),
    }
}

/// Base timestamp of every record sent (fixed, so stored batches are byte-equal).
const TIMESTAMP: i64 = 1_700_000_000_000;
/// How long a wait for metadata to settle may take.
pub(crate) const SETTLE: Duration = Duration::from_secs(30);
/// Pause between the polls of a wait.
const POLL: Duration = Duration::from_millis(100);

/// A wait for a broker's state to settle (leaders elected, a coordinator loaded, a marker
/// written): [`Settle::wait`] pauses one poll, or fails once [`SETTLE`] has passed.
pub(crate) struct Settle {
    until: Instant,
}

impl Settle {
    pub(crate) fn start() -> Settle {
        Settle {
            until: Instant::now() + SETTLE,
        }
    }

    /// Pauses before the next poll; past the deadline, fails with `what()`.
    pub(crate) async fn wait(&self, what: impl FnOnce() -> String) -> Result<()> {
        if Instant::now() > self.until {
            bail!("{} (waited {SETTLE:?})", what());
        }
        tokio::time::sleep(POLL).await;
        Ok(())
    }
}

fn topic(name: &str, partitions: i32, rf: i16) -> CreatableTopic {
    CreatableTopic {
        name: name.into(),
        num_partitions: partitions,
        replication_factor: rf,
        ..Default::default()
    }
}

fn create(topics: Vec<CreatableTopic>, validate_only: bool) -> CreateTopicsRequest {
    CreateTopicsRequest {
        topics,
        timeout_ms: 30_000,
        validate_only,
        ..Default::default()
    }
}

fn metadata(names: &[&str]) -> MetadataRequest {
    MetadataRequest {
        topics: Some(
            names
                .iter()
                .map(|n| MetadataRequestTopic {
                    name: Some((*n).into()),
                    ..Default::default()
                })
                .collect(),
        ),
        allow_auto_topic_creation: false,
        ..Default::default()
    }
}

/// Creates `topics` (name, partitions), one replica each, unrecorded.
pub(crate) async fn create_topics(s: &mut Session, topics: &[(String, i32)]) -> Result<()> {
    let list = topics.iter().map(|(n, p)| topic(n, *p, 1)).collect();
    s.call(create(list, false)).await?;
    Ok(())
}

/// Waits until `name` has `partitions` partitions, each with a leader.
pub(crate) async fn wait_for_leaders(s: &mut Session, name: &str, partitions: usize) -> Result<()> {
    let settle = Settle::start();
    loop {
        let m = s.call(metadata(&[name])).await?;
        let ready = m.topics.iter().any(|t| {
            t.error_code == 0
                && t.partitions.len() == partitions
                && t.partitions
                    .iter()
                    .all(|p| p.error_code == 0 && p.leader_id >= 0)
        });
        if ready {
            return Ok(());
        }
        settle
            .wait(|| format!("{name}: no leader for every partition"))
            .await?;
    }
}

/// Waits until `name` is unknown.
async fn wait_until_gone(s: &mut Session, name: &str) -> Result<()> {
    let settle = Settle::start();
    loop {
        let m = s.call(metadata(&[name])).await?;
        if m.topics.iter().all(|t| t.error_code == 3) {
            return Ok(());
        }
        settle
            .wait(|| format!("{name}: still listed after its deletion"))
            .await?;
    }
}

/// The id this broker gave `name`.
pub(crate) async fn topic_id(s: &mut Session, name: &str) -> Result<Uuid> {
    let m = s.call(metadata(&[name])).await?;
    match m.topics.first() {
        Some(t) if t.error_code == 0 => Ok(t.topic_id),
        _ => bail!("{name}: no topic id"),
    }
}

/// A batch of `count` records `k{first+i}` = `v{first+i}` with timestamps `TIMESTAMP + i`,
/// written by producer `(id, epoch)` from `sequence` (-1, -1, -1: no producer).
pub(crate) fn batch(first: usize, count: usize, producer: (i64, i16, i32)) -> Result<Bytes> {
    batch_of(first, count, producer, false)
}

/// As [`batch`], transactional or not.
fn batch_of(
    first: usize,
    count: usize,
    producer: (i64, i16, i32),
    transactional: bool,
) -> Result<Bytes> {
    let mut b = BatchBuilder::new(BatchBuilderConfig {
        producer_id: producer.0,
        producer_epoch: producer.1,
        base_sequence: producer.2,
        transactional,
        ..Default::default()
    });
    for i in first..first + count {
        let key = format!("k{i}");
        let value = format!("v{i}");
        b.append(
            TIMESTAMP + i as i64,
            Some(key.as_bytes()),
            Some(value.as_bytes()),
            &[],
        )?;
    }
    Ok(b.build()?)
}

pub(crate) fn produce(name: &str, partition: i32, acks: i16, records: Bytes) -> ProduceRequest {
    ProduceRequest {
        acks,
        timeout_ms: 30_000,
        topic_data: vec![TopicProduceData {
            name: name.into(),
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

fn list_offsets(name: &str, partition: i32, timestamp: i64) -> ListOffsetsRequest {
    ListOffsetsRequest {
        replica_id: -1,
        topics: vec![ListOffsetsTopic {
            name: name.into(),
            partitions: vec![ListOffsetsPartition {
                partition_index: partition,
                current_leader_epoch: -1,
                timestamp,
                ..Default::default()
            }],
            ..Default::default()
        }],
        timeout_ms: 30_000,
        ..Default::default()
    }
}

pub(crate) fn fetch(name: &str, id: Uuid, partition: i32, offset: i64) -> FetchRequest {
    FetchRequest {
        replica_id: -1,
        max_wait_ms: 0,
        min_bytes: 1,
        max_bytes: 1 << 20,
        session_id: 0,
        session_epoch: -1,
        topics: vec![FetchTopic {
            topic: name.into(),
            topic_id: id,
            partitions: vec![FetchPartition {
                partition,
                current_leader_epoch: -1,
                fetch_offset: offset,
                last_fetched_epoch: -1,
                log_start_offset: -1,
                partition_max_bytes: 1 << 20,
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    }
}

/// CreateTopics with its errors, Metadata, DescribeConfigs, CreatePartitions, DeleteTopics.
// Long, and kept whole: a scenario is one request sequence sent to both brokers in
// order; split up, its steps would no longer read in the order they are sent.
async fn topics(s: &mut Session) -> Result<()> {
    let mut a = topic("diff-topics-a", 3, 1);
    a.configs = vec![
        CreatableTopicConfig {
            name: "cleanup.policy".into(),
            value: Some("compact".into()),
            ..Default::default()
        },
        CreatableTopicConfig {
            name: "retention.ms".into(),
            value: Some("1000000".into()),
            ..Default::default()
        },
    ];
    s.send("create", create(vec![a.clone()], false)).await?;
    wait_for_leaders(s, "diff-topics-a", 3).await?;
    s.send("create an existing topic", create(vec![a], false))
        .await?;
    s.send(
        "create an invalid name",
        create(vec![topic("bad topic!", 1, 1)], false),
    )
    .await?;
    s.send(
        "create with 0 partitions",
        create(vec![topic("diff-topics-zero", 0, 1)], false),
    )
    .await?;
    s.send(
        "create with more replicas than brokers",
        create(vec![topic("diff-topics-rf3", 1, 3)], false),
    )
    .await?;
    s.send(
        "create validate-only",
        create(vec![topic("diff-topics-validate", 2, 1)], true),
    )
    .await?;
    let mut bad_config = topic("diff-topics-bad-config", 1, 1);
    bad_config.configs = vec![CreatableTopicConfig {
        name: "retention.ms".into(),
        value: Some("not-a-number".into()),
        ..Default::default()
    }];
    s.send(
        "create with an invalid config value",
        create(vec![bad_config], false),
    )
    .await?;
    s.send(
        "metadata of the created and the validated topic",
        metadata(&["diff-topics-a", "diff-topics-validate"]),
    )
    .await?;
    s.send(
        "describe configs",
        DescribeConfigsRequest {
            resources: vec![DescribeConfigsResource {
                resource_type: 2,
                resource_name: "diff-topics-a".into(),
                configuration_keys: Some(vec![
                    "cleanup.policy".into(),
                    "retention.ms".into(),
                    "segment.bytes".into(),
                    "min.insync.replicas".into(),
                ]),
                ..Default::default()
            }],
            ..Default::default()
        },
    )
    .await?;
    let partitions = |count| CreatePartitionsRequest {
        topics: vec![CreatePartitionsTopic {
            name: "diff-topics-a".into(),
            count,
            assignments: None,
            ..Default::default()
        }],
        timeout_ms: 30_000,
        validate_only: false,
        ..Default::default()
    };
    s.send("grow to 5 partitions", partitions(5)).await?;
    wait_for_leaders(s, "diff-topics-a", 5).await?;
    s.send("shrink to 2 partitions", partitions(2)).await?;
    s.send("metadata after growing", metadata(&["diff-topics-a"]))
        .await?;
    // v6+ names topics as states (name or id), older versions as names.
    let by_state = s.version(ApiKey::DeleteTopics) >= 6;
    s.send(
        "delete",
        DeleteTopicsRequest {
            topics: if by_state {
                vec![DeleteTopicState {
                    name: Some("diff-topics-a".into()),
                    topic_id: Uuid::ZERO,
                    ..Default::default()
                }]
            } else {
                Vec::new()
            },
            topic_names: if by_state {
                Vec::new()
            } else {
                vec!["diff-topics-a".into()]
            },
            timeout_ms: 30_000,
            ..Default::default()
        },
    )
    .await?;
    wait_until_gone(s, "diff-topics-a").await?;
    s.send("metadata after deleting", metadata(&["diff-topics-a"]))
        .await?;
    Ok(())
}

/// Produce (acks 1 and all, unknown partitions), ListOffsets, Fetch (in and out of range),
/// DeleteRecords and what Fetch and ListOffsets answer after it.
async fn produce_fetch(s: &mut Session) -> Result<()> {
    const T: &str = "diff-produce";
    s.call(create(vec![topic(T, 1, 1)], false)).await?;
    wait_for_leaders(s, T, 1).await?;
    let id = topic_id(s, T).await?;
    let none = (-1, -1, -1);
    s.send(
        "produce 3 records, acks=1",
        produce(T, 0, 1, batch(0, 3, none)?),
    )
    .await?;
    s.send(
        "produce 2 records, acks=all",
        produce(T, 0, -1, batch(3, 2, none)?),
    )
    .await?;
    s.send(
        "produce to a partition that does not exist",
        produce(T, 7, 1, batch(5, 1, none)?),
    )
    .await?;
    s.send(
        "produce to a topic that does not exist",
        produce("diff-produce-nope", 0, 1, batch(5, 1, none)?),
    )
    .await?;
    s.send("list offsets earliest", list_offsets(T, 0, -2))
        .await?;
    s.send("list offsets latest", list_offsets(T, 0, -1))
        .await?;
    s.send(
        "list offsets by the timestamp of the 5th record",
        list_offsets(T, 0, TIMESTAMP + 4),
    )
    .await?;
    s.send(
        "list offsets after the last timestamp",
        list_offsets(T, 0, TIMESTAMP + 100),
    )
    .await?;
    s.send("list offsets max timestamp", list_offsets(T, 0, -3))
        .await?;
    s.send("fetch from 0", fetch(T, id, 0, 0)).await?;
    s.send("fetch from 3", fetch(T, id, 0, 3)).await?;
    s.send("fetch at the log end", fetch(T, id, 0, 5)).await?;
    s.send("fetch beyond the log end", fetch(T, id, 0, 99))
        .await?;
    s.send(
        "delete records before offset 2",
        DeleteRecordsRequest {
            topics: vec![DeleteRecordsTopic {
                name: T.into(),
                partitions: vec![DeleteRecordsPartition {
                    partition_index: 0,
                    offset: 2,
                    ..Default::default()
                }],
                ..Default::default()
            }],
            timeout_ms: 30_000,
            ..Default::default()
        },
    )
    .await?;
    s.send(
        "list offsets earliest after deleting",
        list_offsets(T, 0, -2),
    )
    .await?;
    s.send("fetch from 0 after deleting", fetch(T, id, 0, 0))
        .await?;
    s.send("fetch from 2 after deleting", fetch(T, id, 0, 2))
        .await?;
    Ok(())
}

pub(crate) fn commit(
    group: &str,
    generation: i32,
    member: &str,
    parts: &[(&str, i32, i64)],
) -> OffsetCommitRequest {
    let mut topics: Vec<OffsetCommitRequestTopic> = Vec::new();
    for (name, partition, offset) in parts {
        let p = OffsetCommitRequestPartition {
            partition_index: *partition,
            committed_offset: *offset,
            committed_leader_epoch: -1,
            commit_timestamp: -1,
            committed_metadata: Some(format!("m{offset}").as_str().into()),
            ..Default::default()
        };
        match topics.last_mut() {
            Some(t) if t.name.as_str() == *name => t.partitions.push(p),
            _ => topics.push(OffsetCommitRequestTopic {
                name: (*name).into(),
                partitions: vec![p],
                ..Default::default()
            }),
        }
    }
    OffsetCommitRequest {
        group_id: group.into(),
        generation_id_or_member_epoch: generation,
        member_id: member.into(),
        retention_time_ms: -1,
        topics,
        ..Default::default()
    }
}

/// OffsetFetch of one group: as a list of groups from v8, one group before.
fn offset_fetch(s: &Session, group: &str, topic: &str, partitions: &[i32]) -> OffsetFetchRequest {
    if s.version(ApiKey::OffsetFetch) < 8 {
        return OffsetFetchRequest {
            group_id: group.into(),
            topics: Some(vec![OffsetFetchRequestTopic {
                name: topic.into(),
                partition_indexes: partitions.to_vec(),
                ..Default::default()
            }]),
            require_stable: true,
            ..Default::default()
        };
    }
    OffsetFetchRequest {
        groups: vec![OffsetFetchRequestGroup {
            group_id: group.into(),
            member_id: None,
            member_epoch: -1,
            topics: Some(vec![OffsetFetchRequestTopics {
                name: topic.into(),
                partition_indexes: partitions.to_vec(),
                ..Default::default()
            }]),
            ..Default::default()
        }],
        require_stable: true,
        ..Default::default()
    }
}

/// FindCoordinator of `group`: as a list of keys from v4, one key before.
pub(crate) fn find_coordinator(s: &Session, group: &str) -> FindCoordinatorRequest {
    let batched = s.version(ApiKey::FindCoordinator) >= 4;
    FindCoordinatorRequest {
        key: if batched { "".into() } else { group.into() },
        key_type: 0,
        coordinator_keys: if batched {
            vec![group.into()]
        } else {
            Vec::new()
        },
        ..Default::default()
    }
}

/// Waits until `group`'s coordinator is named and has loaded its partition: Kafka answers
/// NOT_COORDINATOR (or COORDINATOR_LOAD_IN_PROGRESS) for a while after FindCoordinator
/// names it.
pub(crate) async fn wait_for_coordinator(s: &mut Session, group: &str, topic: &str) -> Result<()> {
    let settle = Settle::start();
    loop {
        let r = s.call(find_coordinator(s, group)).await?;
        let named = r.error_code == 0 && r.coordinators.iter().all(|c| c.error_code == 0);
        if named {
            let f = s.call(offset_fetch(s, group, topic, &[0])).await?;
            let code = f.groups.first().map_or(f.error_code, |g| g.error_code);
            if code != 14 && code != 16 {
                return Ok(());
            }
        }
        settle
            .wait(|| format!("no loaded coordinator for {group}"))
            .await?;
    }
}

/// FindCoordinator, OffsetCommit of a group without members (and its errors),
/// OffsetFetch, ListGroups, DescribeGroups.
async fn offsets(s: &mut Session) -> Result<()> {
    const T: &str = "diff-offsets";
    const G: &str = "diff-group";
    s.call(create(vec![topic(T, 2, 1)], false)).await?;
    wait_for_leaders(s, T, 2).await?;
    let find = find_coordinator(s, G);
    wait_for_coordinator(s, G, T).await?;
    s.send("find the group coordinator", find).await?;
    s.send(
        "commit offsets of a group without members",
        commit(G, -1, "", &[(T, 0, 5), (T, 1, 7)]),
    )
    .await?;
    s.send(
        "fetch the committed offsets",
        offset_fetch(s, G, T, &[0, 1]),
    )
    .await?;
    s.send(
        "commit to a partition that does not exist",
        commit(G, -1, "", &[(T, 9, 1)]),
    )
    .await?;
    s.send(
        "commit to a topic that does not exist",
        commit(G, -1, "", &[("diff-offsets-nope", 0, 1)]),
    )
    .await?;
    s.send(
        "commit with a generation and a member the group does not have",
        commit(G, 5, "someone", &[(T, 0, 9)]),
    )
    .await?;
    s.send(
        "fetch the offsets of a group that never committed",
        offset_fetch(s, "diff-group-none", T, &[0]),
    )
    .await?;
    s.send(
        "list groups",
        ListGroupsRequest {
            ..Default::default()
        },
    )
    .await?;
    s.send(
        "describe the group and an unknown one",
        DescribeGroupsRequest {
            groups: vec![G.into(), "diff-group-none".into()],
            ..Default::default()
        },
    )
    .await?;
    Ok(())
}

/// An idempotent producer's batches: first, a retry (duplicate), a gap, a new epoch not
/// starting at 0, an unknown producer.
async fn idempotence(s: &mut Session) -> Result<()> {
    const T: &str = "diff-idempotence";
    s.call(create(vec![topic(T, 1, 1)], false)).await?;
    wait_for_leaders(s, T, 1).await?;
    let request = InitProducerIdRequest {
        transactional_id: None,
        transaction_timeout_ms: -1,
        producer_id: -1,
        producer_epoch: -1,
        ..Default::default()
    };
    // Kafka answers COORDINATOR_LOAD_IN_PROGRESS until its producer id manager has a block
    // of ids from the controller.
    let settle = Settle::start();
    while s.call(request.clone()).await?.error_code != 0 {
        settle.wait(|| "no producer id".to_owned()).await?;
    }
    let init = s.send("init an idempotent producer id", request).await?;
    let (pid, epoch) = (init.producer_id, init.producer_epoch);
    s.note(&format!("producer epoch {epoch}"));
    s.send(
        "produce sequence 0-2",
        produce(T, 0, -1, batch(0, 3, (pid, epoch, 0))?),
    )
    .await?;
    s.send(
        "produce sequence 0-2 again (a retry)",
        produce(T, 0, -1, batch(0, 3, (pid, epoch, 0))?),
    )
    .await?;
    s.send(
        "produce sequence 5 (a gap)",
        produce(T, 0, -1, batch(5, 1, (pid, epoch, 5))?),
    )
    .await?;
    s.send(
        "produce sequence 3",
        produce(T, 0, -1, batch(3, 1, (pid, epoch, 3))?),
    )
    .await?;
    s.send(
        "produce under the next epoch from sequence 4",
        produce(T, 0, -1, batch(4, 1, (pid, epoch + 1, 4))?),
    )
    .await?;
    s.send(
        "produce from an unknown producer id at sequence 0",
        produce(T, 0, -1, batch(10, 1, (pid + 1000, 0, 0))?),
    )
    .await?;
    s.send(
        "produce from an unknown producer id at sequence 7",
        produce(T, 0, -1, batch(11, 1, (pid + 2000, 0, 7))?),
    )
    .await?;
    s.send("list offsets latest", list_offsets(T, 0, -1))
        .await?;
    Ok(())
}

/// The consumer protocol's subscription (v0) to `topic`.
fn subscription(topic: &str) -> Bytes {
    let mut b = Vec::new();
    b.extend_from_slice(&0i16.to_be_bytes());
    b.extend_from_slice(&1i32.to_be_bytes());
    b.extend_from_slice(&(topic.len() as i16).to_be_bytes());
    b.extend_from_slice(topic.as_bytes());
    b.extend_from_slice(&(-1i32).to_be_bytes());
    Bytes::from(b)
}

/// The consumer protocol's assignment (v0) of `topic`'s partition 0.
fn assignment(topic: &str) -> Bytes {
    let mut b = Vec::new();
    b.extend_from_slice(&0i16.to_be_bytes());
    b.extend_from_slice(&1i32.to_be_bytes());
    b.extend_from_slice(&(topic.len() as i16).to_be_bytes());
    b.extend_from_slice(topic.as_bytes());
    b.extend_from_slice(&1i32.to_be_bytes());
    b.extend_from_slice(&0i32.to_be_bytes());
    b.extend_from_slice(&(-1i32).to_be_bytes());
    Bytes::from(b)
}

/// A classic group of one member: JoinGroup (member id required, then joined), SyncGroup,
/// Heartbeat (and its errors), OffsetCommit under the generation (and a wrong one),
/// DescribeGroups, LeaveGroup.
// Long, and kept whole: a scenario is one request sequence sent to both brokers in
// order; split up, its steps would no longer read in the order they are sent.
async fn group(s: &mut Session) -> Result<()> {
    const T: &str = "diff-members";
    const G: &str = "diff-members-group";
    s.call(create(vec![topic(T, 1, 1)], false)).await?;
    wait_for_leaders(s, T, 1).await?;
    wait_for_coordinator(s, G, T).await?;
    let join = |member: &str| JoinGroupRequest {
        group_id: G.into(),
        session_timeout_ms: 30_000,
        rebalance_timeout_ms: 30_000,
        member_id: member.into(),
        protocol_type: "consumer".into(),
        protocols: vec![JoinGroupRequestProtocol {
            name: "range".into(),
            metadata: subscription(T),
            ..Default::default()
        }],
        ..Default::default()
    };
    let first = s.send("join without a member id", join("")).await?;
    let member = first.member_id.as_str().to_owned();
    let joined = s.send("join with the member id", join(&member)).await?;
    let generation = joined.generation_id;
    s.send(
        "sync the leader's assignment",
        SyncGroupRequest {
            group_id: G.into(),
            generation_id: generation,
            member_id: member.as_str().into(),
            protocol_type: Some("consumer".into()),
            protocol_name: Some("range".into()),
            assignments: vec![SyncGroupRequestAssignment {
                member_id: member.as_str().into(),
                assignment: assignment(T),
                ..Default::default()
            }],
            ..Default::default()
        },
    )
    .await?;
    let heartbeat = |generation: i32, member: &str| HeartbeatRequest {
        group_id: G.into(),
        generation_id: generation,
        member_id: member.into(),
        ..Default::default()
    };
    s.send("heartbeat", heartbeat(generation, &member)).await?;
    s.send(
        "heartbeat of a wrong generation",
        heartbeat(generation + 1, &member),
    )
    .await?;
    s.send(
        "heartbeat of an unknown member",
        heartbeat(generation, "nobody"),
    )
    .await?;
    s.send(
        "commit under the generation",
        commit(G, generation, &member, &[(T, 0, 3)]),
    )
    .await?;
    s.send(
        "commit under a wrong generation",
        commit(G, generation + 1, &member, &[(T, 0, 4)]),
    )
    .await?;
    s.send("fetch the committed offset", offset_fetch(s, G, T, &[0]))
        .await?;
    let describe = DescribeGroupsRequest {
        groups: vec![G.into()],
        ..Default::default()
    };
    s.send("describe the stable group", describe.clone())
        .await?;
    // v3+ names the leaving members as a list, older versions one member id.
    let listed = s.version(ApiKey::LeaveGroup) >= 3;
    s.send(
        "leave",
        LeaveGroupRequest {
            group_id: G.into(),
            member_id: if listed {
                "".into()
            } else {
                member.as_str().into()
            },
            members: if listed {
                vec![MemberIdentity {
                    member_id: member.as_str().into(),
                    ..Default::default()
                }]
            } else {
                Vec::new()
            },
            ..Default::default()
        },
    )
    .await?;
    s.send("describe the group after leaving", describe).await?;
    Ok(())
}

/// Waits until `topic`'s partition 0 has a last stable offset of `end` (a transaction's
/// marker is written after EndTxn answers), then until the coordinator has recorded the
/// transaction `id` complete (it does so after the markers are written: a retried EndTxn
/// before that is CONCURRENT_TRANSACTIONS on either broker, depending on timing).
async fn wait_for_stable_end(s: &mut Session, topic: &str, end: i64, id: &str) -> Result<()> {
    wait_for_stable_offset(s, topic, end).await?;
    let settle = Settle::start();
    loop {
        let r = s
            .call(DescribeTransactionsRequest {
                transactional_ids: vec![id.into()],
                ..Default::default()
            })
            .await?;
        let state = r
            .transaction_states
            .first()
            .map(|t| t.transaction_state.to_string())
            .unwrap_or_default();
        if state.starts_with("Complete") {
            return Ok(());
        }
        settle
            .wait(|| format!("{id}: transaction {state}, not complete"))
            .await?;
    }
}

/// Waits until `topic`'s partition 0 has a last stable offset of `end`.
async fn wait_for_stable_offset(s: &mut Session, topic: &str, end: i64) -> Result<()> {
    let settle = Settle::start();
    loop {
        let mut req = list_offsets(topic, 0, -1);
        req.isolation_level = 1;
        let r = s.call(req).await?;
        let at = r
            .topics
            .first()
            .and_then(|t| t.partitions.first())
            .map_or(-1, |p| p.offset);
        if at == end {
            return Ok(());
        }
        settle
            .wait(|| format!("{topic}: last stable offset {at}, not {end}"))
            .await?;
    }
}

/// A transactional producer: InitProducerId (twice: the epoch moves), AddPartitionsToTxn,
/// transactional Produce, EndTxn commit (and again), a second transaction aborted,
/// read_committed ListOffsets and Fetch (aborted transactions), EndTxn under a stale epoch,
/// DescribeTransactions and ListTransactions.
// Long, and kept whole: a scenario is one request sequence sent to both brokers in
// order; split up, its steps would no longer read in the order they are sent.
async fn transactions(s: &mut Session) -> Result<()> {
    const T: &str = "diff-txn";
    const ID: &str = "diff-txn-id";
    // The records carry the producer id, which differs between the brokers.
    s.ignore_also(&["records"]);
    s.call(create(vec![topic(T, 1, 1)], false)).await?;
    wait_for_leaders(s, T, 1).await?;
    let init = InitProducerIdRequest {
        transactional_id: Some(ID.into()),
        transaction_timeout_ms: 60_000,
        producer_id: -1,
        producer_epoch: -1,
        ..Default::default()
    };
    // The transaction coordinator needs `__transaction_state`, which the first
    // FindCoordinator for a transactional id creates.
    let mut find = find_coordinator(s, ID);
    find.key_type = 1;
    let settle = Settle::start();
    loop {
        s.call(find.clone()).await?;
        let code = s.call(init.clone()).await?.error_code;
        if code == 0 {
            break;
        }
        settle
            .wait(|| format!("no transactional producer id (last error {code})"))
            .await?;
    }
    let r = s.send("init the transactional id again", init).await?;
    let (pid, epoch) = (r.producer_id, r.producer_epoch);
    let add = |s: &Session| {
        let topics = vec![AddPartitionsToTxnTopic {
            name: T.into(),
            partitions: vec![0],
            ..Default::default()
        }];
        if s.version(ApiKey::AddPartitionsToTxn) >= 4 {
            AddPartitionsToTxnRequest {
                transactions: vec![AddPartitionsToTxnTransaction {
                    transactional_id: ID.into(),
                    producer_id: pid,
                    producer_epoch: epoch,
                    topics,
                    ..Default::default()
                }],
                ..Default::default()
            }
        } else {
            AddPartitionsToTxnRequest {
                v3_and_below_transactional_id: ID.into(),
                v3_and_below_producer_id: pid,
                v3_and_below_producer_epoch: epoch,
                v3_and_below_topics: topics,
                ..Default::default()
            }
        }
    };
    let end = |committed: bool, epoch: i16| EndTxnRequest {
        transactional_id: ID.into(),
        producer_id: pid,
        producer_epoch: epoch,
        committed,
        ..Default::default()
    };
    let txn_produce = |records: Bytes| {
        let mut p = produce(T, 0, -1, records);
        p.transactional_id = Some(ID.into());
        p
    };
    s.send("add the partition", add(s)).await?;
    s.send(
        "produce 3 records in the transaction",
        txn_produce(batch_of(0, 3, (pid, epoch, 0), true)?),
    )
    .await?;
    s.send("commit", end(true, epoch)).await?;
    wait_for_stable_end(s, T, 4, ID).await?;
    s.send("commit again (a retry)", end(true, epoch)).await?;
    s.send("add the partition for a second transaction", add(s))
        .await?;
    s.send(
        "produce 2 records in it",
        txn_produce(batch_of(3, 2, (pid, epoch, 3), true)?),
    )
    .await?;
    s.send("abort", end(false, epoch)).await?;
    wait_for_stable_end(s, T, 7, ID).await?;
    let mut committed_end = list_offsets(T, 0, -1);
    committed_end.isolation_level = 1;
    s.send("list offsets latest, read_committed", committed_end)
        .await?;
    let id = topic_id(s, T).await?;
    let mut read = fetch(T, id, 0, 0);
    read.isolation_level = 1;
    s.send("fetch read_committed from 0", read).await?;
    s.send("end under a stale epoch", end(true, epoch - 1))
        .await?;
    s.send(
        "describe the transaction",
        DescribeTransactionsRequest {
            transactional_ids: vec![ID.into(), "diff-txn-unknown".into()],
            ..Default::default()
        },
    )
    .await?;
    Ok(())
}
