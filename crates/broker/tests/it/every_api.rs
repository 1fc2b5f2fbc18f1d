//! Every API key the broker advertises in ApiVersions, sent at every advertised
//! version with a valid (seeded random) body, gets a response frame with the
//! request's correlation id that decodes at that version, and the connection
//! stays usable: a Metadata request after it is answered.
//! `VLTAVA_EVERY_API_SEEDS=N` raises the seeds per version for a longer local run.

#![allow(clippy::unwrap_used)]

use bytes::Bytes;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use vltava_broker::handlers::api_versions::advertised_apis;
use vltava_protocol::frame::{decode_response, encode_request};
use vltava_protocol::messages::{MetadataRequest, RequestHeader};
use vltava_protocol::testing::Gen;
use vltava_protocol::{ApiKey, RequestBody, ResponseBody, Uuid};

use crate::support::{Client, LIMIT, start_node};

/// Seeds at each API's highest version: different shapes (empty and filled
/// lists, nulls); older versions get one seed each unless raised.
const SEEDS: u64 = 3;

/// (seeds at the top version, seeds at older versions).
fn seeds() -> (u64, u64) {
    match std::env::var("VLTAVA_EVERY_API_SEEDS")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        Some(n) => (n, n),
        None => (SEEDS, 1),
    }
}

/// A random body of `key` at `version`, with the fields that would make an
/// implemented API wait, send no response or change the cluster set to safe
/// values (the test is about being answered, not about those APIs).
fn body_for(key: ApiKey, version: i16, seed: u64) -> RequestBody {
    let mut g = Gen::new(seed * 1000 + key.as_i16() as u64);
    let mut body = RequestBody::random(key, &mut g, version);
    match &mut body {
        RequestBody::Produce(r) => r.acks = 1,
        RequestBody::Fetch(r) => r.max_wait_ms = 0,
        // Before v4 Metadata always auto-creates, and CreateTopics v0 has no
        // validate-only flag: ask for no topics there instead.
        RequestBody::Metadata(r) if version >= 4 => r.allow_auto_topic_creation = false,
        RequestBody::Metadata(r) => r.topics = Some(Vec::new()),
        RequestBody::CreateTopics(r) if version >= 1 => r.validate_only = true,
        RequestBody::CreateTopics(r) => r.topics.clear(),
        RequestBody::CreatePartitions(r) => r.validate_only = true,
        RequestBody::AlterConfigs(r) => r.validate_only = true,
        RequestBody::IncrementalAlterConfigs(r) => r.validate_only = true,
        RequestBody::JoinGroup(r) => r.member_id = "".into(),
        _ => {}
    }
    body
}

/// The topic half of the requests are aimed at, so the handlers' real paths (not
/// only their unknown-topic answers) see random offsets, sizes and partitions.
const TARGET_TOPIC: &str = "every-api";
const TARGET_PARTITIONS: i32 = 3;

/// Points every topic of the data-path requests at the target topic, with
/// partitions from -1 to one past the last.
fn aim_at_target(body: &mut RequestBody, id: Uuid, seed: u64) {
    let mut n = seed;
    let mut partition = || {
        n = n
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((n >> 33) % (TARGET_PARTITIONS as u64 + 2)) as i32 - 1
    };
    match body {
        RequestBody::Produce(r) => r.topic_data.iter_mut().for_each(|t| {
            t.name = TARGET_TOPIC.into();
            t.partition_data
                .iter_mut()
                .for_each(|p| p.index = partition());
        }),
        RequestBody::Fetch(r) => r.topics.iter_mut().for_each(|t| {
            t.topic = TARGET_TOPIC.into();
            t.topic_id = id;
            t.partitions
                .iter_mut()
                .for_each(|p| p.partition = partition());
        }),
        RequestBody::ListOffsets(r) => r.topics.iter_mut().for_each(|t| {
            t.name = TARGET_TOPIC.into();
            t.partitions
                .iter_mut()
                .for_each(|p| p.partition_index = partition());
        }),
        RequestBody::DeleteRecords(r) => r.topics.iter_mut().for_each(|t| {
            t.name = TARGET_TOPIC.into();
            t.partitions
                .iter_mut()
                .for_each(|p| p.partition_index = partition());
        }),
        RequestBody::OffsetForLeaderEpoch(r) => r.topics.iter_mut().for_each(|t| {
            t.topic = TARGET_TOPIC.into();
            t.partitions
                .iter_mut()
                .for_each(|p| p.partition = partition());
        }),
        RequestBody::OffsetCommit(r) => r.topics.iter_mut().for_each(|t| {
            t.name = TARGET_TOPIC.into();
            t.partitions
                .iter_mut()
                .for_each(|p| p.partition_index = partition());
        }),
        _ => {}
    }
}

