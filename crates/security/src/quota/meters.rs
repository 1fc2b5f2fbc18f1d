//! The usage of every metered user / client id for one quota key, and the throttle each
//! recording earns: Kafka's client quota manager without its IO. Bounded: at most
//! [`MAX_METERS`] meters; idle ones (nothing recorded for a whole span) are dropped first,
//! then the longest idle.

use std::collections::HashMap;

use super::entity::{MeterKey, QuotaKey, QuotaTable};
use super::rate::{RateConfig, SampledRate};

/// Most users / client ids metered at once for one key.
pub const MAX_METERS: usize = 10_000;

/// Usage meters for one quota key.
#[derive(Debug)]
pub struct QuotaMeters {
    key: QuotaKey,
    config: RateConfig,
    meters: HashMap<MeterKey, SampledRate>,
}

impl QuotaMeters {
    /// Meters for `key`, sampled as `config` says.
    pub fn new(key: QuotaKey, config: RateConfig) -> Self {
        QuotaMeters {
            key,
            config,
            meters: HashMap::new(),
        }
    }

    /// The key metered.
    pub fn key(&self) -> QuotaKey {
        self.key
    }

    /// Records `value` for `user` / `client_id` at `now_ms` and returns how long to throttle
    /// them (0 when within their quota or when none applies; nothing is recorded then).
    pub fn record(
        &mut self,
        quotas: &QuotaTable,
        user: &str,
        client_id: &str,
        value: f64,
        now_ms: u64,
    ) -> u64 {
        let Some((bound, meter)) = quotas.resolve(user, client_id, self.key) else {
            return 0;
        };
        if !self.meters.contains_key(&meter) {
            self.make_room(now_ms);
        }
        let config = self.config;
        let rate = self
            .meters
            .entry(meter)
            .or_insert_with(|| SampledRate::new(config, now_ms));
        rate.record(value, now_ms);
        rate.throttle_ms(bound, now_ms)
    }

    /// How long `user` / `client_id` would be throttled at `now_ms` without recording more.
    pub fn throttle_ms(
        &mut self,
        quotas: &QuotaTable,
        user: &str,
        client_id: &str,
        now_ms: u64,
    ) -> u64 {
        let Some((bound, meter)) = quotas.resolve(user, client_id, self.key) else {
            return 0;
        };
        match self.meters.get_mut(&meter) {
            Some(rate) => rate.throttle_ms(bound, now_ms),
            None => 0,
        }
    }

    /// Takes back `value` recorded for `user` / `client_id` at `now_ms` (a throttled Fetch
    /// sends no data, so its bytes do not count).
    pub fn unrecord(
        &mut self,
        quotas: &QuotaTable,
        user: &str,
        client_id: &str,
        value: f64,
        now_ms: u64,
    ) {
        if let Some((_, meter)) = quotas.resolve(user, client_id, self.key) {
            if let Some(rate) = self.meters.get_mut(&meter) {
                rate.record(-value, now_ms);
            }
        }
    }

    /// Meters now held.
    pub fn len(&self) -> usize {
        self.meters.len()
    }

    /// Whether no meter is held.
    pub fn is_empty(&self) -> bool {
        self.meters.is_empty()
    }

    fn make_room(&mut self, now_ms: u64) {
        if self.meters.len() < MAX_METERS {
            return;
        }
        let span = self.config.span_ms();
        self.meters
            .retain(|_, r| now_ms.saturating_sub(r.last_active_ms()) < span);
        if self.meters.len() >= MAX_METERS {
            let oldest = self
                .meters
                .iter()
                .min_by_key(|(_, r)| r.last_active_ms())
                .map(|(k, _)| k.clone());
            if let Some(k) = oldest {
                self.meters.remove(&k);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::entity::{EntityName, QuotaEntity};
    use super::*;

    fn user_quota(user: &str, value: f64) -> QuotaTable {
        let mut t = QuotaTable::default();
        t.set(
            QuotaEntity {
                user: Some(EntityName::Named(user.into())),
                client_id: None,
            },
            QuotaKey::ProducerByteRate,
            value,
        );
        t
    }

    #[test]
    fn only_entities_with_a_quota_are_metered_and_throttled() {
        let t = user_quota("alice", 1_000.0);
        let mut m = QuotaMeters::new(QuotaKey::ProducerByteRate, RateConfig::default());
        assert_eq!(m.record(&t, "bob", "c", 1e9, 0), 0);
        assert!(m.is_empty());
        assert_eq!(m.record(&t, "alice", "c", 5_000.0, 0), 0);
        assert!(m.record(&t, "alice", "other-client", 50_000.0, 0) > 0);
        assert_eq!(m.len(), 1, "one meter per user when the quota is per user");
        m.unrecord(&t, "alice", "c", 50_000.0, 0);
        assert_eq!(m.throttle_ms(&t, "alice", "c", 0), 0);
    }

    #[test]
    fn meters_are_bounded() {
        let mut t = QuotaTable::default();
        t.set(
            QuotaEntity {
                user: None,
                client_id: Some(EntityName::Default),
            },
            QuotaKey::ProducerByteRate,
            1.0,
        );
        let mut m = QuotaMeters::new(QuotaKey::ProducerByteRate, RateConfig::default());
        for i in 0..(MAX_METERS + 50) {
            m.record(&t, "u", &format!("client-{i}"), 1.0, i as u64);
        }
        assert_eq!(m.len(), MAX_METERS);
    }
}
