//! The authentication phase of a connection on a SASL_PLAINTEXT or SASL_SSL listener, in
//! Kafka's order: ApiVersions any number of times, then SaslHandshake naming an enabled
//! mechanism, then SaslAuthenticate tokens (or, after a v0 handshake, bare size-prefixed
//! tokens) until the mechanism is done. Nothing else is read before that: any other
//! request closes the connection unanswered, SaslAuthenticate before SaslHandshake is
//! answered ILLEGAL_SASL_STATE and closed, an unknown mechanism
//! UNSUPPORTED_SASL_MECHANISM (with the enabled list) and closed, bad credentials
//! SASL_AUTHENTICATION_FAILED and closed. Requests run one at a time here (clients do not
//! pipeline before they are authenticated); frames are bounded by
//! [`MAX_AUTH_FRAME`], Kafka's `sasl.server.max.receive.size` default.

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use vltava_protocol::frame::{decode_request, encode_response, peek_request, split_frame};
use vltava_protocol::messages::sasl_handshake_response::SaslHandshakeResponse;
use vltava_protocol::{ApiKey, RequestBody, ResponseBody};
use vltava_security::sasl::MAX_TOKEN_BYTES;
use vltava_security::{KafkaPrincipal, SaslServer, SaslStep};

use crate::connection::ConnectionEnd;
use crate::handlers::api_versions;
use crate::reauth::authenticate_response;
use crate::server::ListenerContext;

/// Who authenticated, and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authenticated {
    pub principal: KafkaPrincipal,
    /// The mechanism's name (re-authentication must use it again).
    pub mechanism: String,
    /// Whether the client can re-authenticate (SaslHandshake v1 and SaslAuthenticate
    /// v1+); a v0 client's session still ends after `connections.max.reauth.ms`.
    pub can_reauthenticate: bool,
}

/// The largest frame read before authentication completes.
pub const MAX_AUTH_FRAME: usize = MAX_TOKEN_BYTES;

use vltava_protocol::error_codes::ILLEGAL_SASL_STATE;
use vltava_protocol::error_codes::UNSUPPORTED_SASL_MECHANISM;

/// Bytes read from the socket per read call while authenticating.
const READ_CHUNK: usize = 8 * 1024;

enum State {
    /// Before SaslHandshake.
    Start,
    /// After SaslHandshake v1: SaslAuthenticate requests.
    Authenticate(Box<dyn SaslServer>),
    /// After SaslHandshake v0: bare tokens.
    RawTokens(Box<dyn SaslServer>),
}

/// The next whole frame (bounded by [`MAX_AUTH_FRAME`]).
async fn next_frame<S: AsyncRead + Unpin>(
    stream: &mut S,
    buf: &mut BytesMut,
    idle: Duration,
) -> Result<Bytes, ConnectionEnd> {
    loop {
        match split_frame(buf, MAX_AUTH_FRAME) {
            Ok(Some(f)) => return Ok(f),
            Ok(None) => {}
            Err(e) => {
                return Err(ConnectionEnd::Authentication(format!(
                    "bad frame before authentication: {e}"
                )));
            }
        }
        buf.reserve(READ_CHUNK);
        match tokio::time::timeout(idle, stream.read_buf(buf)).await {
            Err(_) => return Err(ConnectionEnd::Idle),
            Ok(Ok(0)) => return Err(ConnectionEnd::Closed),
            Ok(Ok(_)) => {}
            Ok(Err(e)) => return Err(ConnectionEnd::Io(e)),
        }
    }
}

async fn send<S: AsyncWrite + Unpin>(
    stream: &mut S,
    correlation_id: i32,
    version: i16,
    body: ResponseBody,
) -> Result<(), ConnectionEnd> {
    let frame = encode_response(correlation_id, version, &body)
        .map_err(|e| ConnectionEnd::BadFrame(format!("cannot encode {:?}: {e}", body.api_key())))?;
    stream.write_all(&frame).await?;
    stream.flush().await?;
    Ok(())
}

async fn send_raw<S: AsyncWrite + Unpin>(
    stream: &mut S,
    token: &[u8],
) -> Result<(), ConnectionEnd> {
    let len = u32::try_from(token.len())
        .map_err(|_| ConnectionEnd::Authentication("SASL token too large".into()))?;
    stream.write_all(&len.to_be_bytes()).await?;
    stream.write_all(token).await?;
    stream.flush().await?;
    Ok(())
}

