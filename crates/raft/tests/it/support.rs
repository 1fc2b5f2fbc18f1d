//! Set-up the integration tests share: scratch directories, voters started over TCP on
//! free loopback ports, and waiting for a controller's image to reach a state.

#![allow(clippy::unwrap_used)]

use std::path::PathBuf;
use std::time::Duration;

use vltava_raft::{Controller, MetadataImage, QuorumConfig, Voter};

/// Longest `wait_for` waits.
pub const LIMIT: Duration = Duration::from_secs(30);

/// A fresh directory `vltava-raft-<name>-<pid>-<nanos>` under the temp dir.
pub fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "vltava-raft-{name}-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// `n` voters (ids 1..=n) over TCP on free loopback ports, each with `config(id)` and the
/// voters filled in.
pub async fn start_voters(
    n: usize,
    config: impl Fn(i32) -> QuorumConfig,
) -> (Vec<Controller>, Vec<Voter>) {
    let mut listeners = Vec::new();
    for _ in 0..n {
        listeners.push(tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap());
    }
    let voters: Vec<Voter> = listeners
        .iter()
        .enumerate()
        .map(|(i, l)| Voter {
            id: i as i32 + 1,
            addr: l.local_addr().unwrap(),
        })
        .collect();
    let mut controllers = Vec::new();
    for (i, listener) in listeners.into_iter().enumerate() {
        let mut cfg = config(i as i32 + 1);
        cfg.voters = voters.clone();
        controllers.push(
            Controller::start_with_listener(cfg, listener)
                .await
                .unwrap(),
        );
    }
    (controllers, voters)
}

/// Waits (at most [`LIMIT`]) until `c`'s image satisfies `pred`.
pub async fn wait_for(c: &Controller, what: &str, pred: impl Fn(&MetadataImage) -> bool) {
    let mut rx = c.subscribe();
    let waited = tokio::time::timeout(LIMIT, async {
        loop {
            if pred(&rx.borrow_and_update()) {
                return;
            }
            rx.changed().await.unwrap();
        }
    })
    .await;
    assert!(waited.is_ok(), "timed out waiting for {what}");
}
