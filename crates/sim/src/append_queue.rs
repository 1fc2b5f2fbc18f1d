//! `AppendQueue`: a coordinator driver's appends to its internal partition, completed in
//! the order they were issued (the broker's drivers write them one at a time, like a log):
//! an outcome that arrives early waits for the appends before it.

use std::collections::VecDeque;

/// One issued append, waiting for its outcome or for the appends before it.
#[derive(Debug)]
struct Pending {
    append_id: u64,
    /// The id of its last record (how the broker names the write's completion).
    last_record: u64,
    outcome: Option<Result<(), i16>>,
}

/// The appends of one coordinator, in issue order.
#[derive(Debug, Default)]
pub struct AppendQueue {
    pending: VecDeque<Pending>,
}

impl AppendQueue {
    /// Append `append_id` was issued as a write whose last record is `last_record`, with
    /// its outcome when already known (refused, or answered at once).
    pub fn issued(&mut self, append_id: u64, last_record: u64, outcome: Option<Result<(), i16>>) {
        self.pending.push_back(Pending {
            append_id,
            last_record,
            outcome,
        });
    }

    /// The write whose last record is `last_record` completed. Whether it was one of
    /// this queue's.
    pub fn completed(&mut self, last_record: u64, outcome: Result<(), i16>) -> bool {
        match self
            .pending
            .iter_mut()
            .find(|a| a.last_record == last_record && a.outcome.is_none())
        {
            Some(a) => {
                a.outcome = Some(outcome);
                true
            }
            None => false,
        }
    }

    /// The next append whose outcome is known and whose predecessors are all done.
    pub fn pop_ready(&mut self) -> Option<(u64, Result<(), i16>)> {
        let outcome = self.pending.front()?.outcome?;
        let a = self.pending.pop_front()?;
        Some((a.append_id, outcome))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_later_outcome_waits_for_the_earlier_appends() {
        let mut q = AppendQueue::default();
        q.issued(1, 10, None);
        q.issued(2, 11, Some(Err(7)));
        assert_eq!(q.pop_ready(), None);
        assert!(q.completed(10, Ok(())));
        assert!(!q.completed(99, Ok(())));
        assert_eq!(q.pop_ready(), Some((1, Ok(()))));
        assert_eq!(q.pop_ready(), Some((2, Err(7))));
        assert_eq!(q.pop_ready(), None);
    }
}
