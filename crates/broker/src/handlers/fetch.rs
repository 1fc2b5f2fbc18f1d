//! Fetch (key 1): reads from the partition logs within the partition and
//! response byte limits, long-polls until `min_bytes` arrive or `max_wait_ms`
//! passes, resolves topic ids (v13+), refuses zstd below v10, down-converts to
//! legacy message sets for v0–3, and serves incremental fetch sessions (v7+,
//! KIP-227, see `fetch_session`). read_committed fetches (v4+) stop at the last
//! stable offset and carry the aborted transactions of the range they read.
//! NOT_LEADER_OR_FOLLOWER and FENCED_LEADER_EPOCH answers carry the current
//! leader (KIP-951, v16+; `leader_hint`). A consumer's records (v10+) stay in their
//! segment files until the connection sends them (`file_records`).

use std::collections::BTreeMap;
use std::time::Duration;

use bytes::Bytes;
use vltava_protocol::ResponseBody;
use vltava_protocol::messages::FetchRequest;
use vltava_protocol::messages::fetch_response::{
    AbortedTransaction, FetchResponse, FetchableTopicResponse, PartitionData,
};
use vltava_records::{BatchIter, Compression, DecodeLimits, down_convert};
use vltava_storage::FetchIsolation;

use crate::broker::Broker;
use crate::error_codes::{self, *};
use crate::fetch_session::{SessionKey, SessionPartition, next_epoch};
use crate::file_records;
use crate::handlers::context::{Answer, RequestContext, respond};

/// Upper bound on how long one Fetch may wait, whatever the client asks.
pub const MAX_FETCH_WAIT: Duration = Duration::from_secs(30);

/// One partition to read.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    pub(crate) key: SessionKey,
    pub(crate) fetch_offset: i64,
    pub(crate) max_bytes: i32,
    /// The client's or follower's current leader epoch (-1: not checked).
    pub(crate) current_leader_epoch: i32,
    /// A follower's last fetched epoch (-1: none).
    pub(crate) last_fetched_epoch: i32,
}

pub(crate) fn partition_error(index: i32, code: i16) -> PartitionData {
    PartitionData {
        partition_index: index,
        error_code: code,
        high_watermark: -1,
        last_stable_offset: -1,
        log_start_offset: -1,
        aborted_transactions: None,
        records: Some(Bytes::new()),
        ..Default::default()
    }
}

fn has_zstd(batches: &[u8]) -> bool {
    BatchIter::new(batches)
        .filter_map(Result::ok)
        .any(|b| b.header().attributes.compression() == Some(Compression::Zstd))
}

/// Reads one partition within `remaining` response bytes. A consumer
/// (`isolation` other than `LogEnd`) must be fetching from the leader, at its
/// leader epoch when it names one; a follower's checks were made before.
pub(crate) fn read_partition(
    broker: &Broker,
    name: Option<&str>,
    t: &Target,
    version: i16,
    isolation: FetchIsolation,
    remaining: u64,
    first: bool,
) -> PartitionData {
    let index = t.key.2;
    let (name, part) = match readable(broker, name, t, isolation) {
        Ok(found) => found,
        Err(code) => return partition_error(index, code),
    };
    let max = (t.max_bytes.max(0) as u64).min(remaining);
    let log = part.log();
    let read = log.read(t.fetch_offset, max, isolation, first);
    let (hw, lso, start) = (
        log.high_watermark(),
        log.last_stable_offset(),
        log.log_start_offset(),
    );
    drop(log);
    let mut data = PartitionData {
        partition_index: index,
        high_watermark: hw,
        last_stable_offset: lso,
        log_start_offset: start,
        aborted_transactions: None,
        records: Some(Bytes::new()),
        ..Default::default()
    };
    let storage_error = |data: PartitionData, e: vltava_storage::StorageError| {
        crate::resources::report_storage_error(name, index, &e);
        let code = error_codes::for_storage(&e);
        if isolation != FetchIsolation::LogEnd {
            // Kafka answers a client's failed read (OFFSET_OUT_OF_RANGE, ...) with
            // unknown (-1) offsets (found by the differential test against Kafka).
            return partition_error(index, code);
        }
        // A follower takes the leader's log start from an OFFSET_OUT_OF_RANGE answer
        // (Kafka's follower asks with ListOffsets instead).
        PartitionData {
            error_code: code,
            ..data
        }
    };
    let slice = match read {
        Ok(r) => r.slice,
        Err(e) => return storage_error(data, e),
    };
    let end = slice.as_ref().map(|s| s.end_offset);
    let bytes = match slice_bytes(slice, isolation, version) {
        Ok(b) => b,
        Err(e) => return storage_error(data, e),
    };
    if isolation == FetchIsolation::Committed {
        // The aborted transactions overlapping what is returned (up to the end
        // of its last batch, which is at most the last stable offset), so the
        // client drops their records.
        let aborted = match end.filter(|_| !bytes.is_empty()) {
            Some(end) => part
                .log()
                .aborted_transactions(t.fetch_offset, end.min(lso)),
            None => Ok(Vec::new()),
        };
        match aborted {
            Ok(list) => data.aborted_transactions = Some(aborted_list(list)),
            Err(e) => {
                data.error_code = error_codes::for_storage(&e);
                return data;
            }
        }
    }
    match for_version(bytes, version) {
        Ok(bytes) => data.records = Some(bytes),
        Err(code) => data.error_code = code,
    }
    data
}

