//! `TxnChecker`: the invariants of idempotent and transactional producers, with Jepsen's
//! names where it has them.
//!
//! On the committed log of each data partition (below the high watermark, as the
//! replication checker extends it):
//! - no duplicate: a producer batch (producer id, epoch, sequence) is there at most once
//!   (the leader's producer state answered every retry of a written batch as a duplicate);
//! - per-producer order: per producer id and epoch the sequences follow each other from 0
//!   in offset order (sequence order = offset order, no gap: a client sends a batch only
//!   after the one before it was acknowledged).
//!
//! On the current leader's log of each data partition, read as a read_committed consumer
//! reads it (records below the last stable offset; a transaction's records are visible
//! when a COMMIT marker for its producer follows them):
//! - the last stable offset never passes an open transaction: every transactional record
//!   below it is followed by its marker below the high watermark;
//! - no aborted read (G1a): no record of a transaction whose EndTxn(abort) was answered is
//!   visible;
//! - all or nothing: a transaction's records get the same outcome in every partition (no
//!   partial commit), and an acknowledged commit (EndTxn(commit) answered NONE) never gets
//!   an ABORT marker;
//! - after the run, every record of an acknowledged commit is visible to read_committed,
//!   and no transaction holds the last stable offset below the high watermark (no hanging
//!   transaction: every transaction a partition saw was ended by a marker).
//!
//! On the transaction coordinator: the producer epochs it hands out (InitProducerId
//! answered NONE) only grow per producer id, across failovers; the current coordinator (it
//! leads `__transaction_state` at its coordinator epoch in the controller's image) never
//! holds an epoch below one handed out, nor below a marker's epoch committed in a data
//! partition.
//!
//! Storage assumption as in [`crate::invariants`]: records past a data partition's taint
//! are not checked; a transaction whose coordinator records may have been past the
//! `__transaction_state` taint (a crash lost committed records of an ISR member) is not
//! held to its acknowledged outcome.

use std::collections::{BTreeMap, HashMap, HashSet};

use crate::batch::Batch;
use crate::invariants::Violation;
use crate::log::{Rec, SimLog};
use crate::txn_producer::TxnEvent;

/// What the checker knows of one transaction of the transactional producer.
#[derive(Debug, Default, Clone)]
struct Txn {
    /// Acknowledged records: (partition, value, offset).
    records: Vec<(usize, u64, u64)>,
    /// EndTxn answered NONE: commit or abort, and the highest `__transaction_state` log
    /// end of a coordinator answering for the transaction (AddPartitionsToTxn or EndTxn):
    /// every coordinator record of the transaction lies below it, so a taint at or past it
    /// leaves the transaction's state intact.
    ended: Option<(bool, u64)>,
    /// The highest such log end so far.
    log_end: u64,
}

/// The outcome a partition's markers gave a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Seen {
    offset: u64,
    /// COMMIT (true) or ABORT marker found below the high watermark.
    outcome: Option<bool>,
    /// Where that marker is.
    marker_offset: u64,
    /// Below the last stable offset.
    stable: bool,
}

/// The transaction invariants' memory.
#[derive(Debug, Default)]
pub struct TxnChecker {
    txns: BTreeMap<u64, Txn>,
    /// (partition, value) → transaction (values repeat across partitions).
    txn_of: HashMap<(usize, u64), u64>,
    /// The last epoch handed out per producer id.
    handed_out: BTreeMap<i64, i16>,
    /// Per data partition: how much of the committed log was checked, the producer
    /// batches seen there, and the last sequence per (producer id, epoch).
    scanned: Vec<usize>,
    seen: Vec<HashSet<u64>>,
    last_seq: Vec<HashMap<(i64, i16), i32>>,
    /// The greatest marker epoch per producer id in a committed log.
    marker_epochs: BTreeMap<i64, i16>,
    /// Transactions whose EndTxn was answered: commits, aborts.
    pub commits_acked: u64,
    /// Aborts answered.
    pub aborts_acked: u64,
    /// Transactions given up by the producer (fenced, restarted, timed out).
    pub abandoned: u64,
    /// Producer batches checked in committed logs.
    pub batches_checked: u64,
    /// Epochs handed out by InitProducerId.
    pub epochs: u64,
}

