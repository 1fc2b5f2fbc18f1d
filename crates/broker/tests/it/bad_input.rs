//! Bad input against a running broker: random and truncated frames, oversized
//! frames, unknown API keys and versions. Each must get the right error or close
//! only its own connection while other clients keep being served.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use bytes::{Buf, BufMut, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use vltava_broker::Node;
use vltava_broker::config::{BrokerConfig, parse_properties};
use vltava_protocol::frame::{decode_response, encode_request};
use vltava_protocol::messages::{ApiVersionsRequest, MetadataRequest, RequestHeader};
use vltava_protocol::{ApiKey, RequestBody, ResponseBody};

const LIMIT: Duration = Duration::from_secs(10);

async fn start() -> (Node, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let props = parse_properties(&format!(
        "listeners=PLAINTEXT://127.0.0.1:0\nlog.dirs={}\nsocket.request.max.bytes=65536\n",
        dir.path().join("data").display()
    ));
    let node = Node::start(BrokerConfig::from_properties(props).unwrap())
        .await
        .unwrap();
    (node, dir)
}

fn request(key: ApiKey, version: i16, corr: i32, body: RequestBody) -> bytes::Bytes {
    let header = RequestHeader {
        request_api_key: key.as_i16(),
        request_api_version: version,
        correlation_id: corr,
        client_id: Some("bad-input-test".into()),
        ..Default::default()
    };
    encode_request(&header, &body).unwrap()
}

fn api_versions(version: i16, corr: i32) -> bytes::Bytes {
    request(
        ApiKey::ApiVersions,
        version,
        corr,
        RequestBody::from(ApiVersionsRequest {
            client_software_name: "test".into(),
            client_software_version: "1.0".into(),
            ..Default::default()
        }),
    )
}

/// Reads one response frame (without its size prefix), or `None` on close.
async fn read_frame(s: &mut TcpStream) -> Option<bytes::Bytes> {
    let mut len = [0u8; 4];
    tokio::time::timeout(LIMIT, s.read_exact(&mut len))
        .await
        .unwrap()
        .ok()?;
    let mut buf = vec![0u8; u32::from_be_bytes(len) as usize];
    tokio::time::timeout(LIMIT, s.read_exact(&mut buf))
        .await
        .unwrap()
        .ok()?;
    Some(buf.into())
}

async fn assert_closed(s: &mut TcpStream) {
    let mut b = [0u8; 1];
    let n = tokio::time::timeout(LIMIT, s.read(&mut b)).await.unwrap();
    assert!(matches!(n, Ok(0) | Err(_)), "connection should be closed");
}

async fn check_alive(node: &Node) {
    let mut s = TcpStream::connect(node.addr).await.unwrap();
    s.write_all(&api_versions(3, 7)).await.unwrap();
    let f = read_frame(&mut s).await.expect("response");
    let (h, body) = decode_response(&f, ApiKey::ApiVersions, 3).unwrap();
    assert_eq!(h.correlation_id, 7);
    let ResponseBody::ApiVersions(r) = body else {
        panic!()
    };
    assert_eq!(r.error_code, 0);
    assert!(r.api_keys.iter().any(|k| k.api_key == 0));
}

#[tokio::test]
async fn api_versions_too_new_gets_v0_unsupported_version() {
    let (node, _d) = start().await;
    let mut s = TcpStream::connect(node.addr).await.unwrap();
    // A version this codec does not know: hand-made v0-style header.
    let mut f = BytesMut::new();
    f.put_u32(0);
    f.put_i16(18);
    f.put_i16(99);
    f.put_i32(42);
    f.put_i16(-1);
    f.put_slice(&[0, 0, 0]);
    let len = (f.len() - 4) as u32;
    f[..4].copy_from_slice(&len.to_be_bytes());
    s.write_all(&f).await.unwrap();
    let resp = read_frame(&mut s).await.unwrap();
    let (h, body) = decode_response(&resp, ApiKey::ApiVersions, 0).unwrap();
    assert_eq!(h.correlation_id, 42);
    let ResponseBody::ApiVersions(r) = body else {
        panic!()
    };
    assert_eq!(r.error_code, 35);
    assert_eq!(r.api_keys.len(), 1);
    assert_eq!((r.api_keys[0].api_key, r.api_keys[0].max_version), (18, 4));
    // The connection stays usable.
    s.write_all(&api_versions(3, 43)).await.unwrap();
    assert!(read_frame(&mut s).await.is_some());
    node.shutdown().await;
}