/// The partition `name`/`t` to read from, or the error code refusing it: an unknown
/// topic or partition, one not open here (or failed to open), or (for a consumer)
/// one this broker does not lead at the epoch asked.
fn readable<'a>(
    broker: &Broker,
    name: Option<&'a str>,
    t: &Target,
    isolation: FetchIsolation,
) -> Result<(&'a str, std::sync::Arc<crate::partitions::Partition>), i16> {
    let index = t.key.2;
    let Some(name) = name else {
        return Err(UNKNOWN_TOPIC_ID);
    };
    if broker
        .metadata()
        .topic(name)
        .and_then(|m| m.partitions.get(&index))
        .is_none()
    {
        return Err(UNKNOWN_TOPIC_OR_PARTITION);
    }
    let Some(part) = broker.partitions.get(name, index) else {
        if broker.partitions.open_error(name, index).is_some() {
            return Err(error_codes::KAFKA_STORAGE_ERROR);
        }
        return Err(NOT_LEADER_OR_FOLLOWER);
    };
    if isolation != FetchIsolation::LogEnd {
        if let Some(code) = broker
            .replicas
            .leader_error(name, index, t.current_leader_epoch)
        {
            return Err(code);
        }
    }
    Ok((name, part))
}

/// The records read: left in the file for a consumer at v10+ (sent with sendfile,
/// `file_records`), else copied here because they are inspected (zstd below v10,
/// down-conversion below v4) or go to a follower.
fn slice_bytes(
    slice: Option<vltava_storage::FileSlice>,
    isolation: FetchIsolation,
    version: i16,
) -> Result<Bytes, vltava_storage::StorageError> {
    let shared = match slice {
        Some(s) if isolation != FetchIsolation::LogEnd && version >= 10 => {
            file_records::share(s.clone()).ok_or(s)
        }
        Some(s) => Err(s),
        None => Ok(Bytes::new()),
    };
    match shared {
        Ok(b) => Ok(b),
        Err(s) => s.to_bytes(),
    }
}

fn aborted_list(list: Vec<vltava_storage::AbortedTxn>) -> Vec<AbortedTransaction> {
    list.into_iter()
        .map(|a| AbortedTransaction {
            producer_id: a.producer_id,
            first_offset: a.first_offset,
            ..Default::default()
        })
        .collect()
}

/// The records as fetch `version` carries them: zstd is refused below v10, and
/// below v4 they are down-converted to a legacy message set; else the error code.
fn for_version(bytes: Bytes, version: i16) -> Result<Bytes, i16> {
    if version < 10 && has_zstd(&bytes) {
        return Err(UNSUPPORTED_COMPRESSION_TYPE);
    }
    if version < 4 && !bytes.is_empty() {
        let magic = if version < 2 { 0 } else { 1 };
        return down_convert(&bytes, magic, &DecodeLimits::default())
            .map_err(|e| error_codes::for_records(&e));
    }
    Ok(bytes)
}

/// One pass over `targets`: each partition's data (in target order) and the
/// record bytes read.
fn read_once(
    broker: &Broker,
    req: &FetchRequest,
    version: i16,
    targets: &[Target],
) -> (Vec<PartitionData>, usize) {
    let metadata = broker.metadata();
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
    read_within(targets, limit.max(0) as u64, |_, t, remaining, first| {
        let name: Option<String> = if version >= 13 {
            metadata.topic_by_id(t.key.1).map(|m| m.name.clone())
        } else {
            Some(t.key.0.as_str().to_string())
        };
        read_partition(
            broker,
            name.as_deref(),
            t,
            version,
            isolation,
            remaining,
            first,
        )
    })
}

