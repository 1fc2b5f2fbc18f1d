//! Client quota enforcement (Kafka's byte-rate and request quotas, KIP-13/KIP-124/KIP-219):
//! after each request the connection records what it cost its principal and client id —
//! Produce request bytes, Fetch response bytes, and for every request the handler's time — and
//! learns how long that client must wait. The answer carries `throttle_time_ms` and goes out
//! at once; a throttled Fetch carries no records (its bytes are taken back); then the
//! connection runs nothing more for that long (Kafka mutes the channel). Topic creations,
//! deletions and partition additions count against `controller_mutation_rate` (KIP-599,
//! `handlers::mutation_quota`). Quotas come from the
//! metadata (`ClientQuotaRecord`s); without any, nothing is metered.

use std::sync::{Mutex, MutexGuard};
use std::time::Instant;

use vltava_protocol::ResponseBody;
use vltava_protocol::messages::FetchResponse;
use vltava_security::quota::{QuotaKey, QuotaMeters, QuotaTable, RateConfig};

use crate::config::BrokerConfig;

/// The broker's quota meters, one set per metered quantity.
#[derive(Debug)]
pub struct ClientQuotas {
    start: Instant,
    produce: Mutex<QuotaMeters>,
    fetch: Mutex<QuotaMeters>,
    request: Mutex<QuotaMeters>,
    mutation: Mutex<QuotaMeters>,
}

/// What one request cost, for [`ClientQuotas::throttle`].
#[derive(Debug, Clone, Copy)]
pub struct RequestCost {
    /// Bytes of a Produce request (0 for other APIs).
    pub produce_bytes: usize,
    /// Handler time in nanoseconds (`None`: exempt from request quotas, e.g. a follower's
    /// fetch).
    pub handler_nanos: Option<u128>,
}

impl ClientQuotas {
    /// Meters sampled as `quota.window.num` × `quota.window.size.seconds` say.
    pub fn new(config: &BrokerConfig) -> Self {
        let rate = RateConfig {
            samples: config.quota_window_num,
            window_ms: config.quota_window_size_seconds.saturating_mul(1_000),
        };
        ClientQuotas {
            start: Instant::now(),
            produce: Mutex::new(QuotaMeters::new(QuotaKey::ProducerByteRate, rate)),
            fetch: Mutex::new(QuotaMeters::new(QuotaKey::ConsumerByteRate, rate)),
            request: Mutex::new(QuotaMeters::new(QuotaKey::RequestPercentage, rate)),
            mutation: Mutex::new(QuotaMeters::new(QuotaKey::ControllerMutationRate, rate)),
        }
    }

    /// Monotonic milliseconds since these quotas were made: quota windows
    /// measure intervals, so they must not jump with the wall clock
    /// (`vltava_records::clock` is the wall clock).
    fn elapsed_ms(&self) -> u64 {
        self.start.elapsed().as_millis() as u64
    }

    /// Records `cost` and the answer's bytes for `user` / `client_id` under `table`, strips a
    /// throttled Fetch answer of its records, and returns the wait in milliseconds (0: none).
    pub fn throttle(
        &self,
        table: &QuotaTable,
        user: &str,
        client_id: &str,
        cost: RequestCost,
        answer: Option<&mut ResponseBody>,
    ) -> u64 {
        if table.is_empty() {
            return 0;
        }
        let now = self.elapsed_ms();
        let mut wait = 0;
        if let Some(nanos) = cost.handler_nanos {
            // Percent of one thread over a second: nanoseconds × 100 / 10^9.
            let percent_seconds = nanos as f64 / 1e7;
            wait = lock(&self.request).record(table, user, client_id, percent_seconds, now);
        }
        if cost.produce_bytes > 0 {
            let w =
                lock(&self.produce).record(table, user, client_id, cost.produce_bytes as f64, now);
            wait = wait.max(w);
        }
        if let Some(ResponseBody::Fetch(fetch)) = answer {
            let bytes = record_bytes(fetch) as f64;
            let mut meters = lock(&self.fetch);
            let w = meters.record(table, user, client_id, bytes, now);
            if w > 0 {
                meters.unrecord(table, user, client_id, bytes, now);
                strip_records(fetch);
            }
            wait = wait.max(w);
        }
        wait
    }
}

impl ClientQuotas {
    /// Whether `user` / `client_id` may make `partitions` more partition mutations now (KIP-599:
    /// refused only while already over its `controller_mutation_rate`; an admitted request is
    /// recorded whole, even past the quota). With `strict` false (request versions before
    /// THROTTLING_QUOTA_EXCEEDED existed) every request is admitted and recorded.
    pub fn admit_mutations(
        &self,
        table: &QuotaTable,
        user: &str,
        client_id: &str,
        partitions: u32,
        strict: bool,
    ) -> bool {
        if table.is_empty() {
            return true;
        }
        let now = self.elapsed_ms();
        let mut meters = lock(&self.mutation);
        if strict && meters.throttle_ms(table, user, client_id, now) > 0 {
            return false;
        }
        meters.record(table, user, client_id, f64::from(partitions), now);
        true
    }

    /// How long `user` / `client_id` must wait for its partition mutations to fall back under
    /// its `controller_mutation_rate` (0: not over, or no such quota).
    pub fn mutation_throttle_ms(&self, table: &QuotaTable, user: &str, client_id: &str) -> u64 {
        if table.is_empty() {
            return 0;
        }
        lock(&self.mutation).throttle_ms(table, user, client_id, self.elapsed_ms())
    }
}

/// The meters, also after a panic elsewhere poisoned the lock (they hold only counts).
fn lock(m: &Mutex<QuotaMeters>) -> MutexGuard<'_, QuotaMeters> {
    match m.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

/// Bytes of records a Fetch answer carries.
fn record_bytes(fetch: &FetchResponse) -> usize {
    fetch
        .responses
        .iter()
        .flat_map(|t| t.partitions.iter())
        .map(|p| p.records.as_ref().map_or(0, |r| r.len()))
        .sum()
}

/// Takes the records out of a Fetch answer (a throttled fetch sends none, as Kafka's); the
/// partitions' offsets stay, so the client fetches the same records again after its wait.
fn strip_records(fetch: &mut FetchResponse) {
    for p in fetch
        .responses
        .iter_mut()
        .flat_map(|t| t.partitions.iter_mut())
    {
        if p.records.as_ref().is_some_and(|r| !r.is_empty()) {
            p.records = Some(Default::default());
        }
    }
}
