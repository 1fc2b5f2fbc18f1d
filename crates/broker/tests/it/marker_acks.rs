//! A transaction marker counts once the in-sync replicas have it, as Kafka writes markers
//! (required acks -1): WriteTxnMarkers to a leader whose two followers are stopped
//! (SIGSTOP) is not answered while they are, and is answered NONE once they are back.
//!
//! Regression (docs/faults.md, found by the fault harness's transactional workload): a
//! marker was acknowledged after the leader's local append; when the leadership moved
//! before the followers had fetched it, the new leader never had the abort marker, the
//! aborted records stayed open and the producer's next commit marker made them visible to
//! read_committed consumers (aborted read, G1a).

#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::time::Duration;

use vltava_protocol::messages::WriteTxnMarkersRequest;
use vltava_protocol::messages::write_txn_markers_request::{
    WritableTxnMarker, WritableTxnMarkerTopic,
};
use vltava_protocol::{RequestBody, ResponseBody};
use vltava_testkit::cluster::TestCluster;

use crate::cluster::{create, metadata};
use crate::support::Client;

/// Leader and ISR of `topic`-0 once all three replicas are in sync.
async fn settled_leader(addr: &str, topic: &str) -> i32 {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let m = metadata(addr, &[topic]).await;
        let p = &m.topics[0].partitions;
        if let Some(p) = p.first() {
            if p.leader_id >= 0 && p.isr_nodes.len() == 3 {
                return p.leader_id;
            }
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no settled leader: {m:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_marker_is_answered_once_the_isr_has_it() {
    let bin = Path::new(env!("CARGO_BIN_EXE_vltava"));
    let cluster = tokio::task::spawn_blocking(move || TestCluster::start_with(3, Some(bin), &[]))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(create(&cluster.addr(0), "marked", 1, 3).await, 0);
    let leader = settled_leader(&cluster.addr(0), "marked").await;
    let followers: Vec<usize> = (0..3).filter(|i| *i != leader as usize).collect();
    for f in &followers {
        cluster.pause(*f).unwrap();
    }
    let req = WriteTxnMarkersRequest {
        markers: vec![WritableTxnMarker {
            producer_id: 4242,
            producer_epoch: 0,
            transaction_result: false,
            topics: vec![WritableTxnMarkerTopic {
                name: "marked".into(),
                partition_indexes: vec![0],
                ..Default::default()
            }],
            coordinator_epoch: 0,
            ..Default::default()
        }],
        ..Default::default()
    };
    let addr = cluster.addr(leader as usize);
    let call = tokio::spawn(async move {
        Client::connect_addr(&addr)
            .await
            .call(1, RequestBody::from(req))
            .await
    });
    tokio::time::sleep(Duration::from_secs(3)).await;
    let early = call.is_finished();
    for f in &followers {
        cluster.resume(*f).unwrap();
    }
    assert!(
        !early,
        "WriteTxnMarkers answered while no follower could have the marker"
    );
    let ResponseBody::WriteTxnMarkers(r) = call.await.unwrap() else {
        panic!("not a WriteTxnMarkers response")
    };
    assert_eq!(r.markers[0].topics[0].partitions[0].error_code, 0, "{r:?}");
}
