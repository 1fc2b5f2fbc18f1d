//! `OffsetsChecker`: the committed-offset invariants of the group coordinator.
//!
//! - an OffsetFetch answered without error by the current coordinator (its broker leads the
//!   offsets partition at the coordinator's epoch in the controller's image) returns, for
//!   each partition, an offset ≥ the greatest commit acknowledged (a successful OffsetCommit
//!   answer reached the client) before the fetch was sent: no acknowledged commit is lost
//!   or goes back through failovers, crashes and network faults;
//! - after the run, the final coordinator is loaded and holds offsets ≥ every
//!   acknowledged commit.
//!
//! A commit whose records sit at or past the offsets partition's tainted offset (a crash
//! lost unsynced committed records of an ISR member, see [`crate::invariants`]) is no
//! longer covered, exactly as acks=all records of the data partitions. An answer of a
//! coordinator that is no longer current (a deposed leader that has not heard of it yet)
//! may be stale, in Kafka as here: such answers are counted, not failed.

use std::collections::BTreeMap;

use crate::invariants::Violation;

/// What the checker remembers.
#[derive(Debug, Default)]
pub struct OffsetsChecker {
    /// Acknowledged commits in order: (partition, offset, log offset of its last record).
    acked: Vec<(i32, i64, u64)>,
    /// The log offset of each commit's last record, by request id, once written.
    written_at: BTreeMap<u64, u64>,
    /// Fetches on their way: request id → how many commits were acknowledged when sent.
    fetches: BTreeMap<u64, usize>,
    /// Commits acknowledged.
    pub commits_acked: u64,
    /// Fetches answered by the current coordinator and checked.
    pub fetches_checked: u64,
    /// Fetches a deposed coordinator answered with an offset below an acknowledged commit.
    pub stale_fetches: u64,
    /// The greatest offset per partition the current coordinator answered so far.
    answered: BTreeMap<i32, i64>,
    /// Answers of the current coordinator below an earlier one (with no taint): an offset
    /// that was read, never acknowledged, then lost (a coordinator loads its log to the
    /// end, uncommitted tail included, as Kafka's classic coordinator does).
    pub regressed_fetches: u64,
}

impl OffsetsChecker {
    /// The records of commit `request_id` were written, the last at `log_offset`.
    pub fn on_commit_written(&mut self, request_id: u64, log_offset: u64) {
        self.written_at.insert(request_id, log_offset);
    }

    /// The client got a successful answer to commit `request_id` of `offsets`.
    pub fn on_commit_acked(&mut self, request_id: u64, offsets: &[(i32, i64)]) {
        self.commits_acked += 1;
        // A commit answered without a write (none here) is checked from the log start.
        let at = self.written_at.remove(&request_id).unwrap_or(0);
        for &(p, o) in offsets {
            self.acked.push((p, o, at));
        }
    }

    /// The client sent fetch `request_id`.
    pub fn on_fetch_sent(&mut self, request_id: u64) {
        self.fetches.insert(request_id, self.acked.len());
    }

    /// The greatest acknowledged offset per partition among the first `upto` commits whose
    /// records lie below `taint`.
    fn required(&self, upto: usize, taint: u64) -> BTreeMap<i32, i64> {
        let mut need = BTreeMap::new();
        for &(p, o, at) in self.acked.iter().take(upto) {
            if at < taint {
                let n = need.entry(p).or_insert(o);
                *n = (*n).max(o);
            }
        }
        need
    }

    fn below(need: &BTreeMap<i32, i64>, got: &[(i32, i64)]) -> Option<(i32, i64, i64)> {
        need.iter().find_map(|(&p, &n)| {
            let have = got.iter().find(|(q, _)| *q == p).map_or(-1, |&(_, o)| o);
            (have < n).then_some((p, have, n))
        })
    }

