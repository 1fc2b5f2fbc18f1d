//! The compacted internal topics as their coordinators see them: append
//! key/value records to one partition (as uncompressed v2 batches through the
//! normal leader append path, transactional for TxnOffsetCommit) and read a
//! partition back from its log start, with transactional records and COMMIT/ABORT
//! markers told apart. `OffsetsTopicLog` is `__consumer_offsets` for the group
//! coordinator.

use std::sync::Arc;

use bytes::Bytes;
use vltava_records::{
    BatchBuilder, BatchBuilderConfig, BatchIter, ControlRecordType, DecodeLimits, RecordsError,
};
use vltava_storage::{FetchIsolation, StorageError};

use crate::partitions::{PartitionManager, now_ms};

/// The internal topic holding group metadata and committed offsets.
pub const OFFSETS_TOPIC: &str = "__consumer_offsets";

/// Bytes read from the log per step while loading a partition.
const LOAD_READ_BYTES: u64 = 4 * 1024 * 1024;

/// Failures reading or writing `__consumer_offsets`.
#[derive(Debug, thiserror::Error)]
pub enum OffsetsLogError {
    #[error("__consumer_offsets partition {0} is not hosted here")]
    NotHosted(i32),
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error(transparent)]
    Records(#[from] RecordsError),
}

/// One entry of an internal topic partition, as its loader sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogEntry {
    /// A keyed record; `producer` is the producer id of a transactional batch.
    Record {
        key: Bytes,
        value: Option<Bytes>,
        producer: Option<i64>,
    },
    /// A COMMIT (`commit`) or ABORT control record of `producer_id`.
    Marker { producer_id: i64, commit: bool },
}

/// Appends `records` to `topic`-`partition` as uncompressed v2 batches (one
/// transactional batch set of `producer` (id, epoch) when given); they are
/// readable as soon as this returns.
pub fn append_internal(
    partitions: &PartitionManager,
    topic: &str,
    partition: i32,
    records: &[(Bytes, Option<Bytes>)],
    producer: Option<(i64, i16)>,
) -> Result<(), OffsetsLogError> {
    if records.is_empty() {
        return Ok(());
    }
    let p = partitions
        .get(topic, partition)
        .ok_or(OffsetsLogError::NotHosted(partition))?;
    let now = now_ms();
    let config = match producer {
        Some((id, epoch)) => BatchBuilderConfig {
            producer_id: id,
            producer_epoch: epoch,
            transactional: true,
            ..BatchBuilderConfig::default()
        },
        None => BatchBuilderConfig::default(),
    };
    let mut batches = Vec::new();
    let mut builder = BatchBuilder::new(config);
    for (key, value) in records {
        if !builder.append(now, Some(key), value.as_deref(), &[])? {
            let full = std::mem::replace(&mut builder, BatchBuilder::new(config));
            batches.extend_from_slice(&full.build()?);
            builder.append(now, Some(key), value.as_deref(), &[])?;
        }
    }
    batches.extend_from_slice(&builder.build()?);
    let mut log = p.log();
    log.append_as_leader(&mut batches, 0)?;
    let leo = log.log_end_offset();
    log.set_high_watermark(leo);
    drop(log);
    partitions.notify_append();
    Ok(())
}

