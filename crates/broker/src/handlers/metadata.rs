//! Metadata (key 3): brokers, cluster id, controller and topics from the
//! metadata cache; topics named but missing are reported (or auto-created by
//! the caller before this runs, see `dispatch`).

use vltava_protocol::ResponseBody;
use vltava_protocol::messages::MetadataRequest;
use vltava_protocol::messages::metadata_response::{
    MetadataResponse, MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
};

use crate::error_codes::*;
use crate::metadata_cache::{MetadataCache, TopicMeta};

/// Kafka's "not requested" value for authorized-operations fields.
const AUTHORIZED_OPS_OMITTED: i32 = i32::MIN;

fn topic_entry(t: &TopicMeta) -> MetadataResponseTopic {
    MetadataResponseTopic {
        error_code: NONE,
        name: Some(t.name.as_str().into()),
        topic_id: t.id,
        is_internal: t.is_internal(),
        partitions: t
            .partitions
            .values()
            .map(|p| MetadataResponsePartition {
                error_code: NONE,
                partition_index: p.index,
                leader_id: p.leader,
                leader_epoch: p.leader_epoch,
                replica_nodes: p.replicas.clone(),
                isr_nodes: p.isr.clone(),
                offline_replicas: Vec::new(),
                ..Default::default()
            })
            .collect(),
        topic_authorized_operations: AUTHORIZED_OPS_OMITTED,
        ..Default::default()
    }
}

/// The names a Metadata request asks for (`None`: all topics).
pub fn requested_names(req: &MetadataRequest, cache: &MetadataCache) -> Option<Vec<String>> {
    req.topics.as_ref().map(|ts| {
        ts.iter()
            .filter_map(|t| match &t.name {
                Some(n) => Some(n.as_str().to_string()),
                None => cache.topic_by_id(t.topic_id).map(|m| m.name.clone()),
            })
            .collect()
    })
}

/// Builds the Metadata response. `pending` are topics being auto-created
/// (answered LEADER_NOT_AVAILABLE so clients retry).
pub fn handle(cache: &MetadataCache, req: &MetadataRequest, pending: &[String]) -> ResponseBody {
    let brokers = cache
        .brokers
        .values()
        .map(|b| MetadataResponseBroker {
            node_id: b.id,
            host: b.host.as_str().into(),
            port: b.port,
            rack: b.rack.as_deref().map(Into::into),
            ..Default::default()
        })
        .collect();
    let topics = match &req.topics {
        None => cache.topics.values().map(topic_entry).collect(),
        Some(ts) => ts
            .iter()
            .map(|t| {
                let found = match &t.name {
                    Some(n) => cache.topic(n.as_str()),
                    None => cache.topic_by_id(t.topic_id),
                };
                match found {
                    Some(m) => topic_entry(m),
                    None => {
                        let pend = t
                            .name
                            .as_ref()
                            .is_some_and(|n| pending.iter().any(|p| p == n.as_str()));
                        MetadataResponseTopic {
                            error_code: if pend {
                                LEADER_NOT_AVAILABLE
                            } else if t.name.is_none() {
                                UNKNOWN_TOPIC_ID
                            } else {
                                UNKNOWN_TOPIC_OR_PARTITION
                            },
                            name: t.name.clone(),
                            topic_id: t.topic_id,
                            topic_authorized_operations: AUTHORIZED_OPS_OMITTED,
                            ..Default::default()
                        }
                    }
                }
            })
            .collect(),
    };
    ResponseBody::from(MetadataResponse {
        brokers,
        cluster_id: Some(cache.cluster_id.as_str().into()),
        controller_id: cache.controller_id,
        topics,
        cluster_authorized_operations: AUTHORIZED_OPS_OMITTED,
        ..Default::default()
    })
}
