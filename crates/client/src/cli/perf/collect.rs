//! `producer-perf-test`'s collector: the sender hands it its records' delivery futures
//! in chunks, and it awaits them in order, counting each record's latency and size.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender};

use super::{Stats, lock};
use crate::producer::DeliveryFuture;

/// A sent record: when the send began, its value's size, its delivery.
pub(super) type Sent = (Instant, usize, DeliveryFuture);

/// Records per chunk.
const CHUNK: usize = 64;

/// A chunk goes once its first record is this old (when the next one is sent).
const CHUNK_AGE: Duration = Duration::from_millis(1);

/// Records found delivered that the collector counts between two clock reads.
const CLOCK_EVERY: u32 = 256;

/// Hands sent records to the collector a chunk at a time (one wake of the collector
/// per chunk, not per record). A chunk goes when full, when its first record is
/// [`CHUNK_AGE`] old, before the sender sleeps (`--throughput`), and when dropped,
/// so a delivery is not left uncounted for long.
pub(super) struct Chunks {
    tx: UnboundedSender<Vec<Sent>>,
    chunk: Vec<Sent>,
}

impl Chunks {
    pub(super) fn new(tx: UnboundedSender<Vec<Sent>>) -> Self {
        Chunks {
            tx,
            chunk: Vec::with_capacity(CHUNK),
        }
    }

    pub(super) fn push(&mut self, sent: Sent) {
        let at = sent.0;
        self.chunk.push(sent);
        let first = self.chunk.first().map_or(at, |s| s.0);
        if self.chunk.len() >= CHUNK || at.saturating_duration_since(first) >= CHUNK_AGE {
            self.flush();
        }
    }

    pub(super) fn flush(&mut self) {
        if !self.chunk.is_empty() {
            let chunk = std::mem::replace(&mut self.chunk, Vec::with_capacity(CHUNK));
            let _ = self.tx.send(chunk);
        }
    }
}

impl Drop for Chunks {
    fn drop(&mut self) {
        self.flush();
    }
}

/// Awaits each send's acknowledgement in order, recording its latency and size; returns
/// how many failed and the first failure.
pub(super) async fn collect(
    stats: Arc<Mutex<Stats>>,
    mut rx: UnboundedReceiver<Vec<Sent>>,
) -> (u64, Option<String>) {
    let mut errors = 0u64;
    let mut first_error = None;
    // The clock is read when a wait ended (for a chunk, or for a delivery), and again
    // only every so many records found already delivered (a batch's records all end
    // at once): the latency of those is off by at most the time to count that many.
    while let Some(chunk) = rx.recv().await {
        let mut now = Instant::now();
        let mut unread = 0u32;
        for (sent_at, bytes, f) in chunk {
            let r = match f.try_result() {
                Some(r) if unread < CLOCK_EVERY => {
                    unread += 1;
                    r
                }
                Some(r) => {
                    now = Instant::now();
                    unread = 0;
                    r
                }
                None => {
                    let r = f.await;
                    now = Instant::now();
                    unread = 0;
                    r
                }
            };
            let ms = now
                .saturating_duration_since(sent_at)
                .as_millis()
                .min(u128::from(u32::MAX)) as u32;
            lock(&stats).record(ms, bytes);
            if let Err(e) = r {
                errors += 1;
                first_error.get_or_insert_with(|| e.to_string());
            }
        }
    }
    (errors, first_error)
}
