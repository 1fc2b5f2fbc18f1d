//! SCRAM credentials a fresh cluster starts with (KIP-900): `vltava storage format
//! --add-scram 'SCRAM-SHA-512=[name=admin,password=admin-secret]'` (or
//! `[name=..,salt="<base64>",saltedpassword="<base64>",iterations=8192]`), as Kafka's
//! `kafka-storage format --add-scram`. The credentials (salted and hashed: never the
//! password) go to [`BOOTSTRAP_FILE`] in the metadata log's directory (`metadata.log.dir`,
//! else the first of `log.dirs`), where Kafka keeps `bootstrap.checkpoint`; the voter that
//! first leads a fresh metadata log writes them with `metadata.version`, so brokers can log
//! in to each other with SCRAM from their first start. A log that is not fresh ignores the
//! file.

use std::path::{Path, PathBuf};

use vltava_raft::MetadataRecord;
use vltava_security::scram::crypto::{credential_from_salted_password, salted_password};
use vltava_security::scram::messages::{b64, unb64};
use vltava_security::scram::{MAX_ITERATIONS, MIN_ITERATIONS, ScramMechanism};

use crate::config::BrokerConfig;

/// The file in the metadata log's directory holding the credentials to bootstrap.
pub const BOOTSTRAP_FILE: &str = "bootstrap.scram";
/// Kafka's default iterations.
pub const DEFAULT_ITERATIONS: i32 = 4096;
/// Bytes of a generated salt.
const SALT_BYTES: usize = 32;

/// Why an `--add-scram` argument or the bootstrap file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ScramBootstrapError {
    #[error("--add-scram {arg:?}: {reason}")]
    Argument { arg: String, reason: String },
    #[error("{path}: {reason}")]
    File { path: String, reason: String },
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
}

/// One bootstrap credential.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BootstrapCredential {
    pub mechanism: ScramMechanism,
    pub name: String,
    pub iterations: i32,
    pub salt: Vec<u8>,
    pub stored_key: Vec<u8>,
    pub server_key: Vec<u8>,
}

impl BootstrapCredential {
    /// The record the controller writes.
    pub fn record(&self) -> MetadataRecord {
        let credential = vltava_security::scram::ScramCredential {
            salt: self.salt.clone(),
            stored_key: self.stored_key.clone(),
            server_key: self.server_key.clone(),
            iterations: self.iterations,
        };
        MetadataRecord::UserScramCredential(vltava_raft::apply::scram_record(
            &self.name,
            self.mechanism,
            &credential,
        ))
    }
}

/// Splits `k=v,k="v, with comma",...` (quotes optional; a quoted value may hold `,`).
fn pairs(body: &str) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    let mut rest = body.trim();
    while !rest.is_empty() {
        let (key, after) = rest
            .split_once('=')
            .ok_or_else(|| format!("expected key=value, got {rest:?}"))?;
        let after = after.trim_start();
        let (value, next) = if let Some(quoted) = after.strip_prefix('"') {
            let end = quoted
                .find('"')
                .ok_or_else(|| format!("unterminated quote after {key}="))?;
            let next = quoted[end + 1..].trim_start();
            let next = match next.strip_prefix(',') {
                Some(n) => n,
                None if next.is_empty() => next,
                None => return Err(format!("expected ',' after {key}=\"...\"")),
            };
            (quoted[..end].to_string(), next)
        } else {
            match after.split_once(',') {
                Some((v, n)) => (v.trim().to_string(), n),
                None => (after.trim().to_string(), ""),
            }
        };
        out.push((key.trim().to_ascii_lowercase(), value));
        rest = next.trim();
    }
    Ok(out)
}

/// Parses one `--add-scram` argument; a password is salted here (with a random salt unless
/// one is given).
// Long, and kept whole: the argument's rules checked in order (mechanism, brackets,
// keys, name, iterations, salt, password), each with its own message; read straight
// down, it is the argument's grammar.
pub fn parse_add_scram(arg: &str) -> Result<BootstrapCredential, ScramBootstrapError> {
    let err = |reason: String| ScramBootstrapError::Argument {
        arg: arg.to_string(),
        reason,
    };
    let (mechanism, body) = arg
        .split_once('=')
        .ok_or_else(|| err("expected MECHANISM=[name=...,password=...]".into()))?;
    let mechanism = ScramMechanism::from_name(mechanism.trim()).ok_or_else(|| {
        err(format!(
            "unknown mechanism {:?} (SCRAM-SHA-256, SCRAM-SHA-512)",
            mechanism.trim()
        ))
    })?;
    let body = body
        .trim()
        .strip_prefix('[')
        .and_then(|b| b.strip_suffix(']'))
        .ok_or_else(|| err("the credential goes in [...]".into()))?;
    let (mut name, mut password, mut salt, mut salted, mut iterations) =
        (None, None, None, None, None);
    for (k, v) in pairs(body).map_err(err)? {
        let slot = match k.as_str() {
            "name" => &mut name,
            "password" => &mut password,
            "salt" => &mut salt,
            "saltedpassword" => &mut salted,
            "iterations" => &mut iterations,
            other => {
                return Err(err(format!(
                    "unknown key {other:?} (name, password, salt, saltedpassword, iterations)"
                )));
            }
        };
        if slot.replace(v).is_some() {
            return Err(err(format!("{k} is given twice")));
        }
    }
    let name = name
        .filter(|n| !n.is_empty())
        .ok_or_else(|| err("name=... is required".into()))?;
    let iterations = match iterations {
        None => DEFAULT_ITERATIONS,
        Some(i) => i
            .parse::<i32>()
            .map_err(|_| err(format!("iterations={i} is not a number")))?,
    };
    if !(MIN_ITERATIONS..=MAX_ITERATIONS).contains(&iterations) {
        return Err(err(format!(
            "iterations={iterations} is outside {MIN_ITERATIONS}..={MAX_ITERATIONS}"
        )));
    }
    let salt_given = salt.is_some();
    let salt = match salt {
        Some(s) => unb64(&s, "salt").map_err(|e| err(e.to_string()))?,
        None => {
            let mut s = vec![0u8; SALT_BYTES];
            getrandom::fill(&mut s).map_err(|e| err(format!("no random salt: {e}")))?;
            s
        }
    };
    if salt.is_empty() {
        return Err(err("the salt is empty".into()));
    }
    let salted = match (password, salted) {
        (Some(_), Some(_)) => {
            return Err(err("give password or saltedpassword, not both".into()));
        }
        (None, None) => return Err(err("password=... or saltedpassword=... is required".into())),
        (Some(p), None) => salted_password(mechanism, p.as_bytes(), &salt, iterations as u32),
        (None, Some(_)) if !salt_given => {
            return Err(err("saltedpassword needs salt=... too".into()));
        }
        (None, Some(sp)) => {
            let sp = unb64(&sp, "saltedpassword").map_err(|e| err(e.to_string()))?;
            if sp.len() != mechanism.hash_len() {
                return Err(err(format!(
                    "saltedpassword holds {} bytes; {mechanism} needs {}",
                    sp.len(),
                    mechanism.hash_len()
                )));
            }
            sp
        }
    };
    let c = credential_from_salted_password(mechanism, &salted, &salt, iterations);
    Ok(BootstrapCredential {
        mechanism,
        name,
        iterations,
        salt: c.salt,
        stored_key: c.stored_key,
        server_key: c.server_key,
    })
}