impl TxnChecker {
    /// A checker for `partitions` data partitions.
    pub fn new(partitions: usize) -> Self {
        TxnChecker {
            scanned: vec![0; partitions],
            seen: vec![HashSet::new(); partitions],
            last_seq: vec![HashMap::new(); partitions],
            ..TxnChecker::default()
        }
    }

    /// What the transactional producer did; `log_end`: for an answered AddPartitionsToTxn
    /// or EndTxn, the `__transaction_state` log end of the coordinator that answered.
    pub fn on_event(&mut self, event: &TxnEvent, log_end: u64) -> Result<(), Violation> {
        match *event {
            TxnEvent::Epoch { producer_id, epoch } => {
                self.epochs += 1;
                if let Some(&last) = self.handed_out.get(&producer_id)
                    && epoch <= last
                {
                    return Err(Violation(format!(
                        "InitProducerId handed out producer {producer_id} epoch {epoch} after \
                         epoch {last}"
                    )));
                }
                self.handed_out.insert(producer_id, epoch);
            }
            TxnEvent::Started { txn } => {
                self.txns.insert(txn, Txn::default());
            }
            TxnEvent::Added { txn, .. } => {
                let t = self.txns.entry(txn).or_default();
                t.log_end = t.log_end.max(log_end);
            }
            TxnEvent::Record {
                txn,
                partition,
                value,
                offset,
            } => {
                self.txn_of.insert((partition, value), txn);
                self.txns
                    .entry(txn)
                    .or_default()
                    .records
                    .push((partition, value, offset));
            }
            TxnEvent::Ended { txn, commit, .. } => {
                if commit {
                    self.commits_acked += 1;
                } else {
                    self.aborts_acked += 1;
                }
                let t = self.txns.entry(txn).or_default();
                t.log_end = t.log_end.max(log_end);
                t.ended = Some((commit, t.log_end));
            }
            TxnEvent::Abandoned { .. } => self.abandoned += 1,
        }
        Ok(())
    }

    /// No duplicate and per-producer order on the committed log `committed` of data
    /// partition `p` (checked up to `taint`).
    pub fn check_committed(
        &mut self,
        p: usize,
        committed: &[Rec],
        taint: u64,
    ) -> Result<(), Violation> {
        let end = committed
            .len()
            .min(usize::try_from(taint).unwrap_or(usize::MAX));
        let Some(start) = self.scanned.get(p).copied() else {
            return Ok(());
        };
        for (offset, rec) in committed.iter().enumerate().take(end).skip(start) {
            match Batch::decode(rec.value) {
                Some(Batch::Data {
                    producer_id,
                    epoch,
                    sequence,
                    ..
                }) => {
                    self.batches_checked += 1;
                    if !self.seen[p].insert(rec.value) {
                        return Err(Violation(format!(
                            "p{p}: duplicate of producer {producer_id} epoch {epoch} sequence \
                             {sequence} at committed offset {offset}"
                        )));
                    }
                    let expected = self.last_seq[p]
                        .get(&(producer_id, epoch))
                        .map_or(0, |s| s.wrapping_add(1));
                    if sequence != expected {
                        return Err(Violation(format!(
                            "p{p}: producer {producer_id} epoch {epoch} sequence {sequence} at \
                             committed offset {offset}, expected {expected}: sequence order is \
                             not offset order"
                        )));
                    }
                    self.last_seq[p].insert((producer_id, epoch), sequence);
                }
                Some(Batch::Marker {
                    producer_id, epoch, ..
                }) => {
                    let e = self.marker_epochs.entry(producer_id).or_insert(epoch);
                    *e = (*e).max(epoch);
                }
                None => {}
            }
        }
        self.scanned[p] = start.max(end);
        Ok(())
    }

