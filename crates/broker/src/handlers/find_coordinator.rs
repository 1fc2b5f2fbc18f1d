//! FindCoordinator (key 10): a group (key type 0) is coordinated by the leader of its
//! `__consumer_offsets` partition, a transactional id (key type 1) by the leader of its
//! `__transaction_state` partition (Kafka's hash of the key modulo the partition count); both
//! topics are created on first use, as Kafka does. A partition without a live leader is
//! COORDINATOR_NOT_AVAILABLE (clients retry). Other key types are INVALID_REQUEST.

use vltava_coordinator::{partition_for, txn_partition_for};
use vltava_protocol::ResponseBody;
use vltava_protocol::messages::FindCoordinatorRequest;
use vltava_protocol::messages::find_coordinator_response::{Coordinator, FindCoordinatorResponse};

use crate::broker::Broker;
use crate::error_codes::*;
use crate::handlers::context::{Answer, RequestContext, respond};
use crate::metadata_view::MetadataView;
use crate::offsets_log::OFFSETS_TOPIC;
use crate::txn_log::TRANSACTION_STATE_TOPIC;

const KEY_TYPE_GROUP: i8 = 0;
const KEY_TYPE_TRANSACTION: i8 = 1;

/// One key's answer: error code, message, and the coordinator (node id, host, port).
struct Found {
    code: i16,
    message: Option<&'static str>,
    node_id: i32,
    host: String,
    port: i32,
}

impl Found {
    fn error(code: i16, message: &'static str) -> Self {
        Found {
            code,
            message: Some(message),
            node_id: -1,
            host: String::new(),
            port: -1,
        }
    }
}

/// The live leader of `topic`'s partition `partition`.
fn leader_of(metadata: &MetadataView, topic: &str, partition: i32) -> Found {
    let leader = metadata
        .topic(topic)
        .and_then(|t| t.partitions.get(&partition))
        .map(|p| p.leader)
        .unwrap_or(-1);
    match metadata.image().live_broker(leader) {
        Some(b) => Found {
            code: NONE,
            message: None,
            node_id: b.id,
            host: b.host.clone(),
            port: b.port,
        },
        None => Found::error(
            COORDINATOR_NOT_AVAILABLE,
            "the coordinator's partition has no live leader",
        ),
    }
}

fn find(broker: &Broker, metadata: &MetadataView, key_type: i8, key: &str) -> Found {
    match key_type {
        KEY_TYPE_GROUP => {
            let n = broker.config.offsets_topic_num_partitions;
            leader_of(metadata, OFFSETS_TOPIC, partition_for(key, n))
        }
        KEY_TYPE_TRANSACTION => {
            let n = broker.config.transaction_state_log_num_partitions;
            leader_of(metadata, TRANSACTION_STATE_TOPIC, txn_partition_for(key, n))
        }
        _ => Found::error(INVALID_REQUEST, "unknown coordinator key type"),
    }
}

/// Handles FindCoordinator.
pub async fn handle(cx: &RequestContext<'_>, req: FindCoordinatorRequest) -> Answer {
    respond(answer(cx.broker, &req, cx.version).await)
}

/// The answer to `req`.
async fn answer(broker: &Broker, req: &FindCoordinatorRequest, version: i16) -> ResponseBody {
    let ready = match req.key_type {
        KEY_TYPE_GROUP => broker.ensure_offsets_topic().await,
        KEY_TYPE_TRANSACTION => broker.ensure_transaction_state_topic().await,
        _ => true,
    };
    let metadata = broker.metadata();
    let answer = |key: &str| {
        if !ready {
            let what = if req.key_type == KEY_TYPE_GROUP {
                "__consumer_offsets is not available yet"
            } else {
                "__transaction_state is not available yet"
            };
            return Found::error(COORDINATOR_NOT_AVAILABLE, what);
        }
        find(broker, &metadata, req.key_type, key)
    };
    if version >= 4 {
        let coordinators = req
            .coordinator_keys
            .iter()
            .map(|k| {
                let f = answer(k.as_str());
                Coordinator {
                    key: k.clone(),
                    node_id: f.node_id,
                    host: f.host.as_str().into(),
                    port: f.port,
                    error_code: f.code,
                    error_message: f.message.map(Into::into),
                    ..Default::default()
                }
            })
            .collect();
        ResponseBody::from(FindCoordinatorResponse {
            coordinators,
            ..Default::default()
        })
    } else {
        let f = answer(req.key.as_str());
        ResponseBody::from(FindCoordinatorResponse {
            error_code: f.code,
            error_message: f.message.map(Into::into),
            node_id: f.node_id,
            host: f.host.as_str().into(),
            port: f.port,
            ..Default::default()
        })
    }
}
