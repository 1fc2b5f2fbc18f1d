//! Produce (key 0): batch validation (magic, CRC, compression rules), appends to
//! the partition logs (offsets assigned by the log, producer-id dedup and
//! sequence checks in storage), acks through the partition's replica
//! (`replica_manager`: NOT_LEADER_OR_FOLLOWER when not leading,
//! `min.insync.replicas` for acks=all, which waits for the high watermark). Transactional batches (with a
//! transactional id) are appended the same way once verified with the
//! transaction coordinator (`txn_verification`): storage opens the producer's
//! transaction with its first batch and keeps the last stable offset behind it.
//! NOT_LEADER_OR_FOLLOWER answers carry the current leader (KIP-951, v10+;
//! `leader_hint`).

pub mod txn_verification;

use std::collections::BTreeMap;
use std::sync::Arc;

use vltava_protocol::ResponseBody;
use vltava_protocol::messages::ProduceRequest;
use vltava_protocol::messages::produce_request::PartitionProduceData;
use vltava_protocol::messages::produce_response::{
    BatchIndexAndErrorMessage, PartitionProduceResponse, ProduceResponse, TopicProduceResponse,
};
use vltava_records::recompress::{batch_codec, recompress};
use vltava_records::{BatchIter, CheckedBatches, Compression, DecodeLimits, MAGIC_V2};
use vltava_storage::config::parse_compression_type;

use vltava_replication::Acks;
use vltava_storage::StorageError;

use crate::broker::Broker;
use crate::error_codes::{self, *};
use crate::handlers::context::RequestContext;
use crate::handlers::per_partition::Partitions;
use crate::replica_manager::ReplicaRequestError;
use crate::replica_manager::leader::{AcksOutcome, ProduceAppend};

/// Bytes before a batch's size field ends (base offset, size).
const LOG_OVERHEAD: usize = 12;
/// Bytes up to and including a batch's magic byte.
const HEADER_UP_TO_MAGIC: usize = 17;
/// The smallest size field Kafka accepts (a magic 0 record's overhead).
const MIN_BATCH_SIZE: i32 = 14;

/// The length of the batch at the start of `records` as Kafka frames it
/// (`ByteBufferLogInputStream`): `Ok(None)` for too few bytes to hold one (Kafka sees no
/// batch), CORRUPT_MESSAGE for a size or magic no batch can have.
fn framed_batch(records: &[u8]) -> Result<Option<usize>, (i16, String)> {
    let Some(size) = records.get(8..LOG_OVERHEAD) else {
        return Ok(None);
    };
    let size = i32::from_be_bytes([size[0], size[1], size[2], size[3]]);
    if size < MIN_BATCH_SIZE {
        return Err((
            CORRUPT_MESSAGE,
            format!(
                "record size {size} is less than the minimum record overhead ({MIN_BATCH_SIZE})"
            ),
        ));
    }
    let Some(&magic) = records.get(HEADER_UP_TO_MAGIC - 1) else {
        return Ok(None);
    };
    if !(0..=2).contains(&(magic as i8)) {
        return Err((
            CORRUPT_MESSAGE,
            format!("invalid magic found in record: {}", magic as i8),
        ));
    }
    let total = usize::try_from(size)
        .unwrap_or(usize::MAX)
        .saturating_add(LOG_OVERHEAD);
    Ok((records.len() >= total).then_some(total))
}

/// Checks a partition's record set as Kafka does (`ProduceRequest.validateRecords`, then
/// the log's checks): exactly one complete magic 2 batch (INVALID_RECORD otherwise; a
/// garbled size or magic is CORRUPT_MESSAGE), with a valid CRC and a known compression.
/// Returns the batch's length: bytes after it that make no complete batch are dropped,
/// as Kafka trims them. Found by the differential test against Kafka (`every_api`).
pub fn validate_batches(records: &[u8], version: i16) -> Result<usize, (i16, String)> {
    checked_batch(records, version).map(|b| b.bytes().len())
}

