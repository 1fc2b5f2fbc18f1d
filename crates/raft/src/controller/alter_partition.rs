//! AlterPartition (key 56, KIP-497): a partition leader asks the controller to commit a new
//! ISR. Kafka's checks, in order: the requesting broker's epoch (STALE_BROKER_EPOCH), the
//! topic and partition (UNKNOWN_TOPIC_OR_PARTITION / UNKNOWN_TOPIC_ID), the requester leads
//! (NOT_LEADER_OR_FOLLOWER), its leader epoch is the current one (FENCED_LEADER_EPOCH), the
//! partition epoch compare-and-set (INVALID_UPDATE_VERSION), the new ISR's shape (a subset of
//! the replicas without duplicates that holds the leader: INVALID_REQUEST) and its members'
//! eligibility (registered, unfenced, at the stated broker epoch: INELIGIBLE_REPLICA, KIP-903;
//! every member is checked, as Kafka's `ineligibleReplicasForIsr`, and -1 skips the epoch
//! check). A broker in controlled shutdown is fenced here (its heartbeat asks for it), so
//! the fenced check covers it; Kafka's separate `InControlledShutdown` state does not exist
//! in this image. A valid
//! change becomes one PartitionChangeRecord per partition; the answer carries the partition
//! epoch the record will have once applied. An ISR change that brings every replica an
//! ongoing reassignment adds into the ISR also completes the reassignment (a second record,
//! `reassignments::maybe_complete`).

use std::collections::BTreeSet;

use vltava_protocol::messages::alter_partition_request::{self, AlterPartitionRequest};
use vltava_protocol::messages::alter_partition_response::{self, AlterPartitionResponse};
use vltava_protocol::metadata::PartitionChangeRecord;

use super::reassignments::maybe_complete;
use crate::error::codes;
use crate::image::{MetadataImage, PartitionImage, TopicImage};
use crate::records::MetadataRecord;

pub use vltava_protocol::error_codes::{
    FENCED_LEADER_EPOCH, INELIGIBLE_REPLICA, INVALID_UPDATE_VERSION, NOT_LEADER_OR_FOLLOWER,
};

/// `leader` of a PartitionChangeRecord that leaves the leader as it is.
const LEADER_UNCHANGED: i32 = -2;

/// Handles an AlterPartition request at `version` against `image`: the response and the
/// records to commit (none when nothing changes).
pub fn alter_partition(
    image: &MetadataImage,
    req: &AlterPartitionRequest,
    version: i16,
) -> (AlterPartitionResponse, Vec<MetadataRecord>) {
    let mut resp = AlterPartitionResponse::default();
    let mut records = Vec::new();
    let requester_ok = image
        .brokers
        .get(&req.broker_id)
        .is_some_and(|b| !b.fenced && (req.broker_epoch == -1 || req.broker_epoch == b.epoch));
    if !requester_ok {
        resp.error_code = codes::STALE_BROKER_EPOCH;
        return (resp, records);
    }
    for t in &req.topics {
        let topic = if version >= 2 {
            image.topic_by_id(&t.topic_id)
        } else {
            image.topics.get(t.topic_name.as_str())
        };
        let mut out = alter_partition_response::TopicData {
            topic_name: t.topic_name.clone(),
            topic_id: t.topic_id,
            ..Default::default()
        };
        for p in &t.partitions {
            let (data, record) = alter_one(image, topic, req.broker_id, p, version);
            out.partitions.push(data);
            records.extend(record);
        }
        resp.topics.push(out);
    }
    (resp, records)
}

