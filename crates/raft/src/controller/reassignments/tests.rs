//! Tests of partition reassignment: validation, start, completion through AlterPartition,
//! immediate completion, cancel, listing, and replay from a snapshot.

use super::*;
use crate::apply::{image_to_records, replay};
use crate::controller::alter_partition::alter_partition;
use crate::controller::fencing::fence_broker;
use crate::controller::test_image::{apply_all, image};
use vltava_protocol::messages::alter_partition_reassignments_request::{
    ReassignablePartition, ReassignableTopic,
};
use vltava_protocol::messages::alter_partition_request::{self, AlterPartitionRequest};
use vltava_protocol::messages::list_partition_reassignments_request::ListPartitionReassignmentsTopics;

/// A request reassigning partitions of topic `topic` (`None`: cancel).
fn request(topic: &str, parts: &[(i32, Option<&[i32]>)]) -> AlterPartitionReassignmentsRequest {
    AlterPartitionReassignmentsRequest {
        topics: vec![ReassignableTopic {
            name: topic.into(),
            partitions: parts
                .iter()
                .map(|(i, r)| ReassignablePartition {
                    partition_index: *i,
                    replicas: r.map(<[i32]>::to_vec),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }],
        ..Default::default()
    }
}

/// Runs the request against `img`, applies its records, returns the first partition's
/// (code, message).
fn reassign(img: &mut MetadataImage, parts: &[(i32, Option<&[i32]>)]) -> (i16, Option<String>) {
    let (resp, records) = alter_partition_reassignments(img, &request("t", parts), false);
    let p = &resp.responses[0].partitions[0];
    if p.error_code != codes::NONE {
        assert!(records.is_empty(), "a refused reassignment writes nothing");
    }
    apply_all(img, &records);
    (
        p.error_code,
        p.error_message.as_ref().map(|m| m.to_string()),
    )
}

fn part(img: &MetadataImage, p: i32) -> &PartitionImage {
    &img.topics["t"].partitions[&p]
}

/// The leader of partition `p` asks to make `isr` the ISR; the records are applied.
fn leader_sets_isr(img: &mut MetadataImage, p: i32, isr: &[i32]) -> i16 {
    let current = part(img, p).clone();
    let req = AlterPartitionRequest {
        broker_id: current.leader,
        broker_epoch: -1,
        topics: vec![alter_partition_request::TopicData {
            topic_id: img.topics["t"].id,
            partitions: vec![alter_partition_request::PartitionData {
                partition_index: p,
                leader_epoch: current.leader_epoch,
                partition_epoch: current.partition_epoch,
                new_isr: isr.to_vec(),
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    };
    let (resp, records) = alter_partition(img, &req, 2);
    apply_all(img, &records);
    resp.topics[0].partitions[0].error_code
}

#[test]
fn targets_are_validated_as_kafka_does() {
    let mut img = image(&[(&[0], &[0])]);
    let before = img.clone();
    let (resp, records) =
        alter_partition_reassignments(&img, &request("nope", &[(0, Some(&[1]))]), false);
    let p = &resp.responses[0].partitions[0];
    assert_eq!(p.error_code, codes::UNKNOWN_TOPIC_OR_PARTITION);
    assert_eq!(
        p.error_message.as_deref(),
        Some("Unable to find a topic named nope.")
    );
    assert!(records.is_empty());
    assert_eq!(
        reassign(&mut img, &[(5, Some(&[1]))]),
        (
            codes::UNKNOWN_TOPIC_OR_PARTITION,
            Some("Unable to find partition t:5.".into())
        )
    );
    assert_eq!(
        reassign(&mut img, &[(0, Some(&[]))]),
        (
            codes::INVALID_REPLICA_ASSIGNMENT,
            Some("The manual partition assignment includes an empty replica list.".into())
        )
    );
    assert_eq!(
        reassign(&mut img, &[(0, Some(&[2, 1, 2]))]),
        (
            codes::INVALID_REPLICA_ASSIGNMENT,
            Some("The manual partition assignment includes the broker 2 more than once.".into())
        )
    );
    // In broker id order, 3 (unregistered) comes before the second 4.
    assert_eq!(
        reassign(&mut img, &[(0, Some(&[4, 1, 3, 4]))]),
        (
            codes::INVALID_REPLICA_ASSIGNMENT,
            Some(
                "The manual partition assignment includes broker 3, but no such broker is \
                 registered."
                    .into()
            )
        )
    );
    assert_eq!(
        reassign(&mut img, &[(0, None)]),
        (
            NO_REASSIGNMENT_IN_PROGRESS,
            Some("No partition reassignment is in progress.".into())
        )
    );
    assert_eq!(img, before, "refusals change nothing");
}

#[test]
fn a_move_waits_for_the_new_replica_then_hands_leadership_over() {
    let mut img = image(&[(&[0], &[0])]);
    assert_eq!(reassign(&mut img, &[(0, Some(&[1]))]).0, codes::NONE);
    let p = part(&img, 0);
    assert_eq!(p.replicas, vec![1, 0]);
    assert_eq!(
        (p.adding_replicas.clone(), p.removing_replicas.clone()),
        (vec![1], vec![0])
    );
    assert_eq!((p.leader, p.isr.clone(), p.leader_epoch), (0, vec![0], 0));
    // Listed as ongoing.
    let all = list_partition_reassignments(&img, &ListPartitionReassignmentsRequest::default());
    assert_eq!(all.topics.len(), 1);
    assert_eq!(all.topics[0].partitions[0].replicas, vec![1, 0]);
    assert_eq!(all.topics[0].partitions[0].adding_replicas, vec![1]);
    assert_eq!(all.topics[0].partitions[0].removing_replicas, vec![0]);
    // The new replica catches up; the leader adds it to the ISR: the reassignment completes.
    assert_eq!(leader_sets_isr(&mut img, 0, &[0, 1]), codes::NONE);
    let p = part(&img, 0);
    assert_eq!(p.replicas, vec![1]);
    assert_eq!(p.isr, vec![1]);
    assert_eq!((p.leader, p.leader_epoch), (1, 1), "a new leader epoch");
    assert!(!p.reassigning());
    let none = list_partition_reassignments(&img, &ListPartitionReassignmentsRequest::default());
    assert!(none.topics.is_empty());
}

#[test]
fn raising_the_replication_factor_completes_only_when_every_new_replica_is_in_sync() {
    let mut img = image(&[(&[0], &[0])]);
    assert_eq!(reassign(&mut img, &[(0, Some(&[0, 1, 2]))]).0, codes::NONE);
    let p = part(&img, 0);
    assert_eq!(p.replicas, vec![0, 1, 2]);
    assert_eq!(p.adding_replicas, vec![1, 2]);
    assert!(p.removing_replicas.is_empty());
    assert_eq!(leader_sets_isr(&mut img, 0, &[0, 1]), codes::NONE);
    assert!(part(&img, 0).reassigning(), "2 is not in sync yet");
    assert_eq!(leader_sets_isr(&mut img, 0, &[0, 1, 2]), codes::NONE);
    let p = part(&img, 0);
    assert!(!p.reassigning());
    assert_eq!(
        (p.replicas.clone(), p.isr.clone()),
        (vec![0, 1, 2], vec![0, 1, 2])
    );
    assert_eq!(
        (p.leader, p.leader_epoch),
        (0, 0),
        "the leader stays, same epoch"
    );
}

#[test]
fn removing_in_sync_replicas_completes_at_once() {
    let mut img = image(&[(&[0, 1, 2], &[0, 1, 2])]);
    assert_eq!(reassign(&mut img, &[(0, Some(&[2]))]).0, codes::NONE);
    let p = part(&img, 0);
    assert!(!p.reassigning());
    assert_eq!((p.replicas.clone(), p.isr.clone()), (vec![2], vec![2]));
    assert_eq!((p.leader, p.leader_epoch), (2, 1));
}

#[test]
fn removing_replicas_waits_while_no_target_replica_is_in_sync() {
    // 2 is a replica but out of sync: the target [2] has nobody in the ISR.
    let mut img = image(&[(&[0, 1, 2], &[0, 1])]);
    assert_eq!(reassign(&mut img, &[(0, Some(&[2]))]).0, codes::NONE);
    let p = part(&img, 0);
    assert!(p.reassigning());
    assert_eq!(p.removing_replicas, vec![0, 1]);
    assert!(p.adding_replicas.is_empty());
    assert!(p.isr.iter().all(|r| p.replicas.contains(r)));
    assert_eq!(leader_sets_isr(&mut img, 0, &[0, 1, 2]), codes::NONE);
    let p = part(&img, 0);
    assert_eq!(
        (p.replicas.clone(), p.isr.clone(), p.leader),
        (vec![2], vec![2], 2)
    );
}

#[test]
fn reordering_replicas_changes_them_at_once_and_the_same_target_changes_nothing() {
    let mut img = image(&[(&[0, 1, 2], &[0, 1, 2])]);
    let (_, records) =
        alter_partition_reassignments(&img, &request("t", &[(0, Some(&[0, 1, 2]))]), false);
    assert!(records.is_empty());
    assert_eq!(reassign(&mut img, &[(0, Some(&[2, 1, 0]))]).0, codes::NONE);
    let p = part(&img, 0);
    assert_eq!(p.replicas, vec![2, 1, 0]);
    assert!(!p.reassigning());
    assert_eq!(p.leader, 0, "a reorder elects nobody");
}

#[test]
fn cancel_takes_the_adding_replicas_out_again() {
    let mut img = image(&[(&[0, 1], &[0, 1])]);
    assert_eq!(reassign(&mut img, &[(0, Some(&[1, 2]))]).0, codes::NONE);
    assert_eq!(part(&img, 0).replicas, vec![1, 2, 0]);
    assert_eq!(reassign(&mut img, &[(0, None)]).0, codes::NONE);
    let p = part(&img, 0);
    assert!(!p.reassigning());
    assert_eq!(p.replicas, vec![1, 0], "the adding replica 2 is gone");
    assert_eq!((p.isr.clone(), p.leader), (vec![0, 1], 0));
}

#[test]
fn cancel_that_would_empty_the_isr_needs_unclean_elections() {
    // Move [0] to [1, 2]; 1 joins the ISR; then 0's broker is fenced: the ISR is [1] only.
    let mut img = image(&[(&[0], &[0])]);
    assert_eq!(reassign(&mut img, &[(0, Some(&[1, 2]))]).0, codes::NONE);
    assert_eq!(leader_sets_isr(&mut img, 0, &[0, 1]), codes::NONE);
    assert!(part(&img, 0).reassigning());
    let recs = fence_broker(&img, 0);
    apply_all(&mut img, &recs);
    assert_eq!(
        (part(&img, 0).leader, part(&img, 0).isr.clone()),
        (1, vec![1])
    );
    let (code, message) = reassign(&mut img, &[(0, None)]);
    assert_eq!(code, codes::INVALID_REPLICA_ASSIGNMENT);
    assert_eq!(
        message.as_deref(),
        Some(
            "Unable to revert partition assignment for t:0 because it would require an \
             unclean leader election."
        )
    );
    // With unclean elections allowed, the original replica 0 (fenced) is the ISR, no leader.
    let (resp, records) = alter_partition_reassignments(&img, &request("t", &[(0, None)]), true);
    assert_eq!(resp.responses[0].partitions[0].error_code, codes::NONE);
    apply_all(&mut img, &records);
    let p = part(&img, 0);
    assert_eq!(
        (p.replicas.clone(), p.isr.clone(), p.leader),
        (vec![0], vec![0], -1)
    );
}

#[test]
fn a_second_target_keeps_waiting_for_a_replica_the_first_was_adding() {
    let mut img = image(&[(&[0], &[0])]);
    assert_eq!(reassign(&mut img, &[(0, Some(&[0, 1]))]).0, codes::NONE);
    assert_eq!(reassign(&mut img, &[(0, Some(&[1, 2]))]).0, codes::NONE);
    let p = part(&img, 0);
    assert_eq!(p.replicas, vec![1, 2, 0]);
    assert_eq!(p.adding_replicas, vec![1, 2]);
    assert_eq!(p.removing_replicas, vec![0]);
    assert_eq!(leader_sets_isr(&mut img, 0, &[0, 2]), codes::NONE);
    assert!(part(&img, 0).reassigning(), "1 is still being added");
    assert_eq!(leader_sets_isr(&mut img, 0, &[0, 2, 1]), codes::NONE);
    let p = part(&img, 0);
    assert_eq!(
        (p.replicas.clone(), p.isr.clone(), p.leader),
        (vec![1, 2], vec![2, 1], 1)
    );
}

#[test]
fn listing_names_only_known_partitions_being_reassigned() {
    let mut img = image(&[(&[0], &[0]), (&[1], &[1])]);
    assert_eq!(reassign(&mut img, &[(1, Some(&[2]))]).0, codes::NONE);
    let named = ListPartitionReassignmentsRequest {
        topics: Some(vec![
            ListPartitionReassignmentsTopics {
                name: "t".into(),
                partition_indexes: vec![0, 1, 7],
                ..Default::default()
            },
            ListPartitionReassignmentsTopics {
                name: "nope".into(),
                partition_indexes: vec![0],
                ..Default::default()
            },
        ]),
        ..Default::default()
    };
    let r = list_partition_reassignments(&img, &named);
    assert_eq!(r.error_code, codes::NONE);
    assert_eq!(r.topics.len(), 1);
    let parts: Vec<i32> = r.topics[0]
        .partitions
        .iter()
        .map(|p| p.partition_index)
        .collect();
    assert_eq!(parts, vec![1]);
}

#[test]
fn an_ongoing_reassignment_survives_replay_and_snapshots() {
    let mut img = image(&[(&[0], &[0])]);
    let mut log = image_to_records(&img);
    let (_, records) =
        alter_partition_reassignments(&img, &request("t", &[(0, Some(&[1, 2]))]), false);
    apply_all(&mut img, &records);
    log.extend(records);
    // Replaying the log and rebuilding from a snapshot of it give the same ongoing state.
    let mut replayed = MetadataImage::empty("c");
    replay(&mut replayed, &log);
    assert_eq!(replayed.topics, img.topics);
    let mut from_snapshot = MetadataImage::empty("c");
    replay(&mut from_snapshot, &image_to_records(&img));
    assert_eq!(from_snapshot.topics, img.topics);
    assert_eq!(part(&from_snapshot, 0).adding_replicas, vec![1, 2]);
    // And it completes there like anywhere else.
    assert_eq!(
        leader_sets_isr(&mut from_snapshot, 0, &[0, 1, 2]),
        codes::NONE
    );
    assert_eq!(part(&from_snapshot, 0).replicas, vec![1, 2]);
}