/// [`validate_batches`], with the batch it accepts: its CRC checked here, once (the log
/// trusts [`CheckedBatches`] and does not check it again).
fn checked_batch(records: &[u8], version: i16) -> Result<CheckedBatches<'_>, (i16, String)> {
    let Some(len) = framed_batch(records)? else {
        return Err((
            INVALID_RECORD,
            format!("produce v{version} needs at least one record batch per partition"),
        ));
    };
    let (batch, rest) = records.split_at(len);
    if batch[HEADER_UP_TO_MAGIC - 1] as i8 != MAGIC_V2 {
        return Err((
            INVALID_RECORD,
            format!(
                "produce v{version} needs record batch magic 2, got {}",
                batch[HEADER_UP_TO_MAGIC - 1]
            ),
        ));
    }
    let (compression, compression_id, checked) = match BatchIter::new(batch).next() {
        Some(Ok(view)) => {
            let h = view.header();
            if h.magic != MAGIC_V2 {
                return Err((
                    INVALID_RECORD,
                    format!(
                        "produce v{version} needs record batch magic 2, got {}",
                        h.magic
                    ),
                ));
            }
            let checked =
                CheckedBatches::check(batch).map_err(|e| (CORRUPT_MESSAGE, e.to_string()))?;
            (
                h.attributes.compression(),
                h.attributes.compression_id(),
                checked,
            )
        }
        Some(Err(e)) => return Err((error_codes::for_records(&e), e.to_string())),
        None => return Err((CORRUPT_MESSAGE, "no complete record batch".into())),
    };
    if framed_batch(rest)?.is_some() {
        return Err((
            INVALID_RECORD,
            format!("produce v{version} allows exactly one record batch per partition"),
        ));
    }
    match compression {
        None => Err((
            UNSUPPORTED_COMPRESSION_TYPE,
            format!("unknown compression id {compression_id}"),
        )),
        Some(Compression::Zstd) if version < 7 => Err((
            UNSUPPORTED_COMPRESSION_TYPE,
            "zstd needs produce v7 or later".into(),
        )),
        Some(_) => Ok(checked),
    }
}

/// The codec `compression.type` asks batches of this topic to be stored with (`None`:
/// the producer's): the topic's value (`configs`: the ones it set), else the broker's.
fn stored_codec(broker: &Broker, configs: &BTreeMap<String, String>) -> Option<Compression> {
    let default = broker.dynamic_settings().log_defaults.compression_type;
    match configs.get("compression.type") {
        Some(v) => parse_compression_type(v).unwrap_or(default),
        None => default,
    }
}

fn error_response(index: i32, code: i16, message: Option<String>) -> PartitionProduceResponse {
    PartitionProduceResponse {
        index,
        error_code: code,
        base_offset: -1,
        log_append_time_ms: -1,
        log_start_offset: -1,
        error_message: message.map(Into::into),
        ..Default::default()
    }
}

/// A partition's answer: ready now, or once acks=all is satisfied.
enum Answer {
    Ready(PartitionProduceResponse),
    Waiting(PartitionProduceResponse, AcksOutcome),
}

fn produce_partition(
    broker: &Broker,
    topic: &str,
    data: &PartitionProduceData,
    version: i16,
    acks: Acks,
    timeout_ms: u64,
) -> Answer {
    let index = data.index;
    let lookup = Partitions::new(broker);
    let meta = match lookup.known(topic, index) {
        Ok((meta, _)) => meta,
        Err(refused) => return Answer::Ready(error_response(index, refused.code(), None)),
    };
    if meta.is_internal() {
        // Only the broker writes its internal topics (Kafka: "Cannot append to internal topic").
        return Answer::Ready(error_response(index, INVALID_TOPIC_EXCEPTION, None));
    }
    let records = data.records.as_deref().unwrap_or(&[]);
    let batches = match checked_batch(records, version) {
        Ok(b) => b,
        Err((code, msg)) => return Answer::Ready(error_response(index, code, Some(msg))),
    };
    // The batches stay in the request buffer: the log writes each one's patched
    // header and its records from there (a new buffer only when the topic's
    // compression.type names another codec than the producer's).
    let recompressed;
    let topic_configs = lookup.metadata().image().topic_configs(&meta.name);
    let batches = match stored_codec(broker, topic_configs) {
        Some(codec) if batch_codec(batches.bytes()).ok() != Some(codec) => {
            match recompress(batches.bytes(), codec, &DecodeLimits::default()) {
                Ok(b) => {
                    recompressed = b;
                    match CheckedBatches::check(&recompressed) {
                        Ok(c) => c,
                        Err(e) => return Answer::Ready(records_refusal(index, &e)),
                    }
                }
                Err(e) => return Answer::Ready(records_refusal(index, &e)),
            }
        }
        _ => batches,
    };
    match broker
        .replicas
        .append_checked_produce(topic, index, batches, acks, timeout_ms)
    {
        Ok(appended) => appended_answer(index, appended),
        Err(ReplicaRequestError::NotHosted) => {
            Answer::Ready(match broker.partitions.open_error(topic, index) {
                Some(e) => error_response(index, KAFKA_STORAGE_ERROR, Some(e)),
                None => error_response(index, error_codes::NOT_LEADER_OR_FOLLOWER, None),
            })
        }
        Err(ReplicaRequestError::Replica(e)) => Answer::Ready(refused_by_the_log(
            broker,
            topic,
            index,
            e.code(),
            e.to_string(),
        )),
        Err(ReplicaRequestError::Storage(e)) => {
            Answer::Ready(storage_refusal(broker, topic, index, &e))
        }
    }
}

