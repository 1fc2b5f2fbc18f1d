//! Cross-check against the independent `kafka-protocol` crate, both its 0.15
//! line (oldest versions) and 0.18 (newest). For every API and version both can
//! express, request and response:
//!  1. bytes we encode decode there (consuming every byte), and its re-encoding
//!     is byte-identical to ours, so it read the same values;
//!  2. those bytes, encoded by it, decode here and re-encode byte-identical.
//!
//! Versions our schemas mark unstable (the top version of an API with
//! `latestVersionUnstable`) are left out: they changed after our schemas were taken.

use bytes::{Bytes, BytesMut};
use vltava_protocol::testing::Gen;
use vltava_protocol::{ApiKey, RequestBody, ResponseBody};

const CASES: u64 = 24;

/// Outcome of one side of the check, for a readable failure list.
#[derive(Default)]
struct Report {
    checked: usize,
    failures: Vec<String>,
}

impl Report {
    fn fail(&mut self, what: String) {
        if self.failures.len() < 40 {
            self.failures.push(what);
        }
    }
    fn finish(self, min_checked: usize) {
        assert!(
            self.failures.is_empty(),
            "{} failures:\n{}",
            self.failures.len(),
            self.failures.join("\n")
        );
        assert!(
            self.checked >= min_checked,
            "only {} api versions checked",
            self.checked
        );
    }
}

macro_rules! cross_check {
    ($test:ident, $kp:ident, $min_checked:expr) => {
        #[test]
        fn $test() {
            use $kp::messages::{ApiKey as TheirKey, RequestKind, ResponseKind};
            // One direction pair for one side (requests or responses): ours → bytes →
            // theirs → bytes must match, and their bytes → ours → bytes must too.
            macro_rules! check_side {
                ($ours:ident, $theirs:ident, $side:literal, $key:ident, $their_key:ident, $seed:ident, $version:ident, $report:ident) => {{
                    let (key, their_key, seed, version) = ($key, $their_key, $seed, $version);
                    let ours = $ours::random(key, &mut Gen::new(seed), version);
                    let a = encode(|b| ours.write(b, version).map_err(|e| e.to_string()));
                    let b = a.clone().and_then(|a| {
                        let mut buf = a;
                        let m = $theirs::decode(their_key, &mut buf, version)
                            .map_err(|e| format!("theirs decode: {e:#}"))?;
                        if !buf.is_empty() {
                            return Err(format!("theirs left {} bytes", buf.len()));
                        }
                        encode(|out| {
                            m.encode(out, version)
                                .map_err(|e| format!("theirs encode: {e:#}"))
                        })
                    });
                    if let Some(err) = compare(&a, &b, |bytes| {
                        let back = $ours::decode(key, version, bytes).map_err(|e| e.to_string())?;
                        encode(|out| back.write(out, version).map_err(|e| e.to_string()))
                    }) {
                        $report.fail(format!("{key:?} v{version} {} seed {seed}: {err}", $side));
                    }
                }};
            }
            let mut report = Report::default();
            for key in ApiKey::ALL {
                let Ok(their_key) = TheirKey::try_from(key.as_i16()) else {
                    continue;
                };
                let theirs = their_key.valid_versions();
                let lo = key.min_version().max(theirs.min);
                // An API's unstable top version was still changing when our schemas
                // were taken (e.g. ReadShareGroupStateSummary v0 later gained
                // LeaderEpoch), so the two schemas may legitimately differ there.
                let ours_hi = key.max_version() - i16::from(key.latest_version_unstable());
                let hi = ours_hi.min(theirs.max);
                for version in lo..=hi {
                    report.checked += 1;
                    for seed in 0..CASES {
                        let seed =
                            seed * 7919 + u64::from(key.as_i16() as u16) * 131 + version as u64;

                        check_side!(RequestBody, RequestKind, "request", key, their_key, seed, version, report);
                        check_side!(ResponseBody, ResponseKind, "response", key, their_key, seed, version, report);
                    }
                }
            }
            report.finish($min_checked);
        }
    };
}

fn encode(f: impl FnOnce(&mut BytesMut) -> Result<(), String>) -> Result<Bytes, String> {
    let mut out = BytesMut::new();
    f(&mut out)?;
    Ok(out.freeze())
}

/// `a`: our bytes; `b`: theirs after decoding and re-encoding ours; `ours_again`:
/// our decode + re-encode of `b`. Returns a description of the first mismatch.
fn compare(
    a: &Result<Bytes, String>,
    b: &Result<Bytes, String>,
    ours_again: impl FnOnce(&Bytes) -> Result<Bytes, String>,
) -> Option<String> {
    let a = match a {
        Ok(a) => a,
        Err(e) => return Some(format!("our encode: {e}")),
    };
    let b = match b {
        Ok(b) => b,
        Err(e) => return Some(e.clone()),
    };
    if a != b {
        let at = a
            .iter()
            .zip(b.iter())
            .position(|(x, y)| x != y)
            .unwrap_or(a.len().min(b.len()));
        return Some(format!(
            "theirs re-encoded differently (ours {} bytes, theirs {}, first difference at {at})",
            a.len(),
            b.len()
        ));
    }
    match ours_again(b) {
        Ok(c) if c == *b => None,
        Ok(_) => Some("our re-encoding of their bytes differs".into()),
        Err(e) => Some(format!("our decode of their bytes: {e}")),
    }
}

cross_check!(kafka_protocol_0_18_agrees_both_ways, kafka_protocol, 250);
cross_check!(
    kafka_protocol_0_15_agrees_both_ways,
    kafka_protocol_015,
    300
);
