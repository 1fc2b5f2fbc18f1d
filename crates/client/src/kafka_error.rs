//! Kafka error codes: names and which ones a client retries.

/// The name Kafka gives an error code (`UNKNOWN` for codes it does not define).
pub fn error_name(code: i16) -> &'static str {
    vltava_protocol::error_codes::name(code).unwrap_or("UNKNOWN")
}

/// Whether a request that failed with `code` may succeed when retried (Kafka's
/// retriable errors: leadership moves, coordinators loading, timeouts, ...).
pub fn is_retriable(code: i16) -> bool {
    matches!(
        code,
        2 | 3
            | 5
            | 6
            | 7
            | 13
            | 14
            | 15
            | 16
            | 19
            | 20
            | 41
            | 51
            | 56
            | 70
            | 71
            | 72
            | 74
            | 75
            | 78
            | 80
            | 83
            | 88
            | 89
            | 100
            | 103
    )
}

/// Named codes the client checks for.
pub mod code {
    pub use vltava_protocol::error_codes::*;
}