/// The answer to an append: ready, or waiting for acks=all.
fn appended_answer(index: i32, appended: ProduceAppend) -> Answer {
    let resp = PartitionProduceResponse {
        index,
        error_code: NONE,
        base_offset: appended.info.first_offset,
        log_append_time_ms: appended.info.log_append_time,
        log_start_offset: appended.log_start_offset,
        ..Default::default()
    };
    match appended.outcome {
        AcksOutcome::Done(Ok(())) => Answer::Ready(resp),
        AcksOutcome::Done(Err(e)) => {
            Answer::Ready(error_response(index, e.code(), Some(e.to_string())))
        }
        waiting => Answer::Waiting(resp, waiting),
    }
}

/// A batch that cannot be recompressed (or checked after it): refused with its records'
/// error.
fn records_refusal(index: i32, e: &vltava_records::RecordsError) -> PartitionProduceResponse {
    error_response(index, error_codes::for_records(e), Some(e.to_string()))
}

/// The log's refusal of an append (a storage error, a producer-state check, records
/// refused with their batch indexes, KIP-467), reported and logged.
fn storage_refusal(
    broker: &Broker,
    topic: &str,
    index: i32,
    e: &StorageError,
) -> PartitionProduceResponse {
    crate::resources::report_storage_error(topic, index, e);
    if matches!(
        e,
        StorageError::OutOfOrderSequence { .. } | StorageError::InvalidProducerEpoch { .. }
    ) {
        log_producer_state_refusal(topic, index, e);
    }
    let mut resp = refused_by_the_log(
        broker,
        topic,
        index,
        error_codes::for_storage(e),
        e.to_string(),
    );
    if let StorageError::RecordsRejected(r) = e {
        resp.record_errors = r
            .errors
            .iter()
            .map(|e| BatchIndexAndErrorMessage {
                batch_index: e.batch_index,
                batch_index_error_message: Some(e.message.as_str().into()),
                ..Default::default()
            })
            .collect();
    }
    resp
}

/// A refusal by a partition this broker hosts. As Kafka does, the answer carries the log
/// start offset, except for the refusals Kafka answers without one (an unknown partition,
/// not the leader, a batch too large or corrupt, a storage error): found by the differential
/// test against Kafka (an OUT_OF_ORDER_SEQUENCE_NUMBER answer).
fn refused_by_the_log(
    broker: &Broker,
    topic: &str,
    index: i32,
    code: i16,
    message: String,
) -> PartitionProduceResponse {
    let mut resp = error_response(index, code, Some(message));
    let without_start = [
        UNKNOWN_TOPIC_OR_PARTITION,
        error_codes::NOT_LEADER_OR_FOLLOWER,
        error_codes::MESSAGE_TOO_LARGE,
        CORRUPT_MESSAGE,
        KAFKA_STORAGE_ERROR,
    ];
    if !without_start.contains(&code) {
        if let Some(hosted) = broker.replicas.get(topic, index) {
            resp.log_start_offset = hosted.partition.log().log_start_offset();
        }
    }
    resp
}

