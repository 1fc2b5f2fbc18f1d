//! The group coordinator in the world (when [`crate::Options::offsets`]): the client's
//! requests served by the brokers' [`SimCoordinator`]s, their effects (answers back over the
//! network; appends written to the offsets partition as acks=all leader appends, completed
//! in issue order), coordinator elections and resignations as leadership of the offsets
//! partition moves, and the committed-offset checks ([`OffsetsChecker`]).

use std::collections::VecDeque;

use vltava_coordinator::Effect;
use vltava_replication::{Acks, Role};

use super::World;
use crate::broker::{Appended, Out};
use crate::committer::{self, CLIENT, Committer, Sent};
use crate::coordinator::{RecordTable, SimCoordinator};
use crate::invariants::Violation;
use crate::net::Msg;
use crate::offsets_check::OffsetsChecker;

/// The part of the world that exists only when the coordinator is simulated.
#[derive(Debug, Default)]
pub(super) struct GroupSim {
    table: RecordTable,
    committer: Committer,
    pub(super) checker: OffsetsChecker,
    pub(super) loads: u64,
    pub(super) failovers: u64,
    last_loader: Option<i32>,
}

impl World {
    /// The offsets partition's index, when simulated.
    pub(super) fn offsets_partition(&self) -> Option<usize> {
        self.group.as_ref().map(|_| super::PARTITIONS)
    }

    /// A fresh coordinator for every broker (at start) when the coordinator is simulated.
    pub(super) fn install_coordinators(&mut self) {
        if self.group.is_none() {
            return;
        }
        for b in &mut self.brokers {
            b.coordinator = Some(SimCoordinator::new(self.now));
        }
    }

