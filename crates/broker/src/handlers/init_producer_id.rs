//! InitProducerId (key 22) for idempotent producers: like Kafka's transaction
//! coordinator with a null transactional id, every request gets a fresh producer id
//! from the controller's blocks with epoch 0, also when it names its current id and
//! epoch (idempotent producers bump their epoch locally, KIP-360); an id without an
//! epoch or the reverse is INVALID_REQUEST. Requests with a transactional id are
//! routed to the transaction coordinator by `dispatch`, never here.

use vltava_protocol::ResponseBody;
use vltava_protocol::messages::InitProducerIdRequest;
use vltava_protocol::messages::init_producer_id_response::InitProducerIdResponse;

use crate::broker::Broker;
use crate::error_codes::*;
use crate::handlers::context::{Answer, RequestContext, respond};

/// "No producer id" and "no epoch" on the wire.
const NO_PRODUCER_ID: i64 = -1;
const NO_PRODUCER_EPOCH: i16 = -1;

/// Handles InitProducerId.
pub async fn handle(cx: &RequestContext<'_>, req: InitProducerIdRequest) -> Answer {
    respond(answer(cx.broker, &req).await)
}

/// The answer to `req`.
async fn answer(broker: &Broker, req: &InitProducerIdRequest) -> ResponseBody {
    let fail = |code| {
        ResponseBody::from(InitProducerIdResponse {
            error_code: code,
            producer_id: -1,
            producer_epoch: -1,
            ..Default::default()
        })
    };
    if req.transactional_id.is_some() {
        // Only reachable by calling this handler directly.
        return fail(INVALID_REQUEST);
    }
    if (req.producer_id == NO_PRODUCER_ID) != (req.producer_epoch == NO_PRODUCER_EPOCH) {
        return fail(INVALID_REQUEST);
    }
    match broker.next_producer_id().await {
        Ok(id) => ResponseBody::from(InitProducerIdResponse {
            producer_id: id,
            producer_epoch: 0,
            ..Default::default()
        }),
        Err(e) => fail(e.kafka_code()),
    }
}
