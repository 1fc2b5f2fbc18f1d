//! Connection limits of a running node: `connections.max.idle.ms` closes silent
//! connections, `max.connections` refuses connections past the limit, and
//! `socket.request.max.bytes` closes a connection announcing a larger frame.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use vltava_broker::Node;
use vltava_broker::config::{BrokerConfig, parse_properties};

const LIMIT: Duration = Duration::from_secs(10);

async fn start(extra: &str) -> (Node, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let props = parse_properties(&format!(
        "listeners=PLAINTEXT://127.0.0.1:0,CONTROLLER://127.0.0.1:0\nlog.dirs={}\n{extra}",
        dir.path().join("data").display()
    ));
    let node = Node::start(BrokerConfig::from_properties(props).unwrap())
        .await
        .unwrap();
    (node, dir)
}

async fn closed_within(s: &mut TcpStream, limit: Duration) -> bool {
    let mut b = [0u8; 1];
    matches!(
        tokio::time::timeout(limit, s.read(&mut b)).await,
        Ok(Ok(0)) | Ok(Err(_))
    )
}

#[tokio::test]
async fn idle_connections_are_closed() {
    let (node, _d) = start("connections.max.idle.ms=300\n").await;
    let mut s = TcpStream::connect(node.addr).await.unwrap();
    assert!(closed_within(&mut s, LIMIT).await);
    node.shutdown().await;
}

#[tokio::test]
async fn connections_past_max_connections_are_refused() {
    let (node, _d) = start("max.connections=2\n").await;
    let _a = TcpStream::connect(node.addr).await.unwrap();
    let _b = TcpStream::connect(node.addr).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut c = TcpStream::connect(node.addr).await.unwrap();
    assert!(closed_within(&mut c, LIMIT).await);
    drop(_a);
    tokio::time::sleep(Duration::from_millis(200)).await;
    // A slot is free again: this one stays open.
    let mut d = TcpStream::connect(node.addr).await.unwrap();
    assert!(!closed_within(&mut d, Duration::from_millis(300)).await);
    node.shutdown().await;
}

#[tokio::test]
async fn frames_over_socket_request_max_bytes_close_the_connection() {
    let (node, _d) = start("socket.request.max.bytes=1000\n").await;
    let mut s = TcpStream::connect(node.addr).await.unwrap();
    s.write_all(&2000u32.to_be_bytes()).await.unwrap();
    assert!(closed_within(&mut s, LIMIT).await);
    node.shutdown().await;
}
