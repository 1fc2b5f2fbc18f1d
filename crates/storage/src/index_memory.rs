//! Bounds the memory the indexes of a log's inactive segments take: their
//! entries are read on first use (see `index_file`), and each log keeps those
//! of at most [`MAX_LOADED_INACTIVE`] inactive segments, the most recently
//! used; the others are dropped (they are read back from their files when
//! needed). The active segment's indexes always stay in memory.

use crate::log::Log;

/// Inactive segments per log whose index entries stay in memory.
pub const MAX_LOADED_INACTIVE: usize = 2;

impl Log {
    /// Drops the index entries of the least recently used inactive segments
    /// beyond [`MAX_LOADED_INACTIVE`]; returns how many segments dropped theirs.
    /// Runs after rolls, flushes and retention passes.
    pub fn bound_index_memory(&mut self) -> usize {
        let active = self.segments.keys().next_back().copied();
        let mut loaded: Vec<(u64, i64)> = self
            .segments
            .iter()
            .filter(|(b, s)| Some(**b) != active && s.indexes_loaded())
            .map(|(b, s)| (s.index_last_use(), *b))
            .collect();
        if loaded.len() <= MAX_LOADED_INACTIVE {
            return 0;
        }
        loaded.sort_unstable_by(|a, b| b.cmp(a));
        let mut dropped = 0;
        for (_, base) in loaded.into_iter().skip(MAX_LOADED_INACTIVE) {
            if let Some(seg) = self.segments.get_mut(&base) {
                dropped += usize::from(seg.unload_indexes());
            }
        }
        dropped
    }

    /// How many segments hold index entries in memory (the active one included).
    pub fn segments_with_loaded_indexes(&self) -> usize {
        self.segments
            .values()
            .filter(|s| s.indexes_loaded())
            .count()
    }
}
