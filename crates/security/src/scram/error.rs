//! Why a SCRAM exchange failed, finer than the [`SaslError`] the connection sees: the
//! tests tell a malformed message from wrong credentials, while a client gets Kafka's
//! SASL_AUTHENTICATION_FAILED (58) with the same text for both of an unknown user and a
//! wrong password.

use crate::sasl::SaslError;

/// A failed SCRAM step.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScramError {
    /// A client message that does not follow the mechanism's grammar.
    #[error("Authentication failed: invalid SASL message: {0}")]
    Malformed(String),
    /// Wrong password or unknown user: the two are deliberately indistinguishable.
    #[error("Authentication failed: Invalid user credentials")]
    InvalidCredentials,
    /// Well formed but refused (a different authorization id, a channel binding the
    /// server does not offer, a credential below the mechanism's iteration minimum).
    #[error("Authentication failed: {0}")]
    Refused(String),
    /// A token larger than the mechanism allows.
    #[error("Authentication failed: SASL token of {len} bytes exceeds the limit of {limit}")]
    TooLarge { len: usize, limit: usize },
    /// A token after the exchange completed or failed.
    #[error("Authentication failed: the SASL exchange is already over")]
    IllegalState,
}

impl From<ScramError> for SaslError {
    fn from(e: ScramError) -> Self {
        match e {
            ScramError::IllegalState => SaslError::IllegalState(e.to_string()),
            other => SaslError::AuthenticationFailed(other.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_step_after_the_end_is_an_illegal_state() {
        assert_eq!(SaslError::from(ScramError::IllegalState).kafka_code(), 34);
        let wrong = SaslError::from(ScramError::InvalidCredentials);
        assert_eq!(wrong.kafka_code(), 58);
        assert_eq!(
            wrong.to_string(),
            "Authentication failed: Invalid user credentials"
        );
        assert_eq!(
            SaslError::from(ScramError::Malformed("x".into())).kafka_code(),
            58
        );
    }
}
