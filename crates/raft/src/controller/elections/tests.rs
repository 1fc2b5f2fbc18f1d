//! Tests of the controller's leader elections: ElectLeaders, the preferred rebalance, unclean.

use super::*;
use crate::controller::fencing::fence_broker;
use crate::controller::test_image::{apply_all, image};
use vltava_protocol::messages::elect_leaders_request::TopicPartitions;
use vltava_protocol::metadata::ConfigRecord;

fn fence(img: &mut MetadataImage, id: i32) {
    let recs = fence_broker(img, id);
    apply_all(img, &recs);
}

fn set_topic_config(img: &mut MetadataImage, key: &str, value: &str) {
    apply_record(
        img,
        &MetadataRecord::Config(ConfigRecord {
            resource_type: ConfigResourceKind::Topic.code(),
            resource_name: "t".into(),
            name: key.into(),
            value: Some(value.into()),
            ..Default::default()
        }),
    );
}

fn leader(img: &MetadataImage, p: i32) -> (i32, Vec<i32>) {
    let part = &img.topics["t"].partitions[&p];
    (part.leader, part.isr.clone())
}

fn code(r: Result<MetadataRecord, TopicError>) -> i16 {
    r.map_or_else(|e| e.code, |_| codes::NONE)
}

#[test]
fn preferred_election_moves_leadership_back_to_the_first_replica() {
    // p0 led by 1 although 0 (first replica) is in sync.
    let mut img = image(&[(&[0, 1, 2], &[1, 0, 2])]);
    let r = elect_leader(&img, "t", 0, ElectionType::Preferred).unwrap();
    apply_record(&mut img, &r);
    assert_eq!(leader(&img, 0), (0, vec![1, 0, 2]));
    assert_eq!(img.topics["t"].partitions[&0].leader_epoch, 1);
    // Now it is needed no more.
    assert_eq!(
        code(elect_leader(&img, "t", 0, ElectionType::Preferred)),
        codes::ELECTION_NOT_NEEDED
    );
}

#[test]
fn preferred_election_needs_the_first_replica_in_sync_and_live() {
    // Out of sync.
    let img = image(&[(&[0, 1, 2], &[1, 2])]);
    assert_eq!(
        code(elect_leader(&img, "t", 0, ElectionType::Preferred)),
        codes::PREFERRED_LEADER_NOT_AVAILABLE
    );
    // In sync, but its broker fenced (fencing keeps it in the ISR only as the last member).
    let mut img = image(&[(&[0, 1], &[1, 0])]);
    fence(&mut img, 0);
    assert_eq!(leader(&img, 0), (1, vec![1]));
    assert_eq!(
        code(elect_leader(&img, "t", 0, ElectionType::Preferred)),
        codes::PREFERRED_LEADER_NOT_AVAILABLE
    );
    // Unknown partitions and topics.
    assert_eq!(
        code(elect_leader(&img, "t", 5, ElectionType::Preferred)),
        codes::UNKNOWN_TOPIC_OR_PARTITION
    );
    assert_eq!(
        code(elect_leader(&img, "u", 0, ElectionType::Preferred)),
        codes::UNKNOWN_TOPIC_OR_PARTITION
    );
}

#[test]
fn unclean_election_takes_a_live_replica_out_of_sync_only_without_a_leader() {
    // ISR {0}; 0 dies: the partition goes offline (0 stays the last ISR member).
    let mut img = image(&[(&[0, 1, 2], &[0])]);
    fence(&mut img, 0);
    assert_eq!(leader(&img, 0), (NO_LEADER, vec![0]));
    let r = elect_leader(&img, "t", 0, ElectionType::Unclean).unwrap();
    apply_record(&mut img, &r);
    assert_eq!(
        leader(&img, 0),
        (1, vec![1]),
        "first live replica; ISR is it alone"
    );
    // With a leader it is not needed.
    assert_eq!(
        code(elect_leader(&img, "t", 0, ElectionType::Unclean)),
        codes::ELECTION_NOT_NEEDED
    );
    // No live replica at all.
    let mut img = image(&[(&[0, 1], &[0])]);
    fence(&mut img, 1);
    fence(&mut img, 0);
    assert_eq!(
        code(elect_leader(&img, "t", 0, ElectionType::Unclean)),
        codes::ELIGIBLE_LEADERS_NOT_AVAILABLE
    );
}

