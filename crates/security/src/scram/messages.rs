//! The four SCRAM messages (RFC 5802 §7) as Kafka exchanges them: parse and format, with
//! `saslname` escaping (`,` as `=2C`, `=` as `=3D`). Only the `n` GS2 flag is accepted
//! (no channel binding, as in Kafka); client-first extensions after the nonce
//! (`tokenauth=true`) are kept; a mandatory extension (`m=`) is refused.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_PAD_INDIFFERENT};

use super::error::ScramError;

fn malformed(what: &str) -> ScramError {
    ScramError::Malformed(what.to_string())
}

/// Base64 as SCRAM writes it (standard alphabet, padded).
pub fn b64(bytes: &[u8]) -> String {
    STANDARD.encode(bytes)
}

/// Base64 with or without padding, as Java's decoder reads it.
pub fn unb64(s: &str, what: &str) -> Result<Vec<u8>, ScramError> {
    STANDARD_PAD_INDIFFERENT
        .decode(s)
        .map_err(|_| malformed(&format!("{what} is not base64")))
}

/// A user name as a `saslname`: `,` becomes `=2C` and `=` becomes `=3D`.
pub fn escape_saslname(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        match c {
            ',' => out.push_str("=2C"),
            '=' => out.push_str("=3D"),
            c => out.push(c),
        }
    }
    out
}

/// The user name a `saslname` stands for; any `=` not starting `=2C` or `=3D`, an empty
/// name or a NUL is malformed.
pub fn unescape_saslname(s: &str) -> Result<String, ScramError> {
    if s.is_empty() {
        return Err(malformed("empty user name"));
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find(['=', '\0']) {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        if let Some(r) = tail.strip_prefix("=2C") {
            out.push(',');
            rest = r;
        } else if let Some(r) = tail.strip_prefix("=3D") {
            out.push('=');
            rest = r;
        } else {
            return Err(malformed("user name has an invalid escape"));
        }
    }
    out.push_str(rest);
    Ok(out)
}

/// RFC 5802's `printable` (a nonce): `%x21-7E` except `,`, at least one.
pub fn is_printable(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| (0x21..=0x7e).contains(&b) && b != b',')
}

/// One `key=value` extension: key letters only, value `%x01-7F` except `,`.
fn parse_extension(attr: &str) -> Result<(String, String), ScramError> {
    let (k, v) = attr
        .split_once('=')
        .ok_or_else(|| malformed("extension without '='"))?;
    let key_ok = !k.is_empty() && k.bytes().all(|b| b.is_ascii_alphabetic());
    let value_ok = !v.is_empty() && v.bytes().all(|b| (0x01..=0x7f).contains(&b) && b != b',');
    if !key_ok || !value_ok {
        return Err(malformed("invalid extension"));
    }
    Ok((k.to_string(), v.to_string()))
}

/// The value of attribute `name` (`name=value`), or a malformed-message error.
fn attr<'a>(part: Option<&'a str>, name: char, what: &str) -> Result<&'a str, ScramError> {
    part.and_then(|p| p.strip_prefix(name))
        .and_then(|p| p.strip_prefix('='))
        .ok_or_else(|| malformed(&format!("expected {what} ('{name}=')")))
}

fn utf8<'a>(bytes: &'a [u8], what: &str) -> Result<&'a str, ScramError> {
    std::str::from_utf8(bytes).map_err(|_| malformed(&format!("{what} is not UTF-8")))
}

/// `gs2-header client-first-message-bare`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientFirstMessage {
    /// `n,` plus the optional `a=authzid`, plus `,`: what `c=` must carry in base64.
    pub gs2_header: String,
    /// The authorization id, unescaped, when the client sent one.
    pub authzid: Option<String>,
    /// The user name, unescaped.
    pub username: String,
    pub nonce: String,
    /// Extensions after the nonce, in order (`tokenauth=true`).
    pub extensions: Vec<(String, String)>,
    /// `n=...,r=...[,ext]*` exactly as sent: the start of the AuthMessage.
    pub bare: String,
}

impl ClientFirstMessage {
    /// Parses the client's first message.
    pub fn parse(bytes: &[u8]) -> Result<Self, ScramError> {
        let s = utf8(bytes, "client-first-message")?;
        if s.starts_with("p=") || s.starts_with("y,") {
            return Err(ScramError::Refused(
                "channel binding is not supported".to_string(),
            ));
        }
        let after_flag = s
            .strip_prefix("n,")
            .ok_or_else(|| malformed("client-first-message must start with 'n,'"))?;
        let (authz, bare) = after_flag
            .split_once(',')
            .ok_or_else(|| malformed("client-first-message has no GS2 header end"))?;
        let authzid = match authz {
            "" => None,
            a => Some(unescape_saslname(attr(Some(a), 'a', "authorization id")?)?),
        };
        let gs2_header = format!("n,{authz},");
        if bare.starts_with("m=") {
            return Err(ScramError::Refused(
                "mandatory SCRAM extensions are not supported".to_string(),
            ));
        }
        let mut parts = bare.split(',');
        let username = unescape_saslname(attr(parts.next(), 'n', "user name")?)?;
        let nonce = attr(parts.next(), 'r', "client nonce")?;
        if !is_printable(nonce) {
            return Err(malformed("client nonce is not printable"));
        }
        let extensions = parts.map(parse_extension).collect::<Result<Vec<_>, _>>()?;
        Ok(ClientFirstMessage {
            gs2_header,
            authzid,
            username,
            nonce: nonce.to_string(),
            extensions,
            bare: bare.to_string(),
        })
    }

