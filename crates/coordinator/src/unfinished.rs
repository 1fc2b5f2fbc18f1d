//! The appends a coordinator driver queued to its append worker and has no
//! outcome for yet, by partition, and the partition loads waiting for them:
//! a partition elected again while appends of an earlier term are still on
//! their way is read only once they are done, so that the read sees them.

use std::collections::HashMap;

/// Unfinished appends and the loads deferred behind them.
#[derive(Debug, Default)]
pub(crate) struct Unfinished {
    /// The partition of each append queued and not reported back. Bounded by
    /// the append worker's limits (queued plus committing).
    partitions: HashMap<u64, i32>,
    /// How many of those are on each partition (no entry: none), so an
    /// outcome does not scan every unfinished append.
    per_partition: HashMap<i32, usize>,
    /// Partitions elected (at this epoch) whose read waits for the appends
    /// unfinished on them. At most one per partition.
    loads: HashMap<i32, i32>,
}

impl Unfinished {
    /// Append `id` to `partition` was queued.
    pub(crate) fn queued(&mut self, id: u64, partition: i32) {
        if self.partitions.insert(id, partition).is_none() {
            *self.per_partition.entry(partition).or_default() += 1;
        }
    }

    /// Whether the load of `partition` at `epoch` must wait (appends to it
    /// are unfinished); it is then kept and handed back by
    /// [`Unfinished::finished`] once the last of them is done.
    pub(crate) fn defer_load(&mut self, partition: i32, epoch: i32) -> bool {
        if !self.per_partition.contains_key(&partition) {
            return false;
        }
        self.loads.insert(partition, epoch);
        true
    }

    /// Append `id`'s outcome arrived: the partition and epoch of a load that
    /// was waiting for it (and nothing else), if any.
    pub(crate) fn finished(&mut self, id: u64) -> Option<(i32, i32)> {
        let partition = self.partitions.remove(&id)?;
        match self.per_partition.get_mut(&partition) {
            Some(n) if *n > 1 => {
                *n -= 1;
                return None;
            }
            _ => {
                self.per_partition.remove(&partition);
            }
        }
        self.loads
            .remove(&partition)
            .map(|epoch| (partition, epoch))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_load_waits_for_the_appends_of_its_partition() {
        let mut u = Unfinished::default();
        assert!(!u.defer_load(3, 1));
        u.queued(1, 3);
        u.queued(2, 3);
        u.queued(3, 4);
        assert!(u.defer_load(3, 2));
        assert_eq!(u.finished(1), None);
        assert_eq!(u.finished(3), None);
        assert_eq!(u.finished(2), Some((3, 2)));
        assert_eq!(u.finished(2), None);
        assert!(!u.defer_load(3, 3));
    }
}
