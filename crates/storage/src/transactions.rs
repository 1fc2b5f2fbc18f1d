//! Transactions on the log: COMMIT/ABORT markers (what WriteTxnMarkers writes on a
//! partition), the aborted transactions a read_committed fetch needs, and the
//! bookkeeping that turns markers into `.txnindex` entries, live and on recovery.
//!
//! A transactional producer's first batch opens its transaction (producer state
//! keeps its first offset, which bounds the last stable offset); a marker ends it.
//! An ABORT marker ending a transaction that holds data adds an [`AbortedTxn`] to
//! the `.txnindex` of the segment holding the marker, with the last stable offset
//! as of that marker (the first offset of the oldest transaction still open, or
//! the offset after the marker).

use std::collections::{BTreeSet, VecDeque};

use bytes::Bytes;
use vltava_records::batch_header::NO_SEQUENCE;
use vltava_records::control::{ControlRecordType, EndTxnMarker, build_end_txn_batch, decode_key};
use vltava_records::{BatchBuilderConfig, BatchHeader, BatchView, DecodeLimits};

use crate::error::{Result, StorageError};
use crate::log::{AppendInfo, Log};
use crate::producer_state::{CompletedTxn, ProducerStateManager, TxnMarker};
use crate::segment::LogSegment;
use crate::txn_index::AbortedTxn;

/// What the control record of a control batch says, if it is a COMMIT or ABORT
/// marker. `batch` is the whole batch.
pub fn read_txn_marker(batch: &[u8]) -> Option<TxnMarker> {
    let view = BatchView::new(batch).ok()?;
    let records = view.records(&DecodeLimits::default()).ok()?;
    let record = records.first()?;
    let (_, kind) = decode_key(record.key.as_deref()?).ok()?;
    let commit = match kind {
        ControlRecordType::Commit => true,
        ControlRecordType::Abort => false,
        ControlRecordType::Other(_) => return None,
    };
    let value = EndTxnMarker::decode(record.value.as_deref()?).ok()?;
    Some(TxnMarker {
        commit,
        coordinator_epoch: value.coordinator_epoch,
    })
}

/// The aborted transaction a completed one adds to the index, with the last stable
/// offset `state` (already updated by the marker) gives.
fn aborted_entry(done: &CompletedTxn, state: &ProducerStateManager) -> Option<AbortedTxn> {
    done.aborted.then(|| AbortedTxn {
        producer_id: done.producer_id,
        first_offset: done.first_offset,
        last_offset: done.last_offset,
        last_stable_offset: state
            .first_unstable_offset()
            .unwrap_or(done.last_offset + 1),
    })
}

impl Log {
    /// Appends one COMMIT (`commit = true`) or ABORT control batch for
    /// `producer_id` at the log end (what WriteTxnMarkers does on one partition),
    /// stamped with `leader_epoch` and timestamped `now_ms`. Ends the producer's
    /// open transaction (if any); an ABORT of an open transaction adds an
    /// [`AbortedTxn`] to the active segment's `.txnindex`. Checks like Kafka: an
    /// epoch older than the producer's is [`StorageError::InvalidProducerEpoch`], a
    /// coordinator epoch older than the producer's last marker's is
    /// [`StorageError::TransactionCoordinatorFenced`]. A marker for a producer with
    /// no open transaction is still written (Kafka does).
    pub fn append_control_marker(
        &mut self,
        producer_id: i64,
        producer_epoch: i16,
        coordinator_epoch: i32,
        commit: bool,
        leader_epoch: i32,
        now_ms: i64,
    ) -> Result<AppendInfo> {
        self.ensure_online()?;
        if producer_id < 0 {
            return Err(StorageError::InvalidRecord(format!(
                "transaction marker for invalid producer id {producer_id}"
            )));
        }
        self.producers
            .check_marker(producer_id, producer_epoch, coordinator_epoch)?;
        let kind = if commit {
            ControlRecordType::Commit
        } else {
            ControlRecordType::Abort
        };
        let batch = build_end_txn_batch(
            BatchBuilderConfig {
                base_offset: self.log_end_offset(),
                partition_leader_epoch: leader_epoch,
                producer_id,
                producer_epoch,
                base_sequence: NO_SEQUENCE,
                ..BatchBuilderConfig::default()
            },
            kind,
            coordinator_epoch,
            now_ms,
        )?;
        self.append_leader_batches(&batch, leader_epoch, true, false)
            .map(|(info, _)| info)
    }

