//! Metadata under an authorizer: a topic is shown only to principals that may DESCRIBE it
//! (named ones they may not get TOPIC_AUTHORIZATION_FAILED, the rest of an all-topics answer
//! leaves them out); a missing topic is auto-created only for principals that may CREATE it
//! (on the cluster or the topic), else it too is TOPIC_AUTHORIZATION_FAILED; the authorized
//! operations of topics and cluster are filled when the request asks.

use std::collections::HashSet;

use vltava_protocol::messages::MetadataRequest;
use vltava_protocol::messages::metadata_response::MetadataResponseTopic;
use vltava_protocol::{RequestBody, ResponseBody};
use vltava_security::acl::{AclOperation, CLUSTER_NAME, ResourceType};

use super::topics::split_off;
use super::{Access, Checked, TOPIC_AUTHORIZATION_FAILED, post};
use crate::metadata_view::MetadataView;

/// Narrows a Metadata request and prepares its answer's filtering.
pub fn metadata(
    a: &Access,
    metadata: &MetadataView,
    auto_create: bool,
    mut r: MetadataRequest,
    version: i16,
) -> Checked {
    let all = r.topics.is_none() || (version == 0 && r.topics.as_ref().is_some_and(Vec::is_empty));
    let may_create_all = a.cluster(AclOperation::Create);
    let creates = auto_create && (version < 4 || r.allow_auto_topic_creation);
    let mut denied = Vec::new();
    let mut kept: HashSet<String> = HashSet::new();
    if let (false, Some(topics)) = (all, r.topics.as_mut()) {
        denied = split_off(topics, |t| {
            let (name, known) = match &t.name {
                Some(n) => (Some(n.to_string()), metadata.topic(n.as_str()).is_some()),
                None => (
                    metadata.topic_by_id(t.topic_id).map(|m| m.name.clone()),
                    true,
                ),
            };
            let Some(name) = name else {
                return false;
            };
            if !a.topic(AclOperation::Describe, &name) {
                return true;
            }
            !known && creates && !may_create_all && !a.topic(AclOperation::Create, &name)
        });
        for t in topics.iter() {
            match &t.name {
                Some(n) => kept.insert(n.to_string()),
                None => kept.insert(format!("id:{}", t.topic_id.as_u128())),
            };
        }
    }
    let topic_ops = r.include_topic_authorized_operations;
    let cluster_ops = r.include_cluster_authorized_operations;
    let a = a.clone();
    let merge = post(move |resp| match resp {
        ResponseBody::Metadata(mut m) => {
            let shown = |t: &MetadataResponseTopic| {
                let name = t.name.as_ref().map(|n| n.to_string()).unwrap_or_default();
                if all {
                    a.topic(AclOperation::Describe, &name)
                } else {
                    kept.contains(&name) || kept.contains(&format!("id:{}", t.topic_id.as_u128()))
                }
            };
            m.topics.retain(shown);
            if topic_ops {
                for t in &mut m.topics {
                    if let Some(n) = &t.name {
                        t.topic_authorized_operations =
                            a.operations(ResourceType::Topic, n.as_str());
                    }
                }
            }
            m.topics
                .extend(denied.into_iter().map(|t| MetadataResponseTopic {
                    error_code: TOPIC_AUTHORIZATION_FAILED,
                    name: t.name,
                    topic_id: t.topic_id,
                    topic_authorized_operations: i32::MIN,
                    ..Default::default()
                }));
            if cluster_ops {
                m.cluster_authorized_operations = a.operations(ResourceType::Cluster, CLUSTER_NAME);
            }
            ResponseBody::from(m)
        }
        other => other,
    });
    Checked::Run(RequestBody::from(r), merge)
}
