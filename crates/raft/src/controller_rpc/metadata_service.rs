//! The metadata log for observers on the controller listener: Fetch of `__cluster_metadata`
//! partition 0 answered by the quorum leader with the applied entries from the offset asked
//! for (waiting up to the request's `max_wait_ms`, at most [`MAX_FETCH_WAIT`], for new ones),
//! or with a snapshot id when that offset was compacted; FetchSnapshot answered with the
//! applied image. A fetch naming another cluster id is INCONSISTENT_CLUSTER_ID. A voter that does not lead answers NOT_LEADER_OR_FOLLOWER with the leader it
//! knows, as Kafka's raft does.

use std::time::Duration;

use tokio::sync::oneshot;
use vltava_protocol::messages::fetch_response::{
    FetchableTopicResponse, LeaderIdAndEpoch, PartitionData, SnapshotId,
};
use vltava_protocol::messages::fetch_snapshot_response::{self, FetchSnapshotResponse};
use vltava_protocol::messages::{FetchRequest, FetchResponse, FetchSnapshotRequest};

use crate::apply::image_to_records;
use crate::driver::{Command, MetadataRead};
use crate::error::{RaftError, codes};
use crate::handle::Controller;
use crate::metadata_fetch::{FETCH_MAX_BYTES, METADATA_TOPIC_ID, entries_to_batches};
use crate::node::AppliedRead;
use crate::quorum_wire::METADATA_TOPIC;
use crate::records::encode_batch;

/// Longest a metadata Fetch waits for new entries.
pub const MAX_FETCH_WAIT: Duration = Duration::from_millis(500);

/// Answers an observer's Fetch of the metadata log.
pub(crate) async fn fetch(c: &Controller, req: FetchRequest, version: i16) -> FetchResponse {
    let partition = metadata_partition(&req, version);
    let Some(p) = partition else {
        return FetchResponse {
            error_code: codes::INVALID_REQUEST,
            ..Default::default()
        };
    };
    if req
        .cluster_id
        .as_ref()
        .is_some_and(|id| id.as_str() != c.cluster_id)
    {
        return FetchResponse {
            error_code: codes::INCONSISTENT_CLUSTER_ID,
            ..Default::default()
        };
    }
    let replica_id = if version >= 15 {
        req.replica_state.replica_id
    } else {
        req.replica_id
    };
    let from = u64::try_from(p.fetch_offset).unwrap_or(0) + 1;
    let max_bytes = u64::try_from(p.partition_max_bytes)
        .unwrap_or(FETCH_MAX_BYTES)
        .min(FETCH_MAX_BYTES);
    let wait =
        Duration::from_millis(u64::try_from(req.max_wait_ms).unwrap_or(0)).min(MAX_FETCH_WAIT);
    let read = match read_waiting(c, from, max_bytes, replica_id, wait).await {
        Ok(read) => read,
        Err(e) => return partition_error(e.kafka_code(), -1, -1),
    };
    if !read.is_leader {
        return partition_error(
            codes::NOT_LEADER_OR_FOLLOWER,
            read.leader_id,
            read.leader_epoch,
        );
    }
    let mut data = PartitionData {
        partition_index: 0,
        high_watermark: read.high_watermark,
        last_stable_offset: read.high_watermark,
        log_start_offset: read.log_start_offset,
        current_leader: LeaderIdAndEpoch {
            leader_id: c.node_id,
            leader_epoch: read.leader_epoch,
            ..Default::default()
        },
        preferred_read_replica: -1,
        ..Default::default()
    };
    match read.read {
        AppliedRead::Entries(entries) => match entries_to_batches(&entries) {
            Ok(bytes) => data.records = Some(bytes),
            Err(e) => data.error_code = e.kafka_code(),
        },
        AppliedRead::BelowLogStart => {
            let image = c.image();
            data.snapshot_id = SnapshotId {
                end_offset: image.offset,
                epoch: read.leader_epoch,
                ..Default::default()
            };
            data.records = Some(Default::default());
        }
    }
    response(data)
}

