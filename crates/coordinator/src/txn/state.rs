//! One transactional id's state: Kafka's transaction states (with the ids
//! they have in `__transaction_state` and the names DescribeTransactions and
//! ListTransactions use) and `TxnMetadata`, the producer id/epoch, timeout,
//! partitions and timestamps of the id's current transaction.

use std::collections::BTreeSet;

/// Producer epoch of a producer id that never had one (Kafka's -1).
pub const NO_PRODUCER_EPOCH: i16 = -1;
/// Producer id meaning "none" (Kafka's -1).
pub const NO_PRODUCER_ID: i64 = -1;

/// The states of a transaction, as Kafka numbers and names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TxnState {
    /// No transaction open (a new id, or after InitProducerId).
    Empty,
    /// A transaction is open: partitions were added.
    Ongoing,
    /// EndTxn(commit) is written; markers are being written.
    PrepareCommit,
    /// EndTxn(abort) (or a fence, or a timeout) is written; markers are being written.
    PrepareAbort,
    /// Every COMMIT marker is written.
    CompleteCommit,
    /// Every ABORT marker is written.
    CompleteAbort,
    /// The id is being removed (expired).
    Dead,
    /// The epoch is being bumped to fence a producer (never written to the log).
    PrepareEpochFence,
}

impl TxnState {
    /// Every state, in id order.
    pub const ALL: [TxnState; 8] = [
        TxnState::Empty,
        TxnState::Ongoing,
        TxnState::PrepareCommit,
        TxnState::PrepareAbort,
        TxnState::CompleteCommit,
        TxnState::CompleteAbort,
        TxnState::Dead,
        TxnState::PrepareEpochFence,
    ];

    /// The `TransactionStatus` byte of the state in `__transaction_state`.
    pub fn id(self) -> i8 {
        match self {
            TxnState::Empty => 0,
            TxnState::Ongoing => 1,
            TxnState::PrepareCommit => 2,
            TxnState::PrepareAbort => 3,
            TxnState::CompleteCommit => 4,
            TxnState::CompleteAbort => 5,
            TxnState::Dead => 6,
            TxnState::PrepareEpochFence => 7,
        }
    }

    /// The state of a `TransactionStatus` byte.
    pub fn from_id(id: i8) -> Option<TxnState> {
        TxnState::ALL.into_iter().find(|s| s.id() == id)
    }

    /// Kafka's name of the state.
    pub fn name(self) -> &'static str {
        match self {
            TxnState::Empty => "Empty",
            TxnState::Ongoing => "Ongoing",
            TxnState::PrepareCommit => "PrepareCommit",
            TxnState::PrepareAbort => "PrepareAbort",
            TxnState::CompleteCommit => "CompleteCommit",
            TxnState::CompleteAbort => "CompleteAbort",
            TxnState::Dead => "Dead",
            TxnState::PrepareEpochFence => "PrepareEpochFence",
        }
    }

    /// The state named `name` (Kafka's names, exact case).
    pub fn from_name(name: &str) -> Option<TxnState> {
        TxnState::ALL.into_iter().find(|s| s.name() == name)
    }

    /// Empty, CompleteCommit or CompleteAbort: no transaction in progress.
    pub fn is_idle(self) -> bool {
        matches!(
            self,
            TxnState::Empty | TxnState::CompleteCommit | TxnState::CompleteAbort
        )
    }
}

/// Whether `epoch` is the last usable epoch of a producer id (Kafka bumps
/// to a new producer id instead of past `i16::MAX - 1`).
pub fn is_epoch_exhausted(epoch: i16) -> bool {
    epoch >= i16::MAX - 1
}

/// The durable part of a transactional id's state: exactly what one
/// `TransactionLogValue` record holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxnSnapshot {
    /// The producer id in use.
    pub producer_id: i64,
    /// The producer id used before the last rotation (-1 if none).
    pub last_producer_id: i64,
    /// The producer epoch.
    pub producer_epoch: i16,
    /// The epoch before the last bump by InitProducerId (-1 if unknown or
    /// after a fence); lets a retried InitProducerId get the same answer.
    /// Not written to the log (Kafka does not write it either).
    pub last_producer_epoch: i16,
    /// The transaction timeout.
    pub timeout_ms: i32,
    /// The state.
    pub state: TxnState,
    /// The partitions of the transaction (topic, partition).
    pub partitions: BTreeSet<(String, i32)>,
    /// When the current transaction started (-1 if none).
    pub start_ms: i64,
    /// When the state last changed.
    pub last_update_ms: i64,
}

/// A transactional id's state in the coordinator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxnMetadata {
    /// The transactional id.
    pub transactional_id: String,
    /// The state as last written (or loaded).
    pub current: TxnSnapshot,
    /// The state being written: an append is in flight.
    pub pending: Option<TxnState>,
    /// A fencing epoch bump whose PrepareAbort write failed: the next fence
    /// does not bump again (the bumped epoch was never handed out).
    pub failed_epoch_fence: bool,
    /// Markers being written (id of the WriteMarkers in flight).
    pub markers_in_flight: Option<u64>,
    /// When to write markers again, or retry the completion record.
    pub retry_at: Option<i64>,
}

impl TxnMetadata {
    /// A new id with `producer_id`, no epoch yet, Empty.
    pub fn new(transactional_id: &str, producer_id: i64, timeout_ms: i32, now_ms: i64) -> Self {
        TxnMetadata {
            transactional_id: transactional_id.to_owned(),
            current: TxnSnapshot {
                producer_id,
                last_producer_id: NO_PRODUCER_ID,
                producer_epoch: NO_PRODUCER_EPOCH,
                last_producer_epoch: NO_PRODUCER_EPOCH,
                timeout_ms,
                state: TxnState::Empty,
                partitions: BTreeSet::new(),
                start_ms: -1,
                last_update_ms: now_ms,
            },
            pending: None,
            failed_epoch_fence: false,
            markers_in_flight: None,
            retry_at: None,
        }
    }

    /// The state.
    pub fn state(&self) -> TxnState {
        self.current.state
    }

    /// Whether an append of a new state is in flight.
    pub fn has_pending(&self) -> bool {
        self.pending.is_some()
    }

    /// The partitions grouped by topic, topics and partitions in order.
    pub fn topics(&self) -> Vec<(String, Vec<i32>)> {
        group_by_topic(&self.current.partitions)
    }
}

/// `(topic, partition)` pairs grouped by topic, in order.
pub fn group_by_topic(parts: &BTreeSet<(String, i32)>) -> Vec<(String, Vec<i32>)> {
    let mut out: Vec<(String, Vec<i32>)> = Vec::new();
    for (t, p) in parts {
        match out.last_mut() {
            Some((name, ps)) if name == t => ps.push(*p),
            _ => out.push((t.clone(), vec![*p])),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_names_round_trip() {
        for s in TxnState::ALL {
            assert_eq!(TxnState::from_id(s.id()), Some(s));
            assert_eq!(TxnState::from_name(s.name()), Some(s));
        }
        assert_eq!(TxnState::from_id(8), None);
        assert_eq!(TxnState::from_name("ongoing"), None);
        assert_eq!(TxnState::PrepareAbort.id(), 3);
    }

    #[test]
    fn exhausted_epochs() {
        assert!(!is_epoch_exhausted(0));
        assert!(!is_epoch_exhausted(i16::MAX - 2));
        assert!(is_epoch_exhausted(i16::MAX - 1));
        assert!(is_epoch_exhausted(i16::MAX));
    }
}