    /// Reads the leader's `log` of data partition `p` as read_committed at high watermark
    /// `hw` and last stable offset `lso`; `taint` is the partition's, `txn_taint`
    /// `__transaction_state`'s. `fin`: after the run (acknowledged commits must be
    /// visible). Returns the outcome the markers give each transactional record (by value),
    /// for [`TxnChecker::check_atomic`].
    pub fn check_partition(
        &self,
        p: usize,
        log: &SimLog,
        hw: u64,
        lso: u64,
        (taint, txn_taint): (u64, u64),
        fin: bool,
    ) -> Result<HashMap<u64, bool>, Violation> {
        if lso > hw {
            return Err(Violation(format!(
                "p{p}: last stable offset {lso} past HW {hw}"
            )));
        }
        // The whole log below the HW: a marker past the taint is still the leader's.
        let (open, seen) = scan(log, hw.min(log.end()), lso);
        for (pid, records) in &open {
            if let Some(&(o, _)) = records.first()
                && o < lso
            {
                return Err(Violation(format!(
                    "p{p}: last stable offset {lso} passes producer {pid}'s open transaction \
                     at {o} (HW {hw})"
                )));
            }
        }
        self.check_outcomes(p, &seen, taint, txn_taint)?;
        if fin && lso < hw && taint == u64::MAX {
            return Err(Violation(format!(
                "p{p}: a transaction still holds the last stable offset at {lso} (HW {hw}) \
                 after the run: no marker ended it (a hanging transaction)"
            )));
        }
        if fin {
            self.check_commits_visible(p, &seen, (taint, txn_taint), lso, hw)?;
        }
        Ok(seen
            .into_iter()
            .filter(|(_, s)| s.marker_offset < taint)
            .filter_map(|(v, s)| s.outcome.map(|o| (v, o)))
            .collect())
    }

