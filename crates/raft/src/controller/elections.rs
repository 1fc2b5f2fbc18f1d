//! Leader elections an operator or a timer asks for, as Kafka's controller makes them:
//! ElectLeaders (preferred or unclean, for named partitions or all of them), the periodic
//! preferred-leader rebalance (`auto.leader.rebalance.enable`), and unclean elections for
//! leaderless partitions of topics with `unclean.leader.election.enable`.
//!
//! A valid leader is an in-sync replica on a registered, unfenced broker. A preferred
//! election makes the first replica leader when it is valid (or, when the current leader is
//! not valid, the first valid replica). An unclean election, only for a partition without a
//! leader, takes the first valid replica, else the first replica on a live broker, whose
//! log becomes the partition's: the ISR shrinks to it and records only other replicas had
//! are lost — which is what the setting accepts.

use vltava_protocol::messages::elect_leaders_response::{PartitionResult, ReplicaElectionResult};
use vltava_protocol::messages::{ElectLeadersRequest, ElectLeadersResponse};
use vltava_protocol::metadata::PartitionChangeRecord;

use super::TopicError;
use super::fencing::NO_LEADER;
use crate::apply::apply_record;
use crate::error::codes;
use crate::image::{ConfigResource, ConfigResourceKind, MetadataImage, PartitionImage};
use crate::records::MetadataRecord;

/// `ElectionType` of ElectLeaders v1+.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ElectionType {
    Preferred,
    Unclean,
}

impl ElectionType {
    /// From the wire value (0 preferred, 1 unclean).
    pub fn from_wire(v: i8) -> Option<Self> {
        match v {
            0 => Some(ElectionType::Preferred),
            1 => Some(ElectionType::Unclean),
            _ => None,
        }
    }
}

/// Most elections one rebalance or unclean pass proposes (Kafka's
/// `maxElectionsPerImbalance`); the rest wait for the next pass.
pub const MAX_ELECTIONS_PER_PASS: usize = 1000;

/// The topic config (and the broker setting it inherits).
pub const UNCLEAN_CONFIG: &str = "unclean.leader.election.enable";

fn live(image: &MetadataImage, broker: i32) -> bool {
    image.brokers.get(&broker).is_some_and(|b| !b.fenced)
}

fn valid_leader(image: &MetadataImage, p: &PartitionImage, broker: i32) -> bool {
    p.isr.contains(&broker) && live(image, broker)
}

/// Whether `topic` allows unclean elections: its own config, else the cluster's dynamic
/// default, else `static_default` (the controller's `unclean.leader.election.enable`).
pub fn unclean_enabled(image: &MetadataImage, topic: &str, static_default: bool) -> bool {
    let explicit = image
        .configs
        .get(&ConfigResource::topic(topic))
        .and_then(|m| m.get(UNCLEAN_CONFIG));
    let cluster = image
        .configs
        .get(&ConfigResource {
            kind: ConfigResourceKind::Broker,
            name: String::new(),
        })
        .and_then(|m| m.get(UNCLEAN_CONFIG));
    match explicit.or(cluster) {
        Some(v) => v.eq_ignore_ascii_case("true"),
        None => static_default,
    }
}

/// The change electing `leader` (and, for an unclean election, shrinking the ISR to it).
fn change(topic_id: vltava_protocol::Uuid, p: &PartitionImage, leader: i32) -> MetadataRecord {
    let isr = (!p.isr.contains(&leader)).then(|| vec![leader]);
    MetadataRecord::PartitionChange(PartitionChangeRecord {
        topic_id,
        partition_id: p.partition,
        leader,
        isr,
        ..Default::default()
    })
}

