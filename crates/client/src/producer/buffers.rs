//! Batch buffers kept for reuse: a finished batch's buffer (its records', or its
//! compressed payload's) goes back here and the next batch writes into it, so a
//! producer does not allocate, fault in and free a batch-sized buffer per batch
//! (with large batches and several partitions that churn cost more CPU than the
//! records themselves).

use std::sync::Mutex;

use bytes::Bytes;

/// At most this many buffers are kept.
const MOST: usize = 64;

#[derive(Debug)]
pub(super) struct BufferPool {
    /// The kept buffers and their total capacity.
    kept: Mutex<(Vec<Vec<u8>>, usize)>,
    /// Most bytes of capacity kept (`buffer.memory`).
    bytes: usize,
}

impl BufferPool {
    /// Keeps at most 64 buffers, of at most `buffer_memory` bytes in all.
    pub(super) fn new(buffer_memory: usize) -> Self {
        BufferPool {
            kept: Mutex::new((Vec::new(), 0)),
            bytes: buffer_memory,
        }
    }

    /// A kept buffer, else a new empty one.
    pub(super) fn take(&self) -> Vec<u8> {
        let Ok(mut k) = self.kept.lock() else {
            return Vec::new();
        };
        let b = k.0.pop().unwrap_or_default();
        k.1 -= b.capacity();
        b
    }

    /// Keeps `buffer` if there is room.
    pub(super) fn give(&self, buffer: Vec<u8>) {
        let cap = buffer.capacity();
        if cap == 0 {
            return;
        }
        if let Ok(mut k) = self.kept.lock() {
            if k.0.len() < MOST && k.1 + cap <= self.bytes {
                k.0.push(buffer);
                k.1 += cap;
            }
        }
    }

    /// Keeps the buffer of a sent batch if nothing else holds it any more.
    pub(super) fn give_bytes(&self, batch: Bytes) {
        if let Ok(m) = batch.try_into_mut() {
            self.give(Vec::from(m));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_unique_batch_comes_back_and_a_shared_one_does_not() {
        let pool = BufferPool::new(1 << 20);
        let mut v = Vec::with_capacity(4096);
        v.extend_from_slice(b"batch");
        let b = Bytes::from(v);
        let other = b.clone();
        pool.give_bytes(b);
        assert_eq!(pool.take().capacity(), 0, "still shared: not kept");
        pool.give_bytes(other);
        let back = pool.take();
        assert!(back.capacity() >= 4096);
    }

    #[test]
    fn keeps_at_most_buffer_memory() {
        let pool = BufferPool::new(100);
        for _ in 0..20 {
            pool.give(Vec::with_capacity(10));
        }
        let n = std::iter::from_fn(|| Some(pool.take()))
            .take_while(|b| b.capacity() > 0)
            .count();
        assert_eq!(n, 10);
    }
}
