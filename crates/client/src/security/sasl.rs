//! The client's SASL login on a new connection, before any other request: SaslHandshake
//! v1 naming the mechanism, then SaslAuthenticate (v2) tokens — one for PLAIN, two for
//! SCRAM-SHA-256/512 (client-first, client-final, and the server's signature checked).
//! Every answer is one frame of at most [`MAX_SASL_FRAME`] bytes; the caller bounds the
//! whole exchange in time. A refusal is [`ClientError::Authentication`] with the broker's
//! message.

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use vltava_protocol::frame::{decode_response, encode_request, split_frame};
use vltava_protocol::messages::{
    RequestHeader, SaslAuthenticateRequest, SaslAuthenticateResponse, SaslHandshakeRequest,
};
use vltava_protocol::{RequestBody, ResponseBody};
use vltava_security::scram::ScramClient;

use super::{SaslLogin, SaslMechanism};
use crate::error::{ClientError, Result};

/// Largest SASL answer frame read.
pub const MAX_SASL_FRAME: usize = 64 * 1024;

/// A stream SASL runs on (TCP or TLS).
pub trait SaslStream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> SaslStream for T {}

struct Exchange<'a, S: SaslStream> {
    s: &'a mut S,
    addr: &'a str,
    client_id: &'a str,
    correlation: i32,
}

impl<S: SaslStream> Exchange<'_, S> {
    fn auth_err(&self, message: impl Into<String>) -> ClientError {
        ClientError::Authentication {
            addr: self.addr.to_string(),
            message: message.into(),
        }
    }

    async fn call(&mut self, version: i16, body: RequestBody) -> Result<ResponseBody> {
        let key = body.api_key();
        self.correlation += 1;
        let header = RequestHeader {
            request_api_key: key.as_i16(),
            request_api_version: version,
            correlation_id: self.correlation,
            client_id: Some(self.client_id.into()),
            ..Default::default()
        };
        let frame =
            encode_request(&header, &body).map_err(|e| ClientError::Protocol(e.to_string()))?;
        let addr = self.addr;
        let io = |source| ClientError::Io {
            addr: addr.to_string(),
            source,
        };
        self.s.write_all(&frame).await.map_err(io)?;
        self.s.flush().await.map_err(io)?;
        let mut buf = BytesMut::new();
        loop {
            let frame = split_frame(&mut buf, MAX_SASL_FRAME)
                .map_err(|e| ClientError::Protocol(format!("SASL answer from {addr}: {e}")))?;
            if let Some(f) = frame {
                let (_, body) = decode_response(&f, key, version).map_err(|e| {
                    ClientError::Protocol(format!("decoding {key:?} v{version}: {e}"))
                })?;
                return Ok(body);
            }
            if self.s.read_buf(&mut buf).await.map_err(io)? == 0 {
                return Err(ClientError::Disconnected(format!(
                    "{addr} (closed during SASL authentication)"
                )));
            }
        }
    }

    async fn handshake(&mut self, mechanism: &str) -> Result<()> {
        let body = RequestBody::from(SaslHandshakeRequest {
            mechanism: mechanism.into(),
        });
        let ResponseBody::SaslHandshake(r) = self.call(1, body).await? else {
            return Err(ClientError::Protocol(
                "SaslHandshake answered with another API".into(),
            ));
        };
        if r.error_code != 0 {
            let enabled: Vec<&str> = r.mechanisms.iter().map(|m| m.as_str()).collect();
            return Err(self.auth_err(format!(
                "SASL mechanism {mechanism} is not enabled on this listener (enabled: {enabled:?}, error {})",
                r.error_code
            )));
        }
        Ok(())
    }

    async fn authenticate(&mut self, token: Vec<u8>) -> Result<SaslAuthenticateResponse> {
        let body = RequestBody::from(SaslAuthenticateRequest {
            auth_bytes: Bytes::from(token),
            ..Default::default()
        });
        let ResponseBody::SaslAuthenticate(r) = self.call(2, body).await? else {
            return Err(ClientError::Protocol(
                "SaslAuthenticate answered with another API".into(),
            ));
        };
        if r.error_code != 0 {
            let message = r
                .error_message
                .as_ref()
                .map_or_else(|| format!("error {}", r.error_code), |m| m.to_string());
            return Err(self.auth_err(message));
        }
        Ok(r)
    }
}

/// Logs in as `login` on `s` (a fresh connection to `addr`).
pub async fn login<S: SaslStream>(
    s: &mut S,
    addr: &str,
    client_id: &str,
    login: &SaslLogin,
) -> Result<()> {
    let mut x = Exchange {
        s,
        addr,
        client_id,
        correlation: 0,
    };
    x.handshake(login.mechanism.name()).await?;
    match login.mechanism {
        SaslMechanism::Plain => {
            let token = format!("\0{}\0{}", login.username, login.password);
            x.authenticate(token.into_bytes()).await?;
        }
        SaslMechanism::Scram(m) => {
            let mut nonce = [0u8; 24];
            getrandom::fill(&mut nonce)
                .map_err(|e| ClientError::Other(format!("no random nonce: {e}")))?;
            let mut client =
                ScramClient::new(m, &login.username, login.password.as_bytes(), &nonce);
            let first = x.authenticate(client.client_first()).await?;
            let last = client
                .client_final(&first.auth_bytes)
                .map_err(|e| x.auth_err(format!("SCRAM: {e}")))?;
            let done = x.authenticate(last).await?;
            client
                .server_final(&done.auth_bytes)
                .map_err(|e| x.auth_err(format!("SCRAM: {e}")))?;
        }
    }
    Ok(())
}
