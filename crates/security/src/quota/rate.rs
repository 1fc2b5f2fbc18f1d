//! A rate measured over sampled windows, as Kafka's quota sensors measure it
//! (`quota.window.num` samples of `quota.window.size.seconds` each): values recorded into the
//! current sample, samples older than the whole window forgotten, and the rate the sum over
//! the time elapsed since the oldest sample began, counted as at least `samples - 1` whole
//! windows so a fresh sensor does not see a burst as a huge rate.

/// How a rate is sampled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateConfig {
    /// `quota.window.num`: samples kept (Kafka's default 11).
    pub samples: usize,
    /// `quota.window.size.seconds` in milliseconds (Kafka's default 1 s).
    pub window_ms: u64,
}

impl Default for RateConfig {
    fn default() -> Self {
        RateConfig {
            samples: 11,
            window_ms: 1_000,
        }
    }
}

impl RateConfig {
    /// The whole measured span: every sample's window.
    pub fn span_ms(&self) -> u64 {
        self.window_ms.saturating_mul(self.samples as u64)
    }
}

#[derive(Debug, Clone, Copy)]
struct Sample {
    /// When this sample's window began.
    start_ms: u64,
    value: f64,
}

/// Values per second over the last [`RateConfig::span_ms`].
#[derive(Debug, Clone)]
pub struct SampledRate {
    config: RateConfig,
    samples: Vec<Sample>,
    current: usize,
}

impl SampledRate {
    /// An empty rate whose first sample starts at `now_ms`.
    pub fn new(config: RateConfig, now_ms: u64) -> Self {
        let config = RateConfig {
            samples: config.samples.max(2),
            window_ms: config.window_ms.max(1),
        };
        SampledRate {
            config,
            samples: vec![
                Sample {
                    start_ms: now_ms,
                    value: 0.0,
                };
                1
            ],
            current: 0,
        }
    }

    /// Adds `value` at `now_ms` (a new sample starts when the current one's window is over).
    pub fn record(&mut self, value: f64, now_ms: u64) {
        let cur = self.samples[self.current];
        if now_ms.saturating_sub(cur.start_ms) >= self.config.window_ms {
            let fresh = Sample {
                start_ms: now_ms,
                value: 0.0,
            };
            if self.samples.len() < self.config.samples {
                self.samples.push(fresh);
                self.current = self.samples.len() - 1;
            } else {
                self.current = (self.current + 1) % self.samples.len();
                self.samples[self.current] = fresh;
            }
        }
        self.samples[self.current].value += value;
    }

    /// Forgets samples that began before the whole span ending at `now_ms`.
    fn purge(&mut self, now_ms: u64) {
        let horizon = now_ms.saturating_sub(self.config.span_ms());
        for s in &mut self.samples {
            if s.start_ms < horizon {
                s.start_ms = now_ms;
                s.value = 0.0;
            }
        }
    }

    /// The time the rate is taken over at `now_ms`, in milliseconds: since the oldest sample
    /// began, at least `samples - 1` whole windows.
    pub fn window_size_ms(&mut self, now_ms: u64) -> u64 {
        self.purge(now_ms);
        let oldest = self
            .samples
            .iter()
            .map(|s| s.start_ms)
            .min()
            .unwrap_or(now_ms);
        let elapsed = now_ms.saturating_sub(oldest);
        let min_windows = (self.config.samples as u64 - 1) * self.config.window_ms;
        elapsed.max(min_windows)
    }

    /// Values per second at `now_ms`.
    pub fn rate(&mut self, now_ms: u64) -> f64 {
        let window = self.window_size_ms(now_ms);
        let total: f64 = self.samples.iter().map(|s| s.value).sum();
        total * 1_000.0 / window as f64
    }

    /// When the last value was recorded (or the rate was made).
    pub fn last_active_ms(&self) -> u64 {
        self.samples[self.current].start_ms
    }

    /// How long a client over `bound` (values per second) must wait at `now_ms` for its rate
    /// to fall back to the bound, Kafka's `(rate - bound) / bound * window`, at most the whole
    /// span; 0 when it is within the bound.
    pub fn throttle_ms(&mut self, bound: f64, now_ms: u64) -> u64 {
        let rate = self.rate(now_ms);
        if rate <= bound {
            return 0;
        }
        if bound <= 0.0 {
            return self.config.span_ms();
        }
        let window = self.window_size_ms(now_ms) as f64;
        let ms = ((rate - bound) / bound * window).round();
        (ms as u64).min(self.config.span_ms())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> RateConfig {
        RateConfig {
            samples: 11,
            window_ms: 1_000,
        }
    }

    #[test]
    fn a_fresh_rate_counts_at_least_ten_windows() {
        let mut r = SampledRate::new(config(), 0);
        r.record(10_000.0, 0);
        // 10,000 over the minimum 10 s.
        assert_eq!(r.rate(500), 1_000.0);
        assert_eq!(r.window_size_ms(500), 10_000);
    }

    #[test]
    fn a_steady_rate_is_measured_as_it_is() {
        let mut r = SampledRate::new(config(), 0);
        for t in 0..60_000u64 {
            if t % 10 == 0 {
                r.record(100.0, t); // 10,000 per second
            }
        }
        let rate = r.rate(60_000);
        assert!((rate - 10_000.0).abs() < 1_100.0, "{rate}");
    }

    #[test]
    fn old_samples_are_forgotten() {
        let mut r = SampledRate::new(config(), 0);
        r.record(1e9, 0);
        assert!(r.rate(1_000) > 0.0);
        assert_eq!(r.rate(12_001), 0.0);
    }

    #[test]
    fn throttle_is_kafkas_formula() {
        let mut r = SampledRate::new(config(), 0);
        // 20,000 over the minimum 10 s: 2,000/s against 1,000/s: wait (2000-1000)/1000 * 10 s.
        r.record(20_000.0, 0);
        assert_eq!(r.throttle_ms(1_000.0, 0), 10_000);
        let mut under = SampledRate::new(config(), 0);
        under.record(5_000.0, 0);
        assert_eq!(under.throttle_ms(1_000.0, 0), 0);
    }

    #[test]
    fn a_client_that_obeys_its_throttles_runs_at_the_bound() {
        // Sends 100 KB at a time, as fast as allowed, against 1 MB/s, for two minutes.
        let bound = 1_000_000.0;
        let mut r = SampledRate::new(config(), 0);
        let (mut now, mut sent) = (0u64, 0.0);
        let start_measure = 30_000;
        let mut measured = 0.0;
        while now < 120_000 {
            r.record(100_000.0, now);
            sent += 100_000.0;
            if now >= start_measure {
                measured += 100_000.0;
            }
            now += r.throttle_ms(bound, now).max(1);
        }
        let rate = measured * 1_000.0 / (now - start_measure) as f64;
        assert!(
            (rate - bound).abs() / bound < 0.1,
            "{rate} after {sent} bytes"
        );
    }

    #[test]
    fn a_throttle_never_exceeds_the_span() {
        let mut r = SampledRate::new(config(), 0);
        r.record(1e12, 0);
        assert_eq!(r.throttle_ms(1.0, 0), 11_000);
    }
}
