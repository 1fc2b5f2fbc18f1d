//! `Checker`: the invariants, checked after every step of a run.
//!
//! - one leader per leader epoch: no two brokers act as leader of a partition in one epoch;
//! - leader epochs only grow on a replica (per broker incarnation);
//! - a leader's high watermark never goes back (per incarnation and leader epoch) and
//!   never passes its log end;
//! - committed data is identical everywhere: every replica's log below its high watermark
//!   equals the committed prefix (same offset, same epoch and value);
//! - every acknowledged acks=all record is on the partition's current leader (its log
//!   equals the committed prefix up to the largest acknowledged offset).
//!
//! Storage assumption (Kafka's defaults: no fsync before acknowledging): a crash may lose an
//! unsynced tail. When a crash takes records from a replica in the ISR that were committed,
//! or that it had already reported holding in a fetch (the leader counts them as
//! replicated), Kafka's guarantee no longer applies to those offsets; the checker then
//! stops checking that partition from the first such offset ("tainted", counted in the stats). With
//! fsync on every append nothing is ever tainted.

use std::collections::BTreeMap;

use vltava_replication::Role;

use crate::broker::SimBroker;
use crate::log::{Rec, SimLog};

/// A broken invariant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation(pub String);

/// What the checker remembers between steps.
#[derive(Debug, Default)]
pub struct Checker {
    epoch_leaders: BTreeMap<(usize, i32), i32>,
    last_epoch: BTreeMap<(i32, u32, usize), i32>,
    leader_hw: BTreeMap<(i32, u32, usize, i32), u64>,
    committed: Vec<Vec<Rec>>,
    acked_end: Vec<u64>,
    taint: Vec<u64>,
    pending_acks: Vec<(usize, u64, Rec)>,
    /// Per (broker, partition): the log's cut count and how much of it is known to equal
    /// the committed prefix (records below it have not changed since: only checked again
    /// after a cut).
    verified: BTreeMap<(i32, usize), (u64, usize)>,
    /// acks=all records acknowledged.
    pub acked: u64,
    /// Partitions tainted by a crash of an ISR member that lost committed records.
    pub tainted: u64,
}

impl Checker {
    /// A checker for `partitions` partitions.
    pub fn new(partitions: usize) -> Self {
        Checker {
            committed: vec![Vec::new(); partitions],
            acked_end: vec![0; partitions],
            taint: vec![u64::MAX; partitions],
            ..Checker::default()
        }
    }

    /// An acks=all record was acknowledged; the next check verifies it is committed as
    /// written.
    pub fn on_acked(&mut self, p: usize, offset: u64, rec: Rec) {
        self.acked += 1;
        self.pending_acks.push((p, offset, rec));
    }

    fn check_acks(&mut self) -> Result<(), Violation> {
        for (p, offset, rec) in std::mem::take(&mut self.pending_acks) {
            if offset >= self.taint[p] {
                continue;
            }
            let found = usize::try_from(offset)
                .ok()
                .and_then(|o| self.committed[p].get(o));
            if found != Some(&rec) {
                return Err(Violation(format!(
                    "p{p}: acknowledged {rec:?} at {offset} but committed there is {found:?}"
                )));
            }
            self.acked_end[p] = self.acked_end[p].max(offset + 1);
        }
        Ok(())
    }

    /// The first offset of `p` no longer checked (`u64::MAX`: none).
    pub fn taint(&self, p: usize) -> u64 {
        self.taint.get(p).copied().unwrap_or(u64::MAX)
    }

    /// The committed prefix of `p` known so far.
    pub fn committed(&self, p: usize) -> &[Rec] {
        self.committed.get(p).map_or(&[], Vec::as_slice)
    }

    /// The end of the acknowledged acks=all records of `p` that are still checked.
    pub fn acked_end(&self, p: usize) -> u64 {
        self.acked_end[p].min(self.taint[p])
    }

    /// A crash of a broker that was in the ISR of `p` lost `lost` offsets there. Kafka's
    /// guarantee no longer covers them when they were committed, or when the broker had
    /// already reported holding them in a fetch (`reported_end`, its largest fetch offset
    /// since it started): the leader counts that report whether it arrives before or after
    /// the crash, and can commit the offsets on it later (seeds 591, 9998: a fetch still on
    /// its way; seed 9997: delivered, the HW moved when another member left the ISR).
    pub fn on_crash_loss(&mut self, p: usize, lost: &std::ops::Range<u64>, reported_end: u64) {
        let committed = self.committed[p].len() as u64;
        let replicated_end = committed.max(reported_end);
        if lost.start < lost.end && lost.start < replicated_end && lost.start < self.taint[p] {
            if self.taint[p] == u64::MAX {
                self.tainted += 1;
            }
            self.taint[p] = lost.start;
        }
    }

