//! One broker's side of a differential run: a connection, the API versions both brokers
//! share (every request goes at the same version to both), and the transcript of the
//! recorded steps — each response normalised ([`crate::normalize`]).

use std::collections::BTreeMap;
use std::fmt::{Debug, Write as _};
use std::time::Duration;

use anyhow::{Context, Result, anyhow};
use vltava_client::api::ApiRequest;
use vltava_client::config::ClientConfig;
use vltava_client::connection::Connection;
use vltava_protocol::ApiKey;

use crate::normalize::normalize_also;
use crate::unordered::sort_lists;

/// The versions to speak: per API key, the highest both brokers and this codec support.
pub type SharedVersions = BTreeMap<i16, i16>;

/// The shared versions of two brokers' ApiVersions answers.
pub fn shared_versions(a: &Connection, b: &Connection) -> SharedVersions {
    let theirs: BTreeMap<i16, (i16, i16)> = b
        .versions()
        .all()
        .into_iter()
        .map(|(k, lo, hi)| (k, (lo, hi)))
        .collect();
    let mut out = BTreeMap::new();
    for (key, lo, hi) in a.versions().all() {
        let Some((blo, bhi)) = theirs.get(&key) else {
            continue;
        };
        let Some(api) = ApiKey::from_i16(key) else {
            continue;
        };
        let mut top = hi.min(*bhi).min(api.max_version());
        if api == ApiKey::AddPartitionsToTxn {
            // v4+ is for brokers verifying transactions; clients send at most v3.
            top = top.min(3);
        }
        if top >= lo.max(*blo) {
            out.insert(key, top);
        }
    }
    out
}

/// A connection for differential runs (generous timeouts: Kafka's first requests are slow).
pub async fn connect(addr: &str) -> Result<Connection> {
    let cfg = ClientConfig {
        client_id: "vltava-differential".into(),
        connect_timeout: Duration::from_secs(10),
        ..ClientConfig::default()
    };
    Connection::connect(addr, &cfg)
        .await
        .with_context(|| format!("connecting to {addr}"))
}

/// One broker's run of one scenario.
#[derive(Debug)]
pub struct Session {
    conn: Connection,
    versions: SharedVersions,
    transcript: String,
    /// Fields this scenario ignores beyond the usual ones.
    also_ignored: Vec<&'static str>,
    /// Whether lists are compared as sets ([`crate::unordered`]).
    unordered: bool,
}

impl Session {
    pub fn new(conn: Connection, versions: SharedVersions) -> Session {
        Session {
            conn,
            versions,
            transcript: String::new(),
            also_ignored: Vec::new(),
            unordered: false,
        }
    }

    /// Ignores `fields` too in this scenario's answers (records that carry a producer id).
    pub fn ignore_also(&mut self, fields: &[&'static str]) {
        self.also_ignored.extend_from_slice(fields);
    }

    /// Compares the elements of this scenario's answers' lists in any order
    /// ([`crate::unordered`]).
    pub fn lists_unordered(&mut self) {
        self.unordered = true;
    }

    /// `debug` normalised as this scenario compares it.
    fn normalized(&self, debug: &str) -> String {
        // `VLTAVA_DIFF_RAW=1`: answers as received (to read error messages), not comparable.
        if std::env::var_os("VLTAVA_DIFF_RAW").is_some() {
            return format!("{debug}\n");
        }
        let text = normalize_also(debug, &self.also_ignored);
        if self.unordered {
            sort_lists(&text)
        } else {
            text
        }
    }

    /// The version requests of `key` go at (-1: not shared).
    pub fn version(&self, key: ApiKey) -> i16 {
        self.versions.get(&key.as_i16()).copied().unwrap_or(-1)
    }

    /// Sends `req` at the shared version without recording it (set-up and waits).
    pub async fn call<R: ApiRequest>(&mut self, req: R) -> Result<R::Response> {
        let version = self
            .versions
            .get(&R::KEY.as_i16())
            .copied()
            .ok_or_else(|| anyhow!("{:?} is not supported by both brokers", R::KEY))?;
        Ok(self.conn.send_at(req, version).await?)
    }

    /// Sends `req` and records the step's name, the API and version, and the normalised
    /// response; a failed exchange is recorded as such and ends the scenario.
    pub async fn send<R>(&mut self, step: &str, req: R) -> Result<R::Response>
    where
        R: ApiRequest,
        R::Response: Debug,
    {
        let version = self.versions.get(&R::KEY.as_i16()).copied().unwrap_or(-1);
        self.send_at(step, req, version).await
    }

    /// As [`Session::send`], at `version` (a recorded client's, not the shared one).
    pub async fn send_at<R>(&mut self, step: &str, req: R, version: i16) -> Result<R::Response>
    where
        R: ApiRequest,
        R::Response: Debug,
    {
        let _ = writeln!(self.transcript, "## {step}: {:?} v{version}", R::KEY);
        let answer = if version < 0 {
            Err(anyhow!("{:?} is not supported by both brokers", R::KEY))
        } else {
            self.conn.send_at(req, version).await.map_err(Into::into)
        };
        match answer {
            Ok(resp) => {
                let text = self.normalized(&format!("{resp:#?}"));
                self.transcript.push_str(&text);
                Ok(resp)
            }
            Err(e) => {
                let _ = writeln!(self.transcript, "exchange failed: {e}");
                Err(e)
            }
        }
    }

    /// The API versions both brokers support.
    pub fn shared(&self) -> &SharedVersions {
        &self.versions
    }

    /// The address of the broker this session talks to.
    pub fn addr(&self) -> &str {
        self.conn.addr()
    }

    /// Records a step sent outside the session's connection ([`crate::raw`]): its name,
    /// API and version, the request (its one-line `Debug` form, the same on both brokers)
    /// and the normalised answer (its `Debug` form) or why there was none.
    pub fn record(
        &mut self,
        step: &str,
        key: ApiKey,
        version: i16,
        request: &str,
        answer: Result<String, String>,
    ) {
        let _ = writeln!(self.transcript, "## {step}: {key:?} v{version}");
        let _ = writeln!(self.transcript, "request: {request}");
        match answer {
            Ok(debug) => {
                let text = self.normalized(&debug);
                self.transcript.push_str(&text);
            }
            Err(why) => {
                let _ = writeln!(self.transcript, "no answer: {why}");
            }
        }
    }

    /// A line of the transcript written by the scenario itself.
    pub fn note(&mut self, line: &str) {
        let _ = writeln!(self.transcript, "{line}");
    }

    pub fn into_transcript(self) -> String {
        self.transcript
    }
}
