//! Transactions in the world (when [`crate::Options::txn`]): one more partition plays
//! `__transaction_state` and each broker runs the real transaction coordinator over it
//! ([`SimTxnCoordinator`]); an idempotent and a transactional producer talk to the
//! brokers over the simulated network. This module serves their requests (the
//! coordinator's effects: answers, `__transaction_state` appends completed in issue order,
//! producer ids, COMMIT/ABORT markers sent to each data partition's leader and collected),
//! the leaders' produce and marker writes (the producer state's checks, then an acks=all
//! append answered once the high watermark covers it), and the transaction invariants
//! ([`TxnChecker`]).

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use vltava_coordinator::{TxnEffect, codes};
use vltava_replication::{Acks, Role};

use super::{PARTITIONS, World};
use crate::batch::Batch;
use crate::broker::{Appended, Out, Produced};
use crate::coordinator::RecordTable;
use crate::idempotent_producer::{IDEMPOTENT_PRODUCER, IdempotentProducer};
use crate::invariants::Violation;
use crate::log::Rec;
use crate::net::Msg;
use crate::txn_check::TxnChecker;
use crate::txn_coordinator::SimTxnCoordinator;
use crate::txn_producer::{TXN_PRODUCER, TxnEvent, TxnProducer};
use crate::txn_wire::{DATA_TOPIC, TRANSACTIONAL_ID, answer, data_partition};

/// How long a leader waits for the high watermark to cover a produce or a marker.
const WRITE_TIMEOUT_MS: u64 = 2_000;
/// How long a coordinator waits for a leader's marker answer.
const MARKER_TIMEOUT_MS: u64 = 3_000;
/// The transaction invariants on the leaders' logs are checked every this many steps.
const CHECK_EVERY: u64 = 50;

/// Who waits for a leader's write.
#[derive(Debug, Clone, Copy)]
enum Waiter {
    /// A producer's request.
    Produce { to: i32, request_id: u64 },
    /// A coordinator's marker write.
    Marker {
        to: i32,
        marker_id: u64,
        incarnation: u32,
        partition: usize,
    },
}

/// A leader's write waiting for its high watermark.
#[derive(Debug, Clone, Copy)]
struct HwWait {
    broker: i32,
    incarnation: u32,
    p: usize,
    epoch: i32,
    offset: u64,
    rec: Rec,
    deadline: u64,
    waiter: Waiter,
}

/// A coordinator's marker write, collecting the leaders' answers.
#[derive(Debug, Clone)]
struct MarkerWrite {
    waiting: BTreeSet<usize>,
    results: Vec<((String, i32), i16)>,
    deadline: u64,
}

/// The part of the world that exists only when transactions are simulated.
#[derive(Debug)]
pub(super) struct TxnSim {
    table: RecordTable,
    idempotent: IdempotentProducer,
    producer: TxnProducer,
    pub(super) checker: TxnChecker,
    next_request_id: u64,
    next_producer_id: i64,
    /// Requests a coordinator serves: (broker, incarnation, request id) → the client.
    clients: BTreeMap<(i32, u32, u64), i32>,
    /// For EndTxn answers: the answering coordinator's `__transaction_state` log end.
    answered_at: BTreeMap<u64, u64>,
    waits: Vec<HwWait>,
    markers: BTreeMap<(i32, u32, u64), MarkerWrite>,
    pub(super) loads: u64,
    pub(super) failovers: u64,
    pub(super) duplicates: u64,
    pub(super) markers_written: u64,
    last_loader: Option<i32>,
}

impl TxnSim {
    pub(super) fn new() -> Self {
        TxnSim {
            table: RecordTable::default(),
            idempotent: IdempotentProducer::new(PARTITIONS),
            producer: TxnProducer::new(PARTITIONS),
            checker: TxnChecker::new(PARTITIONS),
            next_request_id: 0,
            next_producer_id: 0,
            clients: BTreeMap::new(),
            answered_at: BTreeMap::new(),
            waits: Vec::new(),
            markers: BTreeMap::new(),
            loads: 0,
            failovers: 0,
            duplicates: 0,
            markers_written: 0,
            last_loader: None,
        }
    }
}

