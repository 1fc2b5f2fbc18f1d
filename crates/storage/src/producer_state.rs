//! Producer state for idempotent and transactional producers: per producer id the
//! current epoch and the metadata of its last five batches, so a leader can answer a
//! retried batch with its original offsets, reject sequence gaps, and fence zombie
//! producers. Snapshots (`<20-digit offset>.snapshot`) use Kafka's layout:
//!
//! | field | type |
//! |---|---|
//! | version | i16 (1) |
//! | crc | u32, CRC-32C of everything after this field |
//! | entry count | i32 |
//! | per entry: producer id | i64 |
//! | producer epoch | i16 |
//! | last sequence | i32 |
//! | last offset | i64 |
//! | offset delta (last offset - first offset of the batch) | i32 |
//! | timestamp | i64 |
//! | coordinator epoch | i32 |
//! | first offset of the open transaction (-1: none) | i64 |

use std::collections::{BTreeMap, VecDeque};
use std::path::Path;

use vltava_records::BatchHeader;
use vltava_records::batch_header::{NO_PRODUCER_ID, NO_SEQUENCE};

use crate::checkpoint::{read_small_file, write_atomic};
use crate::error::{Result, StorageError};
use crate::io::Storage;
use crate::segment::{SNAPSHOT_SUFFIX, file_name, parse_file_name};

/// How many batches per producer are remembered for duplicate detection.
pub const MAX_CACHED_BATCHES: usize = 5;
const SNAPSHOT_VERSION: i16 = 1;
const ENTRY_BYTES: usize = 8 + 2 + 4 + 8 + 4 + 8 + 4 + 8;
const HEADER_BYTES: usize = 2 + 4 + 4;
const MAX_SNAPSHOT_BYTES: u64 = 256 * 1024 * 1024;

/// What is remembered of one appended batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchMetadata {
    pub first_seq: i32,
    pub last_seq: i32,
    pub last_offset: i64,
    pub offset_delta: i32,
    pub timestamp: i64,
}

impl BatchMetadata {
    /// Offset of the batch's first record.
    pub fn first_offset(&self) -> i64 {
        self.last_offset - i64::from(self.offset_delta)
    }
}

/// What an end-transaction control record says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TxnMarker {
    /// COMMIT (true) or ABORT (false).
    pub commit: bool,
    pub coordinator_epoch: i32,
}

/// A transaction a marker ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CompletedTxn {
    pub producer_id: i64,
    /// Offset of the transaction's first batch.
    pub first_offset: i64,
    /// Offset of the marker.
    pub last_offset: i64,
    pub aborted: bool,
}

/// One producer's state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProducerEntry {
    pub epoch: i16,
    /// Newest last.
    pub batches: VecDeque<BatchMetadata>,
    pub coordinator_epoch: i32,
    /// First offset of the producer's open transaction, if any.
    pub current_txn_first_offset: Option<i64>,
    pub last_timestamp: i64,
}

/// Every producer's state, as of `map_end_offset`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProducerStateManager {
    producers: BTreeMap<i64, ProducerEntry>,
    map_end_offset: i64,
}

fn next_seq(s: i32) -> i32 {
    if s == i32::MAX { 0 } else { s + 1 }
}

impl ProducerStateManager {
    /// An empty state at offset 0.
    pub fn new() -> Self {
        Self::default()
    }

    /// The offset up to which batches have been applied.
    pub fn map_end_offset(&self) -> i64 {
        self.map_end_offset
    }

    /// One producer's state.
    pub fn get(&self, producer_id: i64) -> Option<&ProducerEntry> {
        self.producers.get(&producer_id)
    }

    /// Every tracked producer, by id.
    pub fn producers(&self) -> impl Iterator<Item = (i64, &ProducerEntry)> {
        self.producers.iter().map(|(id, e)| (*id, e))
    }

    /// Number of producers tracked.
    pub fn len(&self) -> usize {
        self.producers.len()
    }

    /// Whether no producer is tracked.
    pub fn is_empty(&self) -> bool {
        self.producers.is_empty()
    }