/// Where the metadata log's directory is: `metadata.log.dir`, else the first of `log.dirs`.
pub fn metadata_log_dir(config: &BrokerConfig) -> Option<PathBuf> {
    match config.raw.get("metadata.log.dir") {
        Some(d) if !d.trim().is_empty() => Some(PathBuf::from(d.trim())),
        _ => config.log_dirs.first().cloned(),
    }
}

/// The file's text: one credential a line, `MECHANISM name iterations salt stored server`
/// (name and bytes in base64).
fn encode(credentials: &[BootstrapCredential]) -> String {
    let mut out = String::from(
        "# SCRAM credentials from `vltava storage format --add-scram`, written to a fresh metadata log\n",
    );
    for c in credentials {
        out.push_str(&format!(
            "{} {} {} {} {} {}\n",
            c.mechanism.name(),
            b64(c.name.as_bytes()),
            c.iterations,
            b64(&c.salt),
            b64(&c.stored_key),
            b64(&c.server_key)
        ));
    }
    out
}

fn decode(path: &Path, text: &str) -> Result<Vec<BootstrapCredential>, ScramBootstrapError> {
    let bad = |reason: &str| ScramBootstrapError::File {
        path: path.display().to_string(),
        reason: reason.to_string(),
    };
    let mut out = Vec::new();
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let f: Vec<&str> = line.split_whitespace().collect();
        let [mechanism, name, iterations, salt, stored, server] = f[..] else {
            return Err(bad("expected six fields a line"));
        };
        let bytes = |s: &str, what: &str| unb64(s, what).map_err(|e| bad(&e.to_string()));
        out.push(BootstrapCredential {
            mechanism: ScramMechanism::from_name(mechanism).ok_or_else(|| bad("bad mechanism"))?,
            name: String::from_utf8(bytes(name, "name")?).map_err(|_| bad("bad name"))?,
            iterations: iterations.parse().map_err(|_| bad("bad iterations"))?,
            salt: bytes(salt, "salt")?,
            stored_key: bytes(stored, "stored key")?,
            server_key: bytes(server, "server key")?,
        });
    }
    Ok(out)
}

/// Writes `credentials` to `dir`'s bootstrap file (replacing it); nothing when empty.
pub fn write(dir: &Path, credentials: &[BootstrapCredential]) -> Result<(), ScramBootstrapError> {
    if credentials.is_empty() {
        return Ok(());
    }
    let path = dir.join(BOOTSTRAP_FILE);
    let io = |source| ScramBootstrapError::Io {
        path: path.display().to_string(),
        source,
    };
    std::fs::create_dir_all(dir).map_err(io)?;
    let tmp = dir.join(format!("{BOOTSTRAP_FILE}.tmp"));
    std::fs::write(&tmp, encode(credentials)).map_err(io)?;
    std::fs::rename(&tmp, &path).map_err(io)
}

/// The records of `dir`'s bootstrap file (none without one).
pub fn read_records(dir: &Path) -> Result<Vec<MetadataRecord>, ScramBootstrapError> {
    let path = dir.join(BOOTSTRAP_FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            return Err(ScramBootstrapError::Io {
                path: path.display().to_string(),
                source,
            });
        }
    };
    Ok(decode(&path, &text)?
        .iter()
        .map(BootstrapCredential::record)
        .collect())
}

/// Parses every `--add-scram` argument; the same user and mechanism twice is refused.
pub fn parse_all(args: &[String]) -> Result<Vec<BootstrapCredential>, ScramBootstrapError> {
    let mut out: Vec<BootstrapCredential> = Vec::new();
    for a in args {
        let c = parse_add_scram(a)?;
        if out
            .iter()
            .any(|o| o.name == c.name && o.mechanism == c.mechanism)
        {
            return Err(ScramBootstrapError::Argument {
                arg: a.clone(),
                reason: format!("{} for {:?} is given twice", c.mechanism, c.name),
            });
        }
        out.push(c);
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
