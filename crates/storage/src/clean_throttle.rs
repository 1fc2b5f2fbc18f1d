//! `log.cleaner.io.max.bytes.per.second`: the cleaner sleeps when the bytes it has
//! read and written since it started would exceed the rate.

use std::time::{Duration, Instant};

/// Keeps a byte count at or under `rate` bytes per second by sleeping.
#[derive(Debug)]
pub struct Throttle {
    rate: f64,
    start: Instant,
    bytes: u64,
}

impl Throttle {
    /// A throttle at `rate` bytes per second; `None` for no limit (infinite or
    /// non-positive rates).
    pub fn new(rate: f64) -> Option<Throttle> {
        (rate.is_finite() && rate > 0.0).then(|| Throttle {
            rate,
            start: Instant::now(),
            bytes: 0,
        })
    }

    /// How long to wait after `bytes` more bytes to stay under the rate.
    pub fn delay_after(&mut self, bytes: u64) -> Duration {
        self.bytes = self.bytes.saturating_add(bytes);
        let due = Duration::from_secs_f64(self.bytes as f64 / self.rate);
        due.saturating_sub(self.start.elapsed())
    }

    /// Counts `bytes` and sleeps as long as the rate requires.
    pub fn account(&mut self, bytes: u64) {
        let d = self.delay_after(bytes);
        if !d.is_zero() {
            std::thread::sleep(d);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unlimited_rates_make_no_throttle() {
        assert!(Throttle::new(f64::INFINITY).is_none());
        assert!(Throttle::new(0.0).is_none());
    }

    #[test]
    fn asks_for_the_time_the_bytes_need() {
        let mut t = Throttle::new(1000.0).unwrap();
        let d = t.delay_after(2000);
        assert!(
            d > Duration::from_millis(1500) && d <= Duration::from_secs(2),
            "{d:?}"
        );
    }
}
