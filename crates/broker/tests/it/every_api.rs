//! Every API key the broker advertises in ApiVersions, sent at its highest
//! advertised version with a valid (seeded random) body, gets a response frame
//! with the request's correlation id that decodes at that version, and the
//! connection stays usable: a Metadata request after it is answered.

#![allow(clippy::unwrap_used)]

use bytes::Bytes;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use vltava_broker::handlers::api_versions::advertised_apis;
use vltava_protocol::frame::{decode_response, encode_request};
use vltava_protocol::messages::{MetadataRequest, RequestHeader};
use vltava_protocol::testing::Gen;
use vltava_protocol::{ApiKey, RequestBody, ResponseBody};

use crate::support::{LIMIT, start_node};

/// Seeds per API: different shapes (empty and filled lists, nulls).
const SEEDS: u64 = 3;

/// A random body of `key` at `version`, with the fields that would make an
/// implemented API wait, send no response or change the cluster set to safe
/// values (the test is about being answered, not about those APIs).
fn body_for(key: ApiKey, version: i16, seed: u64) -> RequestBody {
    let mut g = Gen::new(seed * 1000 + key.as_i16() as u64);
    let mut body = RequestBody::random(key, &mut g, version);
    match &mut body {
        RequestBody::Produce(r) => r.acks = 1,
        RequestBody::Fetch(r) => r.max_wait_ms = 0,
        RequestBody::Metadata(r) => r.allow_auto_topic_creation = false,
        RequestBody::CreateTopics(r) => r.validate_only = true,
        RequestBody::CreatePartitions(r) => r.validate_only = true,
        RequestBody::AlterConfigs(r) => r.validate_only = true,
        RequestBody::IncrementalAlterConfigs(r) => r.validate_only = true,
        RequestBody::JoinGroup(r) => r.member_id = "".into(),
        _ => {}
    }
    body
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
    for api in &apis {
        let key = ApiKey::from_i16(api.api_key).unwrap();
        for seed in 0..SEEDS {
            let mut s = TcpStream::connect(node.addr).await.unwrap();
            let body = body_for(key, api.max_version, seed);
            corr += 1;
            if let Err(e) = call(&mut s, key, api.max_version, corr, &body).await {
                failures.push(format!(
                    "{} v{} seed {seed}: {e}",
                    key.name(),
                    api.max_version
                ));
                continue;
            }
            corr += 1;
            let meta = RequestBody::from(MetadataRequest::default());
            match call(&mut s, ApiKey::Metadata, 12, corr, &meta).await {
                Ok(ResponseBody::Metadata(m)) => assert!(!m.brokers.is_empty()),
                Ok(other) => failures.push(format!("{}: Metadata got {other:?}", key.name())),
                Err(e) => failures.push(format!(
                    "{} v{} seed {seed}: Metadata after it: {e}",
                    key.name(),
                    api.max_version
                )),
            }
        }
    }
    node.shutdown().await;
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
