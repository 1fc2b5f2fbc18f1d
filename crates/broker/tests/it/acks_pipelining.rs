//! An acks=all Produce waiting for replication does not hold its connection: the next
//! request on the same connection is appended (and replicated) while the first waits, and
//! the answers still come back in the order sent. Three `vltava` processes; one follower
//! is paused (SIGSTOP) so the first request cannot complete until it runs again.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use crate::pipelining::{batch, produce_frame, read_produce};
use crate::replication::{create, start, values_on_disk, wait_for};

/// Bound of each wait in this test.
const LIMIT: Duration = Duration::from_secs(20);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waiting_acks_all_produce_does_not_hold_the_next_request() {
    let cluster = start(&[]).await;
    let a0 = cluster.addr(0);
    assert_eq!(
        create(&a0, "pipe", &[("min.insync.replicas", "2")]).await,
        0
    );
    let (leader, _) = wait_for(&a0, "pipe", "a leader", |l, isr| l >= 0 && isr.len() == 3).await;
    let paused = ((leader + 1) % 3) as usize;
    let live = ((leader + 2) % 3) as usize;
    cluster.pause(paused).unwrap();

    let mut s = TcpStream::connect(cluster.addr(leader as usize))
        .await
        .unwrap();
    // Values "0", "1" with acks=all (waits for the paused follower, which is in the ISR),
    // then "2".."4" with acks=1, back to back on one connection.
    let mut frames = produce_frame(1, -1, "pipe", batch(-1, -1, -1, 0, 2)).to_vec();
    frames.extend_from_slice(&produce_frame(2, 1, "pipe", batch(-1, -1, -1, 2, 3)));
    s.write_all(&frames).await.unwrap();

    // The second request's records reach the live follower while the first is unanswered.
    let all: Vec<String> = (0..5).map(|i| i.to_string()).collect();
    let deadline = tokio::time::Instant::now() + LIMIT;
    while values_on_disk(&cluster, live, "pipe") != all {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the acks=1 request behind a waiting acks=all one was not appended"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut peek = [0u8; 4];
    assert!(
        tokio::time::timeout(Duration::from_millis(100), s.peek(&mut peek))
            .await
            .is_err(),
        "no answer while the acks=all request waits for the paused follower"
    );

    cluster.resume(paused).unwrap();
    let (c1, r1) = read_produce(&mut s).await;
    let (c2, r2) = read_produce(&mut s).await;
    assert_eq!(
        (c1, r1.error_code, r1.base_offset),
        (1, 0, 0),
        "first answer first"
    );
    assert_eq!((c2, r2.error_code, r2.base_offset), (2, 0, 2));

    tokio::task::spawn_blocking(move || drop(cluster))
        .await
        .unwrap();
}