    /// Judges each transactional record's marker against how its transaction ended:
    /// an aborted one visible to read_committed, or an acknowledged commit with an ABORT
    /// marker, is a violation (records and markers past `taint` are not judged).
    fn check_outcomes(
        &self,
        p: usize,
        seen: &HashMap<u64, Seen>,
        taint: u64,
        txn_taint: u64,
    ) -> Result<(), Violation> {
        for (&value, s) in seen {
            let Some(txn) = self.txn_of.get(&(p, value)).and_then(|t| self.txns.get(t)) else {
                continue;
            };
            let voided = txn.ended.is_some_and(|(_, at)| at > txn_taint);
            // A marker past the taint may stand where a lost one stood (the crash that
            // tainted the partition took the first marker with it): not judged.
            if voided || s.offset >= taint || s.marker_offset >= taint {
                continue;
            }
            match (txn.ended, s.outcome) {
                (Some((false, _)), Some(true)) if s.stable => {
                    return Err(Violation(format!(
                        "p{p}: aborted read (G1a): record {value:#x} at {} of an aborted \
                         transaction is visible to read_committed",
                        s.offset
                    )));
                }
                (Some((true, _)), Some(false)) => {
                    return Err(Violation(format!(
                        "p{p}: record {value:#x} at {} of an acknowledged commit has an ABORT \
                         marker",
                        s.offset
                    )));
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// After the run: every record of an acknowledged commit in partition `p` is visible
    /// to read_committed, unless a taint voids it.
    fn check_commits_visible(
        &self,
        p: usize,
        seen: &HashMap<u64, Seen>,
        (taint, txn_taint): (u64, u64),
        lso: u64,
        hw: u64,
    ) -> Result<(), Violation> {
        for (t, txn) in &self.txns {
            let Some((true, at)) = txn.ended else {
                continue;
            };
            if at > txn_taint {
                continue;
            }
            for &(q, value, offset) in &txn.records {
                if q != p || offset >= taint {
                    continue;
                }
                let got = seen.get(&value);
                let visible = got.is_some_and(|s| s.outcome == Some(true) && s.stable);
                // With a taint, the marker may be what the crash took.
                let open = got.is_none_or(|s| s.outcome.is_none() || s.marker_offset >= taint);
                let voided = open && taint != u64::MAX;
                if !visible && !voided {
                    return Err(Violation(format!(
                        "p{p}: record {value:#x} at {offset} of acknowledged commit {t} is \
                         not visible to read_committed after the run ({:?}, LSO {lso}, HW \
                         {hw})",
                        seen.get(&value)
                    )));
                }
            }
        }
        Ok(())
    }

    /// All or nothing across partitions: `outcomes[p]` are the outcomes the markers of
    /// data partition `p` give (below its HW and taint). A transaction with a COMMIT in one
    /// partition and an ABORT in another is a partial commit.
    pub fn check_atomic(
        &self,
        outcomes: &[HashMap<u64, bool>],
        txn_taint: u64,
    ) -> Result<(), Violation> {
        for (t, txn) in &self.txns {
            if txn.ended.is_some_and(|(_, at)| at > txn_taint) {
                continue;
            }
            let mut got: Option<(usize, bool)> = None;
            for &(p, value, _) in &txn.records {
                let Some(&o) = outcomes.get(p).and_then(|m| m.get(&value)) else {
                    continue;
                };
                match got {
                    Some((q, other)) if other != o => {
                        return Err(Violation(format!(
                            "transaction {t}: {} in p{q} but {} in p{p} (partial commit)",
                            if other { "COMMIT" } else { "ABORT" },
                            if o { "COMMIT" } else { "ABORT" },
                        )));
                    }
                    _ => got = Some((p, o)),
                }
            }
        }
        Ok(())
    }

    /// The current coordinator holds producer id `pid` at `epoch` for the transactional
    /// id: not below the epoch handed out last, nor below a committed marker's epoch.
    pub fn check_coordinator(
        &self,
        broker: i32,
        pid: i64,
        epoch: i16,
        txn_taint: u64,
    ) -> Result<(), Violation> {
        if txn_taint != u64::MAX {
            return Ok(());
        }
        let handed = self.handed_out.get(&pid).copied();
        let marked = self.marker_epochs.get(&pid).copied();
        for (what, e) in [("handed out", handed), ("in a committed marker", marked)] {
            if let Some(e) = e
                && epoch < e
            {
                return Err(Violation(format!(
                    "current transaction coordinator b{broker} holds producer {pid} at epoch \
                     {epoch}, below epoch {e} {what}"
                )));
            }
        }
        Ok(())
    }
}

/// Transactional records no marker has ended yet, by producer id: (offset, value).
type Open = BTreeMap<i64, Vec<(u64, u64)>>;

/// The transactional records of `log` below `end`: those no marker has ended yet, by
/// producer id, and those a marker ended, by value (`stable`: below `lso`).
fn scan(log: &SimLog, end: u64, lso: u64) -> (Open, HashMap<u64, Seen>) {
    let mut open: Open = BTreeMap::new();
    let mut seen: HashMap<u64, Seen> = HashMap::new();
    for (offset, rec) in log.records().iter().enumerate().take(end as usize) {
        let offset = offset as u64;
        match Batch::decode(rec.value) {
            Some(Batch::Data {
                producer_id,
                transactional: true,
                ..
            }) => open
                .entry(producer_id)
                .or_default()
                .push((offset, rec.value)),
            Some(Batch::Marker {
                producer_id,
                commit,
                ..
            }) => {
                for (o, value) in open.remove(&producer_id).unwrap_or_default() {
                    seen.insert(
                        value,
                        Seen {
                            offset: o,
                            outcome: Some(commit),
                            marker_offset: offset,
                            stable: o < lso,
                        },
                    );
                }
            }
            _ => {}
        }
    }
    (open, seen)
}
