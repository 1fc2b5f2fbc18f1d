//! `Clock`: the drivers' wall clock in epoch milliseconds, advancing with tokio's
//! clock so that paused test time drives the coordinators' timers. It reads the
//! workspace clock (`vltava_records::clock::now_ms`) once, at start.

use std::time::Duration;
use tokio::time::Instant;

/// Milliseconds since the epoch, advancing with tokio's clock (so paused
/// test time drives it).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Clock {
    start: Instant,
    base_ms: i64,
}

impl Clock {
    pub(crate) fn new() -> Clock {
        // Capped so that adding elapsed time below cannot overflow.
        let base_ms = vltava_records::clock::now_ms().min(i64::MAX / 2);
        Clock {
            start: Instant::now(),
            base_ms,
        }
    }

    pub(crate) fn now_ms(&self) -> i64 {
        self.base_ms + i64::try_from(self.start.elapsed().as_millis()).unwrap_or(i64::MAX / 4)
    }

    pub(crate) fn instant_at(&self, ms: i64) -> Instant {
        let after = u64::try_from(ms.saturating_sub(self.base_ms)).unwrap_or(0);
        self.start + Duration::from_millis(after)
    }
}
