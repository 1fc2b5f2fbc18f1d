//! SASL/PLAIN (RFC 4616) against the users of a JAAS `PlainLoginModule` (`user_<name>`
//! options), as Kafka's `PlainServerCallbackHandler` checks them: one token
//! `authzid NUL authcid NUL passwd`; an authzid, when given, must equal the authcid.
//! Unknown users and wrong passwords get the same answer after the same work.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::{SaslError, SaslServer, SaslServerFactory, SaslStep, constant_time_eq};
use crate::KafkaPrincipal;

/// The mechanism's name.
pub const PLAIN: &str = "PLAIN";

/// What a client is told for any bad credential (Kafka's wording).
pub const BAD_CREDENTIALS: &str = "Authentication failed: Invalid username or password";

/// PLAIN's user database: user name to password.
pub type PlainUsers = BTreeMap<String, String>;

/// Makes [`PlainServer`]s over one set of users.
#[derive(Debug, Clone)]
pub struct PlainFactory {
    users: Arc<PlainUsers>,
}

impl PlainFactory {
    /// A factory over `users`.
    pub fn new(users: PlainUsers) -> Self {
        PlainFactory {
            users: Arc::new(users),
        }
    }
}

impl SaslServerFactory for PlainFactory {
    fn mechanism(&self) -> &str {
        PLAIN
    }
    fn new_server(&self) -> Box<dyn SaslServer> {
        Box::new(PlainServer {
            users: self.users.clone(),
            done: false,
        })
    }
}

/// One PLAIN exchange: a single token, then done.
#[derive(Debug)]
pub struct PlainServer {
    users: Arc<PlainUsers>,
    done: bool,
}

fn failed(msg: &str) -> SaslError {
    SaslError::AuthenticationFailed(msg.to_string())
}

impl SaslServer for PlainServer {
    fn mechanism(&self) -> &str {
        PLAIN
    }

    fn step(&mut self, token: &[u8]) -> Result<SaslStep, SaslError> {
        if self.done {
            return Err(SaslError::IllegalState(
                "PLAIN takes a single token".to_string(),
            ));
        }
        self.done = true;
        let text = std::str::from_utf8(token)
            .map_err(|_| failed("Invalid SASL/PLAIN response: not UTF-8"))?;
        let mut parts = text.split('\u{0}');
        let (Some(authzid), Some(user), Some(password), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(failed(
                "Invalid SASL/PLAIN response: expected 3 tokens separated by NUL",
            ));
        };
        if user.is_empty() {
            return Err(failed("Authentication failed: username not specified"));
        }
        if password.is_empty() {
            return Err(failed("Authentication failed: password not specified"));
        }
        // Compare against something even for an unknown user, so both take the same time.
        let expected = self.users.get(user);
        let stored = expected.map_or(password.as_bytes(), |p| p.as_bytes());
        let same = constant_time_eq(stored, password.as_bytes());
        if expected.is_none() || !same {
            return Err(failed(BAD_CREDENTIALS));
        }
        if !authzid.is_empty() && authzid != user {
            return Err(failed(
                "Authentication failed: Client requested an authorization id that is different from username",
            ));
        }
        Ok(SaslStep::Done {
            response: Vec::new(),
            principal: KafkaPrincipal::user(user),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server() -> Box<dyn SaslServer> {
        let mut users = PlainUsers::new();
        users.insert("alice".into(), "alice-secret".into());
        PlainFactory::new(users).new_server()
    }

    #[test]
    fn the_right_password_authenticates_the_user() {
        let step = server().step(b"\0alice\0alice-secret").unwrap();
        assert_eq!(
            step,
            SaslStep::Done {
                response: Vec::new(),
                principal: KafkaPrincipal::user("alice")
            }
        );
        assert!(server().step(b"alice\0alice\0alice-secret").is_ok());
    }

    #[test]
    fn wrong_password_and_unknown_user_get_the_same_answer() {
        let wrong = server().step(b"\0alice\0nope").unwrap_err();
        let unknown = server().step(b"\0mallory\0alice-secret").unwrap_err();
        assert_eq!(wrong, unknown);
        assert_eq!(
            wrong,
            SaslError::AuthenticationFailed(BAD_CREDENTIALS.into())
        );
    }

    #[test]
    fn malformed_tokens_fail_authentication() {
        for bad in [
            &b""[..],
            b"alice",
            b"\0alice",
            b"\0alice\0pw\0extra",
            b"\0\0pw",
            b"\0alice\0",
            b"\0alice\0\xff\xfe",
        ] {
            let e = server().step(bad).unwrap_err();
            assert_eq!(e.kafka_code(), 58, "{bad:?}");
        }
        let e = server().step(b"bob\0alice\0alice-secret").unwrap_err();
        assert!(e.to_string().contains("authorization id"));
    }

    #[test]
    fn a_second_token_is_an_illegal_state() {
        let mut s = server();
        s.step(b"\0alice\0alice-secret").unwrap();
        assert_eq!(s.step(b"again").unwrap_err().kafka_code(), 34);
    }
}
