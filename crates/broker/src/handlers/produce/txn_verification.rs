//! Transactional Produce verification (KIP-890 part 1, Kafka's
//! `transaction.partition.verification.enable`): before the first
//! transactional batch of a producer's transaction is appended to a partition,
//! the transaction coordinator is asked (AddPartitionsToTxn v4, verify only)
//! whether the partition is in that producer's ongoing transaction. A batch
//! for a partition the client never added would otherwise open a transaction
//! only the partition knows about, which no marker ever ends and which holds
//! the last stable offset forever. The coordinator is the leader of the transactional id's
//! `__transaction_state` partition, here or on another broker. Later batches of the same transaction
//! (the partition's producer state already has it open at that epoch) are not
//! asked about again.

use std::collections::HashMap;

use vltava_coordinator::{TxnCoordinatorHandle, txn_partition_for};
use vltava_protocol::messages::AddPartitionsToTxnResponse;
use vltava_protocol::messages::ProduceRequest;
use vltava_protocol::messages::add_partitions_to_txn_request::{
    AddPartitionsToTxnRequest, AddPartitionsToTxnTopic, AddPartitionsToTxnTransaction,
};
use vltava_protocol::{ApiKey, RequestBody, ResponseBody};
use vltava_records::BatchIter;

use crate::broker::Broker;
use crate::error_codes::*;
use crate::txn_log::TRANSACTION_STATE_TOPIC;

/// The AddPartitionsToTxn version brokers use to verify.
const VERIFY_VERSION: i16 = 4;

/// The code Produce answers for a failed verification. Transient coordinator
/// states become NOT_ENOUGH_REPLICAS, which every producer retries (as Kafka
/// does for clients that predate the verification errors); a fenced producer
/// gets INVALID_PRODUCER_EPOCH, the Produce form of fencing.
fn produce_code(code: i16) -> i16 {
    match code {
        CONCURRENT_TRANSACTIONS
        | COORDINATOR_NOT_AVAILABLE
        | NOT_COORDINATOR
        | COORDINATOR_LOAD_IN_PROGRESS => NOT_ENOUGH_REPLICAS,
        PRODUCER_FENCED => INVALID_PRODUCER_EPOCH,
        other => other,
    }
}

/// The producer (id, epoch) of the first transactional batch in `records`.
fn transactional_producer(records: &[u8]) -> Option<(i64, i16)> {
    let first = BatchIter::new(records).next()?.ok()?;
    let h = first.header();
    (h.attributes.is_transactional() && !h.attributes.is_control() && h.producer_id >= 0)
        .then_some((h.producer_id, h.producer_epoch))
}

/// The node that coordinates `transactional_id`: the leader of its `__transaction_state`
/// partition, if that partition has one.
fn coordinator_node(broker: &Broker, transactional_id: &str) -> Option<i32> {
    let partition = txn_partition_for(
        transactional_id,
        broker.config.transaction_state_log_num_partitions,
    );
    broker
        .metadata()
        .topic(TRANSACTION_STATE_TOPIC)
        .and_then(|t| t.partitions.get(&partition))
        .map(|p| p.leader)
        .filter(|l| *l >= 0)
}

/// A transactional Produce's partitions, per producer (id, epoch), to verify with the
/// coordinator.
type ToVerify = HashMap<(i64, i16), Vec<(String, i32)>>;

/// Verifies the partitions of a transactional Produce that need it; the
/// error code of each refused partition (absent: append as usual).
pub async fn refused_partitions(
    broker: &Broker,
    req: &ProduceRequest,
) -> HashMap<(String, i32), i16> {
    let mut refused = HashMap::new();
    let Some(txn_id) = req.transactional_id.as_ref() else {
        return refused;
    };
    if !broker.config.transaction_partition_verification_enable {
        return refused;
    }
    let ask = to_verify(broker, req);
    if ask.is_empty() {
        return refused;
    }
    let Some(coordinator) = broker.txn_coordinator() else {
        for tps in ask.into_values() {
            for tp in tps {
                refused.insert(tp, NOT_ENOUGH_REPLICAS);
            }
        }
        return refused;
    };
    for ((pid, epoch), tps) in ask {
        let verify = verify_request(txn_id, pid, epoch, &tps);
        let resp = ask_coordinator(broker, coordinator, txn_id.as_str(), verify).await;
        let ResponseBody::AddPartitionsToTxn(resp) = resp else {
            for tp in tps {
                refused.insert(tp, NOT_ENOUGH_REPLICAS);
            }
            continue;
        };
        refuse_unverified(&resp, tps, &mut refused);
    }
    refused
}