#[test]
fn elect_leaders_for_all_partitions_lists_only_those_that_needed_one() {
    let img = image(&[
        (&[0, 1], &[0, 1]), // balanced
        (&[1, 0], &[0, 1]), // led by 0, prefers 1: elected
        (&[2, 0], &[0]),    // prefers 2, out of sync: not available
    ]);
    let all = ElectLeadersRequest {
        topic_partitions: None,
        ..Default::default()
    };
    let (resp, records) = elect_leaders(&img, &all);
    assert_eq!(resp.error_code, codes::NONE);
    let results: Vec<(i32, i16)> = resp.replica_election_results[0]
        .partition_result
        .iter()
        .map(|p| (p.partition_id, p.error_code))
        .collect();
    assert_eq!(
        results,
        vec![(1, codes::NONE), (2, codes::PREFERRED_LEADER_NOT_AVAILABLE)]
    );
    assert_eq!(records.len(), 1);

    // Named partitions are all answered, in request order.
    let req = ElectLeadersRequest {
        election_type: 0,
        topic_partitions: Some(vec![TopicPartitions {
            topic: "t".into(),
            partitions: vec![0, 1, 1, 9],
            ..Default::default()
        }]),
        ..Default::default()
    };
    let (resp, records) = elect_leaders(&img, &req);
    let codes_: Vec<i16> = resp.replica_election_results[0]
        .partition_result
        .iter()
        .map(|p| p.error_code)
        .collect();
    assert_eq!(
        codes_,
        vec![
            codes::ELECTION_NOT_NEEDED,
            codes::NONE,
            codes::ELECTION_NOT_NEEDED,
            codes::UNKNOWN_TOPIC_OR_PARTITION
        ]
    );
    assert_eq!(records.len(), 1);

    // An unknown election type: the request refused, and each partition named with it;
    // naming no topic is an empty success (as Kafka answers).
    let bad = ElectLeadersRequest {
        election_type: 7,
        topic_partitions: None,
        ..Default::default()
    };
    assert_eq!(
        elect_leaders(&img, &bad).0.error_code,
        codes::INVALID_REQUEST
    );
    let bad_named = ElectLeadersRequest {
        election_type: 7,
        topic_partitions: Some(vec![TopicPartitions {
            topic: "t".into(),
            partitions: vec![0, 9],
            ..Default::default()
        }]),
        ..Default::default()
    };
    let (r, records) = elect_leaders(&img, &bad_named);
    assert_eq!(r.error_code, codes::INVALID_REQUEST);
    let codes_: Vec<i16> = r.replica_election_results[0]
        .partition_result
        .iter()
        .map(|p| p.error_code)
        .collect();
    assert_eq!(codes_, vec![codes::INVALID_REQUEST, codes::INVALID_REQUEST]);
    assert!(records.is_empty());
    let none_named = ElectLeadersRequest {
        election_type: 7,
        ..Default::default()
    };
    let (r, _) = elect_leaders(&img, &none_named);
    assert_eq!(r.error_code, codes::NONE);
    assert!(r.replica_election_results.is_empty());
}

#[test]
fn rebalance_elects_every_available_preferred_replica() {
    let mut img = image(&[(&[0, 1], &[1, 0]), (&[1, 0], &[1, 0]), (&[2, 0], &[0])]);
    assert!(leaders_imbalanced(&img));
    let recs = balance_leaders(&img);
    assert_eq!(recs.len(), 1, "p2's preferred replica is out of sync");
    apply_all(&mut img, &recs);
    assert_eq!(leader(&img, 0).0, 0);
    assert!(!leaders_imbalanced(&img));
    assert!(balance_leaders(&img).is_empty());
}

#[test]
fn unclean_elections_follow_the_topic_config_then_the_broker_default() {
    let mut img = image(&[(&[0, 1], &[0])]);
    let fenced = fence_broker(&img, 0);
    // Disabled (the default): the partition stays offline.
    let recs = then_unclean_elections(&img, fenced.clone(), false);
    assert_eq!(recs, fenced);
    // The broker default enables it.
    let recs = then_unclean_elections(&img, fenced.clone(), true);
    assert_eq!(recs.len(), fenced.len() + 1);
    let mut after = img.clone();
    apply_all(&mut after, &recs);
    assert_eq!(leader(&after, 0), (1, vec![1]));
    // The topic's own config wins over the broker default, both ways.
    set_topic_config(&mut img, UNCLEAN_CONFIG, "false");
    assert_eq!(then_unclean_elections(&img, fenced.clone(), true), fenced);
    set_topic_config(&mut img, UNCLEAN_CONFIG, "true");
    assert_eq!(
        then_unclean_elections(&img, fenced.clone(), false).len(),
        fenced.len() + 1
    );
    // A partition with a leader, or with a live in-sync replica, is left alone.
    let img = image(&[(&[0, 1], &[0, 1])]);
    assert!(elect_unclean_leaders(&img, true).is_empty());
}