/// Reads `targets` in order within `limit` response bytes: `read` is given each
/// target's index, the bytes left and whether nothing was read before it. Each
/// partition's data (in target order) and the record bytes read.
pub(crate) fn read_within(
    targets: &[Target],
    limit: u64,
    mut read: impl FnMut(usize, &Target, u64, bool) -> PartitionData,
) -> (Vec<PartitionData>, usize) {
    let mut remaining = limit;
    let mut total = 0usize;
    let mut out = Vec::with_capacity(targets.len());
    for (i, t) in targets.iter().enumerate() {
        let data = read(i, t, remaining, total == 0);
        let n = data.records.as_ref().map_or(0, Bytes::len);
        remaining = remaining.saturating_sub(n as u64);
        total += n;
        out.push(data);
    }
    (out, total)
}

/// Groups partition data back into topics, in target order.
pub(crate) fn group(targets: &[Target], data: Vec<PartitionData>) -> Vec<FetchableTopicResponse> {
    let mut out: Vec<FetchableTopicResponse> = Vec::new();
    for (t, d) in targets.iter().zip(data) {
        match out.last_mut() {
            Some(last) if last.topic == t.key.0 && last.topic_id == t.key.1 => {
                last.partitions.push(d)
            }
            _ => out.push(FetchableTopicResponse {
                topic: t.key.0.clone(),
                topic_id: t.key.1,
                partitions: vec![d],
                ..Default::default()
            }),
        }
    }
    out
}

pub(crate) fn request_targets(req: &FetchRequest) -> Vec<Target> {
    req.topics
        .iter()
        .flat_map(|t| {
            t.partitions.iter().map(move |p| Target {
                key: (t.topic.clone(), t.topic_id, p.partition),
                fetch_offset: p.fetch_offset,
                max_bytes: p.partition_max_bytes,
                current_leader_epoch: p.current_leader_epoch,
                last_fetched_epoch: p.last_fetched_epoch,
            })
        })
        .collect()
}

/// Reads `targets`, waiting for `min_bytes` up to the request's `max_wait_ms`.
async fn read_with_wait(
    broker: &Broker,
    req: &FetchRequest,
    version: i16,
    targets: &[Target],
) -> Vec<PartitionData> {
    let wait = Duration::from_millis(req.max_wait_ms.max(0) as u64).min(MAX_FETCH_WAIT);
    let deadline = tokio::time::Instant::now() + wait;
    let mut appended = broker.partitions.subscribe_appends();
    loop {
        appended.borrow_and_update();
        let (data, bytes) = read_once(broker, req, version, targets);
        let has_error = data.iter().any(|p| p.error_code != NONE);
        if bytes >= req.min_bytes.max(1) as usize
            || has_error
            || tokio::time::Instant::now() >= deadline
        {
            return data;
        }
        match tokio::time::timeout_at(deadline, appended.changed()).await {
            Ok(Ok(())) => {}
            // Deadline reached, or the broker is shutting down.
            Ok(Err(_)) | Err(_) => return read_once(broker, req, version, targets).0,
        }
    }
}

fn top_level_error(code: i16, session_id: i32) -> ResponseBody {
    ResponseBody::from(FetchResponse {
        error_code: code,
        session_id,
        ..Default::default()
    })
}

/// Handles Fetch.
pub async fn handle(cx: &RequestContext<'_>, req: FetchRequest) -> Answer {
    respond(fetch(cx.broker, &req, cx.version).await)
}

/// The answer to `req`.
async fn fetch(broker: &Broker, req: &FetchRequest, version: i16) -> ResponseBody {
    const FINAL_EPOCH: i32 = -1;
    let replica_id = if version >= 15 {
        req.replica_state.replica_id
    } else {
        req.replica_id
    };
    if replica_id >= 0 {
        return crate::handlers::follower_fetch::answer(broker, req, version, replica_id).await;
    }
    let sessions_apply = version >= 7;
    let (id, epoch) = (req.session_id, req.session_epoch);
    // Sessionless (or a closing request): a full fetch of what was asked.
    if !sessions_apply || epoch == FINAL_EPOCH {
        if sessions_apply && id != 0 {
            broker.fetch_sessions().remove(id);
        }
        let targets = request_targets(req);
        let data = read_with_wait(broker, req, version, &targets).await;
        return answer(broker, version, group(&targets, data), 0);
    }
    if epoch == 0 {
        return new_session(broker, req, version).await;
    }
    if id == 0 {
        return top_level_error(crate::fetch_session::INVALID_FETCH_SESSION_EPOCH, 0);
    }
    incremental(broker, req, version).await
}

