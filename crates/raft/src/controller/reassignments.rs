//! Partition reassignment (KIP-455): AlterPartitionReassignments starts, changes or cancels
//! the move of a partition's replicas, ListPartitionReassignments lists the ongoing ones, and
//! [`maybe_complete`] finishes one once every replica it adds is in the ISR.
//!
//! An ongoing reassignment lives in the partition state (`PartitionRecord` /
//! `PartitionChangeRecord` fields `AddingReplicas` and `RemovingReplicas`), so it survives a
//! controller failover like everything else in the metadata log. While it runs, the
//! partition's replicas are the target followed by the replicas being removed; the new
//! replicas fetch from the leader like any follower and join the ISR through the leader's
//! AlterPartition. When every adding replica is in the ISR (and the ISR without the removed
//! replicas is not empty), the replicas become the target, the ISR loses the removed
//! replicas, and a removed leader hands over to the first target replica in the ISR on a
//! live broker (a new leader epoch). A cancel (`null` replicas) takes the adding replicas out
//! again and keeps the rest, as Kafka does.
//!
//! Where Kafka compares a new target with the partition's current (merged) replicas, the
//! adding replicas here are the target's replicas outside the replicas the partition had
//! before any reassignment: a second reassignment that keeps a replica the first one was
//! still adding keeps waiting for it to join the ISR.

use vltava_protocol::Uuid;
use vltava_protocol::messages::alter_partition_reassignments_response::{
    ReassignablePartitionResponse, ReassignableTopicResponse,
};
use vltava_protocol::messages::list_partition_reassignments_response::{
    OngoingPartitionReassignment, OngoingTopicReassignment,
};
use vltava_protocol::messages::{
    AlterPartitionReassignmentsRequest, AlterPartitionReassignmentsResponse,
    ListPartitionReassignmentsRequest, ListPartitionReassignmentsResponse,
};
use vltava_protocol::metadata::PartitionChangeRecord;

use super::TopicError;
use super::elections::unclean_enabled;
use super::fencing::NO_LEADER;
use super::placement::validate_assignment;
use crate::apply::apply_record;
use crate::error::codes;
use crate::image::{MetadataImage, PartitionImage};
use crate::records::MetadataRecord;

pub use vltava_protocol::error_codes::NO_REASSIGNMENT_IN_PROGRESS;

/// `leader` of a PartitionChangeRecord that leaves the leader as it is.
const LEADER_UNCHANGED: i32 = -2;

/// `list` without the members of `drop`, in order.
fn without(list: &[i32], drop: &[i32]) -> Vec<i32> {
    list.iter().copied().filter(|r| !drop.contains(r)).collect()
}

fn live(image: &MetadataImage, broker: i32) -> bool {
    image.brokers.get(&broker).is_some_and(|b| !b.fenced)
}

/// The leader after a change to `replicas` and `isr`: the current one when it stays in the
/// ISR, else the first replica in the ISR on a live broker; `None` when there is none.
fn leader_for(image: &MetadataImage, current: i32, replicas: &[i32], isr: &[i32]) -> Option<i32> {
    if isr.contains(&current) {
        return Some(current);
    }
    replicas
        .iter()
        .copied()
        .find(|r| isr.contains(r) && live(image, *r))
}

/// The record that completes the reassignment of `p` (of topic `topic_id`) when it can
/// complete: every adding replica is in the ISR, the ISR without the removed replicas is
/// not empty, and a leader for the target is available. `None` otherwise, or when no
/// reassignment is ongoing.
pub fn maybe_complete(
    image: &MetadataImage,
    topic_id: Uuid,
    p: &PartitionImage,
) -> Option<MetadataRecord> {
    if !p.reassigning() {
        return None;
    }
    if !p.adding_replicas.iter().all(|r| p.isr.contains(r)) {
        return None;
    }
    let target = without(&p.replicas, &p.removing_replicas);
    let isr = without(&p.isr, &p.removing_replicas);
    if isr.is_empty() {
        return None;
    }
    let leader = leader_for(image, p.leader, &target, &isr)?;
    Some(MetadataRecord::PartitionChange(PartitionChangeRecord {
        topic_id,
        partition_id: p.partition,
        leader: if leader == p.leader {
            LEADER_UNCHANGED
        } else {
            leader
        },
        isr: (isr != p.isr).then_some(isr),
        replicas: Some(target),
        adding_replicas: Some(Vec::new()),
        removing_replicas: Some(Vec::new()),
        ..Default::default()
    }))
}

