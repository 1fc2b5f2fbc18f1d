//! `EpochHistory`: an in-memory leader-epoch history (epoch → start offset, plus the log end
//! offset) implementing [`LeaderEpochLookup`] with Kafka's rules. Simulations and tests use it
//! as the "log"; the broker asks storage's `leader-epoch-checkpoint` instead.

use crate::epoch_lookup::{EpochEndOffset, LeaderEpochLookup};

/// Leader epochs of one log in increasing epoch and start-offset order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EpochHistory {
    entries: Vec<(i32, u64)>,
    log_end_offset: u64,
}

impl EpochHistory {
    /// An empty log.
    pub fn new() -> Self {
        Self::default()
    }

    /// The log's end offset.
    pub fn log_end_offset(&self) -> u64 {
        self.log_end_offset
    }

    /// The (epoch, start offset) entries.
    pub fn entries(&self) -> &[(i32, u64)] {
        &self.entries
    }

    /// Records that `epoch` starts at `start_offset`. An epoch not above the latest one is
    /// ignored; entries starting at or after `start_offset` are replaced (they were never
    /// written under a smaller epoch, as Kafka's cache assigns).
    pub fn assign(&mut self, epoch: i32, start_offset: u64) {
        if self.latest_epoch().is_some_and(|latest| epoch <= latest) {
            return;
        }
        self.entries.retain(|&(_, start)| start < start_offset);
        self.entries.push((epoch, start_offset));
    }

    /// Appends records of `epoch` up to (excluding) `new_log_end_offset`.
    pub fn append(&mut self, epoch: i32, new_log_end_offset: u64) {
        if new_log_end_offset <= self.log_end_offset {
            return;
        }
        let start = self.log_end_offset;
        self.assign(epoch, start);
        self.log_end_offset = new_log_end_offset;
    }

    /// Cuts the log at `offset`: the end offset becomes `offset` (if smaller) and epochs that
    /// started at or after it are forgotten.
    pub fn truncate_to(&mut self, offset: u64) {
        if offset < self.log_end_offset {
            self.log_end_offset = offset;
        }
        self.entries.retain(|&(_, start)| start < offset);
    }
}

impl LeaderEpochLookup for EpochHistory {
    fn end_offset_for_epoch(&self, epoch: i32) -> Option<EpochEndOffset> {
        let (latest, _) = *self.entries.last()?;
        if epoch == latest {
            return Some(EpochEndOffset {
                epoch,
                end_offset: self.log_end_offset,
            });
        }
        let higher = self.entries.iter().position(|&(e, _)| e > epoch)?;
        let (_, higher_start) = self.entries[higher];
        let found_epoch = match higher.checked_sub(1) {
            Some(floor) => self.entries[floor].0,
            None => epoch,
        };
        Some(EpochEndOffset {
            epoch: found_epoch,
            end_offset: higher_start,
        })
    }

    fn latest_epoch(&self) -> Option<i32> {
        self.entries.last().map(|&(epoch, _)| epoch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn history() -> EpochHistory {
        let mut h = EpochHistory::new();
        h.append(1, 10);
        h.append(3, 25);
        h.append(5, 30);
        h
    }

    #[test]
    fn end_offsets_follow_kafkas_rules() {
        let h = history();
        let at = |epoch, end_offset| Some(EpochEndOffset { epoch, end_offset });
        assert_eq!(
            h.end_offset_for_epoch(5),
            at(5, 30),
            "latest ends at the LEO"
        );
        assert_eq!(h.end_offset_for_epoch(3), at(3, 25));
        assert_eq!(h.end_offset_for_epoch(4), at(3, 25), "floor epoch");
        assert_eq!(h.end_offset_for_epoch(1), at(1, 10));
        assert_eq!(h.end_offset_for_epoch(0), at(0, 0), "below all: its own");
        assert_eq!(h.end_offset_for_epoch(6), None, "above all");
        assert_eq!(EpochHistory::new().end_offset_for_epoch(0), None);
        assert_eq!(h.latest_epoch(), Some(5));
    }

    #[test]
    fn truncation_forgets_later_epochs() {
        let mut h = history();
        h.truncate_to(20);
        assert_eq!(h.log_end_offset(), 20);
        assert_eq!(h.entries(), &[(1, 0), (3, 10)]);
        h.truncate_to(10);
        assert_eq!(h.entries(), &[(1, 0)]);
        assert_eq!(h.latest_epoch(), Some(1));
    }

    #[test]
    fn assign_ignores_older_epochs_and_replaces_later_starts() {
        let mut h = history();
        h.assign(4, 40);
        assert_eq!(h.latest_epoch(), Some(5));
        h.assign(7, 28);
        assert_eq!(h.entries(), &[(1, 0), (3, 10), (5, 25), (7, 28)]);
    }
}