/// Produces refused by the producer state.
static PRODUCER_STATE_REFUSALS: crate::resources::LogLimiter = crate::resources::LogLimiter::new();

/// Logs a produce refused by the producer state (fatal to most idempotent clients, so worth
/// a line), at most one line a second with the count of those left out: a client that
/// re-sends refused batches without backoff must not flood the log.
fn log_producer_state_refusal(topic: &str, partition: i32, e: &StorageError) {
    if let Some(left_out) = PRODUCER_STATE_REFUSALS.admit(vltava_records::clock::now_ms()) {
        tracing::info!(topic, partition, error = %e, left_out, "produce refused by the producer state");
    }
}

/// A Produce whose appends are done: its answer now, or the acks=all waits still to
/// come (a future that resolves to the answer once every waiting partition's high
/// watermark passed its records, or failed).
pub enum Begun {
    /// The answer (`None` for acks=0: no response is sent).
    Now(Option<Box<ResponseBody>>),
    /// The answer once the acks=all waits end.
    Later(std::pin::Pin<Box<dyn std::future::Future<Output = Option<ResponseBody>> + Send>>),
}

impl std::fmt::Debug for Begun {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Begun::Now(answer) => f.debug_tuple("Now").field(answer).finish(),
            Begun::Later(_) => f.write_str("Later(..)"),
        }
    }
}

/// Handles Produce; `Ok(None)` for acks=0 (no response is sent). Every partition is
/// appended first; acks=all answers then wait for their high watermarks together.
pub async fn handle(cx: &RequestContext<'_>, req: ProduceRequest) -> crate::handlers::Answer {
    Ok(match begin(cx.broker, &req, cx.version).await {
        Begun::Now(answer) => answer.map(|b| *b),
        Begun::Later(answer) => answer.await,
    })
}

/// The effects of a Produce, now: validation, transaction verification, every
/// partition's append. What remains is only waiting for acks=all, which the caller
/// may do while the connection's next request runs (its effects come after these).
pub async fn begin(broker: &Arc<Broker>, req: &ProduceRequest, version: i16) -> Begun {
    let acks = Acks::try_from(req.acks);
    let code_for_all = if version < 3 {
        Some((UNSUPPORTED_VERSION, "produce v0-2 is not supported"))
    } else if acks.is_err() {
        Some((INVALID_REQUIRED_ACKS, "acks must be 0, 1 or -1"))
    } else {
        None
    };
    let acks = acks.unwrap_or(Acks::Leader);
    let timeout_ms = u64::try_from(req.timeout_ms).unwrap_or(0);
    let refused = match code_for_all {
        None => txn_verification::refused_partitions(broker, req).await,
        Some(_) => Default::default(),
    };
    let mut answers: Vec<(vltava_protocol::SharedStr, Vec<Answer>)> = Vec::new();
    for t in &req.topic_data {
        let partitions = t
            .partition_data
            .iter()
            .map(|p| match code_for_all {
                Some((code, msg)) => {
                    Answer::Ready(error_response(p.index, code, Some(msg.to_string())))
                }
                // (No key built when nothing was refused: most produces.)
                None => match (!refused.is_empty())
                    .then(|| refused.get(&(t.name.as_str().to_string(), p.index)))
                    .flatten()
                {
                    Some(&code) => Answer::Ready(error_response(
                        p.index,
                        code,
                        Some("the partition is not in the producer's transaction".into()),
                    )),
                    None => {
                        produce_partition(broker, t.name.as_str(), p, version, acks, timeout_ms)
                    }
                },
            })
            .collect();
        answers.push((t.name.clone(), partitions));
    }
    let silent = req.acks == 0;
    let waiting = answers
        .iter()
        .any(|(_, ps)| ps.iter().any(|a| matches!(a, Answer::Waiting(..))));
    if !waiting {
        return Begun::Now(response(broker, version, all_ready(answers), silent).map(Box::new));
    }
    let broker = broker.clone();
    Begun::Later(Box::pin(async move {
        let mut ready = Vec::with_capacity(answers.len());
        for (name, partitions) in answers {
            let mut out = Vec::with_capacity(partitions.len());
            for answer in partitions {
                out.push(match answer {
                    Answer::Ready(r) => r,
                    Answer::Waiting(r, outcome) => match outcome.result().await {
                        Ok(()) => r,
                        Err(e) => error_response(r.index, e.code(), Some(e.to_string())),
                    },
                });
            }
            ready.push((name, out));
        }
        response(&broker, version, ready, silent)
    }))
}