/// One partition of the request: its answer and the record, if the ISR changes.
fn alter_one(
    image: &MetadataImage,
    topic: Option<&TopicImage>,
    broker_id: i32,
    p: &alter_partition_request::PartitionData,
    version: i16,
) -> (alter_partition_response::PartitionData, Vec<MetadataRecord>) {
    let fail = |error_code| alter_partition_response::PartitionData {
        partition_index: p.partition_index,
        error_code,
        leader_id: -1,
        leader_epoch: -1,
        partition_epoch: -1,
        ..Default::default()
    };
    let unknown_topic = if version >= 2 {
        codes::UNKNOWN_TOPIC_ID
    } else {
        codes::UNKNOWN_TOPIC_OR_PARTITION
    };
    let Some(topic) = topic else {
        return (fail(unknown_topic), Vec::new());
    };
    let Some(current) = topic.partitions.get(&p.partition_index) else {
        return (fail(codes::UNKNOWN_TOPIC_OR_PARTITION), Vec::new());
    };
    if current.leader != broker_id {
        return (fail(NOT_LEADER_OR_FOLLOWER), Vec::new());
    }
    if p.leader_epoch != current.leader_epoch {
        return (fail(FENCED_LEADER_EPOCH), Vec::new());
    }
    if p.partition_epoch != current.partition_epoch {
        return (fail(INVALID_UPDATE_VERSION), Vec::new());
    }
    let new_isr: Vec<(i32, i64)> = if version >= 3 {
        p.new_isr_with_epochs
            .iter()
            .map(|b| (b.broker_id, b.broker_epoch))
            .collect()
    } else {
        p.new_isr.iter().map(|&id| (id, -1)).collect()
    };
    let ids: Vec<i32> = new_isr.iter().map(|(id, _)| *id).collect();
    if !valid_shape(current, &ids) {
        return (fail(codes::INVALID_REQUEST), Vec::new());
    }
    let eligible = |&(id, epoch): &(i32, i64)| {
        image
            .brokers
            .get(&id)
            .is_some_and(|b| !b.fenced && (epoch == -1 || epoch == b.epoch))
    };
    if !new_isr.iter().all(eligible) {
        // Kafka answers OPERATION_NOT_ATTEMPTED to versions that predate INELIGIBLE_REPLICA.
        let code = if version >= 2 { INELIGIBLE_REPLICA } else { 55 };
        return (fail(code), Vec::new());
    }
    let changed = ids != current.isr;
    let answer = alter_partition_response::PartitionData {
        partition_index: p.partition_index,
        error_code: codes::NONE,
        leader_id: current.leader,
        leader_epoch: current.leader_epoch,
        isr: ids.clone(),
        partition_epoch: current.partition_epoch + i32::from(changed),
        ..Default::default()
    };
    let records = if changed {
        isr_change(image, topic.id, p.partition_index, current, ids)
    } else {
        Vec::new()
    };
    (answer, records)
}

/// The records of an ISR change to `ids`: the change, and the completion of a
/// reassignment whose adding replicas are now all in the ISR.
fn isr_change(
    image: &MetadataImage,
    topic_id: vltava_protocol::Uuid,
    partition: i32,
    current: &PartitionImage,
    ids: Vec<i32>,
) -> Vec<MetadataRecord> {
    let mut records = vec![MetadataRecord::PartitionChange(PartitionChangeRecord {
        topic_id,
        partition_id: partition,
        leader: LEADER_UNCHANGED,
        isr: Some(ids.clone()),
        ..Default::default()
    })];
    // A reassignment whose adding replicas are now all in the ISR completes in a
    // second record: the answer stays the ISR change the leader asked for, and the
    // completion reaches it (and every replica) as newer partition state.
    let mut after = current.clone();
    after.isr = ids;
    after.partition_epoch += 1;
    records.extend(maybe_complete(image, topic_id, &after));
    records
}

