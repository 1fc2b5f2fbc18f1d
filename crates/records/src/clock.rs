//! The workspace's one wall clock: milliseconds since the Unix epoch, the unit of
//! record timestamps. [`now_ms`] (and [`now_ms_u64`] for callers that count in
//! `u64`) read the system clock; code that tests or simulations must steer takes a
//! [`Clock`] instead ([`SystemClock`] in production, [`ManualClock`] in tests).
//! Every crate that reads the time of day comes here (`docs/ARCHITECTURE.md`,
//! invariants): no other `SystemTime::now()` for epoch milliseconds.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch from the system clock (0 if the clock is
/// before the epoch, `i64::MAX` past the year 292 million).
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// [`now_ms`] for callers that count in `u64` (the replica state machine's
/// clock): the one conversion, never negative.
pub fn now_ms_u64() -> u64 {
    u64::try_from(now_ms()).unwrap_or(0)
}

/// Milliseconds since the epoch, behind a trait so tests and simulations
/// control them.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// The current time in milliseconds since the epoch.
    fn now_ms(&self) -> i64;
}

/// The system clock ([`now_ms`]).
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        now_ms()
    }
}

/// A clock that only moves when told to.
#[derive(Debug, Default, Clone)]
pub struct ManualClock(Arc<AtomicI64>);

impl ManualClock {
    /// A clock reading `ms`.
    pub fn new(ms: i64) -> Self {
        ManualClock(Arc::new(AtomicI64::new(ms)))
    }
    /// Sets the time.
    pub fn set(&self, ms: i64) {
        self.0.store(ms, Ordering::SeqCst);
    }
    /// The current reading.
    pub fn now(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
    /// Moves the time forward by `ms`.
    pub fn advance(&self, ms: i64) {
        self.0.fetch_add(ms, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn system_clock_is_after_2020_and_units_agree() {
        let ms = now_ms();
        assert!(ms > 1_577_836_800_000);
        assert!(i64::try_from(now_ms_u64()).is_ok_and(|u| u >= ms));
        assert!(SystemClock.now_ms() >= ms);
    }

    #[test]
    fn manual_clock_moves_only_when_told() {
        let c = ManualClock::new(5);
        c.advance(10);
        assert_eq!(c.now_ms(), 15);
        c.set(3);
        assert_eq!(c.now(), 3);
    }
}