    /// Broker `broker` answered fetch `request_id` with `error` and `offsets`; `current`:
    /// its coordinator is the current one; `taint`: the offsets partition's tainted offset.
    pub fn on_fetch_answered(
        &mut self,
        request_id: u64,
        error: i16,
        offsets: &[(i32, i64)],
        broker: i32,
        current: bool,
        taint: u64,
    ) -> Result<(), Violation> {
        let Some(upto) = self.fetches.remove(&request_id) else {
            return Ok(());
        };
        if error != 0 {
            return Ok(());
        }
        if current && taint == u64::MAX {
            let mut regressed = false;
            for &(p, o) in offsets {
                let seen = self.answered.entry(p).or_insert(o);
                regressed |= o < *seen;
                *seen = (*seen).max(o);
            }
            self.regressed_fetches += u64::from(regressed);
        }
        let need = self.required(upto, taint);
        let Some((p, have, n)) = Self::below(&need, offsets) else {
            if current {
                self.fetches_checked += 1;
            }
            return Ok(());
        };
        if !current {
            self.stale_fetches += 1;
            return Ok(());
        }
        Err(Violation(format!(
            "OffsetFetch {request_id} answered by b{broker}: partition {p} at {have}, but \
             {n} was acknowledged before the fetch was sent"
        )))
    }

    /// The final coordinator (on `broker`) holds `offsets`: each must cover every
    /// acknowledged commit below `taint`.
    pub fn check_final(
        &self,
        broker: i32,
        offsets: &[(i32, i64)],
        taint: u64,
    ) -> Result<(), Violation> {
        let need = self.required(self.acked.len(), taint);
        match Self::below(&need, offsets) {
            None => Ok(()),
            Some((p, have, n)) => Err(Violation(format!(
                "final coordinator b{broker}: partition {p} at {have}, but {n} was acknowledged"
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fetch_below_an_acknowledged_commit_fails_unless_stale_or_voided_and_regressions_count() {
        let mut c = OffsetsChecker::default();
        c.on_commit_written(1, 10);
        c.on_commit_acked(1, &[(0, 5), (1, 7)]);
        c.on_fetch_sent(2);
        c.on_commit_written(3, 12);
        c.on_commit_acked(3, &[(0, 9)]);
        // Commit 3 was acknowledged after fetch 2 was sent: 5 is enough.
        assert!(
            c.on_fetch_answered(2, 0, &[(0, 5), (1, 7)], 0, true, u64::MAX)
                .is_ok()
        );
        c.on_fetch_sent(4);
        assert!(
            c.on_fetch_answered(4, 0, &[(0, 8), (1, 7)], 0, true, u64::MAX)
                .is_err()
        );
        c.on_fetch_sent(5);
        assert!(
            c.on_fetch_answered(5, 0, &[(0, 8), (1, 7)], 0, false, u64::MAX)
                .is_ok()
        );
        assert_eq!(c.stale_fetches, 1);
        c.on_fetch_sent(6);
        // A crash voided the records from offset 12 on: commit 3 is no longer covered.
        assert!(
            c.on_fetch_answered(6, 0, &[(0, 8), (1, 7)], 0, true, 12)
                .is_ok()
        );
        c.on_fetch_sent(7);
        assert!(
            c.on_fetch_answered(7, 0, &[(0, 8)], 0, true, 12).is_err(),
            "p1 missing"
        );
        c.on_fetch_sent(8);
        assert!(
            c.on_fetch_answered(8, 15, &[], 0, true, u64::MAX).is_ok(),
            "an error"
        );
        assert!(c.check_final(0, &[(0, 9), (1, 7)], u64::MAX).is_ok());
        assert!(c.check_final(0, &[(0, 8), (1, 7)], u64::MAX).is_err());
        assert_eq!(c.fetches_checked, 2);
        assert_eq!(c.regressed_fetches, 0);
        c.on_fetch_sent(9);
        assert!(
            c.on_fetch_answered(9, 0, &[(0, 9), (1, 6)], 0, true, u64::MAX)
                .is_err()
        );
        assert_eq!(c.regressed_fetches, 1, "p1 answered 7 before, 6 now");
    }
}
