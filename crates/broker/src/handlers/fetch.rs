//! Fetch (key 1): reads from the partition logs within the partition and
//! response byte limits, long-polls until `min_bytes` arrive or `max_wait_ms`
//! passes, resolves topic ids (v13+), refuses zstd below v10 and down-converts
//! to legacy message sets for v0–3. Fetch sessions (KIP-227) are not cached:
//! every response carries session id 0, which tells clients to send full
//! fetches; a request naming a session gets FETCH_SESSION_ID_NOT_FOUND.

use std::time::Duration;

use bytes::Bytes;
use vltava_protocol::ResponseBody;
use vltava_protocol::messages::FetchRequest;
use vltava_protocol::messages::fetch_response::{
    FetchResponse, FetchableTopicResponse, PartitionData,
};
use vltava_records::{BatchIter, Compression, DecodeLimits, down_convert};
use vltava_storage::FetchIsolation;

use crate::broker::Broker;
use crate::error_codes::{self, *};

/// Upper bound on how long one Fetch may wait, whatever the client asks.
pub const MAX_FETCH_WAIT: Duration = Duration::from_secs(30);

fn partition_error(index: i32, code: i16) -> PartitionData {
    PartitionData {
        partition_index: index,
        error_code: code,
        high_watermark: -1,
        last_stable_offset: -1,
        log_start_offset: -1,
        records: Some(Bytes::new()),
        ..Default::default()
    }
}

fn has_zstd(batches: &[u8]) -> bool {
    BatchIter::new(batches)
        .filter_map(Result::ok)
        .any(|b| b.header().attributes.compression() == Some(Compression::Zstd))
}

/// One pass over the requested partitions; returns the response and its record bytes.
fn read_once(broker: &Broker, req: &FetchRequest, version: i16) -> (FetchResponse, usize) {
    let cache = broker.metadata();
    let isolation = if req.isolation_level == 1 {
        FetchIsolation::Committed
    } else {
        FetchIsolation::HighWatermark
    };
    let limit = if version >= 3 {
        req.max_bytes.clamp(0, broker.config.fetch_max_bytes)
    } else {
        broker.config.fetch_max_bytes
    };
    let mut remaining = limit.max(0) as u64;
    let mut total = 0usize;
    let mut responses = Vec::with_capacity(req.topics.len());
    for t in &req.topics {
        let name: Option<String> = if version >= 13 {
            cache.topic_by_id(t.topic_id).map(|m| m.name.clone())
        } else {
            Some(t.topic.as_str().to_string())
        };
        let mut partitions = Vec::with_capacity(t.partitions.len());
        for p in &t.partitions {
            let Some(name) = name.as_deref() else {
                partitions.push(partition_error(p.partition, UNKNOWN_TOPIC_ID));
                continue;
            };
            if cache
                .topic(name)
                .and_then(|m| m.partitions.get(&p.partition))
                .is_none()
            {
                partitions.push(partition_error(p.partition, UNKNOWN_TOPIC_OR_PARTITION));
                continue;
            }
            let Some(part) = broker.partitions.get(name, p.partition) else {
                partitions.push(partition_error(p.partition, NOT_LEADER_OR_FOLLOWER));
                continue;
            };
            let max = (p.partition_max_bytes.max(0) as u64).min(remaining);
            let log = part.log();
            let read = log.read(p.fetch_offset, max, isolation, total == 0);
            let (hw, lso, start) = (
                log.high_watermark(),
                log.last_stable_offset(),
                log.log_start_offset(),
            );
            drop(log);
            let mut data = PartitionData {
                partition_index: p.partition,
                high_watermark: hw,
                last_stable_offset: lso,
                log_start_offset: start,
                aborted_transactions: if isolation == FetchIsolation::Committed {
                    Some(Vec::new())
                } else {
                    None
                },
                records: Some(Bytes::new()),
                ..Default::default()
            };
            let bytes = match read.and_then(|r| match r.slice {
                Some(s) => s.to_bytes(),
                None => Ok(Bytes::new()),
            }) {
                Ok(b) => b,
                Err(e) => {
                    data.error_code = error_codes::for_storage(&e);
                    partitions.push(data);
                    continue;
                }
            };
            if version < 10 && has_zstd(&bytes) {
                data.error_code = UNSUPPORTED_COMPRESSION_TYPE;
                partitions.push(data);
                continue;
            }
            let bytes = if version < 4 && !bytes.is_empty() {
                let magic = if version < 2 { 0 } else { 1 };
                match down_convert(&bytes, magic, &DecodeLimits::default()) {
                    Ok(b) => b,
                    Err(e) => {
                        data.error_code = error_codes::for_records(&e);
                        partitions.push(data);
                        continue;
                    }
                }
            } else {
                bytes
            };
            remaining = remaining.saturating_sub(bytes.len() as u64);
            total += bytes.len();
            data.records = Some(bytes);
            partitions.push(data);
        }
        responses.push(FetchableTopicResponse {
            topic: t.topic.clone(),
            topic_id: t.topic_id,
            partitions,
            ..Default::default()
        });
    }
    (
        FetchResponse {
            responses,
            session_id: 0,
            ..Default::default()
        },
        total,
    )
}

/// Handles Fetch, waiting for data up to the request's `max_wait_ms`.
pub async fn handle(broker: &Broker, req: &FetchRequest, version: i16) -> ResponseBody {
    if version >= 7 && req.session_id != 0 {
        return ResponseBody::from(FetchResponse {
            error_code: FETCH_SESSION_ID_NOT_FOUND,
            session_id: 0,
            ..Default::default()
        });
    }
    let wait = Duration::from_millis(req.max_wait_ms.max(0) as u64).min(MAX_FETCH_WAIT);
    let deadline = tokio::time::Instant::now() + wait;
    let mut appended = broker.partitions.subscribe_appends();
    loop {
        appended.borrow_and_update();
        let (resp, bytes) = read_once(broker, req, version);
        let has_error = resp
            .responses
            .iter()
            .flat_map(|t| &t.partitions)
            .any(|p| p.error_code != NONE);
        if bytes >= req.min_bytes.max(1) as usize
            || has_error
            || tokio::time::Instant::now() >= deadline
        {
            return ResponseBody::from(resp);
        }
        match tokio::time::timeout_at(deadline, appended.changed()).await {
            Ok(Ok(())) => {}
            // Deadline reached, or the broker is shutting down.
            Ok(Err(_)) | Err(_) => {
                let (resp, _) = read_once(broker, req, version);
                return ResponseBody::from(resp);
            }
        }
    }
}