    /// Whether the client asks for delegation-token authentication (`tokenauth=true`).
    pub fn token_auth(&self) -> bool {
        self.extensions
            .iter()
            .any(|(k, v)| k == "tokenauth" && v.eq_ignore_ascii_case("true"))
    }

    /// The message a client sends for `username` and `nonce` (no authzid).
    pub fn format(username: &str, nonce: &str, extensions: &[(&str, &str)]) -> String {
        let mut s = format!("n,,n={},r={nonce}", escape_saslname(username));
        for (k, v) in extensions {
            s.push_str(&format!(",{k}={v}"));
        }
        s
    }
}

/// `r=nonce,s=salt,i=iterations`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerFirstMessage {
    /// The client's nonce followed by the server's.
    pub nonce: String,
    pub salt: Vec<u8>,
    pub iterations: i32,
}

impl ServerFirstMessage {
    /// The message as sent (and as it enters the AuthMessage).
    pub fn format(&self) -> String {
        format!(
            "r={},s={},i={}",
            self.nonce,
            b64(&self.salt),
            self.iterations
        )
    }

    /// Parses a server's first message (the client side).
    pub fn parse(bytes: &[u8]) -> Result<Self, ScramError> {
        let s = utf8(bytes, "server-first-message")?;
        if s.starts_with("m=") {
            return Err(ScramError::Refused(
                "mandatory SCRAM extensions are not supported".to_string(),
            ));
        }
        let mut parts = s.split(',');
        let nonce = attr(parts.next(), 'r', "nonce")?;
        if !is_printable(nonce) {
            return Err(malformed("nonce is not printable"));
        }
        let salt = unb64(attr(parts.next(), 's', "salt")?, "salt")?;
        let iterations = attr(parts.next(), 'i', "iteration count")?
            .parse::<i32>()
            .ok()
            .filter(|i| *i > 0)
            .ok_or_else(|| malformed("iteration count is not a positive number"))?;
        Ok(ServerFirstMessage {
            nonce: nonce.to_string(),
            salt,
            iterations,
        })
    }
}

/// `c=channel-binding,r=nonce[,ext]*,p=proof`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientFinalMessage {
    /// `c=` decoded: the GS2 header for a client without channel binding.
    pub channel_binding: Vec<u8>,
    pub nonce: String,
    pub extensions: Vec<(String, String)>,
    pub proof: Vec<u8>,
    /// Everything before `,p=`: the end of the AuthMessage.
    pub without_proof: String,
}

impl ClientFinalMessage {
    /// Parses the client's final message.
    pub fn parse(bytes: &[u8]) -> Result<Self, ScramError> {
        let s = utf8(bytes, "client-final-message")?;
        let (without_proof, proof) = s
            .rsplit_once(",p=")
            .ok_or_else(|| malformed("client-final-message has no proof ('p=')"))?;
        let proof = unb64(proof, "proof")?;
        let mut parts = without_proof.split(',');
        let channel_binding = unb64(
            attr(parts.next(), 'c', "channel binding")?,
            "channel binding",
        )?;
        let nonce = attr(parts.next(), 'r', "nonce")?;
        if !is_printable(nonce) {
            return Err(malformed("nonce is not printable"));
        }
        let extensions = parts.map(parse_extension).collect::<Result<Vec<_>, _>>()?;
        Ok(ClientFinalMessage {
            channel_binding,
            nonce: nonce.to_string(),
            extensions,
            proof,
            without_proof: without_proof.to_string(),
        })
    }

    /// `c=...,r=nonce`, the part the proof signs.
    pub fn format_without_proof(gs2_header: &str, nonce: &str) -> String {
        format!("c={},r={nonce}", b64(gs2_header.as_bytes()))
    }
}

/// `v=verifier` or `e=error`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerFinalMessage {
    /// The server's signature.
    Verifier(Vec<u8>),
    /// A server-error value (`invalid-proof`, `other-error`, ...).
    Error(String),
}

impl ServerFinalMessage {
    /// The message as sent.
    pub fn format(&self) -> String {
        match self {
            ServerFinalMessage::Verifier(v) => format!("v={}", b64(v)),
            ServerFinalMessage::Error(e) => format!("e={e}"),
        }
    }

    /// Parses a server's final message (the client side); extensions after it are ignored.
    pub fn parse(bytes: &[u8]) -> Result<Self, ScramError> {
        let s = utf8(bytes, "server-final-message")?;
        let first = s.split(',').next().unwrap_or_default();
        if let Some(e) = first.strip_prefix("e=") {
            return Ok(ServerFinalMessage::Error(e.to_string()));
        }
        let v = attr(Some(first), 'v', "verifier")?;
        Ok(ServerFinalMessage::Verifier(unb64(v, "verifier")?))
    }
}