/// Runs the authentication phase on `stream`; bytes read past the last authentication
/// frame stay in `buf`. Returns the authenticated principal, or how the connection ended
/// (the client has been answered where Kafka answers).
pub async fn authenticate<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    buf: &mut BytesMut,
    listener: &ListenerContext,
    idle: Duration,
) -> Result<Authenticated, ConnectionEnd> {
    let mut state = State::Start;
    loop {
        let frame = next_frame(stream, buf, idle).await?;
        if let State::RawTokens(server) = &mut state {
            match raw_token(stream, server.as_mut(), &frame).await? {
                Some(done) => return Ok(done),
                None => continue,
            }
        }
        let prefix = peek_request(&frame)
            .map_err(|e| ConnectionEnd::Authentication(format!("bad request: {e}")))?;
        let corr = prefix.correlation_id;
        let version = prefix.api_version;
        let key = ApiKey::from_i16(prefix.api_key);
        check_expected(&state, key, prefix.api_key)?;
        if key == Some(ApiKey::ApiVersions)
            && !api_versions::is_supported(ApiKey::ApiVersions, version)
        {
            send(
                stream,
                corr,
                0,
                api_versions::unsupported_version_response(),
            )
            .await?;
            continue;
        }
        let request = decode_request(&frame).map_err(|e| {
            ConnectionEnd::Authentication(format!(
                "malformed request during SASL authentication: {e}"
            ))
        })?;
        match (request.body, &mut state) {
            (RequestBody::ApiVersions(r), _) => {
                send(stream, corr, version, api_versions::response(&r, version)).await?;
            }
            (RequestBody::SaslHandshake(r), State::Start) => {
                state = handshake(stream, listener, corr, version, r.mechanism.as_str()).await?;
            }
            (RequestBody::SaslAuthenticate(_), State::Start) => {
                let msg = "SaslAuthenticate before SaslHandshake".to_string();
                let body =
                    authenticate_response(ILLEGAL_SASL_STATE, Some(msg.clone()), Vec::new(), None);
                send(stream, corr, version, body).await?;
                return Err(ConnectionEnd::Authentication(msg));
            }
            (RequestBody::SaslAuthenticate(r), State::Authenticate(server)) => {
                let reply = Reply {
                    corr,
                    version,
                    listener,
                };
                let token = &r.auth_bytes;
                if let Some(done) = authenticate_step(stream, server.as_mut(), token, reply).await?
                {
                    return Ok(done);
                }
            }
            (other, _) => {
                return Err(ConnectionEnd::Authentication(format!(
                    "unexpected {:?} during SASL authentication",
                    other.api_key()
                )));
            }
        }
    }
}

/// Refuses a request that Kafka does not read in `state` (the connection closes
/// unanswered).
fn check_expected(state: &State, key: Option<ApiKey>, raw_key: i16) -> Result<(), ConnectionEnd> {
    let expected = matches!(
        (state, key),
        (
            State::Start,
            Some(ApiKey::ApiVersions | ApiKey::SaslHandshake | ApiKey::SaslAuthenticate),
        ) | (State::Authenticate(_), Some(ApiKey::SaslAuthenticate))
    );
    if expected {
        return Ok(());
    }
    Err(ConnectionEnd::Authentication(format!(
        "unexpected request (api key {raw_key}) during SASL authentication"
    )))
}

/// One bare token after a v0 handshake: `Some` once the mechanism is done, `None`
/// after a challenge was sent.
async fn raw_token<S: AsyncWrite + Unpin>(
    stream: &mut S,
    server: &mut dyn SaslServer,
    frame: &[u8],
) -> Result<Option<Authenticated>, ConnectionEnd> {
    match server.step(frame) {
        Ok(SaslStep::Challenge(c)) => {
            send_raw(stream, &c).await?;
            Ok(None)
        }
        Ok(SaslStep::Done {
            response,
            principal,
        }) => {
            send_raw(stream, &response).await?;
            Ok(Some(Authenticated {
                principal,
                mechanism: server.mechanism().to_string(),
                can_reauthenticate: false,
            }))
        }
        Err(e) => Err(ConnectionEnd::Authentication(e.to_string())),
    }
}

/// Answers SaslHandshake: the state that follows it, or (for a mechanism not
/// enabled) UNSUPPORTED_SASL_MECHANISM and the end of the connection.
async fn handshake<S: AsyncWrite + Unpin>(
    stream: &mut S,
    listener: &ListenerContext,
    corr: i32,
    version: i16,
    mechanism: &str,
) -> Result<State, ConnectionEnd> {
    let names = listener.sasl.names();
    let listed = names.iter().map(|n| n.as_str().into()).collect();
    let Some(server) = listener.sasl.start(mechanism) else {
        let body = ResponseBody::from(SaslHandshakeResponse {
            error_code: UNSUPPORTED_SASL_MECHANISM,
            mechanisms: listed,
        });
        send(stream, corr, version, body).await?;
        return Err(ConnectionEnd::Authentication(format!(
            "unsupported SASL mechanism {mechanism:?} (enabled: {names:?})"
        )));
    };
    let body = ResponseBody::from(SaslHandshakeResponse {
        error_code: 0,
        mechanisms: listed,
    });
    send(stream, corr, version, body).await?;
    Ok(if version == 0 {
        State::RawTokens(server)
    } else {
        State::Authenticate(server)
    })
}

/// Where a SaslAuthenticate answer goes.
#[derive(Clone, Copy)]
struct Reply<'a> {
    corr: i32,
    version: i16,
    listener: &'a ListenerContext,
}

/// Answers one SaslAuthenticate `token`: `Some` once the mechanism is done, `None`
/// after a challenge; a failure is answered and ends the connection.
async fn authenticate_step<S: AsyncWrite + Unpin>(
    stream: &mut S,
    server: &mut dyn SaslServer,
    token: &[u8],
    reply: Reply<'_>,
) -> Result<Option<Authenticated>, ConnectionEnd> {
    let Reply {
        corr,
        version,
        listener,
    } = reply;
    match server.step(token) {
        Ok(SaslStep::Challenge(c)) => {
            let body = authenticate_response(0, None, c, None);
            send(stream, corr, version, body).await?;
            Ok(None)
        }
        Ok(SaslStep::Done {
            response,
            principal,
        }) => {
            let mechanism = server.mechanism().to_string();
            let lifetime = listener.session_lifetime(&mechanism);
            let body = authenticate_response(0, None, response, lifetime);
            send(stream, corr, version, body).await?;
            Ok(Some(Authenticated {
                principal,
                mechanism,
                can_reauthenticate: version >= 1,
            }))
        }
        Err(e) => {
            let body = authenticate_response(e.kafka_code(), Some(e.to_string()), Vec::new(), None);
            send(stream, corr, version, body).await?;
            Err(ConnectionEnd::Authentication(e.to_string()))
        }
    }
}
