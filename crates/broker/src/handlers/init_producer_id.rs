//! InitProducerId (key 22) for idempotent producers: a producer id from the
//! controller's blocks, epoch 0; a producer re-initialising its own id (KIP-360)
//! gets the next epoch. Transactional ids are not supported.

use vltava_protocol::ResponseBody;
use vltava_protocol::messages::InitProducerIdRequest;
use vltava_protocol::messages::init_producer_id_response::InitProducerIdResponse;

use crate::broker::Broker;
use crate::error_codes::*;

/// Handles InitProducerId.
pub async fn handle(broker: &Broker, req: &InitProducerIdRequest) -> ResponseBody {
    let fail = |code| {
        ResponseBody::from(InitProducerIdResponse {
            error_code: code,
            producer_id: -1,
            producer_epoch: -1,
            ..Default::default()
        })
    };
    if req.transactional_id.is_some() {
        return fail(TRANSACTIONAL_ID_AUTHORIZATION_FAILED);
    }
    if req.producer_id >= 0 && req.producer_epoch >= 0 {
        if req.producer_epoch == i16::MAX - 1 {
            // Epoch exhausted: a fresh id.
        } else {
            return ResponseBody::from(InitProducerIdResponse {
                producer_id: req.producer_id,
                producer_epoch: req.producer_epoch + 1,
                ..Default::default()
            });
        }
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