#[tokio::test]
async fn invalid_client_software_name_is_invalid_request() {
    let (node, _d) = start().await;
    let mut s = TcpStream::connect(node.addr).await.unwrap();
    let body = RequestBody::from(ApiVersionsRequest {
        client_software_name: "bad name!".into(),
        client_software_version: "1".into(),
        ..Default::default()
    });
    s.write_all(&request(ApiKey::ApiVersions, 3, 1, body))
        .await
        .unwrap();
    let f = read_frame(&mut s).await.unwrap();
    let ResponseBody::ApiVersions(r) = decode_response(&f, ApiKey::ApiVersions, 3).unwrap().1
    else {
        panic!()
    };
    assert_eq!(r.error_code, 42);
    node.shutdown().await;
}

#[tokio::test]
async fn pipelined_requests_are_answered_in_order() {
    let (node, _d) = start().await;
    let mut s = TcpStream::connect(node.addr).await.unwrap();
    let mut all = BytesMut::new();
    for corr in 0..20 {
        if corr % 2 == 0 {
            all.put_slice(&api_versions(3, corr));
        } else {
            all.put_slice(&request(
                ApiKey::Metadata,
                12,
                corr,
                RequestBody::from(MetadataRequest::default()),
            ));
        }
    }
    s.write_all(&all).await.unwrap();
    for corr in 0..20 {
        let mut f = read_frame(&mut s).await.unwrap();
        // Both headers start with the correlation id.
        assert_eq!(f.get_i32(), corr);
    }
    node.shutdown().await;
}

#[tokio::test]
async fn broken_frames_close_only_their_connection() {
    let (node, _d) = start().await;
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let other = TcpStream::connect(node.addr).await.unwrap();
    for round in 0..40 {
        let mut s = TcpStream::connect(node.addr).await.unwrap();
        let len = (next() % 200) as usize;
        let mut body: Vec<u8> = (0..len).map(|_| next() as u8).collect();
        if round % 4 == 0 && body.len() >= 4 {
            // Unknown api key with an otherwise plausible header.
            body[0] = 0x7f;
        }
        let mut f = BytesMut::new();
        f.put_u32(body.len() as u32);
        f.put_slice(&body);
        s.write_all(&f).await.unwrap();
        // Whatever happens to this connection, the broker keeps serving.
        let mut sink = vec![0u8; 4096];
        let _ = tokio::time::timeout(Duration::from_millis(200), s.read(&mut sink)).await;
    }
    // Truncated: a valid request cut short, then the client goes away.
    let mut s = TcpStream::connect(node.addr).await.unwrap();
    let full = api_versions(3, 1);
    s.write_all(&full[..full.len() - 3]).await.unwrap();
    drop(s);
    // Unknown version of a known API: closed.
    let mut s = TcpStream::connect(node.addr).await.unwrap();
    let mut f = BytesMut::new();
    f.put_u32(10);
    f.put_i16(3);
    f.put_i16(999);
    f.put_i32(5);
    f.put_i16(-1);
    s.write_all(&f).await.unwrap();
    assert_closed(&mut s).await;
    // Oversized frame: closed without reading the body.
    let mut s = TcpStream::connect(node.addr).await.unwrap();
    s.write_all(&(1u32 << 30).to_be_bytes()).await.unwrap();
    assert_closed(&mut s).await;
    // Negative length.
    let mut s = TcpStream::connect(node.addr).await.unwrap();
    s.write_all(&(-5i32).to_be_bytes()).await.unwrap();
    assert_closed(&mut s).await;
    drop(other);
    check_alive(&node).await;
    node.shutdown().await;
}

#[tokio::test]
async fn trailing_bytes_after_a_body_are_ignored_like_kafka() {
    let (node, _d) = start().await;
    let mut s = TcpStream::connect(node.addr).await.unwrap();
    let wire = request(
        ApiKey::Metadata,
        12,
        9,
        RequestBody::from(MetadataRequest::default()),
    );
    let mut f = BytesMut::from(&wire[..]);
    f.put_slice(&[1, 0, 0]);
    let len = (f.len() - 4) as u32;
    f[..4].copy_from_slice(&len.to_be_bytes());
    s.write_all(&f).await.unwrap();
    let resp = read_frame(&mut s).await.expect("answered");
    let (h, body) = decode_response(&resp, ApiKey::Metadata, 12).unwrap();
    assert_eq!(h.correlation_id, 9);
    assert!(matches!(body, ResponseBody::Metadata(_)));
    node.shutdown().await;
}