    /// Checks a batch a leader is about to append. `Ok(Some(meta))` means it is a
    /// retry of a batch already in the log at `meta`'s offsets. A batch with a
    /// producer id but no sequence (a coordinator writing for a producer) gets the
    /// epoch and transaction checks only.
    pub fn check(&self, h: &BatchHeader) -> Result<Option<BatchMetadata>> {
        if h.producer_id == NO_PRODUCER_ID || h.attributes.is_control() {
            return Ok(None);
        }
        let Some(e) = self.producers.get(&h.producer_id) else {
            return Ok(None);
        };
        if h.producer_epoch < e.epoch {
            return Err(StorageError::InvalidProducerEpoch {
                producer_id: h.producer_id,
                current: e.epoch,
                received: h.producer_epoch,
            });
        }
        // A producer with an open transaction may only write transactional
        // batches until a marker ends it.
        let txn_state_ok = e.current_txn_first_offset.is_none() || h.attributes.is_transactional();
        if h.base_sequence == NO_SEQUENCE {
            // Written by a coordinator for the producer (transactional offset
            // commits): no sequence to check, as Kafka skips it for that origin.
            if !txn_state_ok {
                return Err(StorageError::InvalidTxnState {
                    producer_id: h.producer_id,
                });
            }
            return Ok(None);
        }
        if h.producer_epoch > e.epoch {
            if !txn_state_ok {
                return Err(StorageError::InvalidTxnState {
                    producer_id: h.producer_id,
                });
            }
            if h.base_sequence != 0 {
                return Err(StorageError::OutOfOrderSequence {
                    producer_id: h.producer_id,
                    expected: 0,
                    received: h.base_sequence,
                });
            }
            return Ok(None);
        }
        if let Some(dup) = retried_batch(e, h)? {
            return Ok(Some(dup));
        }
        if let Some(last) = e.batches.back() {
            let expected = next_seq(last.last_seq);
            if h.base_sequence != expected {
                return Err(StorageError::OutOfOrderSequence {
                    producer_id: h.producer_id,
                    expected,
                    received: h.base_sequence,
                });
            }
        }
        if !txn_state_ok {
            return Err(StorageError::InvalidTxnState {
                producer_id: h.producer_id,
            });
        }
        Ok(None)
    }

    /// Checks a COMMIT/ABORT marker the coordinator is about to write, like Kafka:
    /// an epoch older than the producer's is `InvalidProducerEpoch`, a coordinator
    /// epoch older than the one of the producer's last marker is
    /// `TransactionCoordinatorFenced`. An unknown producer passes.
    pub fn check_marker(
        &self,
        producer_id: i64,
        producer_epoch: i16,
        coordinator_epoch: i32,
    ) -> Result<()> {
        let Some(e) = self.producers.get(&producer_id) else {
            return Ok(());
        };
        if producer_epoch < e.epoch {
            return Err(StorageError::InvalidProducerEpoch {
                producer_id,
                current: e.epoch,
                received: producer_epoch,
            });
        }
        if coordinator_epoch < e.coordinator_epoch {
            return Err(StorageError::TransactionCoordinatorFenced {
                producer_id,
                current: e.coordinator_epoch,
                received: coordinator_epoch,
            });
        }
        Ok(())
    }

    /// Applies a batch that is now in the log (offsets final). A control batch is
    /// taken as a marker of unknown kind: see [`ProducerStateManager::apply`].
    pub fn update(&mut self, h: &BatchHeader) {
        self.apply(h, None);
    }

    /// Applies a batch that is now in the log (offsets final); for a control batch,
    /// `marker` is what its record says (`None`: not a readable COMMIT/ABORT). A
    /// control batch ends the producer's open transaction, which is returned.
    pub fn apply(&mut self, h: &BatchHeader, marker: Option<TxnMarker>) -> Option<CompletedTxn> {
        self.map_end_offset = self.map_end_offset.max(h.next_offset());
        if h.producer_id == NO_PRODUCER_ID {
            return None;
        }
        let e = self
            .producers
            .entry(h.producer_id)
            .or_insert_with(|| ProducerEntry {
                epoch: h.producer_epoch,
                batches: VecDeque::new(),
                coordinator_epoch: -1,
                current_txn_first_offset: None,
                last_timestamp: h.max_timestamp,
            });
        if h.producer_epoch > e.epoch {
            e.epoch = h.producer_epoch;
            e.batches.clear();
        }
        e.last_timestamp = h.max_timestamp;
        if h.attributes.is_control() {
            if let Some(m) = marker {
                e.coordinator_epoch = m.coordinator_epoch;
            }
            return e
                .current_txn_first_offset
                .take()
                .map(|first_offset| CompletedTxn {
                    producer_id: h.producer_id,
                    first_offset,
                    last_offset: h.last_offset(),
                    aborted: marker.is_some_and(|m| !m.commit),
                });
        }
        if h.attributes.is_transactional() && e.current_txn_first_offset.is_none() {
            e.current_txn_first_offset = Some(h.base_offset);
        }
        if h.base_sequence != NO_SEQUENCE {
            e.batches.push_back(BatchMetadata {
                first_seq: h.base_sequence,
                last_seq: h.last_sequence(),
                last_offset: h.last_offset(),
                offset_delta: h.last_offset_delta,
                timestamp: h.max_timestamp,
            });
            while e.batches.len() > MAX_CACHED_BATCHES {
                e.batches.pop_front();
            }
        }
        None
    }

