//! CreateTopics: validates each topic (name, existence, collisions, partitions, replication
//! factor, manual assignments, configs) and turns the valid ones into TopicRecord +
//! PartitionRecords + ConfigRecords. Answers per topic with Kafka's error codes.

use std::collections::{BTreeMap, HashMap, HashSet};

use vltava_protocol::Uuid;
use vltava_protocol::messages::create_topics_response::{
    CreatableTopicConfigs, CreatableTopicResult,
};
use vltava_protocol::messages::{CreateTopicsRequest, CreateTopicsResponse};
use vltava_protocol::metadata::{ConfigRecord, TopicRecord};

use super::configs_schema::{TOPIC_CONFIGS, topic_config, validate_value};
use super::effective_configs::{broker_synonym, source};
use super::placement::{place_replicas, validate_assignment};
use super::topic_name::{collision_key, validate_topic_name};
use super::{IdSource, TopicError, opt_msg};
use crate::apply::partition_record;
use crate::config::TopicDefaults;
use crate::error::codes;
use crate::image::{ConfigResource, ConfigResourceKind, MetadataImage, PartitionImage};
use crate::records::MetadataRecord;

/// Most partitions one topic may have (a named bound on the records one request creates).
pub const MAX_PARTITIONS_PER_TOPIC: i32 = 100_000;

/// Validates and plans a CreateTopics request. Returns the response and the records to commit
/// (none when `validate_only`).
pub fn create_topics(
    image: &MetadataImage,
    req: &CreateTopicsRequest,
    version: i16,
    defaults: &TopicDefaults,
    ids: &mut dyn IdSource,
) -> (CreateTopicsResponse, Vec<MetadataRecord>) {
    let mut records = Vec::new();
    let mut results = Vec::with_capacity(req.topics.len());
    let mut seen = HashSet::new();
    let duplicates: HashSet<&str> = req
        .topics
        .iter()
        .filter(|t| !seen.insert(t.name.as_str()))
        .map(|t| t.name.as_str())
        .collect();
    // Collision key → the name that holds it (named in the refusal, as Kafka does).
    let mut taken: HashMap<String, String> = image
        .topics
        .keys()
        .map(|n| (collision_key(n), n.clone()))
        .collect();
    let live = image.live_brokers();
    for topic in &req.topics {
        let name = topic.name.as_str();
        let outcome = if duplicates.contains(name) {
            Err(TopicError::new(
                codes::INVALID_REQUEST,
                format!("Duplicate topic name {name} in the request."),
            ))
        } else {
            plan_topic(image, topic, defaults, &live, &taken, ids)
        };
        let mut result = CreatableTopicResult {
            name: topic.name.clone(),
            ..Default::default()
        };
        match outcome {
            Ok(planned) => {
                taken.insert(collision_key(name), name.to_string());
                if version >= 7 {
                    result.topic_id = planned.id;
                }
                if version >= 5 {
                    result.num_partitions = planned.partitions.len() as i32;
                    result.replication_factor = planned.replication_factor;
                    result.configs = Some(describe_configs(image, &planned.configs));
                }
                if !req.validate_only {
                    planned.into_records(name, &mut records);
                }
            }
            Err(e) => {
                result.error_code = e.code;
                result.error_message = opt_msg(version >= 1, e.message);
            }
        }
        results.push(result);
    }
    (
        CreateTopicsResponse {
            topics: results,
            ..Default::default()
        },
        records,
    )
}

struct PlannedTopic {
    id: Uuid,
    replication_factor: i16,
    partitions: Vec<PartitionImage>,
    configs: BTreeMap<String, String>,
}

impl PlannedTopic {
    fn into_records(self, name: &str, out: &mut Vec<MetadataRecord>) {
        out.push(MetadataRecord::Topic(TopicRecord {
            name: name.into(),
            topic_id: self.id,
            ..Default::default()
        }));
        for (k, v) in &self.configs {
            out.push(MetadataRecord::Config(ConfigRecord {
                resource_type: ConfigResourceKind::Topic.code(),
                resource_name: name.into(),
                name: k.as_str().into(),
                value: Some(v.as_str().into()),
                ..Default::default()
            }));
        }
        for p in &self.partitions {
            out.push(MetadataRecord::Partition(partition_record(self.id, p)));
        }
    }
}

