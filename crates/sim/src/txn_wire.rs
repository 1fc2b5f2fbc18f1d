//! The transaction requests of the simulated producers as compact [`TxnReq`]s on the
//! simulated network, turned into the real protocol requests the transaction coordinator
//! serves ([`request`]) and its responses back into what the producer reads ([`answer`]).

use vltava_protocol::messages::add_partitions_to_txn_request::AddPartitionsToTxnTopic;
use vltava_protocol::messages::{AddPartitionsToTxnRequest, EndTxnRequest, InitProducerIdRequest};
use vltava_protocol::{RequestBody, ResponseBody};

/// The transactional id of the simulated transactional producer.
pub const TRANSACTIONAL_ID: &str = "sim-txn";
/// The topic whose partitions are the simulation's data partitions (partition index =
/// the simulated partition).
pub const DATA_TOPIC: &str = "sim-topic";
/// The producer's `transaction.timeout.ms`.
pub const TXN_TIMEOUT_MS: i32 = 4_000;
/// InitProducerId version (v3+ carries the current producer id and epoch).
const INIT_VERSION: i16 = 4;
/// AddPartitionsToTxn version (the last one clients send).
const ADD_VERSION: i16 = 3;
/// EndTxn version.
const END_VERSION: i16 = 3;

/// A producer's request to a transaction coordinator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TxnReq {
    /// InitProducerId: idempotent (no transactional id) or transactional, with the
    /// current producer id and epoch when the producer has one (KIP-360 bump).
    InitProducerId {
        transactional: bool,
        producer_id: i64,
        producer_epoch: i16,
    },
    /// AddPartitionsToTxn of data partitions.
    AddPartitions {
        producer_id: i64,
        producer_epoch: i16,
        partitions: Vec<usize>,
    },
    /// EndTxn: commit or abort.
    EndTxn {
        producer_id: i64,
        producer_epoch: i16,
        commit: bool,
    },
}

/// The protocol request and its version.
pub fn request(req: &TxnReq) -> (i16, RequestBody) {
    match req {
        TxnReq::InitProducerId {
            transactional,
            producer_id,
            producer_epoch,
        } => (
            INIT_VERSION,
            RequestBody::InitProducerId(InitProducerIdRequest {
                transactional_id: transactional.then(|| TRANSACTIONAL_ID.into()),
                transaction_timeout_ms: TXN_TIMEOUT_MS,
                producer_id: *producer_id,
                producer_epoch: *producer_epoch,
                ..Default::default()
            }),
        ),
        TxnReq::AddPartitions {
            producer_id,
            producer_epoch,
            partitions,
        } => (
            ADD_VERSION,
            RequestBody::AddPartitionsToTxn(AddPartitionsToTxnRequest {
                v3_and_below_transactional_id: TRANSACTIONAL_ID.into(),
                v3_and_below_producer_id: *producer_id,
                v3_and_below_producer_epoch: *producer_epoch,
                v3_and_below_topics: vec![AddPartitionsToTxnTopic {
                    name: DATA_TOPIC.into(),
                    partitions: partitions
                        .iter()
                        .map(|&p| i32::try_from(p).unwrap_or(i32::MAX))
                        .collect(),
                    ..Default::default()
                }],
                ..Default::default()
            }),
        ),
        TxnReq::EndTxn {
            producer_id,
            producer_epoch,
            commit,
        } => (
            END_VERSION,
            RequestBody::EndTxn(EndTxnRequest {
                transactional_id: TRANSACTIONAL_ID.into(),
                producer_id: *producer_id,
                producer_epoch: *producer_epoch,
                committed: *commit,
                ..Default::default()
            }),
        ),
    }
}

/// What a producer reads in a response: the error (the first partition error of an
/// AddPartitionsToTxn; an answer without partitions is an error too), and the producer
/// id and epoch of an InitProducerId.
pub fn answer(body: &ResponseBody) -> Option<(i16, i64, i16)> {
    match body {
        ResponseBody::InitProducerId(r) => Some((r.error_code, r.producer_id, r.producer_epoch)),
        ResponseBody::EndTxn(r) => Some((r.error_code, -1, -1)),
        ResponseBody::AddPartitionsToTxn(r) => {
            let codes: Vec<i16> = r
                .results_by_topic_v3_and_below
                .iter()
                .flat_map(|t| &t.results_by_partition)
                .map(|p| p.partition_error_code)
                .collect();
            let error = match codes.iter().find(|&&c| c != 0) {
                Some(&c) => c,
                None if codes.is_empty() => vltava_coordinator::codes::UNKNOWN_SERVER_ERROR,
                None => r.error_code,
            };
            Some((error, -1, -1))
        }
        _ => None,
    }
}

/// The simulated data partition of a marker's (topic, partition).
pub fn data_partition(topic: &str, partition: i32) -> Option<usize> {
    (topic == DATA_TOPIC)
        .then(|| usize::try_from(partition).ok())
        .flatten()
}