/// Every entry of `topic`-`partition` from its log start, oldest first; an
/// absent partition has none.
pub fn read_internal(
    partitions: &PartitionManager,
    topic: &str,
    partition: i32,
) -> Result<Vec<LogEntry>, OffsetsLogError> {
    let Some(p) = partitions.get(topic, partition) else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    let log = p.log();
    let mut offset = log.log_start_offset();
    let end = log.log_end_offset();
    let limits = DecodeLimits::default();
    while offset < end {
        let bytes = log.read_bytes(offset, LOAD_READ_BYTES, FetchIsolation::LogEnd, true)?;
        if bytes.is_empty() {
            break;
        }
        let mut next = offset;
        for view in BatchIter::new(&bytes) {
            let view = view?;
            let h = *view.header();
            next = h.next_offset();
            for r in view.records(&limits)? {
                if r.offset(&h) < offset {
                    continue;
                }
                let Some(k) = r.key else { continue };
                if h.attributes.is_control() {
                    // An undecodable control key is not a marker; skip it.
                    if let Ok((_, kind)) = vltava_records::control::decode_key(&k) {
                        match kind {
                            ControlRecordType::Commit | ControlRecordType::Abort => {
                                out.push(LogEntry::Marker {
                                    producer_id: h.producer_id,
                                    commit: kind == ControlRecordType::Commit,
                                })
                            }
                            ControlRecordType::Other(_) => {}
                        }
                    }
                    continue;
                }
                out.push(LogEntry::Record {
                    key: k,
                    value: r.value,
                    producer: h.attributes.is_transactional().then_some(h.producer_id),
                });
            }
        }
        if next <= offset {
            break;
        }
        offset = next;
    }
    Ok(out)
}

/// The broker's `__consumer_offsets` partitions.
#[derive(Debug, Clone)]
pub struct OffsetsTopicLog {
    partitions: Arc<PartitionManager>,
}

impl OffsetsTopicLog {
    pub fn new(partitions: Arc<PartitionManager>) -> Self {
        OffsetsTopicLog { partitions }
    }

    /// Appends `records` to `partition`; they are readable as soon as this returns.
    pub fn append_records(
        &self,
        partition: i32,
        records: Vec<(Bytes, Option<Bytes>)>,
    ) -> Result<(), OffsetsLogError> {
        append_internal(&self.partitions, OFFSETS_TOPIC, partition, &records, None)
    }

    /// Every non-transactional record of `partition` from its log start, oldest first.
    pub fn read_all_records(
        &self,
        partition: i32,
    ) -> Result<Vec<(Bytes, Option<Bytes>)>, OffsetsLogError> {
        Ok(read_internal(&self.partitions, OFFSETS_TOPIC, partition)?
            .into_iter()
            .filter_map(|e| match e {
                LogEntry::Record {
                    key,
                    value,
                    producer: None,
                } => Some((key, value)),
                _ => None,
            })
            .collect())
    }
}

impl vltava_coordinator::OffsetsLog for OffsetsTopicLog {
    fn append(
        &mut self,
        partition: i32,
        records: Vec<(Bytes, Option<Bytes>)>,
    ) -> Result<(), vltava_coordinator::CoordinatorError> {
        self.append_records(partition, records)
            .map_err(|e| vltava_coordinator::CoordinatorError::Log(e.to_string()))
    }

    fn read_all(
        &mut self,
        partition: i32,
    ) -> Result<Vec<(Bytes, Option<Bytes>)>, vltava_coordinator::CoordinatorError> {
        self.read_all_records(partition)
            .map_err(|e| vltava_coordinator::CoordinatorError::Log(e.to_string()))
    }

    fn append_transactional(
        &mut self,
        partition: i32,
        producer_id: i64,
        producer_epoch: i16,
        records: Vec<(Bytes, Option<Bytes>)>,
    ) -> Result<(), vltava_coordinator::CoordinatorError> {
        append_internal(
            &self.partitions,
            OFFSETS_TOPIC,
            partition,
            &records,
            Some((producer_id, producer_epoch)),
        )
        .map_err(|e| match &e {
            // The log's own refusals (a fenced epoch, a bad transaction state)
            // reach the client with their Kafka code.
            OffsetsLogError::Storage(s) if !is_io_failure(s) => {
                vltava_coordinator::CoordinatorError::Refused {
                    code: crate::error_codes::for_storage(s),
                    message: e.to_string(),
                }
            }
            _ => vltava_coordinator::CoordinatorError::Log(e.to_string()),
        })
    }

