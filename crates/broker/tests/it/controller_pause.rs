//! SIGSTOP of the active controller for longer than the broker session (a scripted fault
//! sequence from the fault harness, docs/faults.md): the other two nodes elect a new
//! controller, and only the stopped node is fenced. The survivors' heartbeats, forwarded to
//! the old controller when it stopped, must move to the new one: every Metadata answer of a
//! survivor lists both survivors throughout, and the stopped node is listed again after
//! SIGCONT.
//!
//! Regression: a forwarded heartbeat waited up to 35 s for the stopped controller, so the new
//! controller fenced the healthy brokers after their 3 s session; Metadata then listed no
//! live broker, and librdkafka (which drops brokers missing from Metadata) lost every broker
//! and never found its group coordinator again.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::path::Path;
use std::time::{Duration, Instant};

use vltava_testkit::cluster::TestCluster;

use crate::cluster::metadata;

/// Longer than the test cluster's broker session (3 s) plus an election.
const PAUSE: Duration = Duration::from_secs(7);
const LIMIT: Duration = Duration::from_secs(30);

/// The broker ids node `addr` lists.
async fn listed(addr: &str) -> BTreeSet<i32> {
    metadata(addr, &[])
        .await
        .brokers
        .iter()
        .map(|b| b.node_id)
        .collect()
}

/// Waits until node `addr` lists all of `ids` and names a controller; that controller.
async fn settled(addr: &str, ids: &BTreeSet<i32>) -> i32 {
    let start = Instant::now();
    loop {
        let m = metadata(addr, &[]).await;
        let brokers: BTreeSet<i32> = m.brokers.iter().map(|b| b.node_id).collect();
        if brokers == *ids && m.controller_id >= 0 {
            return m.controller_id;
        }
        assert!(start.elapsed() < LIMIT, "cluster not settled: {m:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_controller_is_the_only_broker_fenced() {
    let bin = Path::new(env!("CARGO_BIN_EXE_vltava"));
    let cluster = tokio::task::spawn_blocking(move || TestCluster::start_with(3, Some(bin), &[]))
        .await
        .unwrap()
        .unwrap();
    let all: BTreeSet<i32> = (0..3).collect();
    let controller = settled(&cluster.addr(0), &all).await;
    let survivors: Vec<i32> = all.iter().copied().filter(|i| *i != controller).collect();
    cluster.pause(controller as usize).unwrap();
    let start = Instant::now();
    let mut missing = Vec::new();
    let mut stopped_fenced = false;
    while start.elapsed() < PAUSE {
        for s in &survivors {
            let ids = listed(&cluster.addr(*s as usize)).await;
            if survivors.iter().any(|x| !ids.contains(x)) {
                missing.push((start.elapsed().as_millis(), *s, ids.clone()));
            }
            stopped_fenced |= !ids.contains(&controller);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    cluster.resume(controller as usize).unwrap();
    assert!(
        missing.is_empty(),
        "survivors fenced while controller {controller} was stopped \
         (ms since SIGSTOP, asked node, brokers listed): {missing:?}"
    );
    assert!(
        stopped_fenced,
        "the stopped controller {controller} was never fenced: the pause was too short"
    );
    for s in &survivors {
        settled(&cluster.addr(*s as usize), &all).await;
    }
}