/// The answers of a produce none of whose partitions waits for acks=all.
fn all_ready(
    answers: Vec<(vltava_protocol::SharedStr, Vec<Answer>)>,
) -> Vec<(vltava_protocol::SharedStr, Vec<PartitionProduceResponse>)> {
    answers
        .into_iter()
        .map(|(name, ps)| {
            let ps = ps
                .into_iter()
                .filter_map(|a| match a {
                    Answer::Ready(r) => Some(r),
                    Answer::Waiting(..) => None,
                })
                .collect();
            (name, ps)
        })
        .collect()
}

/// The Produce response of these partition answers, with KIP-951 leader hints for the
/// partitions answered NOT_LEADER_OR_FOLLOWER; `None` for acks=0 (`silent`).
fn response(
    broker: &Broker,
    version: i16,
    answers: Vec<(vltava_protocol::SharedStr, Vec<PartitionProduceResponse>)>,
    silent: bool,
) -> Option<ResponseBody> {
    if silent {
        return None;
    }
    let mut responses = answers
        .into_iter()
        .map(|(name, partition_responses)| TopicProduceResponse {
            name,
            partition_responses,
            ..Default::default()
        })
        .collect::<Vec<_>>();
    let node_endpoints =
        crate::handlers::leader_hint::fill_produce(broker, version, &mut responses).produce();
    Some(ResponseBody::from(ProduceResponse {
        responses,
        node_endpoints,
        ..Default::default()
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use vltava_records::{BatchBuilder, BatchBuilderConfig};

    fn batch(compression: Compression) -> Vec<u8> {
        let mut b = BatchBuilder::new(BatchBuilderConfig {
            compression,
            ..BatchBuilderConfig::default()
        });
        b.append(1, Some(b"k"), Some(b"v"), &[]).unwrap();
        b.build().unwrap().to_vec()
    }

    #[test]
    fn validation_rules() {
        assert!(validate_batches(&batch(Compression::None), 9).is_ok());
        assert_eq!(
            validate_batches(&batch(Compression::Zstd), 6)
                .unwrap_err()
                .0,
            UNSUPPORTED_COMPRESSION_TYPE
        );
        assert!(validate_batches(&batch(Compression::Zstd), 7).is_ok());
        let mut bad = batch(Compression::None);
        let last = bad.len() - 1;
        bad[last] ^= 0xff;
        assert_eq!(validate_batches(&bad, 9).unwrap_err().0, CORRUPT_MESSAGE);
        assert_eq!(validate_batches(&[], 9).unwrap_err().0, INVALID_RECORD);
    }

    /// As Kafka frames a produce's records (found by the differential test).
    #[test]
    fn framing_as_kafka() {
        let one = batch(Compression::None);
        // Too short to hold a batch, or a batch cut short: no batch, INVALID_RECORD.
        assert_eq!(
            validate_batches(&[0, 0, 0], 9).unwrap_err().0,
            INVALID_RECORD
        );
        assert_eq!(
            validate_batches(&one[..one.len() - 1], 9).unwrap_err().0,
            INVALID_RECORD
        );
        // A size no batch has, or a magic beyond 2: CORRUPT_MESSAGE.
        let mut small = one.clone();
        small[8..12].copy_from_slice(&13i32.to_be_bytes());
        assert_eq!(validate_batches(&small, 9).unwrap_err().0, CORRUPT_MESSAGE);
        let mut magic = one.clone();
        magic[16] = 3;
        assert_eq!(validate_batches(&magic, 9).unwrap_err().0, CORRUPT_MESSAGE);
        // Two complete batches: INVALID_RECORD; a partial one after the first is dropped.
        let two = [one.clone(), one.clone()].concat();
        assert_eq!(validate_batches(&two, 9).unwrap_err().0, INVALID_RECORD);
        let trailing = [one.clone(), one[..20].to_vec()].concat();
        assert_eq!(validate_batches(&trailing, 9), Ok(one.len()));
    }
}
