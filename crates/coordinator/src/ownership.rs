//! Which partitions of its internal topic (`__consumer_offsets` or
//! `__transaction_state`) a coordinator serves, and at which coordinator
//! epoch (the partition's leader epoch): Kafka's `onElection` /
//! `onResignation` bookkeeping. A key of a partition not served here is
//! NOT_COORDINATOR, of a partition being loaded COORDINATOR_LOAD_IN_PROGRESS.
//!
//! A coordinator built with [`Ownership::all`] serves every partition at
//! one epoch (one node that is the coordinator of everything); one built with
//! [`Ownership::none`] serves what it is elected for.

use std::collections::HashMap;

use crate::codes;

/// The state of one partition on this coordinator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PartitionStatus {
    /// Being read from the log: its keys get COORDINATOR_LOAD_IN_PROGRESS.
    Loading,
    /// Loaded and served.
    Active,
}

/// The partitions this coordinator serves.
#[derive(Debug, Clone)]
pub struct Ownership {
    /// Served partitions, their status and coordinator epoch.
    owned: HashMap<i32, (PartitionStatus, i32)>,
    /// The newest epoch seen per partition, served or not (older elections
    /// and resignations are ignored).
    epochs: HashMap<i32, i32>,
}

impl Ownership {
    /// Serves every one of `partitions` partitions, at `epoch`.
    pub fn all(partitions: i32, epoch: i32) -> Ownership {
        let owned = (0..partitions.max(1))
            .map(|p| (p, (PartitionStatus::Active, epoch)))
            .collect();
        Ownership {
            owned,
            epochs: HashMap::new(),
        }
    }

    /// Serves nothing until elected.
    pub fn none() -> Ownership {
        Ownership {
            owned: HashMap::new(),
            epochs: HashMap::new(),
        }
    }

    /// The error for a key of `partition`: NOT_COORDINATOR when not served,
    /// COORDINATOR_LOAD_IN_PROGRESS while loading, `None` when served.
    pub fn error(&self, partition: i32) -> Option<i16> {
        match self.owned.get(&partition) {
            None => Some(codes::NOT_COORDINATOR),
            Some((PartitionStatus::Loading, _)) => Some(codes::COORDINATOR_LOAD_IN_PROGRESS),
            Some((PartitionStatus::Active, _)) => None,
        }
    }

    /// The coordinator epoch of a served partition.
    pub fn epoch(&self, partition: i32) -> Option<i32> {
        self.owned.get(&partition).map(|(_, e)| *e)
    }

    /// Whether `partition` is being loaded.
    pub fn is_loading(&self, partition: i32) -> bool {
        matches!(
            self.owned.get(&partition),
            Some((PartitionStatus::Loading, _))
        )
    }

    /// Whether any partition is being loaded.
    pub fn any_loading(&self) -> bool {
        self.owned
            .values()
            .any(|(s, _)| *s == PartitionStatus::Loading)
    }

    /// Every served partition goes to `status` (the one-node load at start).
    pub fn set_all(&mut self, status: PartitionStatus) {
        for (s, _) in self.owned.values_mut() {
            *s = status;
        }
    }

    /// Elected for `partition` at `epoch`: it starts loading. False (and no
    /// change) when `epoch` is older than one already seen, or it is already
    /// served at that epoch.
    pub fn elect(&mut self, partition: i32, epoch: i32) -> bool {
        if self.epochs.get(&partition).is_some_and(|e| *e > epoch) {
            return false;
        }
        if self.owned.get(&partition).is_some_and(|(_, e)| *e == epoch) {
            return false;
        }
        self.epochs.insert(partition, epoch);
        self.owned
            .insert(partition, (PartitionStatus::Loading, epoch));
        true
    }

    /// Loading `partition` at `epoch` is done: it is served. False when it
    /// was resigned or re-elected meanwhile.
    pub fn loaded(&mut self, partition: i32, epoch: i32) -> bool {
        match self.owned.get_mut(&partition) {
            Some((s @ PartitionStatus::Loading, e)) if *e == epoch => {
                *s = PartitionStatus::Active;
                true
            }
            _ => false,
        }
    }

    /// Resigned from `partition` at `epoch` (`None`: whatever epoch): it is
    /// no longer served. False when it was not served, or served at a newer
    /// epoch than `epoch`.
    pub fn resign(&mut self, partition: i32, epoch: Option<i32>) -> bool {
        let Some((_, current)) = self.owned.get(&partition) else {
            return false;
        };
        if epoch.is_some_and(|e| e < *current) {
            return false;
        }
        if let Some(e) = epoch {
            let seen = self.epochs.entry(partition).or_insert(e);
            *seen = (*seen).max(e);
        }
        self.owned.remove(&partition);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn elections_and_resignations_follow_epochs() {
        let mut o = Ownership::none();
        assert_eq!(o.error(3), Some(codes::NOT_COORDINATOR));
        assert!(o.elect(3, 5));
        assert_eq!(o.error(3), Some(codes::COORDINATOR_LOAD_IN_PROGRESS));
        assert!(!o.elect(3, 5), "same epoch again is no new election");
        assert!(o.loaded(3, 5));
        assert_eq!(o.error(3), None);
        assert_eq!(o.epoch(3), Some(5));
        assert!(!o.resign(3, Some(4)), "an older resignation is ignored");
        assert_eq!(o.error(3), None);
        assert!(o.resign(3, Some(6)));
        assert_eq!(o.error(3), Some(codes::NOT_COORDINATOR));
        assert!(!o.elect(3, 5), "an election older than a resignation seen");
        assert!(o.elect(3, 7));
        assert!(
            !o.loaded(3, 6),
            "a load of another epoch does not finish it"
        );
        assert!(o.is_loading(3));
    }

    #[test]
    fn all_serves_every_partition() {
        let mut o = Ownership::all(4, 0);
        assert!((0..4).all(|p| o.error(p).is_none()));
        assert_eq!(o.error(4), Some(codes::NOT_COORDINATOR));
        o.set_all(PartitionStatus::Loading);
        assert!(o.any_loading());
        assert_eq!(o.error(0), Some(codes::COORDINATOR_LOAD_IN_PROGRESS));
    }
}
