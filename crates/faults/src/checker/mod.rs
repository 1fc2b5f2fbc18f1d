//! The history checker: reads a history ([`crate::history`]) and counts anomalies per
//! class, with Jepsen's names for Kafka's queue workload, keeping the first example of
//! each.
//!
//! Classes ([`Class`]):
//! - `lost-write`: an acknowledged value (a send `ok`, or a send of a committed
//!   transaction) that no read observed, although reads of its partition reached past its
//!   offset (a complete read's end, or a later offset read).
//! - `unseen`: acknowledged, never read, and no read reached past its offset. After the
//!   harness's final complete reads (which read every partition to its end) this can only
//!   mean the log lost its tail, so the harness fails on it too.
//! - `duplicate`: one value of an idempotent (or transactional) producer at two offsets,
//!   unless the reads show every copy in a batch of a different epoch of that producer
//!   id (the client bumped its epoch and re-sent: counted apart, see
//!   [`Findings::epoch_duplicates`]). Plain producers may duplicate on retries: counted
//!   in the statistics, not an anomaly.
//! - `inconsistent-offsets`: one offset of a partition holding two values (between reads,
//!   or between a read and a send's acknowledged offset).
//! - `nonmonotonic-send`: a process's send, invoked after an earlier send of the same
//!   process to the same partition was acknowledged, got a lower or equal offset.
//! - `per-producer-reorder`: an idempotent producer's values of one partition (in the
//!   order the producer issued them, pipelined or not) sit at offsets out of that order.
//! - `nonmonotonic-poll`: a consumer's polls of one partition went back (an offset at or
//!   below one it already returned) without an assignment change in between.
//! - `poll-skip`: a consumer's successive polls of one partition jumped over an offset that
//!   holds a value it should have seen (committed, for read_committed consumers).
//! - `aborted-read` (G1a): a read_committed poll returned a value of an aborted
//!   transaction.

mod model;
mod order;
mod polls;
mod report;
mod writes;

#[cfg(test)]
mod tests;

use crate::history::Op;
use std::collections::BTreeMap;

pub use model::Model;
pub use report::{Report, Stats};

/// An anomaly class (Jepsen's name in [`Class::name`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Class {
    LostWrite,
    Unseen,
    Duplicate,
    InconsistentOffsets,
    NonmonotonicSend,
    PerProducerReorder,
    NonmonotonicPoll,
    PollSkip,
    AbortedRead,
}

impl Class {
    /// Every class, in report order.
    pub const ALL: [Class; 9] = [
        Class::LostWrite,
        Class::Unseen,
        Class::Duplicate,
        Class::InconsistentOffsets,
        Class::NonmonotonicSend,
        Class::PerProducerReorder,
        Class::NonmonotonicPoll,
        Class::PollSkip,
        Class::AbortedRead,
    ];

    /// Jepsen's name for the class.
    pub fn name(self) -> &'static str {
        match self {
            Class::LostWrite => "lost-write",
            Class::Unseen => "unseen",
            Class::Duplicate => "duplicate",
            Class::InconsistentOffsets => "inconsistent-offsets",
            Class::NonmonotonicSend => "nonmonotonic-send",
            Class::PerProducerReorder => "per-producer-reorder",
            Class::NonmonotonicPoll => "nonmonotonic-poll",
            Class::PollSkip => "poll-skip",
            Class::AbortedRead => "aborted-read (G1a)",
        }
    }
}

/// Counts and first examples, filled by the checks.
#[derive(Debug, Default)]
pub struct Findings {
    found: BTreeMap<Class, (u64, String)>,
    /// Values of plain (non-idempotent) producers read at more than one offset: retries
    /// may do that, so they are counted but are no anomaly.
    pub allowed_duplicates: u64,
    /// Values of idempotent producers read at more than one offset, each copy in a batch
    /// of another epoch of the same producer id: the client re-sent the value after
    /// bumping its epoch (librdkafka does after message timeouts and sequence errors,
    /// librdkafka issue #4953), which the protocol's per-epoch sequences cannot catch.
    /// Counted, with the first example, but no anomaly of the broker.
    pub epoch_duplicates: u64,
    pub epoch_duplicate_example: Option<String>,
}

impl Findings {
    /// Counts one anomaly; keeps `example` if it is the class's first.
    pub fn add(&mut self, class: Class, example: impl FnOnce() -> String) {
        let entry = self.found.entry(class).or_insert_with(|| (0, example()));
        entry.0 += 1;
    }

    /// How many anomalies of `class` were found.
    pub fn count(&self, class: Class) -> u64 {
        self.found.get(&class).map_or(0, |e| e.0)
    }

    /// The first example of `class`, if any.
    pub fn example(&self, class: Class) -> Option<&str> {
        self.found.get(&class).map(|e| e.1.as_str())
    }
}

/// Checks a history.
pub fn check(ops: &[Op]) -> Report {
    let model = Model::build(ops);
    let mut findings = Findings::default();
    writes::check(&model, &mut findings);
    order::check(&model, ops, &mut findings);
    polls::check(&model, ops, &mut findings);
    Report::new(model.stats(ops), findings, model.warnings.clone())
}
