//! Topic and config administration (CreateTopics 19, DeleteTopics 20,
//! CreatePartitions 37, ElectLeaders 43, AlterConfigs 33, IncrementalAlterConfigs 44,
//! AlterPartitionReassignments 45, AlterClientQuotas 49, AlterUserScramCredentials 51): passed to
//! the controller, which validates and commits them; the broker then applies
//! the new metadata before answering, so the client's next request sees it.
//! ListPartitionReassignments (46) is answered from the controller's image.

use vltava_protocol::messages::create_topics_request::{CreatableTopic, CreatableTopicConfig};
use vltava_protocol::messages::{
    CreateTopicsRequest, ListPartitionReassignmentsRequest, MetadataRequest,
};
use vltava_protocol::{RequestBody, ResponseBody};
use vltava_raft::controller::topic_name::validate_topic_name;

use crate::broker::Broker;
use crate::handlers::context::{Answer, RequestContext, respond};
use crate::handlers::mutation_quota;
use crate::metadata_sync::sync_now;

/// A CreateTopics request for one topic with broker-default replication.
pub fn create_topic_request(
    name: &str,
    partitions: i32,
    configs: &[(&str, String)],
) -> CreateTopicsRequest {
    CreateTopicsRequest {
        topics: vec![CreatableTopic {
            name: name.into(),
            num_partitions: partitions,
            replication_factor: -1,
            configs: configs
                .iter()
                .map(|(k, v)| CreatableTopicConfig {
                    name: (*k).into(),
                    value: Some(v.as_str().into()),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }],
        timeout_ms: 30_000,
        ..Default::default()
    }
}

/// Whether two topic names collide once `.` and `_` are treated alike.
fn collides(a: &str, b: &str) -> bool {
    a != b && a.replace('.', "_") == b.replace('.', "_")
}

/// Handles the admin requests the controller serves, once the client's mutation quota
/// (`mutation_quota`) has taken out the topics it refuses.
pub async fn handle(cx: &RequestContext<'_>, mut body: RequestBody) -> Answer {
    let refused = mutation_quota::admit(cx.broker, cx.session, cx.client_id, &mut body, cx.version);
    let Some(mut response) = through_controller(cx.broker, body, cx.version).await else {
        return Err(cx.not_started());
    };
    refused.answer(&mut response);
    respond(response)
}

/// Handles ListPartitionReassignments from the controller's image.
pub async fn list_partition_reassignments(
    cx: &RequestContext<'_>,
    req: ListPartitionReassignmentsRequest,
) -> Answer {
    let controller = cx.broker.controller().ok_or_else(|| cx.not_started())?;
    respond(vltava_raft::controller::list_partition_reassignments(
        &controller.image(),
        &req,
    ))
}

/// The controller's answer to an admin request; `None` for other bodies, or before the
/// controller is wired.
async fn through_controller(
    broker: &Broker,
    body: RequestBody,
    version: i16,
) -> Option<ResponseBody> {
    let controller = broker.controller()?;
    let resp = match body {
        RequestBody::CreateTopics(r) => {
            for t in &r.topics {
                let name = t.name.as_str();
                if name.contains('.') || name.contains('_') {
                    tracing::warn!(
                        topic = name,
                        "topic names with '.' or '_' can collide in metric names"
                    );
                }
                if let Some(other) = broker
                    .metadata()
                    .topics()
                    .map(|t| &t.name)
                    .find(|o| collides(o, name))
                {
                    tracing::warn!(topic = name, existing = %other, "topic name collides with an existing topic ('.' vs '_')");
                }
            }
            let resp = controller
                .create_topics(r, version, &broker.topic_defaults())
                .await;
            ResponseBody::from(resp)
        }
        RequestBody::DeleteTopics(r) => {
            ResponseBody::from(controller.delete_topics(r, version).await)
        }
        RequestBody::CreatePartitions(r) => {
            ResponseBody::from(controller.create_partitions(r, version).await)
        }
        RequestBody::ElectLeaders(r) => {
            ResponseBody::from(controller.elect_leaders(r, version).await)
        }
        RequestBody::AlterConfigs(r) => {
            ResponseBody::from(controller.alter_configs(r, version).await)
        }
        RequestBody::AlterPartitionReassignments(r) => {
            ResponseBody::from(controller.alter_partition_reassignments(r, version).await)
        }
        RequestBody::IncrementalAlterConfigs(r) => {
            ResponseBody::from(controller.incremental_alter_configs(r, version).await)
        }
        RequestBody::AlterClientQuotas(r) => {
            ResponseBody::from(controller.alter_client_quotas(r, version).await)
        }
        RequestBody::AlterUserScramCredentials(r) => {
            ResponseBody::from(controller.alter_user_scram_credentials(r, version).await)
        }
        _ => return None,
    };
    sync_now(broker);
    Some(resp)
}

/// Auto-creates the topics a Metadata request names that do not exist (when
/// `auto.create.topics.enable` and the request allow it); returns the names
/// still pending (creation failed or not yet visible).
pub async fn auto_create_for_metadata(
    broker: &Broker,
    req: &MetadataRequest,
    version: i16,
) -> Vec<String> {
    let allowed = version < 4 || req.allow_auto_topic_creation;
    let Some(controller) = broker.controller() else {
        return Vec::new();
    };
    if !broker.config.auto_create_topics_enable || !allowed {
        return Vec::new();
    }
    let metadata = broker.metadata();
    let Some(names) = crate::handlers::metadata::requested_names(req, &metadata) else {
        return Vec::new();
    };
    let missing: Vec<String> = names
        .into_iter()
        .filter(|n| metadata.topic(n).is_none() && validate_topic_name(n).is_ok())
        .collect();
    if missing.is_empty() {
        return Vec::new();
    }
    let mut pending = Vec::new();
    for name in &missing {
        let resp = controller
            .create_topics(
                create_topic_request(name, broker.config.num_partitions, &[]),
                7,
                &broker.topic_defaults(),
            )
            .await;
        // Illegal names are answered INVALID_TOPIC_EXCEPTION by Metadata; created
        // ones are answered from the new metadata below.
        if resp.topics.iter().any(|t| t.error_code == 0) {
            pending.push(name.clone());
        }
    }
    sync_now(broker);
    let metadata = broker.metadata();
    pending.retain(|n| metadata.topic(n).is_none());
    pending
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dot_and_underscore_collide() {
        assert!(collides("a.b", "a_b"));
        assert!(!collides("a.b", "a.b"));
        assert!(!collides("ab", "a_b"));
    }
}