/// Sends one request; returns the decoded response or why there was none.
async fn call(
    s: &mut TcpStream,
    key: ApiKey,
    version: i16,
    corr: i32,
    body: &RequestBody,
) -> Result<ResponseBody, String> {
    let header = RequestHeader {
        request_api_key: key.as_i16(),
        request_api_version: version,
        correlation_id: corr,
        client_id: Some("every-api-test".into()),
        ..Default::default()
    };
    let wire = encode_request(&header, body).map_err(|e| format!("encode: {e}"))?;
    s.write_all(&wire)
        .await
        .map_err(|e| format!("write: {e}"))?;
    let mut len = [0u8; 4];
    tokio::time::timeout(LIMIT, s.read_exact(&mut len))
        .await
        .map_err(|_| "no response in time".to_string())?
        .map_err(|e| format!("connection closed: {e}"))?;
    let mut buf = vec![0u8; u32::from_be_bytes(len) as usize];
    tokio::time::timeout(LIMIT, s.read_exact(&mut buf))
        .await
        .map_err(|_| "no response in time".to_string())?
        .map_err(|e| format!("connection closed: {e}"))?;
    let (h, resp) = decode_response(&Bytes::from(buf), key, version)
        .map_err(|e| format!("response does not decode: {e}"))?;
    if h.correlation_id != corr {
        return Err(format!("correlation id {} != {corr}", h.correlation_id));
    }
    if resp.api_key() != key {
        return Err(format!("answered as {:?}", resp.api_key()));
    }
    Ok(resp)
}

#[tokio::test]
async fn every_advertised_api_is_answered_and_the_connection_stays_open() {
    let (node, _dir) = start_node().await;
    let apis = advertised_apis();
    assert!(apis.len() > 50, "advertised: {}", apis.len());
    let mut failures = Vec::new();
    let mut corr = 0;
    let (top_seeds, old_seeds) = seeds();
    let target_id = Client::connect(&node)
        .await
        .create_topic(TARGET_TOPIC, TARGET_PARTITIONS)
        .await;
    for api in &apis {
        let key = ApiKey::from_i16(api.api_key).unwrap();
        for version in api.min_version..=api.max_version {
            let n = if version == api.max_version {
                top_seeds
            } else {
                old_seeds
            };
            for seed in 0..n {
                let mut s = TcpStream::connect(node.addr).await.unwrap();
                let mut body = body_for(key, version, seed);
                if seed % 2 == 1 {
                    aim_at_target(&mut body, target_id, seed);
                }
                corr += 1;
                if let Err(e) = call(&mut s, key, version, corr, &body).await {
                    failures.push(format!("{} v{version} seed {seed}: {e}", key.name()));
                    continue;
                }
                corr += 1;
                let meta = RequestBody::from(MetadataRequest::default());
                match call(&mut s, ApiKey::Metadata, 12, corr, &meta).await {
                    Ok(ResponseBody::Metadata(m)) => assert!(!m.brokers.is_empty()),
                    Ok(other) => failures.push(format!("{}: Metadata got {other:?}", key.name())),
                    Err(e) => failures.push(format!(
                        "{} v{version} seed {seed}: Metadata after it: {e}",
                        key.name()
                    )),
                }
            }
        }
    }
    node.shutdown().await;
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