/// The records that move partition `p` of `topic` to `target`: the ongoing reassignment
/// (none when nothing changes), and its completion when it can complete at once.
fn start(
    image: &MetadataImage,
    topic_id: Uuid,
    p: &PartitionImage,
    target: &[i32],
) -> Result<Vec<MetadataRecord>, TopicError> {
    // Kafka checks the brokers in id order: the first problem in that order is reported.
    let mut sorted = target.to_vec();
    sorted.sort_unstable();
    validate_assignment(image, &sorted)?;
    let original = without(&p.replicas, &p.adding_replicas);
    let adding = without(target, &original);
    let removing = without(&p.replicas, target);
    let mut merged = target.to_vec();
    merged.extend(&removing);
    if merged == p.replicas && adding == p.adding_replicas && removing == p.removing_replicas {
        return Ok(Vec::new());
    }
    let change = PartitionChangeRecord {
        topic_id,
        partition_id: p.partition,
        leader: LEADER_UNCHANGED,
        replicas: (merged != p.replicas).then_some(merged.clone()),
        adding_replicas: Some(adding.clone()),
        removing_replicas: Some(removing.clone()),
        ..Default::default()
    };
    let mut after = p.clone();
    after.replicas = merged;
    after.adding_replicas = adding;
    after.removing_replicas = removing;
    let mut records = vec![MetadataRecord::PartitionChange(change)];
    records.extend(maybe_complete(image, topic_id, &after));
    Ok(records)
}

/// The record that cancels the ongoing reassignment of partition `p` of `topic`: the adding
/// replicas leave the replicas and the ISR. When that would empty the ISR, the first
/// remaining replica is elected uncleanly if the topic allows it
/// (`unclean.leader.election.enable`, else INVALID_REPLICA_ASSIGNMENT).
fn cancel(
    image: &MetadataImage,
    topic: &str,
    topic_id: Uuid,
    p: &PartitionImage,
    unclean_default: bool,
) -> Result<MetadataRecord, TopicError> {
    if !p.reassigning() {
        return Err(TopicError::new(
            NO_REASSIGNMENT_IN_PROGRESS,
            "No partition reassignment is in progress.",
        ));
    }
    let replicas = without(&p.replicas, &p.adding_replicas);
    let mut isr = without(&p.isr, &p.adding_replicas);
    if isr.is_empty() {
        if !unclean_enabled(image, topic, unclean_default) {
            return Err(TopicError::new(
                codes::INVALID_REPLICA_ASSIGNMENT,
                format!(
                    "Unable to revert partition assignment for {topic}:{} because it would \
                     require an unclean leader election.",
                    p.partition
                ),
            ));
        }
        isr.extend(replicas.first());
    }
    let leader = leader_for(image, p.leader, &replicas, &isr).unwrap_or(NO_LEADER);
    Ok(MetadataRecord::PartitionChange(PartitionChangeRecord {
        topic_id,
        partition_id: p.partition,
        leader: if leader == p.leader {
            LEADER_UNCHANGED
        } else {
            leader
        },
        isr: (isr != p.isr).then_some(isr),
        replicas: (replicas != p.replicas).then_some(replicas),
        adding_replicas: Some(Vec::new()),
        removing_replicas: Some(Vec::new()),
        ..Default::default()
    }))
}

/// Kafka's answer for a topic or partition the image does not have.
fn unknown(image: &MetadataImage, topic: &str, partition: i32) -> TopicError {
    let message = if image.topics.contains_key(topic) {
        format!("Unable to find partition {topic}:{partition}.")
    } else {
        format!("Unable to find a topic named {topic}.")
    };
    TopicError::new(codes::UNKNOWN_TOPIC_OR_PARTITION, message)
}

