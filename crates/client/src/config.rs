//! Settings shared by producer, consumer and admin client (Kafka's names and defaults).

use std::time::Duration;

/// Connection-level settings.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// `bootstrap.servers`: `host:port` list.
    pub bootstrap_servers: Vec<String>,
    /// `client.id`.
    pub client_id: String,
    /// `request.timeout.ms` (default 30 s).
    pub request_timeout: Duration,
    /// `retry.backoff.ms` (default 100 ms) and `retry.backoff.max.ms` (1 s).
    pub retry_backoff: Duration,
    pub retry_backoff_max: Duration,
    /// How many times a retriable request is retried (admin/metadata calls).
    pub retries: u32,
    /// `metadata.max.age.ms` (default 5 minutes).
    pub metadata_max_age: Duration,
    /// `socket.connection.setup.timeout.ms` (default 10 s).
    pub connect_timeout: Duration,
    /// Largest response frame accepted (`fetch.max.bytes` plus overhead).
    pub max_response_bytes: usize,
    /// Requests queued per connection before senders wait.
    pub max_queued_requests: usize,
    /// `security.protocol` and its `ssl.*` / `sasl.*` keys.
    pub security: crate::security::Security,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            bootstrap_servers: vec!["127.0.0.1:9092".into()],
            client_id: "vltava-client".into(),
            request_timeout: Duration::from_secs(30),
            retry_backoff: Duration::from_millis(100),
            retry_backoff_max: Duration::from_secs(1),
            retries: 10,
            metadata_max_age: Duration::from_secs(300),
            connect_timeout: Duration::from_secs(10),
            max_response_bytes: 100 * 1024 * 1024,
            max_queued_requests: 1024,
            security: crate::security::Security::default(),
        }
    }
}

impl ClientConfig {
    /// A config for the given comma-separated bootstrap list.
    pub fn new(bootstrap: &str) -> Self {
        ClientConfig {
            bootstrap_servers: bootstrap
                .split(',')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect(),
            ..ClientConfig::default()
        }
    }

    /// Exponential backoff for attempt `n` (0-based), capped at `retry_backoff_max`.
    pub fn backoff(&self, attempt: u32) -> Duration {
        let factor = 1u32.checked_shl(attempt.min(16)).unwrap_or(u32::MAX);
        self.retry_backoff
            .saturating_mul(factor)
            .min(self.retry_backoff_max)
    }
}