/// A new session over the requested partitions (replacing the request's session
/// id, if any), answered with a full fetch.
async fn new_session(broker: &Broker, req: &FetchRequest, version: i16) -> ResponseBody {
    if req.session_id != 0 {
        broker.fetch_sessions().remove(req.session_id);
    }
    let targets = request_targets(req);
    let data = read_with_wait(broker, req, version, &targets).await;
    let partitions: BTreeMap<SessionKey, SessionPartition> = targets
        .iter()
        .zip(&data)
        .map(|(t, d)| {
            let mut sp = SessionPartition::new(t.fetch_offset, t.max_bytes);
            (sp.last_hw, sp.last_lso, sp.last_start) =
                (d.high_watermark, d.last_stable_offset, d.log_start_offset);
            (t.key.clone(), sp)
        })
        .collect();
    let new_id = broker.fetch_sessions().create(partitions).unwrap_or(0);
    answer(broker, version, group(&targets, data), new_id)
}

/// An incremental fetch: updates the session from the request, reads everything
/// in it, answers only partitions with news.
async fn incremental(broker: &Broker, req: &FetchRequest, version: i16) -> ResponseBody {
    let (id, epoch) = (req.session_id, req.session_epoch);
    let targets = match session_targets(broker, req) {
        Ok(targets) => targets,
        Err(code) => return top_level_error(code, 0),
    };
    let data = read_with_wait(broker, req, version, &targets).await;
    let mut cache = broker.fetch_sessions();
    let Ok(session) = cache.get_mut(id, epoch) else {
        return top_level_error(crate::fetch_session::FETCH_SESSION_ID_NOT_FOUND, 0);
    };
    session.next_epoch = next_epoch(epoch);
    let mut kept_targets = Vec::new();
    let mut kept = Vec::new();
    for (t, d) in targets.into_iter().zip(data) {
        let Some(sp) = session.partitions.get_mut(&t.key) else {
            continue;
        };
        let has_records = d.records.as_ref().is_some_and(|r| !r.is_empty());
        let changed = (sp.last_hw, sp.last_lso, sp.last_start)
            != (d.high_watermark, d.last_stable_offset, d.log_start_offset);
        if has_records || changed || d.error_code != NONE {
            (sp.last_hw, sp.last_lso, sp.last_start) =
                (d.high_watermark, d.last_stable_offset, d.log_start_offset);
            kept_targets.push(t);
            kept.push(d);
        }
    }
    drop(cache);
    answer(broker, version, group(&kept_targets, kept), id)
}

/// Updates the request's session with its partitions and forgotten partitions;
/// the session's partitions to read, or the session error code.
fn session_targets(broker: &Broker, req: &FetchRequest) -> Result<Vec<Target>, i16> {
    let mut cache = broker.fetch_sessions();
    let session = cache.get_mut(req.session_id, req.session_epoch)?;
    for t in request_targets(req) {
        session
            .partitions
            .entry(t.key.clone())
            .and_modify(|sp| {
                sp.fetch_offset = t.fetch_offset;
                sp.max_bytes = t.max_bytes;
            })
            .or_insert_with(|| SessionPartition::new(t.fetch_offset, t.max_bytes));
    }
    for f in &req.forgotten_topics_data {
        for p in &f.partitions {
            session
                .partitions
                .remove(&(f.topic.clone(), f.topic_id, *p));
        }
    }
    Ok(session
        .partitions
        .iter()
        .map(|(k, sp)| Target {
            key: k.clone(),
            fetch_offset: sp.fetch_offset,
            max_bytes: sp.max_bytes,
            current_leader_epoch: -1,
            last_fetched_epoch: -1,
        })
        .collect())
}

/// A consumer's Fetch answer, with KIP-951 leader hints (v16+) on partitions
/// that this broker does not lead.
fn answer(
    broker: &Broker,
    version: i16,
    mut responses: Vec<FetchableTopicResponse>,
    session_id: i32,
) -> ResponseBody {
    let node_endpoints =
        crate::handlers::leader_hint::fill_fetch(broker, version, &mut responses).fetch();
    ResponseBody::from(FetchResponse {
        responses,
        session_id,
        node_endpoints,
        ..Default::default()
    })
}
