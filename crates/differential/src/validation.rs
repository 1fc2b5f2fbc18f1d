//! The `validation` scenario: the rules a broker applies to what clients write, found missing
//! by librdkafka's own test suite (issue 18) and their siblings. Illegal topic names on
//! Metadata (with and without auto-creation), Produce and CreateTopics (`.`/`_` collisions);
//! records without a key on a compacted topic (per-record errors, KIP-467); timestamps
//! outside `message.timestamp.{before,after}.max.ms`; a topic's `max.message.bytes`; a
//! topic's `compression.type` (the stored batch's codec); writes to an internal topic;
//! OffsetCommit to unknown topics and partitions and with metadata over
//! `offset.metadata.max.bytes`.

use anyhow::Result;
use bytes::Bytes;
use vltava_protocol::messages::create_topics_request::{CreatableTopic, CreatableTopicConfig};
use vltava_protocol::messages::metadata_request::MetadataRequestTopic;
use vltava_protocol::messages::{CreateTopicsRequest, MetadataRequest};
use vltava_records::builder::{BatchBuilder, BatchBuilderConfig};
use vltava_records::{BatchIter, Compression};

use crate::scenarios::{
    commit, fetch, find_coordinator, produce, topic_id, wait_for_coordinator, wait_for_leaders,
};
use crate::session::Session;

/// A topic name no broker may accept (librdkafka's 0057 test uses this shape).
const ILLEGAL: &str = "diff-validation$#!";
/// Timestamp of the records of the timestamp steps: long before any test runs.
const LONG_AGO: i64 = 1_600_000_000_000;