    /// The first offset of the oldest open transaction: the last stable offset is
    /// at most this.
    pub fn first_unstable_offset(&self) -> Option<i64> {
        self.producers
            .values()
            .filter_map(|e| e.current_txn_first_offset)
            .min()
    }

    /// A copy holding only the given producers (to check several batches of one
    /// append against each other before any is applied).
    pub fn scoped(&self, producer_ids: impl IntoIterator<Item = i64>) -> Self {
        let mut out = ProducerStateManager {
            producers: BTreeMap::new(),
            map_end_offset: self.map_end_offset,
        };
        for pid in producer_ids {
            if let Some(e) = self.producers.get(&pid) {
                out.producers.insert(pid, e.clone());
            }
        }
        out
    }

    /// Sets the offset the state is considered current to.
    pub fn set_map_end_offset(&mut self, offset: i64) {
        self.map_end_offset = offset;
    }

    /// Forgets everything and restarts at `offset`.
    pub fn reset(&mut self, offset: i64) {
        self.producers.clear();
        self.map_end_offset = offset;
    }

    /// Serializes the state in Kafka's snapshot layout.
    pub fn encode_snapshot(&self) -> Vec<u8> {
        let mut body = Vec::with_capacity(4 + self.producers.len() * ENTRY_BYTES);
        body.extend_from_slice(&(self.producers.len() as i32).to_be_bytes());
        for (pid, e) in &self.producers {
            let last = e.batches.back();
            body.extend_from_slice(&pid.to_be_bytes());
            body.extend_from_slice(&e.epoch.to_be_bytes());
            body.extend_from_slice(&last.map_or(NO_SEQUENCE, |b| b.last_seq).to_be_bytes());
            body.extend_from_slice(&last.map_or(-1, |b| b.last_offset).to_be_bytes());
            body.extend_from_slice(&last.map_or(0, |b| b.offset_delta).to_be_bytes());
            body.extend_from_slice(&last.map_or(e.last_timestamp, |b| b.timestamp).to_be_bytes());
            body.extend_from_slice(&e.coordinator_epoch.to_be_bytes());
            body.extend_from_slice(&e.current_txn_first_offset.unwrap_or(-1).to_be_bytes());
        }
        let mut out = Vec::with_capacity(6 + body.len());
        out.extend_from_slice(&SNAPSHOT_VERSION.to_be_bytes());
        out.extend_from_slice(&crc32c::crc32c(&body).to_be_bytes());
        out.extend_from_slice(&body);
        out
    }

