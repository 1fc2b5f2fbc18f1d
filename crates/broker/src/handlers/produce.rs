//! Produce (key 0): batch validation (magic, CRC, compression rules), appends to
//! the partition logs (offsets assigned by the log, producer-id dedup and
//! sequence checks in storage), acks handling. Transactional batches (with a
//! transactional id) are appended the same way once verified with the
//! transaction coordinator (`txn_verification`): storage opens the producer's
//! transaction with its first batch and keeps the last stable offset behind it.

use vltava_protocol::ResponseBody;
use vltava_protocol::messages::ProduceRequest;
use vltava_protocol::messages::produce_request::PartitionProduceData;
use vltava_protocol::messages::produce_response::{
    PartitionProduceResponse, ProduceResponse, TopicProduceResponse,
};
use vltava_records::{BatchIter, Compression, MAGIC_V2};

use crate::broker::Broker;
use crate::error_codes::{self, *};

/// Checks every batch of a partition's record set; returns an error code and message.
pub fn validate_batches(records: &[u8], version: i16) -> Result<(), (i16, String)> {
    if records.is_empty() {
        return Err((INVALID_RECORD, "empty record set".into()));
    }
    let mut any = false;
    for batch in BatchIter::new(records) {
        let view = batch.map_err(|e| (error_codes::for_records(&e), e.to_string()))?;
        any = true;
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
        view.validate_crc()
            .map_err(|e| (CORRUPT_MESSAGE, e.to_string()))?;
        match h.attributes.compression() {
            None => {
                return Err((
                    UNSUPPORTED_COMPRESSION_TYPE,
                    format!("unknown compression id {}", h.attributes.compression_id()),
                ));
            }
            Some(Compression::Zstd) if version < 7 => {
                return Err((
                    UNSUPPORTED_COMPRESSION_TYPE,
                    "zstd needs produce v7 or later".into(),
                ));
            }
            Some(_) => {}
        }
    }
    if !any {
        return Err((CORRUPT_MESSAGE, "no complete record batch".into()));
    }
    Ok(())
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

fn produce_partition(
    broker: &Broker,
    topic: &str,
    data: &PartitionProduceData,
    version: i16,
) -> PartitionProduceResponse {
    let index = data.index;
    let cache = broker.metadata();
    let Some(meta) = cache.topic(topic).and_then(|t| t.partitions.get(&index)) else {
        return error_response(index, UNKNOWN_TOPIC_OR_PARTITION, None);
    };
    let Some(partition) = broker.partitions.get(topic, index) else {
        return match broker.partitions.open_error(topic, index) {
            Some(e) => error_response(index, KAFKA_STORAGE_ERROR, Some(e)),
            None => error_response(index, error_codes::NOT_LEADER_OR_FOLLOWER, None),
        };
    };
    let records = data.records.as_deref().unwrap_or(&[]);
    if let Err((code, msg)) = validate_batches(records, version) {
        return error_response(index, code, Some(msg));
    }
    // The request buffer is shared with the rest of the request; the log patches
    // offsets in place, so the batches get one copy here.
    let mut batches = records.to_vec();
    let mut log = partition.log();
    match log.append_as_leader(&mut batches, meta.leader_epoch) {
        Ok(info) => {
            let leo = log.log_end_offset();
            log.set_high_watermark(leo);
            let start = log.log_start_offset();
            drop(log);
            broker.partitions.notify_append();
            PartitionProduceResponse {
                index,
                error_code: NONE,
                base_offset: info.first_offset,
                log_append_time_ms: info.log_append_time,
                log_start_offset: start,
                ..Default::default()
            }
        }
        Err(e) => {
            drop(log);
            crate::resources::report_storage_error(topic, index, &e);
            error_response(index, error_codes::for_storage(&e), Some(e.to_string()))
        }
    }
}

/// Handles Produce; `None` for acks=0 (no response is sent).
pub async fn handle(broker: &Broker, req: &ProduceRequest, version: i16) -> Option<ResponseBody> {
    let code_for_all = if version < 3 {
        Some((UNSUPPORTED_VERSION, "produce v0-2 is not supported"))
    } else if !(-1..=1).contains(&req.acks) {
        Some((INVALID_REQUIRED_ACKS, "acks must be 0, 1 or -1"))
    } else {
        None
    };
    let refused = match code_for_all {
        None => crate::handlers::txn_verification::refused_partitions(broker, req).await,
        Some(_) => Default::default(),
    };
    let responses = req
        .topic_data
        .iter()
        .map(|t| TopicProduceResponse {
            name: t.name.clone(),
            partition_responses: t
                .partition_data
                .iter()
                .map(|p| match code_for_all {
                    Some((code, msg)) => error_response(p.index, code, Some(msg.to_string())),
                    None => match refused.get(&(t.name.as_str().to_string(), p.index)) {
                        Some(&code) => error_response(
                            p.index,
                            code,
                            Some("the partition is not in the producer's transaction".into()),
                        ),
                        None => produce_partition(broker, t.name.as_str(), p, version),
                    },
                })
                .collect(),
            ..Default::default()
        })
        .collect();
    if req.acks == 0 {
        return None;
    }
    Some(ResponseBody::from(ProduceResponse {
        responses,
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
        assert_eq!(
            validate_batches(&[0, 0, 0], 9).unwrap_err().0,
            CORRUPT_MESSAGE
        );
    }
}
