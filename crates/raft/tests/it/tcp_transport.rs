//! The controller listener takes raft frames only on a connection that opened with the raft
//! preamble, and refuses what is not a bounded raft frame addressed to this node: the
//! connection is closed and nothing reaches the inbox.

#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;
use std::time::Duration;

use protobuf::Message as _;
use raft::eraftpb::{Message, MessageType};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use vltava_raft::tcp_transport::{MAX_RAFT_FRAME, RAFT_PREAMBLE};
use vltava_raft::{TcpTransport, Voter};

async fn setup() -> (
    SocketAddr,
    tokio::sync::mpsc::Receiver<Message>,
    TcpTransport,
) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let voters = vec![Voter { id: 1, addr }];
    let (t, inbox) = TcpTransport::start(1, &voters, listener);
    (addr, inbox, t)
}

/// Waits until the server closes the connection (read returns 0 or an error).
async fn closed(mut s: TcpStream) -> bool {
    let mut b = [0u8; 1];
    matches!(
        tokio::time::timeout(Duration::from_secs(5), s.read(&mut b)).await,
        Ok(Ok(0)) | Ok(Err(_))
    )
}

/// A connection that has sent the raft preamble.
async fn raft_connection(addr: SocketAddr) -> TcpStream {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(&RAFT_PREAMBLE).await.unwrap();
    s
}

fn frame(msg: &Message) -> Vec<u8> {
    let body = msg.write_to_bytes().unwrap();
    let mut out = (body.len() as u32).to_be_bytes().to_vec();
    out.extend_from_slice(&body);
    out
}

#[tokio::test]
async fn good_frame_is_delivered() {
    let (addr, mut inbox, _t) = setup().await;
    let mut s = raft_connection(addr).await;
    let msg = Message {
        msg_type: MessageType::MsgHeartbeat,
        to: 2, // raft id of node 1
        from: 3,
        term: 5,
        ..Default::default()
    };
    s.write_all(&frame(&msg)).await.unwrap();
    let got = tokio::time::timeout(Duration::from_secs(5), inbox.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got, msg);
}

#[tokio::test]
async fn oversized_garbage_and_misaddressed_frames_close_the_connection() {
    let (addr, mut inbox, _t) = setup().await;

    let mut s = raft_connection(addr).await;
    s.write_all(&((MAX_RAFT_FRAME as u32) + 1).to_be_bytes())
        .await
        .unwrap();
    assert!(closed(s).await);

    let mut s = raft_connection(addr).await;
    s.write_all(&[0, 0, 0, 4, 0xff, 0xff, 0xff, 0xff])
        .await
        .unwrap();
    assert!(closed(s).await);

    let mut s = raft_connection(addr).await;
    let other = Message {
        to: 99,
        ..Default::default()
    };
    s.write_all(&frame(&other)).await.unwrap();
    assert!(closed(s).await);

    // A raft frame without the preamble is not taken for one (and, with no controller
    // service, a Kafka-looking connection is closed too).
    let mut s = TcpStream::connect(addr).await.unwrap();
    let to_me = Message {
        to: 2,
        ..Default::default()
    };
    s.write_all(&frame(&to_me)).await.unwrap();
    assert!(closed(s).await);

    assert!(inbox.try_recv().is_err());
}
