//! `PartitionProducers`: one replica's producer state, the real
//! `vltava_storage::producer_state::ProducerStateManager` the broker's log keeps, fed
//! with the header of every record the replica's log gets (as leader or follower) and
//! rebuilt from the log after a truncation or a crash (the log's `rebuild_producer_state`;
//! the simulated logs keep no snapshots, so the replay starts at offset 0). A leader
//! checks a producer's batch with it before the append (duplicate, sequence gap, fenced
//! epoch, transactional state) and a marker before writing it.
//!
//! The last stable offset follows `vltava_storage::Log::last_stable_offset`, whose
//! bookkeeping is private to the storage crate and is modelled here: the first offset of
//! the oldest open transaction, or of an ended one whose marker is not yet below the high
//! watermark, capped by the high watermark.

use std::collections::VecDeque;

use vltava_coordinator::codes;
use vltava_storage::StorageError;
use vltava_storage::producer_state::ProducerStateManager;

use crate::batch::{header, marker};
use crate::log::{Rec, SimLog};

/// A replica's producer state and the transactions whose markers are not replicated yet.
#[derive(Debug, Clone, Default)]
pub struct PartitionProducers {
    state: ProducerStateManager,
    /// (first offset, marker offset) of ended transactions whose marker was at or past the
    /// high watermark when it was applied.
    unreplicated: VecDeque<(u64, u64)>,
}

/// The Kafka error code a leader answers for a refused batch or marker.
pub fn storage_code(e: &StorageError) -> i16 {
    match e {
        StorageError::OutOfOrderSequence { .. } => 45,
        StorageError::InvalidProducerEpoch { .. } => codes::INVALID_PRODUCER_EPOCH,
        StorageError::InvalidTxnState { .. } => codes::INVALID_TXN_STATE,
        StorageError::TransactionCoordinatorFenced { .. } => codes::TRANSACTION_COORDINATOR_FENCED,
        _ => codes::UNKNOWN_SERVER_ERROR,
    }
}

impl PartitionProducers {
    /// The state of `log` replayed from its start; `hw` the replica's high watermark.
    pub fn rebuild(log: &SimLog, hw: u64) -> Self {
        let mut p = PartitionProducers::default();
        for (offset, rec) in log.records().iter().enumerate() {
            p.apply(*rec, offset as u64, hw);
        }
        p
    }

    /// `rec` is now in the log at `offset`.
    pub fn apply(&mut self, rec: Rec, offset: u64, hw: u64) {
        let h = header(rec, offset);
        if h.producer_id < 0 {
            return;
        }
        if let Some(done) = self.state.apply(&h, marker(rec)) {
            let first = u64::try_from(done.first_offset).unwrap_or(0);
            let last = u64::try_from(done.last_offset).unwrap_or(0);
            if last >= hw {
                self.unreplicated.push_back((first, last));
            }
        }
    }

    /// A leader's check of the producer batch `rec` it is about to append at `offset`:
    /// `Ok(Some(o))` a retry of the batch already at `o`, `Ok(None)` to append, `Err` the
    /// error code to answer.
    pub fn check(&self, rec: Rec, offset: u64) -> Result<Option<u64>, i16> {
        match self.state.check(&header(rec, offset)) {
            Ok(dup) => Ok(dup.and_then(|d| u64::try_from(d.last_offset).ok())),
            Err(e) => Err(storage_code(&e)),
        }
    }

    /// A leader's check of a marker for `producer_id` (Kafka's epoch and coordinator epoch
    /// fencing).
    pub fn check_marker(
        &self,
        producer_id: i64,
        producer_epoch: i16,
        coordinator_epoch: i32,
    ) -> Result<(), i16> {
        self.state
            .check_marker(producer_id, producer_epoch, coordinator_epoch)
            .map_err(|e| storage_code(&e))
    }

    /// The last stable offset at high watermark `hw`.
    pub fn last_stable_offset(&self, hw: u64) -> u64 {
        let open = self
            .state
            .first_unstable_offset()
            .and_then(|o| u64::try_from(o).ok());
        let unreplicated = self
            .unreplicated
            .iter()
            .filter(|(_, m)| *m >= hw)
            .map(|(f, _)| *f)
            .min();
        [open, unreplicated, Some(hw)]
            .into_iter()
            .flatten()
            .min()
            .unwrap_or(hw)
    }

    /// The real producer state.
    pub fn state(&self) -> &ProducerStateManager {
        &self.state
    }
}