    /// Aborted transactions overlapping `[fetch_offset, upper_bound_offset)` (for a
    /// read_committed fetch the upper bound is the last stable offset), oldest
    /// first. Like Kafka, the search starts at the segment holding `fetch_offset`
    /// and stops at the first entry whose last stable offset reaches the bound.
    pub fn aborted_transactions(
        &self,
        fetch_offset: i64,
        upper_bound_offset: i64,
    ) -> Result<Vec<AbortedTxn>> {
        let mut out = Vec::new();
        if upper_bound_offset <= fetch_offset {
            return Ok(out);
        }
        let start = self
            .segments
            .range(..=fetch_offset)
            .next_back()
            .map_or(i64::MIN, |(b, _)| *b);
        for seg in self.segments.range(start..).map(|(_, s)| s) {
            if seg
                .txn_index()
                .collect(fetch_offset, upper_bound_offset, &mut out)
            {
                break;
            }
        }
        Ok(out)
    }

    /// Applies appended batches to producer state and records aborted transactions
    /// in the active segment's `.txnindex`. `bytes` holds the batches at the given
    /// positions (control batches are read for their marker).
    pub(crate) fn apply_appended(
        &mut self,
        bytes: &[u8],
        headers: &[(usize, BatchHeader)],
    ) -> Result<()> {
        for (pos, h) in headers {
            let marker = if h.attributes.is_control() {
                bytes
                    .get(*pos..*pos + h.total_size())
                    .and_then(read_txn_marker)
            } else {
                None
            };
            let Some(done) = self.producers.apply(h, marker) else {
                continue;
            };
            if done.last_offset >= self.high_watermark {
                self.unreplicated_txns
                    .push_back((done.first_offset, done.last_offset));
            }
            if let Some(entry) = aborted_entry(&done, &self.producers) {
                let r = match self.segments.values_mut().next_back() {
                    Some(seg) => seg.append_aborted_txn(entry),
                    None => Err(StorageError::InvalidRecord("log has no segment".into())),
                };
                if r.is_err() {
                    // The marker is written but its entry is not: go offline, so
                    // that reopening recovers the segment and rebuilds the index.
                    self.offline = true;
                }
                r?;
            }
        }
        Ok(())
    }

    /// Reloads producer state from the newest snapshot at or below the log end (or
    /// below the first segment in `rebuild_txn`) and replays the batches after it;
    /// the `.txnindex` of every segment in `rebuild_txn` is rebuilt from its
    /// markers on the way.
    pub(crate) fn replay_producer_state(&mut self, rebuild_txn: &BTreeSet<i64>) -> Result<()> {
        let leo = self.log_end_offset();
        let limit = rebuild_txn.first().map_or(leo, |b| (*b).min(leo));
        let storage = self.storage.clone();
        let st = storage.as_ref();
        // Any snapshot from the first segment on will do: the batches after it are
        // all there to replay (a transaction opened below the log start offset
        // still holds the last stable offset).
        let first_base = self
            .segments
            .keys()
            .next()
            .copied()
            .unwrap_or(self.log_start_offset);
        let mut state = match ProducerStateManager::load_latest(st, &self.dir, limit)? {
            Some(s) if s.map_end_offset() >= first_base => s,
            _ => {
                let mut s = ProducerStateManager::new();
                s.reset(first_base);
                s
            }
        };
        let from = state.map_end_offset();
        let hw = self.high_watermark;
        // Ended transactions before the snapshot are not replayed: keep those
        // already known that still hold the last stable offset.
        let mut unreplicated: VecDeque<(i64, i64)> = self
            .unreplicated_txns
            .iter()
            .copied()
            .filter(|(_, marker)| *marker < from && *marker >= hw)
            .collect();
        for (base, seg) in self.segments.iter_mut() {
            let rebuild = rebuild_txn.contains(base);
            if rebuild {
                seg.reset_txn_index()?;
            }
            if seg.next_offset() <= from {
                continue;
            }
            for (pos, h) in seg.headers()? {
                if h.last_offset() < from {
                    continue;
                }
                let marker = if h.attributes.is_control() {
                    read_marker_at(seg, pos, &h)?
                } else {
                    None
                };
                let Some(done) = state.apply(&h, marker) else {
                    continue;
                };
                if done.last_offset >= hw {
                    unreplicated.push_back((done.first_offset, done.last_offset));
                }
                if rebuild {
                    if let Some(entry) = aborted_entry(&done, &state) {
                        seg.append_aborted_txn(entry)?;
                    }
                }
            }
        }
        state.set_map_end_offset(leo);
        self.producers = state;
        self.unreplicated_txns = unreplicated;
        Ok(())
    }
}

/// The marker of the control batch at `pos` in `seg`.
fn read_marker_at(seg: &LogSegment, pos: u64, h: &BatchHeader) -> Result<Option<TxnMarker>> {
    let bytes: Bytes = seg.read_bytes(pos, h.total_size() as u64)?;
    Ok(read_txn_marker(&bytes))
}