/// The partitions to ask about: those hosted here whose records are transactional and
/// whose producer has no transaction open at that epoch (one producer per request in
/// practice).
fn to_verify(broker: &Broker, req: &ProduceRequest) -> ToVerify {
    let mut ask: ToVerify = HashMap::new();
    for t in &req.topic_data {
        for p in &t.partition_data {
            let records = p.records.as_deref().unwrap_or(&[]);
            let Some((pid, epoch)) = transactional_producer(records) else {
                continue;
            };
            let Some(partition) = broker.partitions.get(t.name.as_str(), p.index) else {
                // The append answers for a partition not hosted here.
                continue;
            };
            let open = partition
                .log()
                .producer_state()
                .get(pid)
                .is_some_and(|e| e.epoch == epoch && e.current_txn_first_offset.is_some());
            if !open {
                ask.entry((pid, epoch))
                    .or_default()
                    .push((t.name.as_str().to_string(), p.index));
            }
        }
    }
    ask
}

/// The verify-only AddPartitionsToTxn request for one producer's partitions.
fn verify_request(
    txn_id: &vltava_protocol::SharedStr,
    pid: i64,
    epoch: i16,
    tps: &[(String, i32)],
) -> AddPartitionsToTxnRequest {
    let mut topics: Vec<AddPartitionsToTxnTopic> = Vec::new();
    for (topic, partition) in tps {
        match topics.iter_mut().find(|t| t.name.as_str() == topic) {
            Some(t) => t.partitions.push(*partition),
            None => topics.push(AddPartitionsToTxnTopic {
                name: topic.as_str().into(),
                partitions: vec![*partition],
                ..Default::default()
            }),
        }
    }
    AddPartitionsToTxnRequest {
        transactions: vec![AddPartitionsToTxnTransaction {
            transactional_id: txn_id.clone(),
            producer_id: pid,
            producer_epoch: epoch,
            verify_only: true,
            topics,
            ..Default::default()
        }],
        ..Default::default()
    }
}

/// Sends `verify` to the transactional id's coordinator: this broker's own, or
/// (as Kafka's partition leaders do) the broker that coordinates it.
async fn ask_coordinator(
    broker: &Broker,
    coordinator: &TxnCoordinatorHandle,
    txn_id: &str,
    verify: AddPartitionsToTxnRequest,
) -> ResponseBody {
    match coordinator_node(broker, txn_id) {
        Some(node) if node != broker.config.node_id => broker
            .peers
            .call(
                &broker.metadata(),
                node,
                RequestBody::from(verify),
                VERIFY_VERSION,
            )
            .await
            .unwrap_or_else(|e| {
                tracing::debug!(error = %e, "transaction verification not answered");
                ResponseBody::from(AddPartitionsToTxnResponse {
                    error_code: COORDINATOR_NOT_AVAILABLE,
                    ..Default::default()
                })
            }),
        _ => {
            coordinator
                .handle(
                    ApiKey::AddPartitionsToTxn,
                    VERIFY_VERSION,
                    RequestBody::from(verify),
                )
                .await
        }
    }
}

/// Adds to `refused` each of `tps` the coordinator's answer does not verify.
fn refuse_unverified(
    resp: &AddPartitionsToTxnResponse,
    tps: Vec<(String, i32)>,
    refused: &mut HashMap<(String, i32), i16>,
) {
    let mut codes: HashMap<(String, i32), i16> = HashMap::new();
    for r in &resp.results_by_transaction {
        for t in &r.topic_results {
            for p in &t.results_by_partition {
                codes.insert(
                    (t.name.as_str().to_string(), p.partition_index),
                    p.partition_error_code,
                );
            }
        }
    }
    for tp in tps {
        let code = if resp.error_code != NONE {
            resp.error_code
        } else {
            // A partition missing from the answer was not verified.
            codes.get(&tp).copied().unwrap_or(INVALID_TXN_STATE)
        };
        if code != NONE {
            refused.insert(tp, produce_code(code));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vltava_records::{BatchBuilder, BatchBuilderConfig};

    #[test]
    fn codes_map_to_what_producers_retry_or_stop_on() {
        assert_eq!(produce_code(CONCURRENT_TRANSACTIONS), NOT_ENOUGH_REPLICAS);
        assert_eq!(
            produce_code(COORDINATOR_LOAD_IN_PROGRESS),
            NOT_ENOUGH_REPLICAS
        );
        assert_eq!(produce_code(PRODUCER_FENCED), INVALID_PRODUCER_EPOCH);
        assert_eq!(produce_code(INVALID_TXN_STATE), INVALID_TXN_STATE);
    }

    #[test]
    fn only_transactional_batches_name_a_producer() {
        let batch = |transactional| {
            let mut b = BatchBuilder::new(BatchBuilderConfig {
                producer_id: 5,
                producer_epoch: 2,
                base_sequence: 0,
                transactional,
                ..BatchBuilderConfig::default()
            });
            b.append(1, None, Some(b"v"), &[]).unwrap();
            b.build().unwrap()
        };
        assert_eq!(transactional_producer(&batch(true)), Some((5, 2)));
        assert_eq!(transactional_producer(&batch(false)), None);
        assert_eq!(transactional_producer(&[1, 2, 3]), None);
    }
}