    /// Parses a snapshot taken at `offset`, checking version, CRC and sizes.
    pub fn decode_snapshot(path: &Path, bytes: &[u8], offset: i64) -> Result<Self> {
        let bad = |why: &str| StorageError::corrupt(path, why.to_string());
        if bytes.len() < HEADER_BYTES {
            return Err(bad("snapshot too short"));
        }
        let version = i16::from_be_bytes([bytes[0], bytes[1]]);
        if version != SNAPSHOT_VERSION {
            return Err(bad("unsupported snapshot version"));
        }
        let crc = u32::from_be_bytes([bytes[2], bytes[3], bytes[4], bytes[5]]);
        let body = &bytes[6..];
        if crc32c::crc32c(body) != crc {
            return Err(bad("snapshot crc mismatch"));
        }
        let count = i32::from_be_bytes([body[0], body[1], body[2], body[3]]);
        let entries = &body[4..];
        if count < 0 || entries.len() != count as usize * ENTRY_BYTES {
            return Err(bad("snapshot entry count does not match its size"));
        }
        let mut producers = BTreeMap::new();
        for e in entries.chunks_exact(ENTRY_BYTES) {
            let i64_at = |at: usize| {
                let mut b = [0u8; 8];
                b.copy_from_slice(&e[at..at + 8]);
                i64::from_be_bytes(b)
            };
            let i32_at = |at: usize| i32::from_be_bytes([e[at], e[at + 1], e[at + 2], e[at + 3]]);
            let pid = i64_at(0);
            let epoch = i16::from_be_bytes([e[8], e[9]]);
            let last_seq = i32_at(10);
            let last_offset = i64_at(14);
            let offset_delta = i32_at(22);
            let timestamp = i64_at(26);
            let coordinator_epoch = i32_at(34);
            let txn = i64_at(38);
            let mut batches = VecDeque::new();
            if last_seq != NO_SEQUENCE && last_offset >= 0 && offset_delta >= 0 {
                let first_seq = ((i64::from(last_seq) - i64::from(offset_delta))
                    .rem_euclid(i64::from(i32::MAX) + 1)) as i32;
                batches.push_back(BatchMetadata {
                    first_seq,
                    last_seq,
                    last_offset,
                    offset_delta,
                    timestamp,
                });
            }
            producers.insert(
                pid,
                ProducerEntry {
                    epoch,
                    batches,
                    coordinator_epoch,
                    current_txn_first_offset: (txn >= 0).then_some(txn),
                    last_timestamp: timestamp,
                },
            );
        }
        Ok(ProducerStateManager {
            producers,
            map_end_offset: offset,
        })
    }

    /// Writes `<map_end_offset>.snapshot` in `dir` atomically.
    pub fn write_snapshot(&self, storage: &dyn Storage, dir: &Path) -> Result<()> {
        let path = dir.join(file_name(self.map_end_offset, SNAPSHOT_SUFFIX));
        write_atomic(storage, &path, &self.encode_snapshot())
    }

    /// Offsets of the snapshot files in `dir`, ascending.
    pub fn list_snapshots(storage: &dyn Storage, dir: &Path) -> Result<Vec<i64>> {
        let names = storage
            .list_dir(dir)
            .map_err(|e| StorageError::io(dir, e))?;
        let mut offs: Vec<i64> = names
            .iter()
            .filter_map(|n| parse_file_name(n, SNAPSHOT_SUFFIX))
            .collect();
        offs.sort_unstable();
        Ok(offs)
    }

    /// Loads the newest readable snapshot at or below `max_offset`; unreadable
    /// snapshots are deleted. `None` when there is none.
    pub fn load_latest(storage: &dyn Storage, dir: &Path, max_offset: i64) -> Result<Option<Self>> {
        let offs = Self::list_snapshots(storage, dir)?;
        for &off in offs.iter().rev().filter(|&&o| o <= max_offset) {
            let path = dir.join(file_name(off, SNAPSHOT_SUFFIX));
            let loaded =
                read_small_file(storage, &path, MAX_SNAPSHOT_BYTES).and_then(|b| match b {
                    Some(b) => Self::decode_snapshot(&path, &b, off).map(Some),
                    None => Ok(None),
                });
            match loaded {
                Ok(Some(state)) => return Ok(Some(state)),
                Ok(None) | Err(StorageError::Corrupt { .. }) => {
                    let _ = storage.remove(&path);
                }
                Err(e) => return Err(e),
            }
        }
        Ok(None)
    }

    /// Deletes snapshots whose offset satisfies `pred`.
    pub fn delete_snapshots(
        storage: &dyn Storage,
        dir: &Path,
        pred: impl Fn(i64) -> bool,
    ) -> Result<()> {
        for off in Self::list_snapshots(storage, dir)? {
            if pred(off) {
                let path = dir.join(file_name(off, SNAPSHOT_SUFFIX));
                storage
                    .remove(&path)
                    .map_err(|e| StorageError::io(&path, e))?;
            }
        }
        Ok(())
    }
}