/// The one partition a metadata Fetch may name: `__cluster_metadata` (by id at v13+)
/// partition 0, alone in the request.
fn metadata_partition(
    req: &FetchRequest,
    version: i16,
) -> Option<&vltava_protocol::messages::fetch_request::FetchPartition> {
    req.topics.first().and_then(|t| {
        let named = if version >= 13 {
            t.topic_id == METADATA_TOPIC_ID
        } else {
            t.topic.as_str() == METADATA_TOPIC
        };
        (named && req.topics.len() == 1 && t.partitions.len() == 1)
            .then(|| t.partitions.first())
            .flatten()
            .filter(|p| p.partition == 0)
    })
}

/// Reads the applied entries from `from`, waiting up to `wait` for new ones while
/// there are none and this node leads.
async fn read_waiting(
    c: &Controller,
    from: u64,
    max_bytes: u64,
    replica_id: i32,
    wait: Duration,
) -> Result<MetadataRead, RaftError> {
    let deadline = tokio::time::Instant::now() + wait;
    let mut images = c.subscribe();
    loop {
        images.borrow_and_update();
        let read = read_applied(c, from, max_bytes, replica_id).await?;
        let empty = matches!(&read.read, AppliedRead::Entries(e) if e.is_empty());
        if !read.is_leader || !empty {
            return Ok(read);
        }
        match tokio::time::timeout_at(deadline, images.changed()).await {
            Ok(Ok(())) => {}
            _ => return Ok(read),
        }
    }
}

/// Answers an observer's FetchSnapshot with this node's applied image.
pub(crate) async fn fetch_snapshot(
    c: &Controller,
    req: FetchSnapshotRequest,
) -> FetchSnapshotResponse {
    let asked = req
        .topics
        .first()
        .filter(|t| t.name.as_str() == METADATA_TOPIC)
        .and_then(|t| t.partitions.first())
        .filter(|p| p.partition == 0);
    let Some(p) = asked else {
        return FetchSnapshotResponse {
            error_code: codes::INVALID_REQUEST,
            ..Default::default()
        };
    };
    let position = p.position;
    let image = c.image();
    let leader = c.leader_id();
    let mut part = fetch_snapshot_response::PartitionSnapshot {
        index: 0,
        current_leader: fetch_snapshot_response::LeaderIdAndEpoch {
            leader_id: leader,
            leader_epoch: -1,
            ..Default::default()
        },
        ..Default::default()
    };
    if leader != c.node_id {
        part.error_code = codes::NOT_LEADER_OR_FOLLOWER;
    } else {
        match encode_batch(&image_to_records(&image)) {
            Ok(bytes) => {
                let start = usize::try_from(position).unwrap_or(0).min(bytes.len());
                part.snapshot_id = fetch_snapshot_response::SnapshotId {
                    end_offset: image.offset,
                    epoch: p.snapshot_id.epoch,
                    ..Default::default()
                };
                part.size = bytes.len() as i64;
                part.position = start as i64;
                part.unaligned_records = bytes.slice(start..);
            }
            Err(e) => part.error_code = e.kafka_code(),
        }
    }
    FetchSnapshotResponse {
        topics: vec![fetch_snapshot_response::TopicSnapshot {
            name: METADATA_TOPIC.into(),
            partitions: vec![part],
            ..Default::default()
        }],
        ..Default::default()
    }
}

async fn read_applied(
    c: &Controller,
    from: u64,
    max_bytes: u64,
    replica_id: i32,
) -> Result<MetadataRead, RaftError> {
    let (reply, rx) = oneshot::channel();
    c.commands
        .send(Command::ReadApplied {
            from,
            max_bytes,
            replica_id,
            reply,
        })
        .await
        .map_err(|_| RaftError::Stopped)?;
    rx.await.map_err(|_| RaftError::Stopped)?
}

fn partition_error(code: i16, leader_id: i32, leader_epoch: i32) -> FetchResponse {
    response(PartitionData {
        partition_index: 0,
        error_code: code,
        high_watermark: -1,
        last_stable_offset: -1,
        log_start_offset: -1,
        current_leader: LeaderIdAndEpoch {
            leader_id,
            leader_epoch,
            ..Default::default()
        },
        preferred_read_replica: -1,
        ..Default::default()
    })
}

fn response(data: PartitionData) -> FetchResponse {
    FetchResponse {
        responses: vec![FetchableTopicResponse {
            topic: METADATA_TOPIC.into(),
            topic_id: METADATA_TOPIC_ID,
            partitions: vec![data],
            ..Default::default()
        }],
        ..Default::default()
    }
}
