//! Re-authentication (KIP-368) on a SASL connection that already authenticated: with
//! `connections.max.reauth.ms` set (per listener as
//! `listener.name.<l>.<mechanism>.connections.max.reauth.ms` too), SaslAuthenticate tells
//! the client its session lifetime; before it ends the client sends SaslHandshake and
//! SaslAuthenticate again between its other requests, with the same mechanism and as the
//! same principal. A request other than those two after the session expired closes the
//! connection ([`SessionClock`], checked by the reader). Sans IO: [`Reauth`] turns the
//! two requests into answers and outcomes; the connection's executor runs it in request
//! order and swaps the `Session` when it succeeds.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use vltava_protocol::ResponseBody;
use vltava_protocol::messages::sasl_authenticate_response::SaslAuthenticateResponse;
use vltava_protocol::messages::sasl_handshake_response::SaslHandshakeResponse;
use vltava_protocol::messages::{SaslAuthenticateRequest, SaslHandshakeRequest};
use vltava_security::{KafkaPrincipal, SaslMechanisms, SaslServer, SaslStep};

use vltava_protocol::error_codes::ILLEGAL_SASL_STATE;
use vltava_protocol::error_codes::SASL_AUTHENTICATION_FAILED;
use vltava_protocol::error_codes::UNSUPPORTED_SASL_MECHANISM;

/// When the connection's authenticated session ends, shared by the executor (which
/// extends it) and the reader (which enforces it). `u64::MAX`: never.
#[derive(Debug)]
pub struct SessionClock {
    start: Instant,
    /// Milliseconds after `start`.
    expires_ms: AtomicU64,
}

impl SessionClock {
    /// A session of `lifetime` from now (`None`: it never expires).
    pub fn new(lifetime: Option<Duration>) -> Arc<Self> {
        let c = Arc::new(SessionClock {
            start: Instant::now(),
            expires_ms: AtomicU64::new(u64::MAX),
        });
        c.renew(lifetime);
        c
    }

    /// Starts a new session of `lifetime` from now.
    pub fn renew(&self, lifetime: Option<Duration>) {
        let at = lifetime.map_or(u64::MAX, |l| {
            u64::try_from((self.start.elapsed() + l).as_millis()).unwrap_or(u64::MAX)
        });
        self.expires_ms.store(at, Ordering::Release);
    }

    /// Whether the session has ended.
    pub fn expired(&self) -> bool {
        let at = self.expires_ms.load(Ordering::Acquire);
        at != u64::MAX && u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX) >= at
    }
}

/// What one re-authentication request led to.
#[derive(Debug)]
pub enum Outcome {
    /// Keep going (answer sent, more tokens expected, or nothing changed).
    Continue,
    /// Re-authenticated: the session is renewed.
    Done,
    /// Refused: answer, then close the connection.
    Fail(String),
}

/// A connection's re-authentication state.
pub struct Reauth {
    mechanisms: SaslMechanisms,
    mechanism: String,
    principal: KafkaPrincipal,
    lifetime: Option<Duration>,
    server: Option<Box<dyn SaslServer>>,
}

impl std::fmt::Debug for Reauth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reauth")
            .field("mechanism", &self.mechanism)
            .field("principal", &self.principal)
            .field("in_progress", &self.server.is_some())
            .finish()
    }
}

/// A SaslAuthenticate answer.
pub fn authenticate_response(
    error_code: i16,
    message: Option<String>,
    auth_bytes: Vec<u8>,
    lifetime: Option<Duration>,
) -> ResponseBody {
    ResponseBody::from(SaslAuthenticateResponse {
        error_code,
        error_message: message.map(Into::into),
        auth_bytes: Bytes::from(auth_bytes),
        session_lifetime_ms: lifetime
            .filter(|_| error_code == 0)
            .map_or(0, |l| i64::try_from(l.as_millis()).unwrap_or(i64::MAX)),
        ..Default::default()
    })
}

impl Reauth {
    /// After authenticating as `principal` with `mechanism`.
    pub fn new(
        mechanisms: SaslMechanisms,
        mechanism: String,
        principal: KafkaPrincipal,
        lifetime: Option<Duration>,
    ) -> Self {
        Reauth {
            mechanisms,
            mechanism,
            principal,
            lifetime,
            server: None,
        }
    }

    /// A SaslHandshake starting a re-authentication.
    pub fn handshake(&mut self, req: &SaslHandshakeRequest) -> (ResponseBody, Outcome) {
        let names = self.mechanisms.names();
        let listed = names.iter().map(|n| n.as_str().into()).collect();
        let answer = |code| {
            ResponseBody::from(SaslHandshakeResponse {
                error_code: code,
                mechanisms: listed,
            })
        };
        if self.lifetime.is_none() {
            return (
                answer(ILLEGAL_SASL_STATE),
                Outcome::Fail("re-authentication is off (connections.max.reauth.ms=0)".into()),
            );
        }
        let asked = req.mechanism.as_str();
        let server = (asked == self.mechanism)
            .then(|| self.mechanisms.start(asked))
            .flatten();
        let Some(server) = server else {
            return (
                answer(UNSUPPORTED_SASL_MECHANISM),
                Outcome::Fail(format!(
                    "re-authentication must use {}, not {asked:?}",
                    self.mechanism
                )),
            );
        };
        self.server = Some(server);
        (answer(0), Outcome::Continue)
    }