    /// Checks every invariant. `leaders[p]` is the image's (leader, leader epoch).
    pub fn check(
        &mut self,
        brokers: &[SimBroker],
        leaders: &[(Option<i32>, i32)],
    ) -> Result<(), Violation> {
        self.check_changed(brokers, leaders, None)
    }

    /// [`Checker::check`] after a change of broker `changed` only (a message it took):
    /// the other brokers' own invariants are as they were at the last check; the
    /// acknowledged records are checked on every leader.
    pub fn check_changed(
        &mut self,
        brokers: &[SimBroker],
        leaders: &[(Option<i32>, i32)],
        changed: Option<i32>,
    ) -> Result<(), Violation> {
        let alive = brokers.iter().filter(|b| b.alive);
        for b in alive.filter(|b| changed.is_none_or(|c| c == b.id)) {
            for (p, part) in b.parts.iter().enumerate() {
                let r = &part.replica;
                let epoch = r.leader_epoch();
                let last = self
                    .last_epoch
                    .entry((b.id, b.incarnation, p))
                    .or_insert(epoch);
                if epoch < *last {
                    return Err(Violation(format!(
                        "b{} p{p}: leader epoch went back {last} -> {epoch}",
                        b.id
                    )));
                }
                *last = epoch;
                if r.role() == Role::Leader {
                    let holder = *self.epoch_leaders.entry((p, epoch)).or_insert(b.id);
                    if holder != b.id {
                        return Err(Violation(format!(
                            "p{p}: brokers {holder} and {} both led epoch {epoch}",
                            b.id
                        )));
                    }
                    let hw = r.high_watermark();
                    let last = self
                        .leader_hw
                        .entry((b.id, b.incarnation, p, epoch))
                        .or_insert(hw);
                    if hw < *last {
                        return Err(Violation(format!(
                            "b{} p{p}: leader HW went back {last} -> {hw} in epoch {epoch}",
                            b.id
                        )));
                    }
                    *last = hw;
                    if hw > part.log.end() {
                        return Err(Violation(format!(
                            "b{} p{p}: leader HW {hw} past log end {}",
                            b.id,
                            part.log.end()
                        )));
                    }
                }
                let upto = r.high_watermark().min(part.log.end());
                self.check_prefix(b.id, p, &part.log, upto)?;
            }
        }
        self.check_acks()?;
        for (p, &(leader, epoch)) in leaders.iter().enumerate() {
            let Some(b) = leader.and_then(|id| brokers.iter().find(|b| b.id == id)) else {
                continue;
            };
            let Some(part) = b.parts.get(p) else { continue };
            if !b.alive
                || part.replica.role() != Role::Leader
                || part.replica.leader_epoch() != epoch
            {
                continue;
            }
            let need = self.acked_end[p].min(self.taint[p]);
            if part.log.end() < need {
                return Err(Violation(format!(
                    "p{p}: leader b{} (epoch {epoch}) ends at {} but acks=all records were acknowledged up to {need}",
                    b.id,
                    part.log.end()
                )));
            }
            self.check_prefix(b.id, p, &part.log, need)?;
        }
        Ok(())
    }

    /// `log[..upto]` must equal the committed prefix (extending it where it ends). The part
    /// verified before, with no cut of the log since, is not read again (the committed
    /// prefix only grows).
    fn check_prefix(
        &mut self,
        broker: i32,
        p: usize,
        log: &SimLog,
        upto: u64,
    ) -> Result<(), Violation> {
        let records = log.records();
        let upto = upto.min(self.taint[p]);
        let upto = usize::try_from(upto)
            .unwrap_or(usize::MAX)
            .min(records.len());
        let verified = self.verified.entry((broker, p)).or_insert((log.cuts(), 0));
        if verified.0 != log.cuts() {
            *verified = (log.cuts(), 0);
        }
        let start = verified.1;
        if upto <= start {
            return Ok(());
        }
        verified.1 = upto;
        let committed = &mut self.committed[p];
        for (o, rec) in records.iter().enumerate().take(upto).skip(start) {
            match committed.get(o) {
                Some(c) if c != rec => {
                    return Err(Violation(format!(
                        "p{p}: b{broker} has {rec:?} at committed offset {o}, committed is {c:?}"
                    )));
                }
                Some(_) => {}
                None => committed.push(*rec),
            }
        }
        Ok(())
    }
}
