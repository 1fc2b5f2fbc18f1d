//! `log.cleaner.io.max.bytes.per.second`: one throttle shared by every cleaner thread, as
//! Kafka's cleaner shares its throttler. The bytes all threads read and write are counted
//! in periods of at least [`CHECK_INTERVAL`]; when a period's rate is above the limit, the
//! thread that closes it sleeps, holding the throttle, until the period's bytes fit the
//! rate, so every thread waits with it. The rate can change while cleanings run.

use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// The shortest period whose rate is checked.
pub const CHECK_INTERVAL: Duration = Duration::from_millis(300);

#[derive(Debug)]
struct State {
    rate: f64,
    period_start: Instant,
    observed: u64,
}

/// Keeps the bytes of all its users at or under `rate` bytes per second by sleeping.
#[derive(Debug)]
pub struct SharedThrottle {
    state: Mutex<State>,
}

/// Whether `rate` limits anything (infinite and non-positive rates do not).
fn limited(rate: f64) -> bool {
    rate.is_finite() && rate > 0.0
}

/// How long a period of `elapsed` holding `observed` bytes must be stretched to fit `rate`.
pub fn needed_sleep(observed: u64, elapsed: Duration, rate: f64) -> Duration {
    if !limited(rate) {
        return Duration::ZERO;
    }
    Duration::from_secs_f64(observed as f64 / rate).saturating_sub(elapsed)
}

impl SharedThrottle {
    /// A throttle at `rate` bytes per second (unlimited if infinite or not positive).
    pub fn new(rate: f64) -> SharedThrottle {
        SharedThrottle {
            state: Mutex::new(State {
                rate,
                period_start: Instant::now(),
                observed: 0,
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        match self.state.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }

    /// Changes the rate (a dynamic broker config); a new period starts.
    pub fn set_rate(&self, rate: f64) {
        let mut s = self.lock();
        if s.rate != rate {
            s.rate = rate;
            s.period_start = Instant::now();
            s.observed = 0;
        }
    }

    /// The rate in force.
    pub fn rate(&self) -> f64 {
        self.lock().rate
    }

    /// Counts `bytes` and, at the end of a period over the rate, sleeps as long as the
    /// rate requires (other threads wait meanwhile).
    pub fn account(&self, bytes: u64) {
        let mut s = self.lock();
        if !limited(s.rate) {
            return;
        }
        s.observed = s.observed.saturating_add(bytes);
        let elapsed = s.period_start.elapsed();
        if elapsed < CHECK_INTERVAL {
            return;
        }
        let sleep = needed_sleep(s.observed, elapsed, s.rate);
        if !sleep.is_zero() {
            std::thread::sleep(sleep);
        }
        s.period_start = Instant::now();
        s.observed = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn unlimited_rates_never_wait() {
        assert_eq!(
            needed_sleep(1 << 40, Duration::ZERO, f64::INFINITY),
            Duration::ZERO
        );
        assert_eq!(needed_sleep(1 << 40, Duration::ZERO, 0.0), Duration::ZERO);
        assert_eq!(
            needed_sleep(1 << 40, Duration::ZERO, f64::MAX),
            Duration::ZERO
        );
    }

    #[test]
    fn asks_for_the_time_the_bytes_need() {
        let d = needed_sleep(2000, Duration::from_millis(500), 1000.0);
        assert_eq!(d, Duration::from_millis(1500));
        assert_eq!(
            needed_sleep(100, Duration::from_secs(1), 1000.0),
            Duration::ZERO
        );
    }

    /// Two threads, each moving 4000 bytes in 100-byte steps 10 ms apart, at 2000 B/s
    /// shared: 8000 bytes take about 4 s together, less the last unchecked period (apart,
    /// each would take 2 s).
    #[test]
    fn threads_share_one_rate() {
        let t = Arc::new(SharedThrottle::new(2000.0));
        let start = Instant::now();
        let workers: Vec<_> = (0..2)
            .map(|_| {
                let t = t.clone();
                std::thread::spawn(move || {
                    for _ in 0..40 {
                        t.account(100);
                        std::thread::sleep(Duration::from_millis(10));
                    }
                })
            })
            .collect();
        for w in workers {
            w.join().unwrap();
        }
        let took = start.elapsed();
        assert!(
            took >= Duration::from_millis(2600) && took < Duration::from_secs(10),
            "{took:?}"
        );
    }

    #[test]
    fn the_rate_changes_in_place() {
        let t = SharedThrottle::new(f64::MAX);
        t.set_rate(1000.0);
        assert_eq!(t.rate(), 1000.0);
    }
}
