//! Incremental fetch sessions (KIP-227): the broker remembers, per session, the
//! partitions a client fetches and what it last told the client about each, so
//! later requests list only changed partitions and responses carry only
//! partitions with news. Bounded by `max.incremental.fetch.session.cache.slots`
//! (least recently used sessions are evicted).

use std::collections::{BTreeMap, HashMap};

use vltava_protocol::{SharedStr, Uuid};

pub use vltava_protocol::error_codes::{FETCH_SESSION_ID_NOT_FOUND, INVALID_FETCH_SESSION_EPOCH};

/// A partition in a session, keyed by (topic as requested, topic id, partition).
pub type SessionKey = (SharedStr, Uuid, i32);

/// What the session knows about one partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionPartition {
    pub fetch_offset: i64,
    pub max_bytes: i32,
    /// Values last sent to the client (-2: never sent).
    pub last_hw: i64,
    pub last_lso: i64,
    pub last_start: i64,
}

impl SessionPartition {
    pub fn new(fetch_offset: i64, max_bytes: i32) -> Self {
        SessionPartition {
            fetch_offset,
            max_bytes,
            last_hw: -2,
            last_lso: -2,
            last_start: -2,
        }
    }
}

/// One session.
#[derive(Debug, Clone)]
pub struct Session {
    /// The epoch the next request must carry.
    pub next_epoch: i32,
    pub partitions: BTreeMap<SessionKey, SessionPartition>,
    last_used: u64,
}

/// The cache of sessions.
#[derive(Debug)]
pub struct FetchSessionCache {
    slots: usize,
    next_id: i32,
    tick: u64,
    sessions: HashMap<i32, Session>,
}

/// The epoch after `e` (wrapping to 1; 0 starts and -1 ends a session).
pub fn next_epoch(e: i32) -> i32 {
    if e == i32::MAX { 1 } else { e + 1 }
}

impl FetchSessionCache {
    /// A cache of at most `slots` sessions (0 disables sessions).
    pub fn new(slots: usize, first_id: i32) -> Self {
        FetchSessionCache {
            slots,
            next_id: first_id.max(1),
            tick: 0,
            sessions: HashMap::new(),
        }
    }

    /// Creates a session over `partitions`; `None` when sessions are disabled.
    pub fn create(&mut self, partitions: BTreeMap<SessionKey, SessionPartition>) -> Option<i32> {
        if self.slots == 0 {
            return None;
        }
        while self.sessions.len() >= self.slots {
            let oldest = self
                .sessions
                .iter()
                .min_by_key(|(_, s)| s.last_used)
                .map(|(id, _)| *id)?;
            self.sessions.remove(&oldest);
        }
        let mut id = self.next_id;
        while self.sessions.contains_key(&id) {
            id = if id == i32::MAX { 1 } else { id + 1 };
        }
        self.next_id = if id == i32::MAX { 1 } else { id + 1 };
        self.tick += 1;
        self.sessions.insert(
            id,
            Session {
                next_epoch: 1,
                partitions,
                last_used: self.tick,
            },
        );
        Some(id)
    }

    /// The session `id` for a request at `epoch`, or the error code to answer.
    pub fn get_mut(&mut self, id: i32, epoch: i32) -> Result<&mut Session, i16> {
        self.tick += 1;
        let tick = self.tick;
        let s = self
            .sessions
            .get_mut(&id)
            .ok_or(FETCH_SESSION_ID_NOT_FOUND)?;
        if s.next_epoch != epoch {
            return Err(INVALID_FETCH_SESSION_EPOCH);
        }
        s.last_used = tick;
        Ok(s)
    }

    /// Forgets session `id`.
    pub fn remove(&mut self, id: i32) {
        self.sessions.remove(&id);
    }

    pub fn len(&self) -> usize {
        self.sessions.len()
    }

    pub fn is_empty(&self) -> bool {
        self.sessions.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(n: i32) -> BTreeMap<SessionKey, SessionPartition> {
        (0..n)
            .map(|p| (("t".into(), Uuid::ZERO, p), SessionPartition::new(0, 100)))
            .collect()
    }

    #[test]
    fn sessions_check_epochs_and_evict_the_least_recently_used() {
        let mut c = FetchSessionCache::new(2, 7);
        let a = c.create(parts(1)).unwrap();
        let b = c.create(parts(2)).unwrap();
        assert_ne!(a, b);
        assert_eq!(c.get_mut(a, 2).unwrap_err(), INVALID_FETCH_SESSION_EPOCH);
        let s = c.get_mut(a, 1).unwrap();
        s.next_epoch = next_epoch(s.next_epoch);
        // b is now the least recently used one.
        let d = c.create(parts(3)).unwrap();
        assert_eq!(c.len(), 2);
        assert_eq!(c.get_mut(b, 1).unwrap_err(), FETCH_SESSION_ID_NOT_FOUND);
        assert!(c.get_mut(a, 2).is_ok());
        assert!(c.get_mut(d, 1).is_ok());
        c.remove(d);
        assert_eq!(c.get_mut(d, 1).unwrap_err(), FETCH_SESSION_ID_NOT_FOUND);
        assert!(FetchSessionCache::new(0, 1).create(parts(1)).is_none());
        assert_eq!(next_epoch(i32::MAX), 1);
    }
}