/// The new ISR is a non-empty subset of the replicas, without duplicates, holding the leader.
fn valid_shape(current: &PartitionImage, ids: &[i32]) -> bool {
    let set: BTreeSet<i32> = ids.iter().copied().collect();
    set.len() == ids.len()
        && set.contains(&current.leader)
        && set.iter().all(|id| current.replicas.contains(id))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apply::apply_record;
    use crate::controller::fencing::fence_broker;
    use crate::controller::register_broker;
    use std::collections::BTreeMap;
    use vltava_protocol::Uuid;

    fn topic_id() -> Uuid {
        Uuid::from_u128(9)
    }

    /// Brokers 0, 1, 2; topic `t` partition 0 led by 1 (epochs 3/5), replicas [1,2,0], ISR [1,2].
    fn image() -> MetadataImage {
        let mut img = MetadataImage::empty("c");
        for id in 0..3 {
            let rec = register_broker(&img, id, "127.0.0.1", 9092 + id, None);
            apply_record(&mut img, &rec);
        }
        let mut partitions = BTreeMap::new();
        partitions.insert(
            0,
            PartitionImage {
                partition: 0,
                leader: 1,
                leader_epoch: 3,
                partition_epoch: 5,
                replicas: vec![1, 2, 0],
                isr: vec![1, 2],
                adding_replicas: Vec::new(),
                removing_replicas: Vec::new(),
            },
        );
        img.topics.insert(
            "t".into(),
            TopicImage {
                name: "t".into(),
                id: topic_id(),
                partitions,
            },
        );
        img.topic_names.insert(topic_id(), "t".into());
        img
    }

    fn request(
        broker: i32,
        leader_epoch: i32,
        partition_epoch: i32,
        isr: &[i32],
    ) -> AlterPartitionRequest {
        AlterPartitionRequest {
            broker_id: broker,
            broker_epoch: -1,
            topics: vec![alter_partition_request::TopicData {
                topic_id: topic_id(),
                partitions: vec![alter_partition_request::PartitionData {
                    partition_index: 0,
                    leader_epoch,
                    new_isr: isr.to_vec(),
                    partition_epoch,
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        }
    }

    fn code(img: &MetadataImage, req: &AlterPartitionRequest, version: i16) -> i16 {
        let (resp, records) = alter_partition(img, req, version);
        let code = resp.topics[0].partitions[0].error_code;
        if code != codes::NONE {
            assert!(records.is_empty(), "a refused change writes nothing");
        }
        code
    }

    #[test]
    fn expansion_commits_with_a_new_partition_epoch() {
        let mut img = image();
        let (resp, records) = alter_partition(&img, &request(1, 3, 5, &[0, 1, 2]), 2);
        let p = &resp.topics[0].partitions[0];
        assert_eq!(p.error_code, codes::NONE);
        assert_eq!((p.leader_id, p.leader_epoch, p.partition_epoch), (1, 3, 6));
        assert_eq!(p.isr, vec![0, 1, 2]);
        assert_eq!(records.len(), 1);
        apply_record(&mut img, &records[0]);
        let after = &img.topics["t"].partitions[&0];
        assert_eq!(after.isr, vec![0, 1, 2]);
        assert_eq!(
            (after.leader, after.leader_epoch, after.partition_epoch),
            (1, 3, 6)
        );
    }

    #[test]
    fn shrink_to_the_leader_alone() {
        let img = image();
        let (resp, records) = alter_partition(&img, &request(1, 3, 5, &[1]), 2);
        assert_eq!(resp.topics[0].partitions[0].error_code, codes::NONE);
        assert_eq!(records.len(), 1);
    }

    #[test]
    fn unchanged_isr_is_answered_without_a_record() {
        let img = image();
        let (resp, records) = alter_partition(&img, &request(1, 3, 5, &[1, 2]), 2);
        assert_eq!(resp.topics[0].partitions[0].partition_epoch, 5);
        assert!(records.is_empty());
    }

    #[test]
    fn stale_epochs_are_refused() {
        let img = image();
        assert_eq!(code(&img, &request(1, 2, 5, &[1]), 2), FENCED_LEADER_EPOCH);
        assert_eq!(code(&img, &request(1, 4, 5, &[1]), 2), FENCED_LEADER_EPOCH);
        assert_eq!(
            code(&img, &request(1, 3, 4, &[1]), 2),
            INVALID_UPDATE_VERSION
        );
        assert_eq!(
            code(&img, &request(1, 3, 6, &[1]), 2),
            INVALID_UPDATE_VERSION
        );
    }

    #[test]
    fn only_the_leader_may_alter() {
        let img = image();
        assert_eq!(
            code(&img, &request(2, 3, 5, &[2]), 2),
            NOT_LEADER_OR_FOLLOWER
        );
    }

    #[test]
    fn isr_shape_is_checked() {
        let img = image();
        assert_eq!(
            code(&img, &request(1, 3, 5, &[2]), 2),
            codes::INVALID_REQUEST,
            "no leader"
        );
        assert_eq!(
            code(&img, &request(1, 3, 5, &[1, 7]), 2),
            codes::INVALID_REQUEST,
            "not a replica"
        );
        assert_eq!(
            code(&img, &request(1, 3, 5, &[1, 1]), 2),
            codes::INVALID_REQUEST,
            "duplicate"
        );
    }

    #[test]
    fn fenced_members_are_ineligible() {
        let mut img = image();
        let fence = fence_broker(&img, 0);
        for r in &fence {
            apply_record(&mut img, r);
        }
        assert_eq!(
            code(&img, &request(1, 3, 5, &[0, 1, 2]), 2),
            INELIGIBLE_REPLICA
        );
        let mut by_name = request(1, 3, 5, &[0, 1, 2]);
        by_name.topics[0].topic_name = "t".into();
        assert_eq!(code(&img, &by_name, 1), 55);
    }

    #[test]
    fn broker_epochs_are_checked_from_version_3() {
        let img = image();
        let epoch0 = img.brokers[&0].epoch;
        let mut req = request(1, 3, 5, &[]);
        let states = |e: i64| {
            [0, 1, 2]
                .iter()
                .map(|&id| alter_partition_request::BrokerState {
                    broker_id: id,
                    broker_epoch: if id == 0 { e } else { -1 },
                    ..Default::default()
                })
                .collect::<Vec<_>>()
        };
        req.topics[0].partitions[0].new_isr_with_epochs = states(epoch0 + 1);
        assert_eq!(code(&img, &req, 3), INELIGIBLE_REPLICA);
        req.topics[0].partitions[0].new_isr_with_epochs = states(epoch0);
        assert_eq!(code(&img, &req, 3), codes::NONE);
    }

    /// v3 request whose members carry these broker epochs.
    fn request_v3(isr: &[(i32, i64)]) -> AlterPartitionRequest {
        let mut req = request(1, 3, 5, &[]);
        req.topics[0].partitions[0].new_isr_with_epochs = isr
            .iter()
            .map(
                |&(broker_id, broker_epoch)| alter_partition_request::BrokerState {
                    broker_id,
                    broker_epoch,
                    ..Default::default()
                },
            )
            .collect();
        req
    }

    #[test]
    fn a_restarted_members_old_broker_epoch_is_ineligible() {
        // KIP-903: broker 0 fetched (and was proposed) at its old epoch, then restarted and
        // registered again; the leader's proposal naming the old epoch must not commit, one
        // naming the new epoch does.
        let mut img = image();
        let old = img.brokers[&0].epoch;
        let register = register_broker(&img, 0, "127.0.0.1", 9092, None);
        for r in crate::controller::fencing::register_and_elect(&img, register) {
            apply_record(&mut img, &r);
        }
        let new = img.brokers[&0].epoch;
        assert!(new > old);
        let leader = img.brokers[&1].epoch;
        assert_eq!(
            code(&img, &request_v3(&[(0, old), (1, leader), (2, -1)]), 3),
            INELIGIBLE_REPLICA
        );
        assert_eq!(
            code(&img, &request_v3(&[(0, new), (1, leader), (2, -1)]), 3),
            codes::NONE
        );
    }

    #[test]
    fn every_member_is_checked_not_only_the_added_one() {
        // A shrink that keeps a member at a stale epoch is refused too (Kafka checks the
        // whole new ISR), and so is a member at the leader's own stale epoch.
        let img = image();
        let (e1, e2) = (img.brokers[&1].epoch, img.brokers[&2].epoch);
        assert_eq!(
            code(&img, &request_v3(&[(1, e1), (2, e2 + 1)]), 3),
            INELIGIBLE_REPLICA
        );
        assert_eq!(
            code(&img, &request_v3(&[(1, e1 + 1)]), 3),
            INELIGIBLE_REPLICA
        );
        assert_eq!(code(&img, &request_v3(&[(1, e1)]), 3), codes::NONE);
    }

    #[test]
    fn an_unregistered_member_is_ineligible() {
        let mut img = image();
        if let Some(p) = img
            .topics
            .get_mut("t")
            .and_then(|t| t.partitions.get_mut(&0))
        {
            p.replicas.push(7);
        }
        assert_eq!(
            code(&img, &request_v3(&[(1, -1), (2, -1), (7, -1)]), 3),
            INELIGIBLE_REPLICA
        );
    }

    #[test]
    fn unknown_partitions_and_stale_requesters() {
        let img = image();
        let mut req = request(1, 3, 5, &[1]);
        req.topics[0].partitions[0].partition_index = 9;
        assert_eq!(code(&img, &req, 2), codes::UNKNOWN_TOPIC_OR_PARTITION);
        let mut req = request(1, 3, 5, &[1]);
        req.topics[0].topic_id = Uuid::from_u128(77);
        assert_eq!(code(&img, &req, 2), codes::UNKNOWN_TOPIC_ID);
        let mut req = request(1, 3, 5, &[1]);
        req.broker_epoch = img.brokers[&1].epoch + 1;
        let (resp, records) = alter_partition(&img, &req, 2);
        assert_eq!(resp.error_code, codes::STALE_BROKER_EPOCH);
        assert!(records.is_empty());
    }
}