/// One partition's election: the record to commit, or why there is none.
pub fn elect_leader(
    image: &MetadataImage,
    topic: &str,
    partition: i32,
    kind: ElectionType,
) -> Result<MetadataRecord, TopicError> {
    let Some(t) = image.topics.get(topic) else {
        return Err(TopicError::new(
            codes::UNKNOWN_TOPIC_OR_PARTITION,
            format!("No such topic as {topic}"),
        ));
    };
    let Some(p) = t.partitions.get(&partition) else {
        return Err(TopicError::new(
            codes::UNKNOWN_TOPIC_OR_PARTITION,
            format!("No such partition as {topic}-{partition}"),
        ));
    };
    let preferred = p.replicas.first().copied().unwrap_or(NO_LEADER);
    let not_needed = match kind {
        ElectionType::Preferred => p.leader == preferred,
        ElectionType::Unclean => p.leader != NO_LEADER,
    };
    if not_needed {
        return Err(TopicError::new(
            codes::ELECTION_NOT_NEEDED,
            "The partition already has the leader this election would choose.",
        ));
    }
    let clean = match kind {
        ElectionType::Preferred if valid_leader(image, p, preferred) => Some(preferred),
        _ if valid_leader(image, p, p.leader) => None,
        _ => p
            .replicas
            .iter()
            .copied()
            .find(|r| valid_leader(image, p, *r)),
    };
    let leader = match (clean, kind) {
        (Some(l), _) => Some(l),
        (None, ElectionType::Unclean) if p.leader == NO_LEADER => {
            p.replicas.iter().copied().find(|r| live(image, *r))
        }
        (None, _) => None,
    };
    match (leader, kind) {
        (Some(l), _) if l != p.leader => Ok(change(t.id, p, l)),
        (_, ElectionType::Preferred) => Err(TopicError::new(
            codes::PREFERRED_LEADER_NOT_AVAILABLE,
            format!(
                "The preferred replica {preferred} of {topic}-{partition} is not an in-sync \
                 replica on a live broker."
            ),
        )),
        (_, ElectionType::Unclean) => Err(TopicError::new(
            codes::ELIGIBLE_LEADERS_NOT_AVAILABLE,
            format!("No replica of {topic}-{partition} is on a live broker."),
        )),
    }
}

