//! The metadata log on the wire, for observers (broker-only nodes): Kafka's Fetch of
//! `__cluster_metadata` partition 0 (topic id `METADATA_TOPIC_ID`) on the controller listener,
//! and FetchSnapshot when the offset asked for was compacted away.
//!
//! Offsets: the metadata-log offset of raft entry `i` is `i - 1` (as in `quorum_status`). Each
//! applied raft entry travels as one v2 record batch (base offset `i - 1`, partition leader
//! epoch = its raft term) with one record whose value is the entry's data (this crate's
//! length-prefixed metadata records; no value for raft configuration entries). A snapshot is the
//! leader's applied image as `image_to_records` writes it, sent whole in one FetchSnapshot
//! answer (its id's end offset is the image's offset, i.e. the raft index it covers).

use bytes::Bytes;
use vltava_protocol::Uuid;
use vltava_protocol::messages::FetchRequest;
use vltava_protocol::messages::fetch_request::{FetchPartition, FetchTopic, ReplicaState};
use vltava_protocol::messages::fetch_snapshot_request::{
    FetchSnapshotRequest, PartitionSnapshot, SnapshotId, TopicSnapshot,
};
use vltava_records::{BatchBuilder, BatchBuilderConfig, DecodeLimits, RecordsReader};

use crate::error::RaftError;
use crate::quorum_wire::METADATA_TOPIC;

