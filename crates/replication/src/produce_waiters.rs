//! `ProduceWaiters`: acks=all produce requests waiting for the high watermark to pass their
//! records, indexed by required offset (completion) and by deadline (timeout), bounded.

use std::collections::{BTreeMap, BTreeSet};

/// Identifies one waiting produce request of one partition (allocated by the replica).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ProduceId(pub u64);

/// The waiter table is at its bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WaitersFull;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Waiter {
    required_offset: u64,
    deadline_ms: u64,
}

/// Waiting produce requests of one partition.
#[derive(Debug, Clone)]
pub struct ProduceWaiters {
    waiters: BTreeMap<ProduceId, Waiter>,
    by_offset: BTreeSet<(u64, ProduceId)>,
    by_deadline: BTreeSet<(u64, ProduceId)>,
    next_id: u64,
    limit: usize,
}

impl ProduceWaiters {
    /// An empty table holding at most `limit` waiters.
    pub fn new(limit: usize) -> Self {
        ProduceWaiters {
            waiters: BTreeMap::new(),
            by_offset: BTreeSet::new(),
            by_deadline: BTreeSet::new(),
            next_id: 0,
            limit,
        }
    }

    /// Number of waiting requests.
    pub fn len(&self) -> usize {
        self.waiters.len()
    }

    /// Whether another waiter would exceed the bound.
    pub fn is_full(&self) -> bool {
        self.waiters.len() >= self.limit
    }

    /// Adds a request that completes once the high watermark reaches `required_offset`, or
    /// times out at `deadline_ms`.
    pub fn register(
        &mut self,
        required_offset: u64,
        deadline_ms: u64,
    ) -> Result<ProduceId, WaitersFull> {
        if self.is_full() {
            return Err(WaitersFull);
        }
        let id = ProduceId(self.next_id);
        self.next_id += 1;
        self.waiters.insert(
            id,
            Waiter {
                required_offset,
                deadline_ms,
            },
        );
        self.by_offset.insert((required_offset, id));
        self.by_deadline.insert((deadline_ms, id));
        Ok(id)
    }

    /// Removes and returns the requests whose required offset is ≤ `high_watermark`, with
    /// their required offsets, in offset order.
    pub fn take_reached(&mut self, high_watermark: u64) -> Vec<(ProduceId, u64)> {
        let reached: Vec<(u64, ProduceId)> = self
            .by_offset
            .range(..=(high_watermark, ProduceId(u64::MAX)))
            .copied()
            .collect();
        reached
            .into_iter()
            .filter_map(|(offset, id)| self.remove(id).map(|_| (id, offset)))
            .collect()
    }

    /// Removes and returns the requests whose deadline is ≤ `now_ms`.
    pub fn take_expired(&mut self, now_ms: u64) -> Vec<ProduceId> {
        let expired: Vec<(u64, ProduceId)> = self
            .by_deadline
            .range(..=(now_ms, ProduceId(u64::MAX)))
            .copied()
            .collect();
        expired
            .into_iter()
            .filter_map(|(_, id)| self.remove(id).map(|_| id))
            .collect()
    }

    /// Removes and returns every request.
    pub fn take_all(&mut self) -> Vec<ProduceId> {
        let ids: Vec<ProduceId> = self.waiters.keys().copied().collect();
        self.waiters.clear();
        self.by_offset.clear();
        self.by_deadline.clear();
        ids
    }

    fn remove(&mut self, id: ProduceId) -> Option<Waiter> {
        let waiter = self.waiters.remove(&id)?;
        self.by_offset.remove(&(waiter.required_offset, id));
        self.by_deadline.remove(&(waiter.deadline_ms, id));
        Some(waiter)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn reached_in_offset_order_and_only_once() {
        let mut w = ProduceWaiters::new(10);
        let a = w.register(5, 100).unwrap();
        let b = w.register(3, 100).unwrap();
        let c = w.register(9, 100).unwrap();
        assert_eq!(w.take_reached(5), vec![(b, 3), (a, 5)]);
        assert_eq!(w.take_reached(5), vec![]);
        assert_eq!(w.take_expired(100), vec![c]);
        assert_eq!(w.len(), 0);
    }

    #[test]
    fn expiry_by_deadline() {
        let mut w = ProduceWaiters::new(10);
        let a = w.register(5, 50).unwrap();
        let b = w.register(5, 80).unwrap();
        assert_eq!(w.take_expired(49), vec![]);
        assert_eq!(w.take_expired(60), vec![a]);
        assert_eq!(w.take_all(), vec![b]);
        assert_eq!(w.take_reached(u64::MAX), vec![]);
    }

    #[test]
    fn bounded() {
        let mut w = ProduceWaiters::new(2);
        w.register(1, 1).unwrap();
        w.register(2, 2).unwrap();
        assert!(w.is_full());
        assert_eq!(w.register(3, 3), Err(WaitersFull));
        assert_eq!(w.len(), 2);
    }
}