fn plan_topic(
    image: &MetadataImage,
    topic: &vltava_protocol::messages::create_topics_request::CreatableTopic,
    defaults: &TopicDefaults,
    live: &[i32],
    taken: &HashMap<String, String>,
    ids: &mut dyn IdSource,
) -> Result<PlannedTopic, TopicError> {
    let name = topic.name.as_str();
    validate_topic_name(name).map_err(|m| TopicError::new(codes::INVALID_TOPIC_EXCEPTION, m))?;
    if image.topics.contains_key(name) {
        return Err(TopicError::new(
            codes::TOPIC_ALREADY_EXISTS,
            format!("Topic '{name}' already exists."),
        ));
    }
    if let Some(existing) = taken.get(&collision_key(name)) {
        return Err(TopicError::new(
            codes::INVALID_TOPIC_EXCEPTION,
            format!("Topic '{name}' collides with existing topic: {existing}"),
        ));
    }
    let configs = validate_create_configs(topic)?;
    let assignments = if !topic.assignments.is_empty() {
        manual_assignments(image, topic)?
    } else {
        placed_assignments(topic, defaults, live)?
    };
    let id = ids.next_topic_id(image);
    let replication_factor = assignments.first().map(|r| r.len() as i16).unwrap_or(0);
    let partitions = assignments
        .into_iter()
        .enumerate()
        .map(|(i, replicas)| new_partition(i as i32, replicas, live))
        .collect::<Result<_, _>>()?;
    Ok(PlannedTopic {
        id,
        replication_factor,
        partitions,
        configs,
    })
}

/// A request's manual assignment, checked: numbered from 0 without gaps or repeats,
/// each on known brokers, all with the same number of replicas.
fn manual_assignments(
    image: &MetadataImage,
    topic: &vltava_protocol::messages::create_topics_request::CreatableTopic,
) -> Result<Vec<Vec<i32>>, TopicError> {
    if topic.num_partitions != -1 {
        return Err(TopicError::new(
            codes::INVALID_REQUEST,
            "A manual partition assignment was specified, but numPartitions was not set to -1.",
        ));
    }
    if topic.replication_factor != -1 {
        return Err(TopicError::new(
            codes::INVALID_REQUEST,
            "A manual partition assignment was specified, but replicationFactor was not set to -1.",
        ));
    }
    if topic.assignments.len() > MAX_PARTITIONS_PER_TOPIC as usize {
        return Err(too_many_partitions(topic.assignments.len() as i64));
    }
    let mut by_index = BTreeMap::new();
    for a in &topic.assignments {
        if by_index
            .insert(a.partition_index, a.broker_ids.clone())
            .is_some()
        {
            return Err(TopicError::new(
                codes::INVALID_REPLICA_ASSIGNMENT,
                format!(
                    "Partition {} appears more than once in the manual partition assignment.",
                    a.partition_index
                ),
            ));
        }
    }
    let mut out = Vec::with_capacity(by_index.len());
    let mut expected_rf = None;
    for (i, (idx, replicas)) in by_index.into_iter().enumerate() {
        if idx != i as i32 {
            return Err(TopicError::new(
                codes::INVALID_REPLICA_ASSIGNMENT,
                format!(
                    "Partitions should be numbered consecutively from 0, but partition {i} is missing."
                ),
            ));
        }
        validate_assignment(image, &replicas)?;
        match expected_rf {
            None => expected_rf = Some(replicas.len()),
            Some(rf) if rf != replicas.len() => {
                return Err(TopicError::new(
                    codes::INVALID_REPLICA_ASSIGNMENT,
                    "All partitions in the manual partition assignment must have the same number of replicas.",
                ));
            }
            Some(_) => {}
        }
        out.push(replicas);
    }
    Ok(out)
}