fn topic_with(name: &str, configs: &[(&str, &str)]) -> CreatableTopic {
    CreatableTopic {
        name: name.into(),
        num_partitions: 1,
        replication_factor: 1,
        configs: configs
            .iter()
            .map(|(k, v)| CreatableTopicConfig {
                name: (*k).into(),
                value: Some((*v).into()),
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    }
}

fn create(topics: Vec<CreatableTopic>) -> CreateTopicsRequest {
    CreateTopicsRequest {
        topics,
        timeout_ms: 30_000,
        ..Default::default()
    }
}

fn metadata(name: &str, auto_create: bool) -> MetadataRequest {
    MetadataRequest {
        topics: Some(vec![MetadataRequestTopic {
            name: Some(name.into()),
            ..Default::default()
        }]),
        allow_auto_topic_creation: auto_create,
        ..Default::default()
    }
}

/// One batch whose records have the given keys (`None`: no key), at `timestamp`,
/// compressed with `codec`.
fn records(keys: &[Option<&str>], timestamp: i64, codec: Compression) -> Result<Bytes> {
    let mut b = BatchBuilder::new(BatchBuilderConfig {
        compression: codec,
        ..Default::default()
    });
    for (i, key) in keys.iter().enumerate() {
        let value = format!("value {i}");
        b.append(
            timestamp + i as i64,
            key.map(str::as_bytes),
            Some(value.as_bytes()),
            &[],
        )?;
    }
    Ok(b.build()?)
}

use vltava_records::clock::now_ms;

/// Creates the scenario's topics (unrecorded) and waits for their leaders.
async fn create_topics(s: &mut Session, topics: Vec<CreatableTopic>) -> Result<()> {
    let names: Vec<String> = topics.iter().map(|t| t.name.to_string()).collect();
    s.call(create(topics)).await?;
    for name in names {
        wait_for_leaders(s, &name, 1).await?;
    }
    Ok(())
}

/// The codec of each batch stored at the start of `name`-0, as a transcript line.
async fn stored_codecs(s: &mut Session, name: &str) -> Result<String> {
    let id = topic_id(s, name).await?;
    let r = s.call(fetch(name, id, 0, 0)).await?;
    let mut codecs = Vec::new();
    for t in &r.responses {
        for p in &t.partitions {
            let bytes = p.records.as_deref().unwrap_or(&[]);
            for view in BatchIter::new(bytes) {
                let h = *view?.header();
                codecs.push(match h.attributes.compression() {
                    Some(c) => vltava_records::compression::codec_name(c).to_string(),
                    None => format!("unknown {}", h.attributes.compression_id()),
                });
            }
        }
    }
    Ok(format!("{name}: stored batch codecs {codecs:?}"))
}

/// The scenario.
// Long, and kept whole: a scenario is one request sequence sent to both brokers in
// order; split up, its steps would no longer read in the order they are sent.
pub async fn validation(s: &mut Session) -> Result<()> {
    const COMPACT: &str = "diff-validation-compact";
    const BOUNDED: &str = "diff-validation-timestamps";
    const SMALL: &str = "diff-validation-small";
    const GZIP: &str = "diff-validation-gzip";
    const PLAIN: &str = "diff-validation-plain";
    const GROUP: &str = "diff-validation-group";
    create_topics(
        s,
        vec![
            topic_with(COMPACT, &[("cleanup.policy", "compact")]),
            topic_with(
                BOUNDED,
                &[
                    ("message.timestamp.before.max.ms", "3600000"),
                    ("message.timestamp.after.max.ms", "3600000"),
                ],
            ),
            topic_with(SMALL, &[("max.message.bytes", "200")]),
            topic_with(GZIP, &[("compression.type", "gzip")]),
            topic_with(PLAIN, &[]),
        ],
    )
    .await?;

    // Topic names.
    s.send("metadata of an illegal name", metadata(ILLEGAL, false))
        .await?;
    s.send(
        "metadata of an illegal name, auto-creation allowed",
        metadata(ILLEGAL, true),
    )
    .await?;
    let one = records(&[Some("k")], LONG_AGO, Compression::None)?;
    s.send("produce to an illegal name", produce(ILLEGAL, 0, 1, one))
        .await?;
    s.send(
        "create '.', '..' and a 250-character name",
        create(vec![
            topic_with(".", &[]),
            topic_with("..", &[]),
            topic_with(&"x".repeat(250), &[]),
        ]),
    )
    .await?;
    s.call(create(vec![topic_with("diff.validation.dots", &[])]))
        .await?;
    wait_for_leaders(s, "diff.validation.dots", 1).await?;
    s.send(
        "create a name colliding with an existing one ('.' against '_')",
        create(vec![topic_with("diff_validation_dots", &[])]),
    )
    .await?;

    // Keys on a compacted topic: the keyless records are named one by one.
    let mixed = records(
        &[Some("a"), None, Some("b"), None, Some("c")],
        now_ms(),
        Compression::None,
    )?;
    s.send(
        "produce records without a key to a compacted topic",
        produce(COMPACT, 0, 1, mixed),
    )
    .await?;
    let compressed = records(&[None, Some("a")], now_ms(), Compression::Lz4)?;
    s.send(
        "produce a compressed batch with a keyless record to a compacted topic",
        produce(COMPACT, 0, 1, compressed),
    )
    .await?;
    let keyed = records(&[Some("a"), Some("b")], now_ms(), Compression::None)?;
    s.send(
        "produce keyed records to a compacted topic",
        produce(COMPACT, 0, 1, keyed),
    )
    .await?;

    // A topic's max.message.bytes.
    let big = records(&[Some(&"x".repeat(300))], now_ms(), Compression::None)?;
    s.send(
        "produce a batch over the topic's max.message.bytes",
        produce(SMALL, 0, 1, big),
    )
    .await?;

    // A topic's compression.type: the broker stores its codec, whatever the producer's.
    let plain = records(&[Some("a"), Some("b")], now_ms(), Compression::None)?;
    s.send(
        "produce uncompressed records to a gzip topic",
        produce(GZIP, 0, 1, plain),
    )
    .await?;
    let snappy = records(&[Some("c")], now_ms(), Compression::Snappy)?;
    s.send(
        "produce snappy records to a gzip topic",
        produce(GZIP, 0, 1, snappy),
    )
    .await?;
    let line = stored_codecs(s, GZIP).await?;
    s.note(&line);
    let lz4 = records(&[Some("a")], now_ms(), Compression::Lz4)?;
    s.send(
        "produce lz4 records to a topic of the default (producer)",
        produce(PLAIN, 0, 1, lz4),
    )
    .await?;
    let line = stored_codecs(s, PLAIN).await?;
    s.note(&line);

    // OffsetCommit checks, on a group that never existed before.
    wait_for_coordinator(s, GROUP, PLAIN).await?;
    s.call(find_coordinator(s, GROUP)).await?;
    s.send(
        "commit to an unknown topic for a new group",
        commit(
            GROUP,
            -1,
            "",
            &[
                ("diff-validation-nope", 0, 123),
                ("diff-validation-nope", 1, 456),
            ],
        ),
    )
    .await?;
    s.send(
        "commit to an unknown partition and a known one",
        commit(GROUP, -1, "", &[(PLAIN, 5, 1), (PLAIN, 0, 1)]),
    )
    .await?;
    let mut too_long = commit(GROUP, -1, "", &[(PLAIN, 0, 2)]);
    for t in &mut too_long.topics {
        for p in &mut t.partitions {
            p.committed_metadata = Some("m".repeat(4097).as_str().into());
        }
    }
    s.send(
        "commit with metadata over offset.metadata.max.bytes",
        too_long,
    )
    .await?;

    // The group coordinator's topic exists now: clients may not write to it.
    let one = records(&[Some("k")], now_ms(), Compression::None)?;
    s.send(
        "produce to an internal topic",
        produce(vltava_protocol::internal_topics::OFFSETS_TOPIC, 0, 1, one),
    )
    .await?;

    // Timestamps; their per-record messages name the broker's clock, so they are left out.
    s.ignore_also(&["batch_index_error_message"]);
    let old = records(&[Some("a"), Some("b")], LONG_AGO, Compression::None)?;
    s.send(
        "produce records older than message.timestamp.before.max.ms",
        produce(BOUNDED, 0, 1, old),
    )
    .await?;
    let future = records(
        &[Some("a")],
        now_ms() + 2 * 3_600_000 + 600_000,
        Compression::None,
    )?;
    s.send(
        "produce a record newer than message.timestamp.after.max.ms",
        produce(BOUNDED, 0, 1, future),
    )
    .await?;
    let fine = records(&[Some("a")], now_ms(), Compression::None)?;
    s.send(
        "produce a record within both bounds",
        produce(BOUNDED, 0, 1, fine),
    )
    .await?;
    let old = records(&[Some("a")], LONG_AGO, Compression::None)?;
    s.send(
        "produce an old record to a topic with the default bounds",
        produce(PLAIN, 0, 1, old),
    )
    .await?;
    let future = records(
        &[Some("a")],
        now_ms() + 2 * 3_600_000 + 600_000,
        Compression::None,
    )?;
    s.send(
        "produce a record two hours ahead to a topic with the default bounds",
        produce(PLAIN, 0, 1, future),
    )
    .await?;
    Ok(())
}