impl World {
    /// The `__transaction_state` partition's index, when simulated.
    pub(super) fn txn_partition(&self) -> Option<usize> {
        self.txn
            .as_ref()
            .map(|_| PARTITIONS + usize::from(self.group.is_some()))
    }

    /// A fresh transaction coordinator for every broker (at start).
    pub(super) fn install_txn_coordinators(&mut self) {
        if self.txn.is_none() {
            return;
        }
        for b in &mut self.brokers {
            b.txn_coordinator = Some(SimTxnCoordinator::new(self.now));
        }
    }

    fn broker_index(&self, id: i32) -> Option<usize> {
        self.brokers.iter().position(|b| b.id == id && b.alive)
    }

    /// A producer's or a coordinator's message: served here. False for any other.
    pub(super) fn deliver_txn_msg(
        &mut self,
        from: i32,
        to: i32,
        msg: &Msg,
    ) -> Result<bool, Violation> {
        match *msg {
            Msg::TxnRequest {
                request_id,
                ref req,
            } => {
                let Some(i) = self.broker_index(to) else {
                    return Ok(true);
                };
                let now = self.now;
                let inc = self.brokers[i].incarnation;
                let Some(t) = &mut self.txn else {
                    return Ok(true);
                };
                t.clients.insert((to, inc, request_id), from);
                let Some(c) = &mut self.brokers[i].txn_coordinator else {
                    return Ok(true);
                };
                let effects = c.handle(request_id, req, now);
                self.drive_txn(i, effects)?;
            }
            Msg::TxnAnswer {
                request_id,
                error,
                producer_id,
                producer_epoch,
            } => self.txn_answer(to, request_id, (error, producer_id, producer_epoch))?,
            Msg::Produce {
                request_id,
                partition,
                value,
            } => self.serve_produce(from, to, request_id, partition, value)?,
            Msg::ProduceAnswer {
                request_id,
                error,
                offset,
            } => self.produce_answer(to, request_id, error, offset)?,
            Msg::WriteMarker {
                marker_id,
                incarnation,
                partition,
                value,
            } => self.serve_marker(from, to, marker_id, incarnation, partition, value)?,
            Msg::MarkerAnswer {
                marker_id,
                incarnation,
                partition,
                error,
            } => {
                if let Some(t) = &mut self.txn
                    && let Some(w) = t.markers.get_mut(&(to, incarnation, marker_id))
                    && w.waiting.remove(&partition)
                {
                    let tp = (
                        DATA_TOPIC.to_string(),
                        i32::try_from(partition).unwrap_or(-1),
                    );
                    w.results.push((tp, error));
                }
                self.finish_markers(false)?;
            }
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// An answer reaches a producer.
    fn txn_answer(
        &mut self,
        to: i32,
        request_id: u64,
        ans: (i16, i64, i16),
    ) -> Result<(), Violation> {
        let now = self.now;
        let Some(t) = &mut self.txn else {
            return Ok(());
        };
        if to == IDEMPOTENT_PRODUCER {
            t.idempotent.on_init_answer(request_id, ans.0, ans.1, ans.2);
            return Ok(());
        }
        let mut events = Vec::new();
        t.producer
            .on_txn_answer(&mut self.rng, now, request_id, ans, &mut events);
        self.txn_events(events)
    }

    fn produce_answer(
        &mut self,
        to: i32,
        request_id: u64,
        error: i16,
        offset: u64,
    ) -> Result<(), Violation> {
        let now = self.now;
        let Some(t) = &mut self.txn else {
            return Ok(());
        };
        if to == IDEMPOTENT_PRODUCER {
            t.idempotent.on_produce_answer(request_id, error, offset);
            return Ok(());
        }
        let mut events = Vec::new();
        t.producer
            .on_produce_answer(&mut self.rng, now, request_id, error, offset, &mut events);
        self.txn_events(events)
    }

    fn txn_events(&mut self, events: Vec<TxnEvent>) -> Result<(), Violation> {
        let Some(t) = &mut self.txn else {
            return Ok(());
        };
        for e in events {
            let at = match e {
                TxnEvent::Ended { request_id, .. } | TxnEvent::Added { request_id, .. } => {
                    t.answered_at.remove(&request_id).unwrap_or(u64::MAX)
                }
                _ => 0,
            };
            if let Some(trace) = &mut self.trace {
                trace.push(format!("[{}] txn producer: {e:?}", self.now));
            }
            t.checker.on_event(&e, at)?;
        }
        Ok(())
    }

    /// The leader `to` takes a producer's batch.
    fn serve_produce(
        &mut self,
        from: i32,
        to: i32,
        request_id: u64,
        p: usize,
        value: u64,
    ) -> Result<(), Violation> {
        let Some(i) = self.broker_index(to) else {
            return Ok(());
        };
        let now = self.now;
        let mut out = Out::default();
        let result = self.brokers[i].produce_batch(p, value, now, &mut out);
        self.absorb(to, out)?;
        let waiter = Waiter::Produce {
            to: from,
            request_id,
        };
        let offset = match result {
            Err(error) => return self.answer_write(to, waiter, error, 0),
            Ok(Produced::Duplicate { offset }) => {
                if let Some(t) = &mut self.txn {
                    t.duplicates += 1;
                }
                offset
            }
            Ok(Produced::Appended(Appended::Refused)) => {
                return self.answer_write(to, waiter, codes::NOT_ENOUGH_REPLICAS, 0);
            }
            Ok(Produced::Appended(
                Appended::Done { offset, .. } | Appended::Waiting { offset },
            )) => offset,
        };
        self.wait_for_hw(i, p, offset, waiter);
        Ok(())
    }

    /// The leader `to` writes a coordinator's marker.
    fn serve_marker(
        &mut self,
        from: i32,
        to: i32,
        marker_id: u64,
        incarnation: u32,
        p: usize,
        value: u64,
    ) -> Result<(), Violation> {
        let Some(i) = self.broker_index(to) else {
            return Ok(());
        };
        let now = self.now;
        let mut out = Out::default();
        let result = self.brokers[i].write_marker(p, value, now, &mut out);
        self.absorb(to, out)?;
        let waiter = Waiter::Marker {
            to: from,
            marker_id,
            incarnation,
            partition: p,
        };
        let offset = match result {
            Err(error) => return self.answer_write(to, waiter, error, 0),
            Ok(Appended::Refused) => {
                return self.answer_write(to, waiter, codes::NOT_ENOUGH_REPLICAS, 0);
            }
            Ok(Appended::Done { offset, .. } | Appended::Waiting { offset }) => offset,
        };
        self.wait_for_hw(i, p, offset, waiter);
        Ok(())
    }

    /// Broker `i` answers once its high watermark covers `offset` of `p` (while it leads
    /// in the same epoch), or fails the write.
    fn wait_for_hw(&mut self, i: usize, p: usize, offset: u64, waiter: Waiter) {
        let b = &self.brokers[i];
        let Some(part) = b.parts.get(p) else { return };
        let Some(rec) = part.log.get(offset) else {
            return;
        };
        let wait = HwWait {
            broker: b.id,
            incarnation: b.incarnation,
            p,
            epoch: part.replica.leader_epoch(),
            offset,
            rec,
            deadline: self.now + WRITE_TIMEOUT_MS,
            waiter,
        };
        if let Some(t) = &mut self.txn {
            t.waits.push(wait);
        }
    }

    /// Sends a write's answer from broker `from`.
    fn answer_write(
        &mut self,
        from: i32,
        waiter: Waiter,
        error: i16,
        offset: u64,
    ) -> Result<(), Violation> {
        let (to, msg) = match waiter {
            Waiter::Produce { to, request_id } => (
                to,
                Msg::ProduceAnswer {
                    request_id,
                    error,
                    offset,
                },
            ),
            Waiter::Marker {
                to,
                marker_id,
                incarnation,
                partition,
            } => (
                to,
                Msg::MarkerAnswer {
                    marker_id,
                    incarnation,
                    partition,
                    error,
                },
            ),
        };
        self.net.send(&mut self.rng, self.now, from, to, msg);
        Ok(())
    }

    /// Completes the writes whose high watermark came (or that failed).
    fn check_waits(&mut self) -> Result<(), Violation> {
        let Some(t) = &mut self.txn else {
            return Ok(());
        };
        let waits = std::mem::take(&mut t.waits);
        let mut keep = Vec::new();
        for w in waits {
            let b = self.brokers.iter().find(|b| b.id == w.broker);
            let part = b
                .filter(|b| b.alive && b.incarnation == w.incarnation)
                .and_then(|b| b.parts.get(w.p))
                .filter(|x| {
                    x.replica.role() == Role::Leader && x.replica.leader_epoch() == w.epoch
                });
            let error = match part {
                None => codes::NOT_LEADER_OR_FOLLOWER,
                Some(x) if x.replica.high_watermark() > w.offset => codes::NONE,
                Some(_) if self.now >= w.deadline => codes::REQUEST_TIMED_OUT,
                Some(_) => {
                    keep.push(w);
                    continue;
                }
            };
            if error == codes::NONE {
                if let Waiter::Produce { .. } = w.waiter {
                    self.checker.on_acked(w.p, w.offset, w.rec);
                }
            }
            self.answer_write(w.broker, w.waiter, error, w.offset)?;
        }
        if let Some(t) = &mut self.txn {
            keep.append(&mut t.waits);
            t.waits = keep;
        }
        self.finish_markers(true)
    }

    /// Marker writes whose every partition answered (or, with `timeouts`, whose time is
    /// up) are reported to their coordinator.
    fn finish_markers(&mut self, timeouts: bool) -> Result<(), Violation> {
        let now = self.now;
        let Some(t) = &mut self.txn else {
            return Ok(());
        };
        let done: Vec<(i32, u32, u64)> = t
            .markers
            .iter()
            .filter(|(_, w)| w.waiting.is_empty() || (timeouts && now >= w.deadline))
            .map(|(k, _)| *k)
            .collect();
        for key in done {
            let Some(t) = &mut self.txn else {
                return Ok(());
            };
            let Some(mut w) = t.markers.remove(&key) else {
                continue;
            };
            for p in std::mem::take(&mut w.waiting) {
                let tp = (DATA_TOPIC.to_string(), i32::try_from(p).unwrap_or(-1));
                w.results.push((tp, codes::REQUEST_TIMED_OUT));
            }
            t.markers_written += w.results.iter().filter(|(_, e)| *e == 0).count() as u64;
            let (id, inc, marker_id) = key;
            let Some(i) = self
                .brokers
                .iter()
                .position(|b| b.id == id && b.alive && b.incarnation == inc)
            else {
                continue;
            };
            let Some(c) = &mut self.brokers[i].txn_coordinator else {
                continue;
            };
            let effects = c.markers_done(marker_id, w.results, now);
            self.drive_txn(i, effects)?;
        }
        Ok(())
    }

    /// Broker `i`'s transaction coordinator follows its replica of `__transaction_state`.
    pub(super) fn sync_txn_coordinator(&mut self, i: usize) -> Result<(), Violation> {
        let Some(p) = self.txn_partition() else {
            return Ok(());
        };
        let now = self.now;
        let Some(t) = &mut self.txn else {
            return Ok(());
        };
        let b = &mut self.brokers[i];
        if !b.alive {
            return Ok(());
        }
        let id = b.id;
        let (Some(c), Some(part)) = (&mut b.txn_coordinator, b.parts.get(p)) else {
            return Ok(());
        };
        let epoch = part.replica.leader_epoch();
        let leads = (part.replica.role() == Role::Leader).then_some(epoch);
        let (effects, loaded) = c.on_leadership(leads, epoch, &part.log, &t.table, now);
        if loaded {
            t.loads += 1;
            if t.last_loader.is_some_and(|l| l != id) {
                t.failovers += 1;
            }
            t.last_loader = Some(id);
            let end = part.log.end();
            self.note(|| format!("b{id} txn coordinator loaded at epoch {epoch} ({end} records)"));
        }
        self.drive_txn(i, effects)
    }

    /// Due timers of every running transaction coordinator, the leaders' waiting writes,
    /// and the producers' step.
    pub(super) fn txn_step(&mut self) -> Result<(), Violation> {
        if self.txn.is_none() {
            return Ok(());
        }
        for i in 0..self.brokers.len() {
            if !self.brokers[i].alive {
                continue;
            }
            let now = self.now;
            let Some(c) = &mut self.brokers[i].txn_coordinator else {
                continue;
            };
            let effects = c.tick(now);
            self.drive_txn(i, effects)?;
        }
        self.check_waits()?;
        self.producers_step()?;
        if self.stats.steps % CHECK_EVERY == 0 {
            self.check_txn(false)?;
        }
        Ok(())
    }

    fn producers_step(&mut self) -> Result<(), Violation> {
        if !self.producing {
            return Ok(());
        }
        let leaders: Vec<Option<i32>> = (0..PARTITIONS)
            .map(|p| self.controller.leader(p).and_then(|(l, _)| l))
            .collect();
        let txn_leader = self
            .txn_partition()
            .and_then(|p| self.controller.leader(p))
            .and_then(|(l, _)| l);
        let now = self.now;
        let Some(t) = &mut self.txn else {
            return Ok(());
        };
        let sent = t.idempotent.step(
            &mut self.rng,
            now,
            &leaders,
            &super::BROKERS,
            &mut t.next_request_id,
        );
        let mut events = Vec::new();
        let sent_txn = t.producer.step(
            &mut self.rng,
            now,
            txn_leader,
            &leaders,
            &super::BROKERS,
            &mut t.next_request_id,
            &mut events,
        );
        for (from, (to, msg)) in sent
            .into_iter()
            .map(|m| (IDEMPOTENT_PRODUCER, m))
            .chain(sent_txn.into_iter().map(|m| (TXN_PRODUCER, m)))
        {
            if let Some(trace) = &mut self.trace {
                trace.push(format!("[{now}] {from}: {msg:?} to b{to}"));
            }
            self.net.send(&mut self.rng, now, from, to, msg);
        }
        self.txn_events(events)
    }

    /// Writes of broker `from` that completed: its transaction coordinator's appends among
    /// them are completed in issue order.
    pub(super) fn txn_writes_completed(
        &mut self,
        from: i32,
        acked: &[(usize, u64, Rec)],
        failed: &[(usize, Rec)],
    ) -> Result<(), Violation> {
        let Some(p) = self.txn_partition() else {
            return Ok(());
        };
        let Some(i) = self.brokers.iter().position(|b| b.id == from) else {
            return Ok(());
        };
        let done: Vec<(u64, Result<(), i16>)> = acked
            .iter()
            .filter(|(q, _, _)| *q == p)
            .map(|(_, _, rec)| (rec.value, Ok(())))
            .chain(
                failed
                    .iter()
                    .filter(|(q, _)| *q == p)
                    .map(|(_, rec)| (rec.value, Err(codes::REQUEST_TIMED_OUT))),
            )
            .collect();
        if done.is_empty() {
            return Ok(());
        }
        let now = self.now;
        let Some(c) = &mut self.brokers[i].txn_coordinator else {
            return Ok(());
        };
        for (value, outcome) in done {
            c.write_completed(value, outcome);
        }
        let effects = c.complete_ready(now);
        self.drive_txn(i, effects)
    }

    /// Carries out broker `i`'s transaction coordinator effects (and those they cause).
    fn drive_txn(&mut self, i: usize, effects: Vec<TxnEffect>) -> Result<(), Violation> {
        let mut queue: VecDeque<TxnEffect> = effects.into();
        while let Some(effect) = queue.pop_front() {
            let now = self.now;
            match effect {
                TxnEffect::Respond { request_id, body } => self.txn_respond(i, request_id, &body),
                TxnEffect::Append {
                    append_id, records, ..
                } => queue.extend(self.txn_write(i, append_id, records)?),
                TxnEffect::AllocateProducerId { request_id } => {
                    let Some(t) = &mut self.txn else { break };
                    t.next_producer_id += 1;
                    let pid = t.next_producer_id;
                    if let Some(c) = &mut self.brokers[i].txn_coordinator {
                        queue.extend(c.producer_id(request_id, pid, now));
                    }
                }
                TxnEffect::WriteMarkers {
                    marker_id,
                    producer_id,
                    producer_epoch,
                    coordinator_epoch,
                    commit,
                    partitions,
                } => {
                    let batch = Batch::Marker {
                        producer_id,
                        epoch: producer_epoch,
                        commit,
                        coordinator_epoch,
                    };
                    self.send_markers(i, marker_id, batch, partitions);
                }
            }
        }
        self.finish_markers(false)
    }

    /// Sends a marker to each partition's leader (as the broker's metadata names it).
    fn send_markers(
        &mut self,
        i: usize,
        marker_id: u64,
        batch: Batch,
        partitions: Vec<(String, i32)>,
    ) {
        let b = &self.brokers[i];
        let (id, incarnation) = (b.id, b.incarnation);
        let mut w = MarkerWrite {
            waiting: BTreeSet::new(),
            results: Vec::new(),
            deadline: self.now + MARKER_TIMEOUT_MS,
        };
        let mut sends = Vec::new();
        for (topic, partition) in partitions {
            let target = data_partition(&topic, partition).and_then(|p| {
                let leader = b.parts.get(p)?.replica.leader_id()?;
                Some((p, leader))
            });
            let (Some((p, leader)), Some(value)) = (target, batch.encode()) else {
                w.results
                    .push(((topic, partition), codes::NOT_LEADER_OR_FOLLOWER));
                continue;
            };
            w.waiting.insert(p);
            sends.push((
                leader,
                Msg::WriteMarker {
                    marker_id,
                    incarnation,
                    partition: p,
                    value,
                },
            ));
        }
        self.note(|| format!("b{id} writes markers {marker_id} {batch:?} to {sends:?}"));
        for (to, msg) in sends {
            self.net.send(&mut self.rng, self.now, id, to, msg);
        }
        if let Some(t) = &mut self.txn {
            t.markers.insert((id, incarnation, marker_id), w);
        }
    }

    /// A `__transaction_state` append as an acks=all leader append of the records' ids.
    fn txn_write(
        &mut self,
        i: usize,
        append_id: u64,
        records: Vec<vltava_coordinator::RawRecord>,
    ) -> Result<Vec<TxnEffect>, Violation> {
        let (Some(p), Some(t)) = (self.txn_partition(), &mut self.txn) else {
            return Ok(Vec::new());
        };
        let ids: Vec<u64> = records.into_iter().map(|r| t.table.intern(r)).collect();
        let now = self.now;
        let mut out = Out::default();
        let b = &mut self.brokers[i];
        let leads = b.leads(p);
        let appended = b.append(p, &ids, Acks::All, now, &mut out);
        let last = ids.last().copied().unwrap_or(0);
        let outcome = match appended {
            _ if ids.is_empty() => Some(Ok(())),
            Appended::Refused if leads => Some(Err(codes::NOT_ENOUGH_REPLICAS)),
            Appended::Refused => Some(Err(codes::NOT_LEADER_OR_FOLLOWER)),
            Appended::Done { ok: true, .. } => Some(Ok(())),
            Appended::Done { ok: false, .. } => Some(Err(codes::REQUEST_TIMED_OUT)),
            Appended::Waiting { .. } => None,
        };
        if let Some(c) = &mut b.txn_coordinator {
            c.issued(append_id, last, outcome);
        }
        let id = b.id;
        self.absorb(id, out)?;
        let Some(c) = &mut self.brokers[i].txn_coordinator else {
            return Ok(Vec::new());
        };
        Ok(c.complete_ready(now))
    }

    /// Broker `i`'s transaction coordinator answers `request_id`.
    fn txn_respond(&mut self, i: usize, request_id: u64, body: &vltava_protocol::ResponseBody) {
        let Some((error, producer_id, producer_epoch)) = answer(body) else {
            return;
        };
        let b = &self.brokers[i];
        let (id, inc) = (b.id, b.incarnation);
        let log_end = self
            .txn_partition()
            .and_then(|p| b.parts.get(p))
            .map_or(u64::MAX, |x| x.log.end());
        let Some(t) = &mut self.txn else { return };
        let Some(to) = t.clients.remove(&(id, inc, request_id)) else {
            return;
        };
        t.answered_at.insert(request_id, log_end);
        let msg = Msg::TxnAnswer {
            request_id,
            error,
            producer_id,
            producer_epoch,
        };
        if let Some(trace) = &mut self.trace {
            trace.push(format!("[{}] b{id} answers {msg:?}", self.now));
        }
        self.net.send(&mut self.rng, self.now, id, to, msg);
    }

    /// The transaction invariants on the current leaders' logs and coordinator (`fin`:
    /// after the run, acknowledged commits must be visible).
    pub(super) fn check_txn(&mut self, fin: bool) -> Result<(), Violation> {
        let Some(tp) = self.txn_partition() else {
            return Ok(());
        };
        let txn_taint = self.checker.taint(tp);
        let Some(t) = &mut self.txn else {
            return Ok(());
        };
        for p in 0..PARTITIONS {
            let taint = self.checker.taint(p);
            t.checker
                .check_committed(p, self.checker.committed(p), taint)?;
        }
        let mut outcomes = Vec::new();
        for p in 0..PARTITIONS {
            let Some((Some(leader), epoch)) = self.controller.leader(p) else {
                outcomes.push(Default::default());
                continue;
            };
            let part = self
                .brokers
                .iter()
                .find(|b| b.id == leader && b.alive)
                .and_then(|b| b.parts.get(p))
                .filter(|x| x.replica.role() == Role::Leader && x.replica.leader_epoch() == epoch);
            let Some(part) = part else {
                if fin {
                    return Err(Violation(format!("p{p} has no leader after the run")));
                }
                outcomes.push(Default::default());
                continue;
            };
            let hw = part.replica.high_watermark();
            let lso = part.producers.last_stable_offset(hw);
            let taint = self.checker.taint(p);
            outcomes.push(t.checker.check_partition(
                p,
                &part.log,
                hw,
                lso,
                (taint, txn_taint),
                fin,
            )?);
        }
        t.checker.check_atomic(&outcomes, txn_taint)?;
        if let Some((Some(leader), epoch)) = self.controller.leader(tp)
            && let Some(c) = self
                .brokers
                .iter()
                .find(|b| b.id == leader && b.alive)
                .and_then(|b| b.txn_coordinator.as_ref())
            && c.served_epoch() == Some(epoch)
            && let Some(m) = c.core().txn(TRANSACTIONAL_ID)
        {
            t.checker.check_coordinator(
                leader,
                m.current.producer_id,
                m.current.producer_epoch,
                txn_taint,
            )?;
        }
        Ok(())
    }
}
