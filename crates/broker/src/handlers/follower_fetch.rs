//! Fetch (key 1) from a follower broker (a replica id ≥ 0: `ReplicaState` from
//! v15, `ReplicaId` before): each partition goes through the leader's replica
//! first (`ReplicaManager::follower_fetch`: leader epoch, membership, offsets,
//! the KIP-320 divergence check, then the follower's progress, which may move
//! the ISR and high watermark; its `ReplicaEpoch` is remembered for KIP-903);
//! partitions without an error or a diverging
//! epoch are read from the fetch offset up to the log end (not the high
//! watermark), waiting up to `max_wait_ms` for `min_bytes`.

use std::time::Duration;

use bytes::Bytes;
use vltava_protocol::ResponseBody;
use vltava_protocol::messages::FetchRequest;
use vltava_protocol::messages::fetch_response::{EpochEndOffset, FetchResponse, PartitionData};
use vltava_replication::FollowerFetch;
use vltava_storage::FetchIsolation;

use crate::broker::Broker;
use crate::error_codes::{self, *};
use crate::handlers::fetch::{
    MAX_FETCH_WAIT, Target, group, partition_error, read_partition, read_within, request_targets,
};
use crate::replica_manager::ReplicaRequestError;

/// The replica's verdict on one partition: `None` to read it.
fn check(
    broker: &Broker,
    name: Option<&str>,
    t: &Target,
    replica_id: i32,
    broker_epoch: Option<i64>,
) -> Option<PartitionData> {
    let index = t.key.2;
    let Some(name) = name else {
        return Some(partition_error(index, UNKNOWN_TOPIC_ID));
    };
    let Ok(fetch_offset) = u64::try_from(t.fetch_offset) else {
        return Some(partition_error(index, error_codes::OFFSET_OUT_OF_RANGE));
    };
    let fetch = FollowerFetch {
        replica_id,
        fetch_offset,
        last_fetched_epoch: (t.last_fetched_epoch >= 0).then_some(t.last_fetched_epoch),
        current_leader_epoch: (t.current_leader_epoch >= 0).then_some(t.current_leader_epoch),
        broker_epoch,
    };
    match broker.replicas.follower_fetch(name, index, &fetch) {
        Ok(None) => None,
        Ok(Some(diverging)) => {
            let (hw, start) = broker
                .partitions
                .get(name, index)
                .map(|p| {
                    let log = p.log();
                    (log.high_watermark(), log.log_start_offset())
                })
                .unwrap_or((-1, -1));
            Some(PartitionData {
                partition_index: index,
                high_watermark: hw,
                last_stable_offset: hw,
                log_start_offset: start,
                diverging_epoch: EpochEndOffset {
                    epoch: diverging.epoch,
                    end_offset: i64::try_from(diverging.end_offset).unwrap_or(i64::MAX),
                    ..Default::default()
                },
                records: Some(Bytes::new()),
                ..Default::default()
            })
        }
        Err(ReplicaRequestError::NotHosted) => {
            let code = if broker.partitions.open_error(name, index).is_some() {
                KAFKA_STORAGE_ERROR
            } else {
                NOT_LEADER_OR_FOLLOWER
            };
            Some(partition_error(index, code))
        }
        Err(ReplicaRequestError::Replica(e)) => Some(partition_error(index, e.code())),
        Err(ReplicaRequestError::Storage(e)) => {
            Some(partition_error(index, error_codes::for_storage(&e)))
        }
    }
}

/// One pass over `targets` within `limit` bytes: the partitions already `decided`
/// (refused) as they are, the others read from their logs; and the record bytes read.
fn read_once(
    broker: &Broker,
    targets: &[Target],
    names: &[Option<String>],
    decided: &[Option<PartitionData>],
    version: i16,
    limit: u64,
) -> (Vec<PartitionData>, usize) {
    read_within(targets, limit, |i, t, remaining, first| {
        match decided.get(i) {
            Some(Some(d)) => d.clone(),
            _ => read_partition(
                broker,
                names.get(i).and_then(|n| n.as_deref()),
                t,
                version,
                FetchIsolation::LogEnd,
                remaining,
                first,
            ),
        }
    })
}

/// A follower below the log start learns where the log starts now (it restarts its log
/// there); Kafka's follower asks by ListOffsets instead.
fn with_log_start(
    broker: &Broker,
    data: Vec<PartitionData>,
    names: &[Option<String>],
) -> Vec<PartitionData> {
    data.into_iter()
        .zip(names)
        .map(|(mut d, name)| {
            if d.error_code == error_codes::OFFSET_OUT_OF_RANGE
                && let Some(p) = name
                    .as_deref()
                    .and_then(|n| broker.partitions.get(n, d.partition_index))
            {
                let log = p.log();
                d.log_start_offset = log.log_start_offset();
                d.high_watermark = log.high_watermark();
            }
            d
        })
        .collect()
}

/// Handles a follower's Fetch (sessionless: followers send full fetches).
pub async fn answer(
    broker: &Broker,
    req: &FetchRequest,
    version: i16,
    replica_id: i32,
) -> ResponseBody {
    let metadata = broker.metadata();
    // KIP-903: the follower's broker epoch, remembered by the leader's replica and sent
    // with an ISR expansion; -1 (and versions before 15) skips the checks.
    let broker_epoch = (version >= 15 && req.replica_state.replica_epoch >= 0)
        .then_some(req.replica_state.replica_epoch);
    let targets = request_targets(req);
    let names: Vec<Option<String>> = targets
        .iter()
        .map(|t| {
            if version >= 13 {
                metadata.topic_by_id(t.key.1).map(|m| m.name.clone())
            } else {
                Some(t.key.0.as_str().to_string())
            }
        })
        .collect();
    let decided: Vec<Option<PartitionData>> = targets
        .iter()
        .zip(&names)
        .map(|(t, name)| check(broker, name.as_deref(), t, replica_id, broker_epoch))
        .collect();
    let limit = req.max_bytes.clamp(0, broker.config.fetch_max_bytes).max(0) as u64;
    let wait = Duration::from_millis(req.max_wait_ms.max(0) as u64).min(MAX_FETCH_WAIT);
    let deadline = tokio::time::Instant::now() + wait;
    let mut appended = broker.partitions.subscribe_appends();
    let anything_decided = decided.iter().any(Option::is_some);
    let data = loop {
        appended.borrow_and_update();
        let (out, total) = read_once(broker, &targets, &names, &decided, version, limit);
        if anything_decided
            || total >= req.min_bytes.max(1) as usize
            || tokio::time::Instant::now() >= deadline
        {
            break out;
        }
        match tokio::time::timeout_at(deadline, appended.changed()).await {
            Ok(Ok(())) => {}
            Ok(Err(_)) | Err(_) => break out,
        }
    };
    let data = with_log_start(broker, data, &names);
    ResponseBody::from(FetchResponse {
        responses: group(&targets, data),
        session_id: 0,
        ..Default::default()
    })
}
