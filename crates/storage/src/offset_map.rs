//! The cleaner's bounded key → latest offset map (Kafka's
//! `log.cleaner.dedupe.buffer.size`): each key costs its length plus a fixed
//! overhead against the map's byte budget, so a log with more distinct keys than
//! fit is cleaned in passes, each mapping as much of the dirty section as fits.

use std::collections::HashMap;

/// Bytes counted for each key besides the key itself (hash table slot, offset,
/// allocation).
pub const ENTRY_OVERHEAD: usize = 64;

/// Key → the largest offset seen with it, within a byte budget.
#[derive(Debug, Default)]
pub struct OffsetMap {
    map: HashMap<Box<[u8]>, i64>,
    used: usize,
    capacity: usize,
}

impl OffsetMap {
    /// An empty map allowed `capacity` bytes.
    pub fn new(capacity: usize) -> Self {
        OffsetMap {
            map: HashMap::new(),
            used: 0,
            capacity,
        }
    }

    /// What a new key of `len` bytes costs.
    pub fn cost(len: usize) -> usize {
        len.saturating_add(ENTRY_OVERHEAD)
    }

    /// Whether these keys can all be put in without going over the budget (keys
    /// already present cost nothing).
    pub fn fits<'k>(&self, keys: impl IntoIterator<Item = &'k [u8]>) -> bool {
        let extra = keys
            .into_iter()
            .filter(|k| !self.map.contains_key(*k))
            .fold(0usize, |a, k| a.saturating_add(Self::cost(k.len())));
        self.used.saturating_add(extra) <= self.capacity
    }

    /// Records `offset` for `key` (offsets only grow: the larger one is kept).
    pub fn put(&mut self, key: &[u8], offset: i64) {
        match self.map.get_mut(key) {
            Some(o) => *o = (*o).max(offset),
            None => {
                self.used = self.used.saturating_add(Self::cost(key.len()));
                self.map.insert(key.into(), offset);
            }
        }
    }

    /// The latest offset recorded for `key`.
    pub fn get(&self, key: &[u8]) -> Option<i64> {
        self.map.get(key).copied()
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether no key was put.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Bytes of the budget in use.
    pub fn used_bytes(&self) -> usize {
        self.used
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_latest_offset_and_counts_new_keys_only() {
        let mut m = OffsetMap::new(2 * OffsetMap::cost(1));
        assert!(m.fits([&b"a"[..], &b"b"[..]]));
        m.put(b"a", 3);
        m.put(b"a", 1);
        assert_eq!(m.get(b"a"), Some(3));
        assert_eq!(m.used_bytes(), OffsetMap::cost(1));
        m.put(b"b", 4);
        assert!(m.fits([&b"a"[..]]));
        assert!(!m.fits([&b"c"[..]]));
        assert_eq!(m.len(), 2);
    }
}
