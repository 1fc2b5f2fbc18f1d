//! What the checks look up: every sent value with its outcome and acknowledged position,
//! every read position of every value, and the partitions' offsets as reads and
//! acknowledgements saw them.

use super::report::Stats;
use crate::history::{Op, OpFn, OpType};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// A partition: topic and index.
pub type Tp = (String, i32);

/// What became of a send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Invoked, never completed (the client died or the history ended).
    Pending,
    Ok,
    Fail,
    Info,
}

/// One sent value.
#[derive(Debug, Clone)]
pub struct SendInfo {
    pub process: String,
    /// Index of the operation that invoked it, and its place within that operation.
    pub invoke_index: u64,
    pub seq: usize,
    pub idempotent: bool,
    /// Sent inside a transaction (`f: txn`): its outcome is the transaction's.
    pub txn: bool,
    pub outcome: Outcome,
    /// Partition and offset from the acknowledgement.
    pub ack: Option<(Tp, i64)>,
}

impl SendInfo {
    /// Acknowledged: a send `ok`, or a send of a committed transaction.
    pub fn acknowledged(&self) -> bool {
        self.outcome == Outcome::Ok
    }

    /// A read_committed consumer may see it: not transactional, or committed.
    pub fn committed_visible(&self) -> bool {
        !self.txn || self.outcome == Outcome::Ok
    }

    /// Written by a transaction known to have aborted.
    pub fn aborted(&self) -> bool {
        self.txn && self.outcome == Outcome::Fail
    }
}

/// The indexed history.
#[derive(Debug, Default)]
pub struct Model {
    pub sends: HashMap<String, SendInfo>,
    /// Every position a read returned each value at.
    pub read_positions: HashMap<String, BTreeSet<(Tp, i64)>>,
    /// The producer id and epoch of the batch at a position, where a reader reported it.
    pub producers: HashMap<(Tp, i64), (i64, i16)>,
    /// Per partition, per offset: the values reads or acknowledgements put there.
    pub log: BTreeMap<Tp, BTreeMap<i64, BTreeSet<String>>>,
    /// Highest offset any read returned, per partition.
    pub read_max: HashMap<Tp, i64>,
    /// Where the complete reads ended (exclusive), per partition.
    pub complete_end: HashMap<Tp, i64>,
    /// Things wrong with the history itself (not anomalies of the system under test).
    pub warnings: Vec<String>,
}

impl Model {
    /// Indexes `ops`.
    pub fn build(ops: &[Op]) -> Model {
        let mut m = Model::default();
        for op in ops {
            match op.f {
                OpFn::Send | OpFn::Txn => m.add_send(op),
                OpFn::Poll if op.kind == OpType::Ok => m.add_reads(op),
                _ => {}
            }
        }
        for (value, info) in &m.sends {
            if let Some((tp, offset)) = &info.ack {
                m.log
                    .entry(tp.clone())
                    .or_default()
                    .entry(*offset)
                    .or_default()
                    .insert(value.clone());
            }
        }
        m
    }

    fn add_send(&mut self, op: &Op) {
        let txn = op.f == OpFn::Txn;
        for (seq, r) in op.sends.iter().enumerate() {
            if op.kind == OpType::Invoke {
                if let Some(prev) = self.sends.get(&r.value) {
                    self.warnings.push(format!(
                        "value {} sent twice (by {} and {}): values must be unique",
                        r.value, prev.process, op.process
                    ));
                    continue;
                }
            }
            let info = self.sends.entry(r.value.clone()).or_insert(SendInfo {
                process: op.process.clone(),
                invoke_index: op.index,
                seq,
                idempotent: op.idempotent,
                txn,
                outcome: Outcome::Pending,
                ack: None,
            });
            info.outcome = match op.kind {
                OpType::Invoke => continue,
                OpType::Ok => Outcome::Ok,
                OpType::Fail => Outcome::Fail,
                OpType::Info => Outcome::Info,
            };
            if op.kind == OpType::Ok {
                if let (Some(p), Some(o)) = (r.partition, r.offset) {
                    if o >= 0 {
                        info.ack = Some(((r.topic.clone(), p), o));
                    }
                }
            }
        }
    }

    fn add_reads(&mut self, op: &Op) {
        for r in &op.reads {
            let (Some(p), Some(o)) = (r.partition, r.offset) else {
                self.warnings.push(format!(
                    "op {}: a read without partition or offset",
                    op.index
                ));
                continue;
            };
            let tp = (r.topic.clone(), p);
            if let Some(producer) = r.producer {
                self.producers.insert((tp.clone(), o), producer);
            }
            self.read_positions
                .entry(r.value.clone())
                .or_default()
                .insert((tp.clone(), o));
            let max = self.read_max.entry(tp.clone()).or_insert(o);
            *max = (*max).max(o);
            self.log
                .entry(tp)
                .or_default()
                .entry(o)
                .or_default()
                .insert(r.value.clone());
        }
        if op.complete {
            for e in &op.ends {
                let end = self
                    .complete_end
                    .entry((e.topic.clone(), e.partition))
                    .or_insert(e.offset);
                *end = (*end).max(e.offset);
            }
        }
    }

    /// Counts of what the history holds.
    pub fn stats(&self, ops: &[Op]) -> Stats {
        let mut s = Stats {
            operations: ops.len() as u64,
            ..Stats::default()
        };
        for info in self.sends.values() {
            s.values_sent += 1;
            match info.outcome {
                Outcome::Ok => s.sends_ok += 1,
                Outcome::Fail => s.sends_fail += 1,
                Outcome::Info | Outcome::Pending => s.sends_unknown += 1,
            }
        }
        for op in ops {
            if op.f == OpFn::Stall {
                s.client_stalls += 1;
                if s.first_stall.is_none() {
                    s.first_stall = Some(format!(
                        "{}: {}",
                        op.process,
                        op.error.as_deref().unwrap_or("no reason given")
                    ));
                }
                continue;
            }
            if op.kind != OpType::Ok {
                continue;
            }
            match op.f {
                OpFn::Poll => {
                    s.polls_ok += 1;
                    s.records_read += op.reads.len() as u64;
                }
                OpFn::Commit => s.commits_ok += 1,
                OpFn::Txn => s.txns_committed += 1,
                OpFn::Fault => {
                    let kind = op.fault.clone().unwrap_or_else(|| "unnamed".into());
                    *s.faults.entry(kind).or_insert(0) += 1;
                }
                _ => {}
            }
        }
        s.txns_aborted = ops
            .iter()
            .filter(|o| o.f == OpFn::Txn && o.kind == OpType::Fail)
            .count() as u64;
        s.values_read = self.read_positions.len() as u64;
        s.partitions_read_completely = self.complete_end.len() as u64;
        s
    }
}
