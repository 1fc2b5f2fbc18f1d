//! DeleteTopics by name (v0-5 and v6+) or by topic id (v6+): one RemoveTopicRecord per
//! deleted topic (replay drops the topic's partitions and configs with it).

use std::collections::HashSet;

use vltava_protocol::messages::delete_topics_response::DeletableTopicResult;
use vltava_protocol::messages::{DeleteTopicsRequest, DeleteTopicsResponse};
use vltava_protocol::metadata::RemoveTopicRecord;
use vltava_protocol::{SharedStr, Uuid};

use super::{TopicError, opt_msg};
use crate::error::codes;
use crate::image::MetadataImage;
use crate::records::MetadataRecord;

/// Validates and plans a DeleteTopics request.
pub fn delete_topics(
    image: &MetadataImage,
    req: &DeleteTopicsRequest,
    version: i16,
) -> (DeleteTopicsResponse, Vec<MetadataRecord>) {
    // (name as requested, id as requested)
    let targets: Vec<(Option<SharedStr>, Uuid)> = if version >= 6 {
        req.topics
            .iter()
            .map(|t| (t.name.clone(), t.topic_id))
            .collect()
    } else {
        req.topic_names
            .iter()
            .map(|n| (Some(n.clone()), Uuid::ZERO))
            .collect()
    };
    let mut records = Vec::new();
    let mut removed: HashSet<Uuid> = HashSet::new();
    let mut seen_names = HashSet::new();
    let mut seen_ids = HashSet::new();
    let mut responses = Vec::with_capacity(targets.len());
    for (name, id) in targets {
        let duplicate = match (&name, id.is_zero()) {
            (Some(n), true) => !seen_names.insert(n.to_string()),
            (None, false) => !seen_ids.insert(id),
            _ => false,
        };
        let outcome = if duplicate {
            Err(TopicError::new(
                codes::INVALID_REQUEST,
                "Duplicate topic in the request.",
            ))
        } else {
            resolve(image, name.as_ref(), id)
        };
        let mut r = DeletableTopicResult {
            name: name.clone(),
            ..Default::default()
        };
        match outcome {
            Ok((resolved_name, resolved_id)) => {
                r.name = Some(resolved_name.as_str().into());
                if version >= 6 {
                    r.topic_id = resolved_id;
                }
                if removed.insert(resolved_id) {
                    records.push(MetadataRecord::RemoveTopic(RemoveTopicRecord {
                        topic_id: resolved_id,
                        ..Default::default()
                    }));
                }
            }
            Err(e) => {
                if version >= 6 {
                    r.topic_id = id;
                } else if r.name.is_none() {
                    r.name = Some(SharedStr::default());
                }
                r.error_code = e.code;
                r.error_message = opt_msg(version >= 5, e.message);
            }
        }
        responses.push(r);
    }
    (
        DeleteTopicsResponse {
            responses,
            ..Default::default()
        },
        records,
    )
}

fn resolve(
    image: &MetadataImage,
    name: Option<&SharedStr>,
    id: Uuid,
) -> Result<(String, Uuid), TopicError> {
    match (name, id.is_zero()) {
        (Some(_), false) => Err(TopicError::new(
            codes::INVALID_REQUEST,
            "Topic name and topic id may not both be set.",
        )),
        (Some(n), true) => image
            .topics
            .get(n.as_str())
            .map(|t| (t.name.clone(), t.id))
            .ok_or_else(|| {
                TopicError::new(
                    codes::UNKNOWN_TOPIC_OR_PARTITION,
                    "This server does not host this topic-partition.",
                )
            }),
        (None, false) => image
            .topic_by_id(&id)
            .map(|t| (t.name.clone(), t.id))
            .ok_or_else(|| {
                TopicError::new(
                    codes::UNKNOWN_TOPIC_ID,
                    "This server does not host this topic ID.",
                )
            }),
        (None, true) => Err(TopicError::new(
            codes::INVALID_REQUEST,
            "Neither topic name nor topic id was set.",
        )),
    }
}