    /// An answer for the client, or a client request for broker `to` (served by its
    /// coordinator when it runs). Returns false for any other message.
    pub(super) fn deliver_group_msg(&mut self, to: i32, msg: &Msg) -> Result<bool, Violation> {
        match msg {
            Msg::CommitAnswer { request_id, error } if to == CLIENT => {
                let Some(g) = &mut self.group else {
                    return Ok(true);
                };
                if let Some(offsets) = g.committer.on_commit_answer(*request_id, *error) {
                    g.checker.on_commit_acked(*request_id, &offsets);
                    self.note(|| format!("client: commit {request_id} ACK {offsets:?}"));
                }
            }
            Msg::FetchAnswer {
                request_id, error, ..
            } if to == CLIENT => {
                if let Some(g) = &mut self.group {
                    g.committer.on_fetch_answer(*request_id, *error);
                }
            }
            Msg::OffsetCommit {
                request_id,
                offsets,
            } => {
                let req = committer::commit_request(offsets);
                self.serve(to, *request_id, req, true)?;
            }
            Msg::OffsetFetch { request_id } => {
                self.serve(to, *request_id, committer::fetch_request(), false)?;
            }
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// Broker `to` serves a client request with its coordinator.
    fn serve(
        &mut self,
        to: i32,
        request_id: u64,
        req: vltava_coordinator::GroupRequest,
        commit: bool,
    ) -> Result<(), Violation> {
        let Some(i) = self.brokers.iter().position(|b| b.id == to && b.alive) else {
            return Ok(());
        };
        let now = self.now;
        let Some(c) = &mut self.brokers[i].coordinator else {
            return Ok(());
        };
        let effects = c.handle(request_id, req, now);
        self.drive(i, effects, commit.then_some(request_id))
    }

    /// The client's step: it may send a commit or a fetch.
    pub(super) fn client_step(&mut self) {
        let Some(p) = self.offsets_partition() else {
            return;
        };
        if !self.producing {
            return;
        }
        let leader = self.controller.leader(p).and_then(|(l, _)| l);
        let Some(g) = &mut self.group else { return };
        let sent = g
            .committer
            .step(&mut self.rng, self.now, leader, &super::BROKERS);
        for (to, msg, what) in sent {
            if let Sent::Fetch { request_id, .. } = what {
                g.checker.on_fetch_sent(request_id);
            }
            if let Some(trace) = &mut self.trace {
                trace.push(format!("[{}] client: {msg:?} to b{to}", self.now));
            }
            self.net.send(&mut self.rng, self.now, CLIENT, to, msg);
        }
    }

    /// Broker `i`'s coordinator follows its replica of the offsets partition: elected (and
    /// loaded) when it leads, resigned when it stops.
    pub(super) fn sync_coordinator(&mut self, i: usize) -> Result<(), Violation> {
        let Some(p) = self.offsets_partition() else {
            return Ok(());
        };
        let now = self.now;
        let Some(g) = &mut self.group else {
            return Ok(());
        };
        let b = &mut self.brokers[i];
        if !b.alive {
            return Ok(());
        }
        let id = b.id;
        let (Some(c), Some(part)) = (&mut b.coordinator, b.parts.get(p)) else {
            return Ok(());
        };
        let epoch = part.replica.leader_epoch();
        let leads = (part.replica.role() == Role::Leader).then_some(epoch);
        let (effects, loaded) = c.on_leadership(leads, epoch, &part.log, &g.table, now);
        if loaded {
            g.loads += 1;
            if g.last_loader.is_some_and(|l| l != id) {
                g.failovers += 1;
            }
            g.last_loader = Some(id);
            let end = part.log.end();
            self.note(|| format!("b{id} coordinator loaded at epoch {epoch} ({end} records)"));
        }
        self.drive(i, effects, None)
    }

    /// Due coordinator timers of every running broker.
    pub(super) fn tick_coordinators(&mut self) -> Result<(), Violation> {
        for i in 0..self.brokers.len() {
            if !self.brokers[i].alive {
                continue;
            }
            let now = self.now;
            let Some(c) = &mut self.brokers[i].coordinator else {
                continue;
            };
            let effects = c.tick(now);
            self.drive(i, effects, None)?;
        }
        Ok(())
    }

    /// Writes of broker `from` that completed: its coordinator's appends among them are
    /// completed in issue order.
    pub(super) fn writes_completed(
        &mut self,
        from: i32,
        acked: &[(usize, u64, crate::log::Rec)],
        failed: &[(usize, crate::log::Rec)],
    ) -> Result<(), Violation> {
        let Some(p) = self.offsets_partition() else {
            return Ok(());
        };
        let Some(i) = self.brokers.iter().position(|b| b.id == from) else {
            return Ok(());
        };
        let done: Vec<(u64, bool)> = acked
            .iter()
            .filter(|(q, _, _)| *q == p)
            .map(|(_, _, rec)| (rec.value, true))
            .chain(
                failed
                    .iter()
                    .filter(|(q, _)| *q == p)
                    .map(|(_, rec)| (rec.value, false)),
            )
            .collect();
        if done.is_empty() {
            return Ok(());
        }
        let now = self.now;
        let Some(c) = &mut self.brokers[i].coordinator else {
            return Ok(());
        };
        for (value, ok) in done {
            c.write_completed(value, ok);
        }
        let effects = c.complete_ready(now);
        self.drive(i, effects, None)
    }

    /// Carries out broker `i`'s coordinator effects (and those they cause). `request`: the
    /// commit whose handling returned `effects` (its append is its records).
    fn drive(
        &mut self,
        i: usize,
        effects: Vec<Effect>,
        request: Option<u64>,
    ) -> Result<(), Violation> {
        let mut queue: VecDeque<(Effect, Option<u64>)> =
            effects.into_iter().map(|e| (e, request)).collect();
        while let Some((effect, request)) = queue.pop_front() {
            match effect {
                Effect::Respond { request_id, body } => self.respond(i, request_id, &body)?,
                Effect::Append {
                    append_id, records, ..
                } => {
                    let more = self.write(i, append_id, records, request)?;
                    queue.extend(more.into_iter().map(|e| (e, None)));
                }
            }
        }
        Ok(())
    }

    /// An [`Effect::Append`] as an acks=all leader append of the records' ids.
    fn write(
        &mut self,
        i: usize,
        append_id: u64,
        records: Vec<vltava_coordinator::RawRecord>,
        request: Option<u64>,
    ) -> Result<Vec<Effect>, Violation> {
        let (Some(p), Some(g)) = (self.offsets_partition(), &mut self.group) else {
            return Ok(Vec::new());
        };
        let ids: Vec<u64> = records.into_iter().map(|r| g.table.intern(r)).collect();
        let now = self.now;
        let mut out = Out::default();
        let b = &mut self.brokers[i];
        let appended = b.append(p, &ids, Acks::All, now, &mut out);
        let last = ids.last().copied().unwrap_or(0);
        let outcome = match appended {
            _ if ids.is_empty() => Some(true),
            Appended::Refused => Some(false),
            Appended::Done { ok, .. } => Some(ok),
            Appended::Waiting { .. } => None,
        };
        if let (Some(request), Appended::Done { offset, .. } | Appended::Waiting { offset }) =
            (request, appended)
        {
            g.checker.on_commit_written(request, offset);
        }
        if let Some(c) = &mut b.coordinator {
            c.issued(append_id, last, outcome);
        }
        // The append may have completed earlier writes (a leader alone in the ISR).
        let id = b.id;
        self.absorb(id, out)?;
        let Some(c) = &mut self.brokers[i].coordinator else {
            return Ok(Vec::new());
        };
        Ok(c.complete_ready(now))
    }

    /// Broker `i`'s coordinator answers `request_id`: a fetch answer is checked, then the
    /// answer goes to the client.
    fn respond(
        &mut self,
        i: usize,
        request_id: u64,
        body: &vltava_protocol::ResponseBody,
    ) -> Result<(), Violation> {
        let Some(answer) = committer::answer(request_id, body) else {
            return Ok(());
        };
        let b = &self.brokers[i];
        let id = b.id;
        if let (Msg::FetchAnswer { error, offsets, .. }, Some(p)) =
            (&answer, self.offsets_partition())
        {
            let served = b.coordinator.as_ref().and_then(|c| c.served_epoch());
            let current = self
                .controller
                .leader(p)
                .is_some_and(|(l, e)| l == Some(id) && served == Some(e));
            let taint = self.checker.taint(p);
            if let Some(g) = &mut self.group {
                g.checker
                    .on_fetch_answered(request_id, *error, offsets, id, current, taint)?;
            }
        }
        if let Some(trace) = &mut self.trace {
            trace.push(format!("[{}] b{id} answers {answer:?}", self.now));
        }
        self.net.send(&mut self.rng, self.now, id, CLIENT, answer);
        Ok(())
    }

    /// After quiescing: the offsets partition's leader has a loaded coordinator whose
    /// offsets cover every acknowledged commit.
    pub(super) fn check_group_final(&mut self) -> Result<(), Violation> {
        let Some(p) = self.offsets_partition() else {
            return Ok(());
        };
        let Some((Some(leader), epoch)) = self.controller.leader(p) else {
            return Err(Violation(
                "the offsets partition has no leader after quiescing".into(),
            ));
        };
        let now = self.now;
        let taint = self.checker.taint(p);
        let Some(b) = self.brokers.iter_mut().find(|b| b.id == leader && b.alive) else {
            return Err(Violation(format!(
                "offsets partition leader b{leader} is down"
            )));
        };
        let Some(c) = &mut b.coordinator else {
            return Ok(());
        };
        if c.served_epoch() != Some(epoch) {
            return Err(Violation(format!(
                "b{leader} leads the offsets partition at epoch {epoch} but its coordinator \
                 serves {:?} after quiescing",
                c.served_epoch()
            )));
        }
        let answer = c
            .handle(u64::MAX, committer::fetch_request(), now)
            .into_iter()
            .find_map(|e| match e {
                Effect::Respond { request_id, body } => committer::answer(request_id, &body),
                Effect::Append { .. } => None,
            });
        let Some(Msg::FetchAnswer {
            error: 0, offsets, ..
        }) = answer
        else {
            return Err(Violation(format!(
                "final coordinator b{leader} answered OffsetFetch with {answer:?}"
            )));
        };
        let Some(g) = &self.group else { return Ok(()) };
        g.checker.check_final(leader, &offsets, taint)
    }
}