    fn read_entries(
        &mut self,
        partition: i32,
    ) -> Result<Vec<vltava_coordinator::OffsetsLogEntry>, vltava_coordinator::CoordinatorError>
    {
        use vltava_coordinator::OffsetsLogEntry;
        let entries = read_internal(&self.partitions, OFFSETS_TOPIC, partition)
            .map_err(|e| vltava_coordinator::CoordinatorError::Log(e.to_string()))?;
        Ok(entries
            .into_iter()
            .map(|e| match e {
                LogEntry::Record {
                    key,
                    value,
                    producer: None,
                } => OffsetsLogEntry::Record { key, value },
                LogEntry::Record {
                    key,
                    value,
                    producer: Some(producer_id),
                } => OffsetsLogEntry::Transactional {
                    producer_id,
                    key,
                    value,
                },
                LogEntry::Marker {
                    producer_id,
                    commit,
                } => OffsetsLogEntry::Marker {
                    producer_id,
                    commit,
                },
            })
            .collect())
    }
}

/// Whether a storage error is the disk failing (not a refusal of the batch).
fn is_io_failure(e: &StorageError) -> bool {
    matches!(
        e,
        StorageError::Io { .. } | StorageError::LogOffline(_) | StorageError::Corrupt { .. }
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use vltava_storage::LogConfig;

    #[test]
    fn append_then_read_back_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let m = Arc::new(PartitionManager::new(dir.path()).unwrap());
        let log = OffsetsTopicLog::new(m.clone());
        assert!(log.read_all_records(3).unwrap().is_empty());
        assert!(matches!(
            log.append_records(3, vec![(Bytes::from_static(b"k"), None)]),
            Err(OffsetsLogError::NotHosted(3))
        ));
        m.open(OFFSETS_TOPIC, 3, LogConfig::default()).unwrap();
        let big = Bytes::from(vec![7u8; 700_000]);
        log.append_records(
            3,
            vec![(Bytes::from_static(b"a"), Some(Bytes::from_static(b"1")))],
        )
        .unwrap();
        log.append_records(
            3,
            vec![
                (Bytes::from_static(b"b"), Some(big.clone())),
                (Bytes::from_static(b"c"), Some(big.clone())),
                (Bytes::from_static(b"a"), None),
            ],
        )
        .unwrap();
        let all = log.read_all_records(3).unwrap();
        let keys: Vec<&[u8]> = all.iter().map(|(k, _)| &k[..]).collect();
        assert_eq!(keys, vec![&b"a"[..], b"b", b"c", b"a"]);
        assert_eq!(all[2].1.as_deref(), Some(&big[..]));
        assert_eq!(all[3].1, None);
    }

    #[test]
    fn reader_tells_plain_transactional_records_and_markers_apart() {
        let dir = tempfile::tempdir().unwrap();
        let m = Arc::new(PartitionManager::new(dir.path()).unwrap());
        let p = m.open(OFFSETS_TOPIC, 0, LogConfig::default()).unwrap();
        let rec = |k: &'static [u8]| (Bytes::from_static(k), Some(Bytes::from_static(b"v")));
        append_internal(&m, OFFSETS_TOPIC, 0, &[rec(b"plain")], None).unwrap();
        append_internal(&m, OFFSETS_TOPIC, 0, &[rec(b"txn")], Some((7, 0))).unwrap();
        p.log()
            .append_control_marker(7, 0, 0, false, 0, now_ms())
            .unwrap();
        append_internal(&m, OFFSETS_TOPIC, 0, &[rec(b"txn2")], Some((7, 0))).unwrap();
        p.log()
            .append_control_marker(7, 0, 0, true, 0, now_ms())
            .unwrap();
        let entries = read_internal(&m, OFFSETS_TOPIC, 0).unwrap();
        let record = |k: &'static [u8], producer| LogEntry::Record {
            key: Bytes::from_static(k),
            value: Some(Bytes::from_static(b"v")),
            producer,
        };
        assert_eq!(
            entries,
            vec![
                record(b"plain", None),
                record(b"txn", Some(7)),
                LogEntry::Marker {
                    producer_id: 7,
                    commit: false
                },
                record(b"txn2", Some(7)),
                LogEntry::Marker {
                    producer_id: 7,
                    commit: true
                },
            ]
        );
        // The plain view (used by `read_all`) has only the plain record.
        let plain = OffsetsTopicLog::new(m.clone()).read_all_records(0).unwrap();
        assert_eq!(plain, vec![rec(b"plain")]);
    }
}