/// The batch of `e` that `h` retries (same sequences): `Ok(None)` when it retries
/// none.
fn retried_batch(e: &ProducerEntry, h: &BatchHeader) -> Result<Option<BatchMetadata>> {
    let Some(dup) = e
        .batches
        .iter()
        .find(|b| b.first_seq == h.base_sequence && b.last_seq == h.last_sequence())
    else {
        return Ok(None);
    };
    // A transactional batch is a retry only of a batch of the producer's open
    // transaction: clients finish their writes before they end one. Sequences
    // of an ended transaction coming again are a client re-using numbers it
    // took for unwritten (librdkafka's abort purges a batch awaiting retry
    // after NOT_LEADER_OR_FOLLOWER, though the old leader had written it):
    // answering them as a duplicate, as Kafka does, would drop the new
    // transaction's records. Out of order makes the client bump its epoch.
    let in_open_txn = e
        .current_txn_first_offset
        .is_some_and(|first| dup.first_offset() >= first);
    if h.attributes.is_transactional() && !in_open_txn {
        return Err(StorageError::OutOfOrderSequence {
            producer_id: h.producer_id,
            expected: e.batches.back().map_or(0, |last| next_seq(last.last_seq)),
            received: h.base_sequence,
        });
    }
    Ok(Some(*dup))
}

#[cfg(test)]
mod tests {
    use super::*;
    use vltava_records::{Attributes, Compression, TimestampType};

    fn header(pid: i64, epoch: i16, seq: i32, base: i64, n: i32) -> BatchHeader {
        BatchHeader {
            base_offset: base,
            batch_length: 49,
            partition_leader_epoch: 0,
            magic: 2,
            crc: 0,
            attributes: Attributes::new(Compression::None, TimestampType::CreateTime, false, false),
            last_offset_delta: n - 1,
            base_timestamp: 10,
            max_timestamp: 10,
            producer_id: pid,
            producer_epoch: epoch,
            base_sequence: seq,
            record_count: n,
        }
    }

    #[test]
    fn detects_duplicates_gaps_and_fencing() {
        let mut s = ProducerStateManager::new();
        let b0 = header(7, 1, 0, 0, 3);
        assert_eq!(s.check(&b0).unwrap(), None);
        s.update(&b0);
        let b1 = header(7, 1, 3, 3, 2);
        s.update(&b1);
        // A retry of the first batch returns its original offsets.
        let dup = s.check(&header(7, 1, 0, 99, 3)).unwrap().unwrap();
        assert_eq!((dup.first_offset(), dup.last_offset), (0, 2));
        // A gap is out of order.
        assert!(matches!(
            s.check(&header(7, 1, 9, 99, 1)),
            Err(StorageError::OutOfOrderSequence { expected: 5, .. })
        ));
        // The next sequence is fine.
        assert_eq!(s.check(&header(7, 1, 5, 99, 1)).unwrap(), None);
        // An older epoch is fenced; a newer one must start at sequence 0.
        assert!(matches!(
            s.check(&header(7, 0, 5, 99, 1)),
            Err(StorageError::InvalidProducerEpoch { .. })
        ));
        assert!(s.check(&header(7, 2, 4, 99, 1)).is_err());
        assert_eq!(s.check(&header(7, 2, 0, 99, 1)).unwrap(), None);
    }

    #[test]
    fn transactions_refuse_plain_batches_and_coordinator_batches_skip_sequences() {
        let txn = |pid, epoch, seq, base, n| {
            let mut h = header(pid, epoch, seq, base, n);
            h.attributes =
                Attributes::new(Compression::None, TimestampType::CreateTime, true, false);
            h
        };
        let mut s = ProducerStateManager::new();
        s.update(&txn(7, 1, 0, 0, 2));
        assert_eq!(s.get(7).unwrap().current_txn_first_offset, Some(0));
        assert!(matches!(
            s.check(&header(7, 1, 2, 2, 1)),
            Err(StorageError::InvalidTxnState { producer_id: 7 })
        ));
        assert!(matches!(
            s.check(&header(7, 1, NO_SEQUENCE, 2, 1)),
            Err(StorageError::InvalidTxnState { producer_id: 7 })
        ));
        // A coordinator's transactional batch without a sequence, even with a
        // newer epoch; an older epoch is still fenced.
        assert_eq!(s.check(&txn(7, 1, NO_SEQUENCE, 2, 1)).unwrap(), None);
        assert_eq!(s.check(&txn(7, 2, NO_SEQUENCE, 2, 1)).unwrap(), None);
        assert!(s.check(&txn(7, 0, NO_SEQUENCE, 2, 1)).is_err());
        assert_eq!(s.first_unstable_offset(), Some(0));
        // Markers end the transaction; coordinator epochs only go up.
        let mut marker = txn(7, 1, NO_SEQUENCE, 2, 1);
        marker.attributes =
            Attributes::new(Compression::None, TimestampType::CreateTime, true, true);
        let done = s.apply(
            &marker,
            Some(TxnMarker {
                commit: false,
                coordinator_epoch: 4,
            }),
        );
        assert_eq!(
            done,
            Some(CompletedTxn {
                producer_id: 7,
                first_offset: 0,
                last_offset: 2,
                aborted: true
            })
        );
        assert_eq!(s.first_unstable_offset(), None);
        assert!(s.check_marker(7, 1, 4).is_ok());
        assert!(matches!(
            s.check_marker(7, 1, 3),
            Err(StorageError::TransactionCoordinatorFenced { .. })
        ));
        assert!(matches!(
            s.check_marker(7, 0, 4),
            Err(StorageError::InvalidProducerEpoch { .. })
        ));
        // The snapshot keeps the coordinator epoch and the open transaction.
        s.update(&txn(7, 1, 2, 3, 1));
        let back = ProducerStateManager::decode_snapshot(Path::new("/s"), &s.encode_snapshot(), 4)
            .unwrap();
        assert_eq!(back.get(7).unwrap().coordinator_epoch, 4);
        assert_eq!(back.first_unstable_offset(), Some(3));
    }

