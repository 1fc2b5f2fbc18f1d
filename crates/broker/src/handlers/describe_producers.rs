//! DescribeProducers (key 61): the active idempotent producers of each requested
//! partition, from its log's producer state (id, epoch, last sequence and
//! timestamp, coordinator epoch, open transaction start).

use vltava_protocol::messages::DescribeProducersRequest;
use vltava_protocol::messages::describe_producers_response::{
    DescribeProducersResponse, PartitionResponse, ProducerState, TopicResponse,
};
use vltava_storage::producer_state::ProducerStateManager;

use crate::handlers::context::{Answer, RequestContext, respond};
use crate::handlers::per_partition::Partitions;

/// The producers `state` tracks, as DescribeProducers lists them.
pub fn active_producers(state: &ProducerStateManager) -> Vec<ProducerState> {
    state
        .producers()
        .map(|(id, e)| ProducerState {
            producer_id: id,
            producer_epoch: i32::from(e.epoch),
            last_sequence: e.batches.back().map_or(-1, |b| b.last_seq),
            last_timestamp: e.last_timestamp,
            coordinator_epoch: e.coordinator_epoch,
            current_txn_start_offset: e.current_txn_first_offset.unwrap_or(-1),
            ..Default::default()
        })
        .collect()
}

/// Handles DescribeProducers.
pub async fn handle(cx: &RequestContext<'_>, req: DescribeProducersRequest) -> Answer {
    let broker = cx.broker;
    let lookup = Partitions::new(broker);
    let topics = req
        .topics
        .iter()
        .map(|t| TopicResponse {
            name: t.name.clone(),
            partitions: lookup.each(
                t.name.as_str(),
                &t.partition_indexes,
                |&p| p,
                |&p, found| {
                    let mut r = PartitionResponse {
                        partition_index: p,
                        ..Default::default()
                    };
                    match found {
                        Ok(f) => {
                            r.active_producers =
                                active_producers(f.partition.log().producer_state())
                        }
                        Err(refused) => {
                            r.error_code = refused.code();
                            r.error_message = Some(refused.message().into());
                        }
                    }
                    r
                },
            ),
            ..Default::default()
        })
        .collect();
    respond(DescribeProducersResponse {
        topics,
        ..Default::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use vltava_records::BatchHeader;
    use vltava_records::batch_header::Attributes;

    #[test]
    fn lists_each_producer_with_its_last_batch() {
        let mut state = ProducerStateManager::new();
        assert!(active_producers(&state).is_empty());
        let mut h = BatchHeader {
            base_offset: 0,
            batch_length: 0,
            partition_leader_epoch: 0,
            magic: 2,
            crc: 0,
            attributes: Attributes::default(),
            last_offset_delta: 4,
            base_timestamp: 1_000,
            max_timestamp: 1_000,
            producer_id: 7,
            producer_epoch: 2,
            base_sequence: 0,
            record_count: 5,
        };
        state.update(&h);
        h.base_offset = 5;
        h.base_sequence = 5;
        h.max_timestamp = 2_000;
        state.update(&h);
        let got = active_producers(&state);
        assert_eq!(got.len(), 1);
        let p = &got[0];
        assert_eq!((p.producer_id, p.producer_epoch), (7, 2));
        assert_eq!(p.last_sequence, 9);
        assert_eq!(p.last_timestamp, 2_000);
        assert_eq!(p.current_txn_start_offset, -1);
    }
}