/// Kafka's fixed topic id of `__cluster_metadata` (`Uuid.METADATA_TOPIC_ID`).
pub const METADATA_TOPIC_ID: Uuid = Uuid([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
/// Most bytes of entries one fetch answer carries (at least one entry is always sent).
pub const FETCH_MAX_BYTES: u64 = 8 * 1024 * 1024;

/// One applied raft entry as an observer receives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchedEntry {
    /// Raft index (metadata offset + 1).
    pub index: u64,
    /// Raft term it was written in.
    pub term: u64,
    /// The entry's records (`None` for an entry without metadata, such as a raft
    /// configuration change).
    pub data: Option<Bytes>,
}

/// Encodes applied raft entries as concatenated v2 batches, one per entry.
pub fn entries_to_batches(entries: &[raft::eraftpb::Entry]) -> Result<Bytes, RaftError> {
    let mut out = Vec::new();
    for e in entries {
        let mut b = BatchBuilder::new(BatchBuilderConfig {
            base_offset: e.index as i64 - 1,
            partition_leader_epoch: i32::try_from(e.term).unwrap_or(i32::MAX),
            max_batch_bytes: usize::MAX,
            ..Default::default()
        });
        let value = (e.entry_type == raft::eraftpb::EntryType::EntryNormal).then_some(&e.data[..]);
        b.append(0, None, value, &[])
            .map_err(|err| RaftError::Codec(err.to_string()))?;
        out.extend_from_slice(&b.build().map_err(|err| RaftError::Codec(err.to_string()))?);
    }
    Ok(Bytes::from(out))
}

/// Decodes what [`entries_to_batches`] wrote (CRCs checked).
pub fn batches_to_entries(buf: &[u8]) -> Result<Vec<FetchedEntry>, RaftError> {
    let mut out = Vec::new();
    for item in RecordsReader::new(buf, DecodeLimits::default()) {
        let (header, record) = item.map_err(|e| RaftError::Codec(e.to_string()))?;
        let offset = record.offset(&header);
        let index = u64::try_from(offset + 1)
            .map_err(|_| RaftError::Codec(format!("negative metadata offset {offset}")))?;
        out.push(FetchedEntry {
            index,
            term: u64::try_from(header.partition_leader_epoch).unwrap_or(0),
            data: record.value,
        });
    }
    Ok(out)
}

/// An observer's Fetch of the metadata log at `version` from `fetch_offset` (the offset
/// after the last entry it holds), waiting up to `max_wait_ms` for new entries. The replica
/// id goes where `version` carries it (`ReplicaState` from v15); the cluster id from v12,
/// so a leader of another cluster refuses it.
pub fn fetch_request(
    version: i16,
    cluster_id: &str,
    replica_id: i32,
    fetch_offset: i64,
    max_wait_ms: i32,
) -> FetchRequest {
    let (old_id, state_id) = if version >= 15 {
        (-1, replica_id)
    } else {
        (replica_id, -1)
    };
    FetchRequest {
        cluster_id: (version >= 12 && !cluster_id.is_empty()).then(|| cluster_id.into()),
        replica_id: old_id,
        replica_state: ReplicaState {
            replica_id: state_id,
            replica_epoch: -1,
            ..Default::default()
        },
        max_wait_ms,
        min_bytes: 1,
        max_bytes: i32::try_from(FETCH_MAX_BYTES).unwrap_or(i32::MAX),
        session_id: 0,
        session_epoch: -1,
        topics: vec![FetchTopic {
            topic: METADATA_TOPIC.into(),
            topic_id: METADATA_TOPIC_ID,
            partitions: vec![FetchPartition {
                partition: 0,
                current_leader_epoch: -1,
                fetch_offset,
                last_fetched_epoch: -1,
                log_start_offset: -1,
                partition_max_bytes: i32::try_from(FETCH_MAX_BYTES).unwrap_or(i32::MAX),
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    }
}

/// An observer's FetchSnapshot of the snapshot `end_offset`/`epoch` a Fetch answer named.
pub fn fetch_snapshot_request(
    replica_id: i32,
    end_offset: i64,
    epoch: i32,
) -> FetchSnapshotRequest {
    FetchSnapshotRequest {
        replica_id,
        max_bytes: i32::MAX,
        topics: vec![TopicSnapshot {
            name: METADATA_TOPIC.into(),
            partitions: vec![PartitionSnapshot {
                partition: 0,
                current_leader_epoch: -1,
                snapshot_id: SnapshotId {
                    end_offset,
                    epoch,
                    ..Default::default()
                },
                position: 0,
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use raft::eraftpb::{Entry, EntryType};

    #[test]
    fn entries_survive_the_batch_round_trip() {
        let a = Entry {
            index: 7,
            term: 3,
            data: Bytes::from_static(b"records"),
            ..Default::default()
        };
        let b = Entry {
            index: 8,
            term: 4,
            entry_type: EntryType::EntryConfChange,
            data: Bytes::from_static(b"conf"),
            ..Default::default()
        };
        let c = Entry {
            index: 9,
            term: 4,
            ..Default::default()
        };
        let bytes = entries_to_batches(&[a, b, c]).unwrap();
        let got = batches_to_entries(&bytes).unwrap();
        assert_eq!(
            got,
            vec![
                FetchedEntry {
                    index: 7,
                    term: 3,
                    data: Some(Bytes::from_static(b"records"))
                },
                FetchedEntry {
                    index: 8,
                    term: 4,
                    data: None
                },
                FetchedEntry {
                    index: 9,
                    term: 4,
                    data: Some(Bytes::new())
                },
            ]
        );
        let mut broken = bytes.to_vec();
        let last = broken.len() - 1;
        broken[last] ^= 0xff;
        assert!(batches_to_entries(&broken).is_err());
    }
}

#[cfg(test)]
mod wire_tests {
    use super::*;
    use vltava_protocol::messages::RequestHeader;
    use vltava_protocol::{ApiKey, RequestBody};

    #[test]
    fn requests_encode_at_the_newest_versions() {
        let header = |key: ApiKey| RequestHeader {
            request_api_key: key.as_i16(),
            request_api_version: key.max_version(),
            correlation_id: 1,
            ..Default::default()
        };
        for version in [12, 14, ApiKey::Fetch.max_version()] {
            let fetch = RequestBody::from(fetch_request(version, "c", 4, 10, 500));
            let mut h = header(ApiKey::Fetch);
            h.request_api_version = version;
            vltava_protocol::frame::encode_request(&h, &fetch).unwrap();
        }
        let snap = RequestBody::from(fetch_snapshot_request(4, 10, 2));
        vltava_protocol::frame::encode_request(&header(ApiKey::FetchSnapshot), &snap).unwrap();
    }
}
