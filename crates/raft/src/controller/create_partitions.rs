//! CreatePartitions: grows a topic's partition count (never shrinks it), placing new replicas
//! round-robin or from manual assignments; one PartitionRecord per new partition.

use std::collections::HashSet;

use vltava_protocol::messages::create_partitions_response::CreatePartitionsTopicResult;
use vltava_protocol::messages::{CreatePartitionsRequest, CreatePartitionsResponse};

use super::TopicError;
use super::create_topics::{MAX_PARTITIONS_PER_TOPIC, new_partition};
use super::placement::{place_replicas, validate_assignment};
use crate::apply::partition_record;
use crate::error::codes;
use crate::image::MetadataImage;
use crate::records::MetadataRecord;

/// Validates and plans a CreatePartitions request.
pub fn create_partitions(
    image: &MetadataImage,
    req: &CreatePartitionsRequest,
    _version: i16,
) -> (CreatePartitionsResponse, Vec<MetadataRecord>) {
    let mut seen = HashSet::new();
    let duplicates: HashSet<&str> = req
        .topics
        .iter()
        .filter(|t| !seen.insert(t.name.as_str()))
        .map(|t| t.name.as_str())
        .collect();
    let mut records = Vec::new();
    let mut results = Vec::with_capacity(req.topics.len());
    for t in &req.topics {
        let outcome = if duplicates.contains(t.name.as_str()) {
            Err(TopicError::new(
                codes::INVALID_REQUEST,
                "Duplicate topic name in the request.",
            ))
        } else {
            plan(image, t)
        };
        let mut r = CreatePartitionsTopicResult {
            name: t.name.clone(),
            ..Default::default()
        };
        match outcome {
            Ok(new_records) => {
                if !req.validate_only {
                    records.extend(new_records);
                }
            }
            Err(e) => {
                r.error_code = e.code;
                r.error_message = Some(e.message.into());
            }
        }
        results.push(r);
    }
    (
        CreatePartitionsResponse {
            results,
            ..Default::default()
        },
        records,
    )
}

// Long, and kept whole: Kafka's checks of one CreatePartitions topic in Kafka's order,
// each a refusal with Kafka's message, then its records.
fn plan(
    image: &MetadataImage,
    t: &vltava_protocol::messages::create_partitions_request::CreatePartitionsTopic,
) -> Result<Vec<MetadataRecord>, TopicError> {
    let Some(topic) = image.topics.get(t.name.as_str()) else {
        return Err(TopicError::new(
            codes::UNKNOWN_TOPIC_OR_PARTITION,
            "This server does not host this topic-partition.",
        ));
    };
    let current = topic.partitions.len() as i32;
    if t.count < current {
        return Err(TopicError::new(
            codes::INVALID_PARTITIONS,
            format!(
                "The topic {} currently has {current} partition(s); {} would not be an increase.",
                t.name, t.count
            ),
        ));
    }
    if t.count == current {
        return Err(TopicError::new(
            codes::INVALID_PARTITIONS,
            format!("Topic already has {current} partition(s)."),
        ));
    }
    if t.count > MAX_PARTITIONS_PER_TOPIC {
        return Err(TopicError::new(
            codes::INVALID_PARTITIONS,
            format!(
                "Requested {} partitions, more than the limit of {MAX_PARTITIONS_PER_TOPIC} per topic.",
                t.count
            ),
        ));
    }
    let add = t.count - current;
    let rf = topic
        .partitions
        .values()
        .next()
        .map(|p| p.replicas.len())
        .unwrap_or(1);
    let replica_lists = match &t.assignments {
        Some(assignments) => {
            if assignments.len() != add as usize {
                return Err(TopicError::new(
                    codes::INVALID_REPLICA_ASSIGNMENT,
                    format!(
                        "Attempted to add {add} additional partition(s), but only {} assignment(s) were specified.",
                        assignments.len()
                    ),
                ));
            }
            let mut lists = Vec::with_capacity(assignments.len());
            for a in assignments {
                validate_assignment(image, &a.broker_ids)?;
                if a.broker_ids.len() != rf {
                    return Err(TopicError::new(
                        codes::INVALID_REPLICA_ASSIGNMENT,
                        format!(
                            "The manual partition assignment includes a partition with {} replica(s), but this is not consistent with previous partitions, which have {rf} replica(s).",
                            a.broker_ids.len()
                        ),
                    ));
                }
                lists.push(a.broker_ids.clone());
            }
            lists
        }
        None => place_replicas(
            &image.live_brokers(),
            add,
            i16::try_from(rf).unwrap_or(i16::MAX),
            current,
        )?,
    };
    let live = image.live_brokers();
    replica_lists
        .into_iter()
        .enumerate()
        .map(|(i, replicas)| {
            let p = new_partition(current + i as i32, replicas, &live)?;
            Ok(MetadataRecord::Partition(partition_record(topic.id, &p)))
        })
        .collect()
}