/// One partition of the request against `image`: its records, or why there are none.
fn reassign_one(
    image: &MetadataImage,
    topic: &str,
    partition: i32,
    target: Option<&[i32]>,
    unclean_default: bool,
) -> Result<Vec<MetadataRecord>, TopicError> {
    let Some((t, p)) = image
        .topics
        .get(topic)
        .and_then(|t| t.partitions.get(&partition).map(|p| (t, p)))
    else {
        return Err(unknown(image, topic, partition));
    };
    match target {
        Some(target) => start(image, t.id, p, target),
        None => cancel(image, topic, t.id, p, unclean_default).map(|r| vec![r]),
    }
}

/// AlterPartitionReassignments: each partition's reassignment started, changed or
/// cancelled (`null` replicas), in request order; later partitions of the request see the
/// records of earlier ones. `unclean_default` is the controller's
/// `unclean.leader.election.enable`, which a cancel that would empty the ISR needs.
pub fn alter_partition_reassignments(
    image: &MetadataImage,
    req: &AlterPartitionReassignmentsRequest,
    unclean_default: bool,
) -> (AlterPartitionReassignmentsResponse, Vec<MetadataRecord>) {
    let mut after: Option<MetadataImage> = None;
    let mut records = Vec::new();
    let mut resp = AlterPartitionReassignmentsResponse::default();
    for t in &req.topics {
        let mut out = ReassignableTopicResponse {
            name: t.name.clone(),
            ..Default::default()
        };
        for p in &t.partitions {
            let current = after.as_ref().unwrap_or(image);
            let result = reassign_one(
                current,
                t.name.as_str(),
                p.partition_index,
                p.replicas.as_deref(),
                unclean_default,
            );
            let mut answer = ReassignablePartitionResponse {
                partition_index: p.partition_index,
                ..Default::default()
            };
            match result {
                Ok(new) => {
                    if !new.is_empty() {
                        let img = after.get_or_insert_with(|| image.clone());
                        for r in &new {
                            apply_record(img, r);
                        }
                        records.extend(new);
                    }
                }
                Err(e) => {
                    answer.error_code = e.code;
                    answer.error_message = Some(e.message.into());
                }
            }
            out.partitions.push(answer);
        }
        resp.responses.push(out);
    }
    (resp, records)
}

/// The partition's ongoing reassignment as ListPartitionReassignments lists it.
fn ongoing(p: &PartitionImage) -> OngoingPartitionReassignment {
    OngoingPartitionReassignment {
        partition_index: p.partition,
        replicas: p.replicas.clone(),
        adding_replicas: p.adding_replicas.clone(),
        removing_replicas: p.removing_replicas.clone(),
        ..Default::default()
    }
}

/// ListPartitionReassignments: the ongoing reassignments of every partition (`null`
/// topics) or of the partitions named; unknown topics and partitions, and partitions not
/// being reassigned, are left out, as Kafka does.
pub fn list_partition_reassignments(
    image: &MetadataImage,
    req: &ListPartitionReassignmentsRequest,
) -> ListPartitionReassignmentsResponse {
    let mut resp = ListPartitionReassignmentsResponse::default();
    let mut push = |name: &str, partitions: Vec<OngoingPartitionReassignment>| {
        if !partitions.is_empty() {
            resp.topics.push(OngoingTopicReassignment {
                name: name.into(),
                partitions,
                ..Default::default()
            });
        }
    };
    match &req.topics {
        None => {
            for t in image.topics.values() {
                let parts = t
                    .partitions
                    .values()
                    .filter(|p| p.reassigning())
                    .map(ongoing)
                    .collect();
                push(&t.name, parts);
            }
        }
        Some(topics) => {
            for named in topics {
                let Some(t) = image.topics.get(named.name.as_str()) else {
                    continue;
                };
                let parts = named
                    .partition_indexes
                    .iter()
                    .filter_map(|i| t.partitions.get(i))
                    .filter(|p| p.reassigning())
                    .map(ongoing)
                    .collect();
                push(&t.name, parts);
            }
        }
    }
    resp
}

#[cfg(test)]
mod tests;