/// The answer to an unknown election type. As Kafka: the request refused and each
/// partition named with it; naming no topic at all is an empty success (found by the
/// differential test against Kafka, `every_api`).
fn unknown_election_type(req: &ElectLeadersRequest) -> ElectLeadersResponse {
    if let Some(topics) = &req.topic_partitions {
        let message = format!("Unknown election type {}", req.election_type);
        let results = topics
            .iter()
            .map(|t| ReplicaElectionResult {
                topic: t.topic.clone(),
                partition_result: t
                    .partitions
                    .iter()
                    .map(|p| PartitionResult {
                        partition_id: *p,
                        error_code: codes::INVALID_REQUEST,
                        error_message: Some(message.as_str().into()),
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            })
            .collect();
        return ElectLeadersResponse {
            error_code: if topics.is_empty() {
                codes::NONE
            } else {
                codes::INVALID_REQUEST
            },
            replica_election_results: results,
            ..Default::default()
        };
    }
    ElectLeadersResponse {
        error_code: codes::INVALID_REQUEST,
        ..Default::default()
    }
}

/// ElectLeaders: results per named partition, or — for every partition (null topic
/// partitions) — for each partition that needed an election, as Kafka answers.
pub fn elect_leaders(
    image: &MetadataImage,
    req: &ElectLeadersRequest,
) -> (ElectLeadersResponse, Vec<MetadataRecord>) {
    let Some(kind) = ElectionType::from_wire(req.election_type) else {
        return (unknown_election_type(req), Vec::new());
    };
    // Elections later in the request see the ones before (a partition named twice).
    let mut after = image.clone();
    let mut records = Vec::new();
    let mut run = |topic: &str, partition: i32| {
        let outcome = elect_leader(&after, topic, partition, kind);
        if let Ok(r) = &outcome {
            apply_record(&mut after, r);
            records.push(r.clone());
        }
        let (error_code, error_message) = match outcome {
            Ok(_) => (codes::NONE, None),
            Err(e) => (e.code, Some(e.message.into())),
        };
        PartitionResult {
            partition_id: partition,
            error_code,
            error_message,
            ..Default::default()
        }
    };
    let results = match &req.topic_partitions {
        Some(topics) => topics
            .iter()
            .map(|t| ReplicaElectionResult {
                topic: t.topic.clone(),
                partition_result: t
                    .partitions
                    .iter()
                    .map(|p| run(t.topic.as_str(), *p))
                    .collect(),
                ..Default::default()
            })
            .collect(),
        None => image
            .topics
            .values()
            .map(|t| ReplicaElectionResult {
                topic: t.name.as_str().into(),
                partition_result: t
                    .partitions
                    .keys()
                    .map(|p| run(&t.name, *p))
                    .filter(|r| r.error_code != codes::ELECTION_NOT_NEEDED)
                    .collect(),
                ..Default::default()
            })
            .collect(),
    };
    (
        ElectLeadersResponse {
            replica_election_results: results,
            ..Default::default()
        },
        records,
    )
}

/// Whether some partition is led by another replica than its first while the first could
/// lead (what the periodic rebalance fixes).
pub fn leaders_imbalanced(image: &MetadataImage) -> bool {
    image.topics.values().any(|t| {
        t.partitions.values().any(|p| {
            let preferred = p.replicas.first().copied().unwrap_or(NO_LEADER);
            p.leader != preferred && valid_leader(image, p, preferred)
        })
    })
}

/// Preferred elections for up to [`MAX_ELECTIONS_PER_PASS`] imbalanced partitions.
pub fn balance_leaders(image: &MetadataImage) -> Vec<MetadataRecord> {
    let mut out = Vec::new();
    for t in image.topics.values() {
        for p in t.partitions.values() {
            if out.len() >= MAX_ELECTIONS_PER_PASS {
                return out;
            }
            let preferred = p.replicas.first().copied().unwrap_or(NO_LEADER);
            if p.leader != preferred && valid_leader(image, p, preferred) {
                out.push(change(t.id, p, preferred));
            }
        }
    }
    out
}

/// Unclean elections for up to [`MAX_ELECTIONS_PER_PASS`] leaderless partitions of topics
/// that allow them.
pub fn elect_unclean_leaders(image: &MetadataImage, static_default: bool) -> Vec<MetadataRecord> {
    let mut out = Vec::new();
    for t in image.topics.values() {
        if !t.partitions.values().any(|p| p.leader == NO_LEADER)
            || !unclean_enabled(image, &t.name, static_default)
        {
            continue;
        }
        for p in t.partitions.values().filter(|p| p.leader == NO_LEADER) {
            if out.len() >= MAX_ELECTIONS_PER_PASS {
                return out;
            }
            if let Ok(r) = elect_leader(image, &t.name, p.partition, ElectionType::Unclean) {
                out.push(r);
            }
        }
    }
    out
}

/// `records` followed by the unclean elections they make necessary (a fencing that left
/// partitions without a leader, a broker back that can lead them uncleanly), when any
/// topic could allow them.
pub fn then_unclean_elections(
    image: &MetadataImage,
    mut records: Vec<MetadataRecord>,
    static_default: bool,
) -> Vec<MetadataRecord> {
    let possible = static_default
        || image.configs.values().any(|m| {
            m.get(UNCLEAN_CONFIG)
                .is_some_and(|v| v.eq_ignore_ascii_case("true"))
        });
    if !possible {
        return records;
    }
    let mut after = image.clone();
    for r in &records {
        apply_record(&mut after, r);
    }
    let unclean = elect_unclean_leaders(&after, static_default);
    if !unclean.is_empty() {
        tracing::warn!(
            partitions = unclean.len(),
            "unclean leader elections for offline partitions: records only other replicas \
             held are lost"
        );
    }
    records.extend(unclean);
    records
}

#[cfg(test)]
mod tests;