    #[test]
    fn sequences_of_an_ended_transaction_are_not_retries() {
        let txn = |seq, base| {
            let mut h = header(7, 1, seq, base, 1);
            h.attributes =
                Attributes::new(Compression::None, TimestampType::CreateTime, true, false);
            h
        };
        let mut marker = txn(NO_SEQUENCE, 0);
        marker.attributes =
            Attributes::new(Compression::None, TimestampType::CreateTime, true, true);
        let abort = Some(TxnMarker {
            commit: false,
            coordinator_epoch: 0,
        });
        let mut s = ProducerStateManager::new();
        s.update(&txn(0, 0));
        s.update(&txn(1, 1));
        // Within the open transaction a copy is a retry.
        assert_eq!(s.check(&txn(1, 9)).unwrap().map(|b| b.last_offset), Some(1));
        marker.base_offset = 2;
        s.apply(&marker, abort);
        // After the marker the same numbers are a client re-using them: out of order,
        // with or without a new transaction open.
        assert!(matches!(
            s.check(&txn(1, 9)),
            Err(StorageError::OutOfOrderSequence {
                expected: 2,
                received: 1,
                ..
            })
        ));
        s.update(&txn(2, 3));
        assert!(matches!(
            s.check(&txn(1, 9)),
            Err(StorageError::OutOfOrderSequence { .. })
        ));
        // A retry of the new transaction's batch still is one.
        assert_eq!(s.check(&txn(2, 9)).unwrap().map(|b| b.last_offset), Some(3));
    }

    #[test]
    fn keeps_only_five_batches() {
        let mut s = ProducerStateManager::new();
        for i in 0..8 {
            s.update(&header(1, 0, i, i64::from(i), 1));
        }
        let e = s.get(1).unwrap();
        assert_eq!(e.batches.len(), MAX_CACHED_BATCHES);
        assert_eq!(e.batches[0].first_seq, 3);
    }

    #[test]
    fn snapshot_round_trips_last_batch_and_rejects_corruption() {
        let mut s = ProducerStateManager::new();
        s.update(&header(7, 1, 0, 0, 3));
        s.update(&header(9, 4, 10, 3, 2));
        let bytes = s.encode_snapshot();
        let p = Path::new("/x.snapshot");
        let back = ProducerStateManager::decode_snapshot(p, &bytes, 5).unwrap();
        assert_eq!(back.map_end_offset(), 5);
        assert_eq!(
            back.get(9).unwrap().batches.back(),
            s.get(9).unwrap().batches.back()
        );
        assert_eq!(back.get(9).unwrap().batches[0].first_seq, 10);
        for i in 0..bytes.len() {
            let mut c = bytes.clone();
            c[i] ^= 0x10;
            assert!(
                ProducerStateManager::decode_snapshot(p, &c, 5).is_err(),
                "flip {i}"
            );
        }
        assert!(ProducerStateManager::decode_snapshot(p, &bytes[..7], 5).is_err());
    }
}