/// The replicas of a topic created by partition count and replication factor (or
/// the defaults), placed over the live brokers.
fn placed_assignments(
    topic: &vltava_protocol::messages::create_topics_request::CreatableTopic,
    defaults: &TopicDefaults,
    live: &[i32],
) -> Result<Vec<Vec<i32>>, TopicError> {
    let partitions = match topic.num_partitions {
        -1 => defaults.num_partitions,
        n => n,
    };
    if partitions <= 0 {
        return Err(TopicError::new(
            codes::INVALID_PARTITIONS,
            "Number of partitions was set to an invalid non-positive value.",
        ));
    }
    if partitions > MAX_PARTITIONS_PER_TOPIC {
        return Err(too_many_partitions(i64::from(partitions)));
    }
    let rf = match topic.replication_factor {
        -1 => defaults.replication_factor,
        n => n,
    };
    if rf <= 0 {
        return Err(TopicError::new(
            codes::INVALID_REPLICATION_FACTOR,
            "Replication factor must be larger than 0, or -1 to use the default value.",
        ));
    }
    place_replicas(live, partitions, rf, 0)
}

/// A new partition: its live replicas (in `live`, the unfenced brokers) are the ISR and
/// the first of them leads, as Kafka; a manual assignment may name fenced brokers, which
/// start out of the ISR, and one naming only fenced brokers is refused
/// (INVALID_REPLICA_ASSIGNMENT) — a new partition never has a fenced leader.
pub(crate) fn new_partition(
    partition: i32,
    replicas: Vec<i32>,
    live: &[i32],
) -> Result<PartitionImage, TopicError> {
    let isr: Vec<i32> = replicas
        .iter()
        .copied()
        .filter(|r| live.contains(r))
        .collect();
    let Some(&leader) = isr.first() else {
        return Err(TopicError::new(
            codes::INVALID_REPLICA_ASSIGNMENT,
            format!(
                "All brokers specified in the manual partition assignment for partition {partition} are fenced or in controlled shutdown."
            ),
        ));
    };
    Ok(PartitionImage::new(partition, leader, replicas, isr))
}

fn too_many_partitions(n: i64) -> TopicError {
    TopicError::new(
        codes::INVALID_PARTITIONS,
        format!(
            "Requested {n} partitions, more than the limit of {MAX_PARTITIONS_PER_TOPIC} per topic."
        ),
    )
}

fn validate_create_configs(
    topic: &vltava_protocol::messages::create_topics_request::CreatableTopic,
) -> Result<BTreeMap<String, String>, TopicError> {
    let mut out = BTreeMap::new();
    for c in &topic.configs {
        let name = c.name.as_str();
        let Some(def) = topic_config(name) else {
            return Err(TopicError::new(
                codes::INVALID_CONFIG,
                format!("Unknown topic config name: {name}"),
            ));
        };
        let Some(value) = &c.value else {
            return Err(TopicError::new(
                codes::INVALID_CONFIG,
                format!("Null value not supported for topic configs: {name}"),
            ));
        };
        validate_value(def, value).map_err(|m| TopicError::new(codes::INVALID_CONFIG, m))?;
        out.insert(name.to_string(), value.to_string());
    }
    Ok(out)
}

/// Every topic config with its value and source, as CreateTopics v5+ returns them: explicit,
/// else the dynamic cluster-wide broker default, else Kafka's default.
fn describe_configs(
    image: &MetadataImage,
    explicit: &BTreeMap<String, String>,
) -> Vec<CreatableTopicConfigs> {
    let cluster = image.configs.get(&ConfigResource {
        kind: ConfigResourceKind::Broker,
        name: String::new(),
    });
    TOPIC_CONFIGS
        .iter()
        .map(|d| {
            let inherited = broker_synonym(d.name)
                .and_then(|syn| cluster.and_then(|m| m.get(syn)))
                .map(|v| (v.as_str(), source::DYNAMIC_DEFAULT_BROKER_CONFIG));
            let (value, source) = match explicit.get(d.name) {
                Some(v) => (v.as_str(), source::DYNAMIC_TOPIC_CONFIG),
                None => inherited.unwrap_or((d.default, source::DEFAULT_CONFIG)),
            };
            CreatableTopicConfigs {
                name: d.name.into(),
                value: Some(value.into()),
                read_only: false,
                config_source: source,
                is_sensitive: false,
                ..Default::default()
            }
        })
        .collect()
}
