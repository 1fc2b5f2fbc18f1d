//! Responses of the transaction APIs, filled for the request's version:
//! PRODUCER_FENCED becomes INVALID_PRODUCER_EPOCH for versions that predate
//! it, as Kafka answers older clients.

use vltava_protocol::messages::add_partitions_to_txn_response::{
    AddPartitionsToTxnPartitionResult, AddPartitionsToTxnTopicResult,
};
use vltava_protocol::messages::{
    AddOffsetsToTxnResponse, AddPartitionsToTxnResponse, DescribeTransactionsResponse,
    EndTxnResponse, InitProducerIdResponse, ListTransactionsResponse,
};
use vltava_protocol::{ApiKey, ResponseBody};

use crate::codes;

/// The first version of each API that knows PRODUCER_FENCED.
fn fenced_since(api: ApiKey) -> i16 {
    match api {
        ApiKey::InitProducerId => 4,
        _ => 2,
    }
}

/// `code` as a client speaking `version` of `api` understands it.
pub(crate) fn code_for_version(api: ApiKey, version: i16, code: i16) -> i16 {
    if code == codes::PRODUCER_FENCED && version < fenced_since(api) {
        codes::INVALID_PRODUCER_EPOCH
    } else {
        code
    }
}

/// Who waits for an answer, and what shape it has.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Reply {
    InitProducerId {
        request_id: u64,
        version: i16,
    },
    /// AddPartitionsToTxn v0–v3: one code for every partition asked.
    AddPartitions {
        request_id: u64,
        version: i16,
        topics: Vec<(String, Vec<i32>)>,
    },
    AddOffsets {
        request_id: u64,
        version: i16,
    },
    EndTxn {
        request_id: u64,
        version: i16,
    },
}

impl Reply {
    /// The request this answers.
    pub fn request_id(&self) -> u64 {
        match self {
            Reply::InitProducerId { request_id, .. }
            | Reply::AddPartitions { request_id, .. }
            | Reply::AddOffsets { request_id, .. }
            | Reply::EndTxn { request_id, .. } => *request_id,
        }
    }

    /// The response with `code` (and, for InitProducerId and EndTxn v5+,
    /// the producer id and epoch).
    pub fn body(&self, code: i16, producer_id: i64, producer_epoch: i16) -> ResponseBody {
        match self {
            Reply::InitProducerId { version, .. } => {
                let code = code_for_version(ApiKey::InitProducerId, *version, code);
                let ok = code == codes::NONE;
                ResponseBody::InitProducerId(InitProducerIdResponse {
                    error_code: code,
                    producer_id: if ok { producer_id } else { -1 },
                    producer_epoch: if ok { producer_epoch } else { -1 },
                    ..Default::default()
                })
            }
            Reply::AddPartitions {
                version, topics, ..
            } => {
                let code = code_for_version(ApiKey::AddPartitionsToTxn, *version, code);
                add_partitions_v3_body(topics, |_, _| code)
            }
            Reply::AddOffsets { version, .. } => {
                ResponseBody::AddOffsetsToTxn(AddOffsetsToTxnResponse {
                    error_code: code_for_version(ApiKey::AddOffsetsToTxn, *version, code),
                    ..Default::default()
                })
            }
            Reply::EndTxn { version, .. } => {
                let v5 = *version >= 5;
                ResponseBody::EndTxn(EndTxnResponse {
                    error_code: code_for_version(ApiKey::EndTxn, *version, code),
                    producer_id: if v5 { producer_id } else { -1 },
                    producer_epoch: if v5 { producer_epoch } else { -1 },
                    ..Default::default()
                })
            }
        }
    }
}

/// An AddPartitionsToTxn v0–v3 response with `code(topic, partition)` for
/// each partition.
pub(crate) fn add_partitions_v3_body(
    topics: &[(String, Vec<i32>)],
    code: impl Fn(&str, i32) -> i16,
) -> ResponseBody {
    ResponseBody::AddPartitionsToTxn(AddPartitionsToTxnResponse {
        results_by_topic_v3_and_below: topic_results(topics, code),
        ..Default::default()
    })
}

/// Per-topic results with `code(topic, partition)` for each partition.
pub(crate) fn topic_results(
    topics: &[(String, Vec<i32>)],
    code: impl Fn(&str, i32) -> i16,
) -> Vec<AddPartitionsToTxnTopicResult> {
    topics
        .iter()
        .map(|(t, ps)| AddPartitionsToTxnTopicResult {
            name: t.as_str().into(),
            results_by_partition: ps
                .iter()
                .map(|p| AddPartitionsToTxnPartitionResult {
                    partition_index: *p,
                    partition_error_code: code(t, *p),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        })
        .collect()
}

/// A response of a transaction API carrying only an error (bad version,
/// loading), or `None` for APIs the transaction coordinator does not serve.
pub(crate) fn txn_error_response(api: ApiKey, version: i16, code: i16) -> Option<ResponseBody> {
    Some(match api {
        ApiKey::InitProducerId => Reply::InitProducerId {
            request_id: 0,
            version,
        }
        .body(code, -1, -1),
        ApiKey::AddPartitionsToTxn => {
            ResponseBody::AddPartitionsToTxn(AddPartitionsToTxnResponse {
                error_code: if version >= 4 { code } else { 0 },
                ..Default::default()
            })
        }
        ApiKey::AddOffsetsToTxn => Reply::AddOffsets {
            request_id: 0,
            version,
        }
        .body(code, -1, -1),
        ApiKey::EndTxn => Reply::EndTxn {
            request_id: 0,
            version,
        }
        .body(code, -1, -1),
        ApiKey::DescribeTransactions => {
            ResponseBody::DescribeTransactions(DescribeTransactionsResponse::default())
        }
        ApiKey::ListTransactions => ResponseBody::ListTransactions(ListTransactionsResponse {
            error_code: code,
            ..Default::default()
        }),
        _ => return None,
    })
}