    /// A SaslAuthenticate of a re-authentication.
    pub fn authenticate(&mut self, req: &SaslAuthenticateRequest) -> (ResponseBody, Outcome) {
        let Some(server) = self.server.as_mut() else {
            let msg = "SaslAuthenticate without SaslHandshake".to_string();
            return (
                authenticate_response(ILLEGAL_SASL_STATE, Some(msg.clone()), Vec::new(), None),
                Outcome::Fail(msg),
            );
        };
        if req.auth_bytes.len() > vltava_security::sasl::MAX_TOKEN_BYTES {
            self.server = None;
            let msg = "SASL token too large".to_string();
            return (
                authenticate_response(ILLEGAL_SASL_STATE, Some(msg.clone()), Vec::new(), None),
                Outcome::Fail(msg),
            );
        }
        match server.step(&req.auth_bytes) {
            Ok(SaslStep::Challenge(c)) => {
                (authenticate_response(0, None, c, None), Outcome::Continue)
            }
            Ok(SaslStep::Done {
                response,
                principal,
            }) => {
                self.server = None;
                if principal != self.principal {
                    let msg = format!(
                        "Cannot change principals during re-authentication from {} to {principal}",
                        self.principal
                    );
                    return (
                        authenticate_response(
                            SASL_AUTHENTICATION_FAILED,
                            Some(msg.clone()),
                            Vec::new(),
                            None,
                        ),
                        Outcome::Fail(msg),
                    );
                }
                (
                    authenticate_response(0, None, response, self.lifetime),
                    Outcome::Done,
                )
            }
            Err(e) => {
                self.server = None;
                (
                    authenticate_response(e.kafka_code(), Some(e.to_string()), Vec::new(), None),
                    Outcome::Fail(e.to_string()),
                )
            }
        }
    }

    /// The session lifetime a successful re-authentication grants.
    pub fn lifetime(&self) -> Option<Duration> {
        self.lifetime
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use vltava_security::sasl::plain::{PlainFactory, PlainUsers};

    fn reauth(lifetime: Option<Duration>) -> Reauth {
        let mut users = PlainUsers::new();
        users.insert("alice".into(), "a".into());
        users.insert("bob".into(), "b".into());
        let mut m = SaslMechanisms::new();
        m.register(Arc::new(PlainFactory::new(users)));
        Reauth::new(m, "PLAIN".into(), KafkaPrincipal::user("alice"), lifetime)
    }

    fn hs(m: &str) -> SaslHandshakeRequest {
        SaslHandshakeRequest {
            mechanism: m.into(),
        }
    }

    fn auth(token: &[u8]) -> SaslAuthenticateRequest {
        SaslAuthenticateRequest {
            auth_bytes: Bytes::copy_from_slice(token),
            ..Default::default()
        }
    }

    #[test]
    fn the_same_principal_re_authenticates_and_gets_a_new_lifetime() {
        let mut r = reauth(Some(Duration::from_secs(5)));
        assert!(matches!(r.handshake(&hs("PLAIN")).1, Outcome::Continue));
        let (answer, outcome) = r.authenticate(&auth(b"\0alice\0a"));
        assert!(matches!(outcome, Outcome::Done));
        let ResponseBody::SaslAuthenticate(a) = answer else {
            panic!()
        };
        assert_eq!((a.error_code, a.session_lifetime_ms), (0, 5000));
        // Again, later.
        assert!(matches!(r.handshake(&hs("PLAIN")).1, Outcome::Continue));
        assert!(matches!(
            r.authenticate(&auth(b"\0alice\0a")).1,
            Outcome::Done
        ));
    }

    #[test]
    fn another_principal_mechanism_or_password_is_refused() {
        let mut r = reauth(Some(Duration::from_secs(5)));
        r.handshake(&hs("PLAIN"));
        let (answer, outcome) = r.authenticate(&auth(b"\0bob\0b"));
        assert!(matches!(outcome, Outcome::Fail(m) if m.contains("change principals")));
        assert!(matches!(answer, ResponseBody::SaslAuthenticate(a) if a.error_code == 58));
        let mut r = reauth(Some(Duration::from_secs(5)));
        assert!(matches!(
            r.handshake(&hs("SCRAM-SHA-256")).1,
            Outcome::Fail(_)
        ));
        let mut r = reauth(Some(Duration::from_secs(5)));
        r.handshake(&hs("PLAIN"));
        assert!(matches!(
            r.authenticate(&auth(b"\0alice\0x")).1,
            Outcome::Fail(_)
        ));
        let mut r = reauth(Some(Duration::from_secs(5)));
        assert!(matches!(
            r.authenticate(&auth(b"\0alice\0a")).1,
            Outcome::Fail(_)
        ));
        let mut r = reauth(None);
        assert!(matches!(r.handshake(&hs("PLAIN")).1, Outcome::Fail(_)));
    }

    #[test]
    fn the_clock_expires_and_renews() {
        let c = SessionClock::new(None);
        assert!(!c.expired());
        let c = SessionClock::new(Some(Duration::ZERO));
        assert!(c.expired());
        c.renew(Some(Duration::from_secs(60)));
        assert!(!c.expired());
        c.renew(None);
        assert!(!c.expired());
    }
}
