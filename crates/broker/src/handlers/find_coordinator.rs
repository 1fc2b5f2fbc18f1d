//! FindCoordinator (key 10): every group (key type 0) and every transactional
//! id (key type 1) is coordinated by this broker; `__consumer_offsets` and
//! `__transaction_state` are created on first use, as Kafka does. Other key
//! types are INVALID_REQUEST.

use vltava_protocol::ResponseBody;
use vltava_protocol::messages::FindCoordinatorRequest;
use vltava_protocol::messages::find_coordinator_response::{Coordinator, FindCoordinatorResponse};

use crate::broker::Broker;
use crate::error_codes::*;

const KEY_TYPE_GROUP: i8 = 0;
const KEY_TYPE_TRANSACTION: i8 = 1;

/// Handles FindCoordinator.
pub async fn handle(broker: &Broker, req: &FindCoordinatorRequest, version: i16) -> ResponseBody {
    let (code, message) = match req.key_type {
        KEY_TYPE_GROUP if !broker.ensure_offsets_topic().await => (
            COORDINATOR_NOT_AVAILABLE,
            Some("__consumer_offsets is not available yet"),
        ),
        KEY_TYPE_TRANSACTION if !broker.ensure_transaction_state_topic().await => (
            COORDINATOR_NOT_AVAILABLE,
            Some("__transaction_state is not available yet"),
        ),
        KEY_TYPE_GROUP | KEY_TYPE_TRANSACTION => (NONE, None),
        _ => (INVALID_REQUEST, Some("unknown coordinator key type")),
    };
    let cache = broker.metadata();
    let me = cache.brokers.get(&broker.config.node_id);
    let (node_id, host, port) = match (code, me) {
        (NONE, Some(b)) => (b.id, b.host.clone(), b.port),
        _ => (-1, String::new(), -1),
    };
    let code = if code == NONE && node_id == -1 {
        COORDINATOR_NOT_AVAILABLE
    } else {
        code
    };
    if version >= 4 {
        let coordinators = req
            .coordinator_keys
            .iter()
            .map(|k| Coordinator {
                key: k.clone(),
                node_id,
                host: host.as_str().into(),
                port,
                error_code: code,
                error_message: message.map(Into::into),
                ..Default::default()
            })
            .collect();
        ResponseBody::from(FindCoordinatorResponse {
            coordinators,
            ..Default::default()
        })
    } else {
        ResponseBody::from(FindCoordinatorResponse {
            error_code: code,
            error_message: message.map(Into::into),
            node_id,
            host: host.as_str().into(),
            port,
            ..Default::default()
        })
    }
}
