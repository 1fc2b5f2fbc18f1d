//! DescribeQuorum against a running node in raw frames: the leader's view of the metadata
//! quorum at every version, the high watermark moving with committed metadata, and Kafka's
//! answer for anything but `__cluster_metadata` partition 0: each partition named
//! UNKNOWN_TOPIC_OR_PARTITION (found by the differential test against Kafka).

#![allow(clippy::unwrap_used)]

use crate::support::{Client, start_node};
use vltava_protocol::messages::DescribeQuorumRequest;
use vltava_protocol::messages::describe_quorum_request::{PartitionData, TopicData};
use vltava_protocol::messages::describe_quorum_response::DescribeQuorumResponse;
use vltava_protocol::{RequestBody, ResponseBody};

fn request(topic: &str, partitions: &[i32]) -> RequestBody {
    RequestBody::from(DescribeQuorumRequest {
        topics: vec![TopicData {
            topic_name: topic.into(),
            partitions: partitions
                .iter()
                .map(|&p| PartitionData {
                    partition_index: p,
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }],
        ..Default::default()
    })
}

async fn describe(c: &mut Client, version: i16, body: RequestBody) -> DescribeQuorumResponse {
    match c.call(version, body).await {
        ResponseBody::DescribeQuorum(r) => r,
        other => panic!("not a DescribeQuorum response: {other:?}"),
    }
}

use vltava_records::clock::now_ms;

#[tokio::test]
async fn leader_describes_itself_as_the_only_voter_at_every_version() {
    let (node, _dir) = start_node().await;
    let mut c = Client::connect(&node).await;
    let before = now_ms();
    let r = describe(&mut c, 2, request("__cluster_metadata", &[0])).await;
    assert_eq!(r.error_code, 0, "{r:?}");
    let p = &r.topics[0].partitions[0];
    assert_eq!(r.topics[0].topic_name.as_str(), "__cluster_metadata");
    assert_eq!((p.partition_index, p.error_code, p.leader_id), (0, 0, 1));
    assert!(p.leader_epoch >= 1, "{p:?}");
    // The bootstrap records (metadata version, this broker's registration) are committed.
    assert!(p.high_watermark >= 2, "{p:?}");
    assert_eq!(p.current_voters.len(), 1);
    let me = &p.current_voters[0];
    assert_eq!((me.replica_id, me.log_end_offset), (1, p.high_watermark));
    assert!(me.last_fetch_timestamp >= before && me.last_caught_up_timestamp >= before);
    assert!(p.observers.is_empty());
    // v2 names each voter's controller listener as configured (port 0 here: the test's
    // CONTROLLER listener asks for an ephemeral port, and a one-voter quorum binds none).
    assert_eq!(r.nodes.len(), 1);
    assert_eq!(r.nodes[0].node_id, 1);
    let l = &r.nodes[0].listeners[0];
    assert_eq!(
        (l.name.as_str(), l.host.as_str()),
        ("CONTROLLER", "127.0.0.1")
    );

    // Committing more metadata moves the high watermark.
    c.create_topic("quorum-moves", 3).await;
    for version in [0, 1] {
        let r = describe(&mut c, version, request("__cluster_metadata", &[0])).await;
        let q = &r.topics[0].partitions[0];
        assert_eq!((r.error_code, q.error_code, q.leader_id), (0, 0, 1));
        assert!(q.high_watermark > p.high_watermark, "{q:?} after {p:?}");
        assert_eq!(q.current_voters[0].log_end_offset, q.high_watermark);
        assert!(r.nodes.is_empty());
    }
    node.shutdown().await;
}

#[tokio::test]
async fn anything_but_the_metadata_partition_is_an_unknown_partition() {
    let (node, _dir) = start_node().await;
    let mut c = Client::connect(&node).await;
    for (topic, partitions) in [
        ("orders", &[0][..]),
        ("__cluster_metadata", &[1][..]),
        ("__cluster_metadata", &[0, 1][..]),
        ("__cluster_metadata", &[][..]),
    ] {
        let r = describe(&mut c, 2, request(topic, partitions)).await;
        assert_eq!(r.error_code, 0, "{topic} {partitions:?}: {r:?}");
        assert_eq!(r.topics.len(), 1);
        assert_eq!(r.topics[0].topic_name.as_str(), topic);
        let got: Vec<(i32, i16)> = r.topics[0]
            .partitions
            .iter()
            .map(|p| (p.partition_index, p.error_code))
            .collect();
        let want: Vec<(i32, i16)> = partitions.iter().map(|p| (*p, 3)).collect();
        assert_eq!(got, want, "{topic} {partitions:?}");
    }
    // The connection still serves a valid request afterwards.
    let r = describe(&mut c, 0, request("__cluster_metadata", &[0])).await;
    assert_eq!(r.topics[0].partitions[0].error_code, 0);
    node.shutdown().await;
}
