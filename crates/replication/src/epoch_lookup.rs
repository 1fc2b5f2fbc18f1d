//! `LeaderEpochLookup`: the question a replica asks of its local log's leader-epoch history
//! (Kafka's OffsetsForLeaderEpoch semantics). Storage answers it for the broker;
//! [`crate::EpochHistory`] answers it in memory for simulations and tests.

/// An epoch and the offset where it ends in a log: the start offset of the next larger epoch,
/// or the log end offset for the latest epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EpochEndOffset {
    /// The leader epoch.
    pub epoch: i32,
    /// The first offset after that epoch's records.
    pub end_offset: u64,
}

/// Read access to a local log's leader-epoch history.
pub trait LeaderEpochLookup {
    /// Kafka's `endOffsetFor(epoch)`: the largest epoch ≤ `epoch` with its end offset; when
    /// `epoch` is below every known epoch, `epoch` itself ending where the first known one
    /// starts; `None` when `epoch` is above every known epoch or the history is empty.
    fn end_offset_for_epoch(&self, epoch: i32) -> Option<EpochEndOffset>;

    /// The epoch of the last batch in the log, if any.
    fn latest_epoch(&self) -> Option<i32>;
}
