//! The checker's verdict: statistics, a count and first example per anomaly class, and
//! warnings about the history itself, printed as an aligned table.

use super::{Class, Findings};
use std::fmt;

/// What the history holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    pub operations: u64,
    pub values_sent: u64,
    pub sends_ok: u64,
    pub sends_fail: u64,
    /// `info` or never completed.
    pub sends_unknown: u64,
    pub polls_ok: u64,
    pub records_read: u64,
    pub values_read: u64,
    pub commits_ok: u64,
    pub txns_committed: u64,
    pub txns_aborted: u64,
    pub partitions_read_completely: u64,
    /// Healed faults (nemesis `ok`) per kind.
    pub faults: std::collections::BTreeMap<String, u64>,
    /// Clients abandoned after a stall (`f: stall`), and the first one's process and error.
    pub client_stalls: u64,
    pub first_stall: Option<String>,
}

/// The result of [`super::check`].
#[derive(Debug)]
pub struct Report {
    pub stats: Stats,
    findings: Findings,
    pub warnings: Vec<String>,
}

impl Report {
    pub(super) fn new(stats: Stats, findings: Findings, warnings: Vec<String>) -> Report {
        Report {
            stats,
            findings,
            warnings,
        }
    }

    /// How many anomalies of `class` the history shows.
    pub fn count(&self, class: Class) -> u64 {
        self.findings.count(class)
    }

    /// The first example of `class`.
    pub fn example(&self, class: Class) -> Option<&str> {
        self.findings.example(class)
    }

    /// Values of plain producers read at more than one offset (allowed).
    pub fn allowed_duplicates(&self) -> u64 {
        self.findings.allowed_duplicates
    }

    /// Values of idempotent producers written again under a later epoch (allowed), and
    /// the first example.
    pub fn epoch_duplicates(&self) -> (u64, Option<&str>) {
        (
            self.findings.epoch_duplicates,
            self.findings.epoch_duplicate_example.as_deref(),
        )
    }

    /// Total anomalies over every class.
    pub fn anomalies(&self) -> u64 {
        Class::ALL.iter().map(|c| self.count(*c)).sum()
    }

    /// No anomaly of any class and a well-formed history.
    pub fn valid(&self) -> bool {
        self.anomalies() == 0 && self.warnings.is_empty()
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = &self.stats;
        writeln!(
            f,
            "operations {}; values sent {} (ok {}, fail {}, unknown {}); polls {} returning {} \
             records ({} distinct values); commits {}; transactions committed {}, aborted {}; \
             partitions read completely {}; plain-producer duplicates (allowed) {}",
            s.operations,
            s.values_sent,
            s.sends_ok,
            s.sends_fail,
            s.sends_unknown,
            s.polls_ok,
            s.records_read,
            s.values_read,
            s.commits_ok,
            s.txns_committed,
            s.txns_aborted,
            s.partitions_read_completely,
            self.allowed_duplicates()
        )?;
        if !s.faults.is_empty() {
            let faults: Vec<String> = s.faults.iter().map(|(k, n)| format!("{n} {k}")).collect();
            writeln!(f, "faults: {}", faults.join(", "))?;
        }
        if s.client_stalls > 0 {
            writeln!(
                f,
                "clients abandoned after a stall (stuck in the client library; no anomaly): \
                 {}, first: {}",
                s.client_stalls,
                s.first_stall.as_deref().unwrap_or("-")
            )?;
        }
        writeln!(f, "{:<22} {:>7}  first example", "anomaly", "count")?;
        for class in Class::ALL {
            writeln!(
                f,
                "{:<22} {:>7}  {}",
                class.name(),
                self.count(class),
                self.example(class).unwrap_or("-")
            )?;
        }
        let (n, example) = self.epoch_duplicates();
        if n > 0 {
            writeln!(
                f,
                "idempotent values re-sent under a new producer epoch (a client's epoch bump; \
                 no anomaly): {n}, first: {}",
                example.unwrap_or("-")
            )?;
        }
        for w in &self.warnings {
            writeln!(f, "warning: {w}")?;
        }
        write!(
            f,
            "verdict: {}",
            if self.valid() { "valid" } else { "INVALID" }
        )
    }
}
