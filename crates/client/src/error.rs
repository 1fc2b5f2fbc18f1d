//! The client's error type.

use crate::kafka_error::error_name;

/// Everything a client operation can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The broker answered with a Kafka error code.
    #[error("{context}: broker error {code} ({name}){message}", name = error_name(*code), message = message.as_deref().map(|m| format!(": {m}")).unwrap_or_default())]
    Kafka {
        code: i16,
        context: String,
        message: Option<String>,
    },
    #[error("i/o error talking to {addr}: {source}")]
    Io {
        addr: String,
        #[source]
        source: std::io::Error,
    },
    #[error("connection to {0} closed")]
    Disconnected(String),
    #[error("request timed out: {0}")]
    Timeout(String),
    #[error("protocol error: {0}")]
    Protocol(String),
    #[error("records error: {0}")]
    Records(#[from] vltava_records::RecordsError),
    #[error(
        "no API version of {api} that both sides support (client {client_min}..={client_max}, broker {broker_min}..={broker_max})"
    )]
    UnsupportedVersion {
        api: &'static str,
        client_min: i16,
        client_max: i16,
        broker_min: i16,
        broker_max: i16,
    },
    /// TLS or SASL authentication with the broker failed (Kafka's
    /// `AuthenticationException`); `message` is the broker's when it sent one.
    #[error("authentication with {addr} failed: {message}")]
    Authentication { addr: String, message: String },
    #[error("invalid configuration: {0}")]
    Config(String),
    #[error("unknown topic or partition: {0}")]
    UnknownTopic(String),
    #[error("no broker reachable: {0}")]
    NoBroker(String),
    #[error("the client is closed")]
    Closed,
    #[error("record too large: {size} bytes (limit {limit})")]
    RecordTooLarge { size: usize, limit: usize },
    #[error("{0}")]
    Other(String),
}

impl ClientError {
    pub fn kafka(code: i16, context: impl Into<String>, message: Option<&str>) -> Self {
        ClientError::Kafka {
            code,
            context: context.into(),
            message: message.map(str::to_string),
        }
    }

    /// The Kafka error code, if the broker sent one.
    pub fn code(&self) -> Option<i16> {
        match self {
            ClientError::Kafka { code, .. } => Some(*code),
            _ => None,
        }
    }

    /// Whether retrying the same operation may succeed.
    pub fn is_retriable(&self) -> bool {
        match self {
            ClientError::Kafka { code, .. } => crate::kafka_error::is_retriable(*code),
            ClientError::Io { .. } | ClientError::Disconnected(_) | ClientError::Timeout(_) => true,
            _ => false,
        }
    }
}

pub type Result<T, E = ClientError> = std::result::Result<T, E>;

/// Turns a non-zero error code into an error.
pub fn check(code: i16, context: impl FnOnce() -> String, message: Option<&str>) -> Result<()> {
    if code == 0 {
        Ok(())
    } else {
        Err(ClientError::kafka(code, context(), message))
    }
}
