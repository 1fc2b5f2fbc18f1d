//! `SimBroker`: one broker driving a real `vltava_replication::Replica` per partition over a
//! `SimLog`, as the broker's replica manager does: produce, follower fetch loop, serving
//! followers' fetches, AlterPartition to the controller, heartbeats and registration, and
//! the events each call returns. Crash and restart rebuild the replicas from the logs.

use std::collections::BTreeMap;

use vltava_replication::{
    Acks, Event, FetchPosition, FetchResult, FollowerFetch, ProduceId, ProduceWait, Replica,
    ReplicaConfig, Role,
};

use crate::batch::Batch;
use crate::coordinator::SimCoordinator;
use crate::log::{Rec, SimLog};
use crate::net::{CONTROLLER, FetchBody, Msg};
use crate::producers::PartitionProducers;
use crate::txn_coordinator::SimTxnCoordinator;
use vltava_coordinator::codes;
use vltava_testkit::rng::SplitMix64;

/// Most records one fetch response carries.
const MAX_FETCH_RECORDS: usize = 4;
/// A fetch or AlterPartition without an answer for this long is sent again.
const RESEND_MS: u64 = 300;
/// Heartbeat interval.
const HEARTBEAT_MS: u64 = 100;

/// What a broker call produced for the world: messages and acknowledged acks=all writes.
#[derive(Debug, Default)]
pub struct Out {
    /// Messages to send, (to, message).
    pub sends: Vec<(i32, Msg)>,
    /// acks=all writes answered with success: (partition, offset, record).
    pub acked: Vec<(usize, u64, Rec)>,
    /// acks=all writes that waited and failed (timed out, leadership lost): (partition,
    /// the write's last record).
    pub failed: Vec<(usize, Rec)>,
    /// Trace lines.
    pub notes: Vec<String>,
}

/// What became of a leader append.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Appended {
    /// Refused before the append (not the leader, too few in-sync replicas): nothing
    /// written.
    Refused,
    /// Written up to `offset` and answered at once (`ok`: acknowledged).
    Done { ok: bool, offset: u64 },
    /// Written up to `offset`; an acks=all wait completes later.
    Waiting { offset: u64 },
}

/// What became of a producer's batch at the leader.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Produced {
    /// A retry of the batch at `offset`: nothing written.
    Duplicate { offset: u64 },
    /// Appended (or refused by the append).
    Appended(Appended),
}

/// One partition on one broker.
#[derive(Debug)]
pub struct PartReplica {
    /// The real replica state machine.
    pub replica: Replica,
    /// Its log.
    pub log: SimLog,
    /// The producer state of its log.
    pub producers: PartitionProducers,
    hw_checkpoint: u64,
    fetch_sent: Option<(FetchPosition, u64)>,
    alter_sent_ms: u64,
    waiting: BTreeMap<ProduceId, (u64, Rec)>,
}

/// One broker.
#[derive(Debug)]
pub struct SimBroker {
    /// Broker id.
    pub id: i32,
    /// Running (not crashed).
    pub alive: bool,
    /// Restart count: a new incarnation starts fresh replicas.
    pub incarnation: u32,
    /// Broker epoch from the last registration answer.
    pub epoch: Option<i64>,
    /// The metadata offset of the newest image applied (or of the registration), in this
    /// incarnation.
    metadata_offset: u64,
    /// Partitions, by index.
    pub parts: Vec<PartReplica>,
    /// fsync after every append (leader and follower), or only when the world says so.
    pub sync_each_append: bool,
    /// The group coordinator, when the world simulates it (a restart builds a fresh one).
    pub coordinator: Option<SimCoordinator>,
    /// The transaction coordinator, when the world simulates it (a restart builds a fresh
    /// one).
    pub txn_coordinator: Option<SimTxnCoordinator>,
    config: ReplicaConfig,
    last_register_ms: u64,
    last_heartbeat_ms: u64,
}

impl SimBroker {
    /// A running broker with empty logs, registered at `epoch`.
    pub fn new(id: i32, partitions: usize, config: ReplicaConfig, epoch: i64) -> Self {
        let parts = (0..partitions)
            .map(|_| PartReplica {
                replica: Replica::new(id, config, 0, 0),
                log: SimLog::default(),
                producers: PartitionProducers::default(),
                hw_checkpoint: 0,
                fetch_sent: None,
                alter_sent_ms: 0,
                waiting: BTreeMap::new(),
            })
            .collect();
        SimBroker {
            id,
            alive: true,
            incarnation: 0,
            epoch: Some(epoch),
            parts,
            sync_each_append: false,
            coordinator: None,
            txn_coordinator: None,
            config,
            last_register_ms: 0,
            last_heartbeat_ms: 0,
            metadata_offset: 0,
        }
    }

    /// kill -9: each log keeps its synced prefix and part of its tail. Returns, per
    /// partition, the offsets lost.
    pub fn crash(&mut self, rng: &mut SplitMix64) -> Vec<std::ops::Range<u64>> {
        self.alive = false;
        self.epoch = None;
        self.metadata_offset = 0;
        self.parts.iter_mut().map(|p| p.log.crash(rng)).collect()
    }

    /// Restart at `now`: fresh replicas over the surviving logs, a fresh coordinator;
    /// registration follows.
    pub fn restart(&mut self, now: u64) {
        self.alive = true;
        if let Some(c) = &mut self.coordinator {
            *c = SimCoordinator::new(now);
        }
        if let Some(c) = &mut self.txn_coordinator {
            *c = SimTxnCoordinator::new(now);
        }
        self.incarnation += 1;
        for p in &mut self.parts {
            let end = p.log.end();
            p.replica = Replica::new(self.id, self.config, end, p.hw_checkpoint.min(end));
            p.producers = PartitionProducers::rebuild(&p.log, p.replica.high_watermark());
            p.fetch_sent = None;
            p.waiting.clear();
        }
        self.last_register_ms = 0;
    }

    /// fsync of every log (all partitions).
    pub fn sync(&mut self) {
        for p in &mut self.parts {
            p.log.sync();
        }
    }

    /// A produce of one record with `value` to partition `p`.
    pub fn produce(&mut self, p: usize, acks: Acks, value: u64, now: u64, out: &mut Out) {
        self.append(p, &[value], acks, now, out);
    }

    /// A leader append of one batch of records with `values` to partition `p` (a produce
    /// request, or the group coordinator's write). An acks=all write that waits completes
    /// later in [`Out::acked`] or [`Out::failed`], named by its last record.
    pub fn append(
        &mut self,
        p: usize,
        values: &[u64],
        acks: Acks,
        now: u64,
        out: &mut Out,
    ) -> Appended {
        let sync_each = self.sync_each_append;
        let Some(part) = self.parts.get_mut(p) else {
            return Appended::Refused;
        };
        let Some(&last_value) = values.last() else {
            return Appended::Refused;
        };
        if let Err(e) = part.replica.check_append(acks) {
            out.notes
                .push(format!("b{} p{p} produce {values:?} refused: {e}", self.id));
            return Appended::Refused;
        }
        let epoch = part.replica.leader_epoch();
        let first = part.log.end();
        let hw = part.replica.high_watermark();
        for &value in values {
            let rec = Rec { epoch, value };
            part.producers.apply(rec, part.log.end(), hw);
            part.log.append(rec);
        }
        let offset = part.log.end() - 1;
        let rec = Rec {
            epoch,
            value: last_value,
        };
        if sync_each {
            part.log.sync();
        }
        let events = part.replica.on_local_append(part.log.end());
        out.notes.push(format!(
            "b{} p{p} append {values:?} at {first} epoch {epoch} acks {acks:?}",
            self.id
        ));
        self.handle_events(p, events, now, out);
        let Some(part) = self.parts.get_mut(p) else {
            return Appended::Refused;
        };
        match part.replica.after_append(acks, offset + 1, now + 2_000) {
            Ok(ProduceWait::Done(Ok(()))) => {
                if acks == Acks::All {
                    out.acked.push((p, offset, rec));
                }
                Appended::Done { ok: true, offset }
            }
            Ok(ProduceWait::Waiting(id)) => {
                part.waiting.insert(id, (offset, rec));
                Appended::Waiting { offset }
            }
            Ok(ProduceWait::Done(Err(_))) | Err(_) => Appended::Done { ok: false, offset },
        }
    }

    /// A producer's one-record batch `value` to partition `p` with acks=all, as the leader's
    /// produce path takes it: refused below min.insync.replicas or when not the leader,
    /// then checked against the producer state (a retry of a batch in the log is answered
    /// with its offset, unwritten), then appended. `Err`: the error code.
    pub fn produce_batch(
        &mut self,
        p: usize,
        value: u64,
        now: u64,
        out: &mut Out,
    ) -> Result<Produced, i16> {
        let part = self.parts.get(p).ok_or(codes::NOT_LEADER_OR_FOLLOWER)?;
        part.replica.check_append(Acks::All).map_err(|e| e.code())?;
        let rec = Rec {
            epoch: part.replica.leader_epoch(),
            value,
        };
        if let Some(offset) = part.producers.check(rec, part.log.end())? {
            out.notes.push(format!(
                "b{} p{p} duplicate {value:#x} of {offset}",
                self.id
            ));
            return Ok(Produced::Duplicate { offset });
        }
        Ok(Produced::Appended(self.append(
            p,
            &[value],
            Acks::All,
            now,
            out,
        )))
    }

    /// Writes the COMMIT/ABORT marker `value` on partition `p` as its leader (Kafka's
    /// `appendRecords` of a control batch with acks=-1, checked against the producer's
    /// epoch and the coordinator epoch of its last marker). `Err`: the error code.
    pub fn write_marker(
        &mut self,
        p: usize,
        value: u64,
        now: u64,
        out: &mut Out,
    ) -> Result<Appended, i16> {
        let part = self.parts.get(p).ok_or(codes::NOT_LEADER_OR_FOLLOWER)?;
        part.replica.check_append(Acks::All).map_err(|e| e.code())?;
        if let Some(Batch::Marker {
            producer_id,
            epoch,
            coordinator_epoch,
            ..
        }) = Batch::decode(value)
        {
            part.producers
                .check_marker(producer_id, epoch, coordinator_epoch)?;
        }
        Ok(self.append(p, &[value], Acks::All, now, out))
    }

    /// Periodic work at `now`: replica ticks, fetches, resends, heartbeats.
    pub fn tick(&mut self, now: u64, out: &mut Out) {
        if !self.alive {
            return;
        }
        match self.epoch {
            None if now >= self.last_register_ms + RESEND_MS => {
                self.last_register_ms = now;
                out.sends.push((CONTROLLER, Msg::Register));
            }
            Some(broker_epoch) if now >= self.last_heartbeat_ms + HEARTBEAT_MS => {
                self.last_heartbeat_ms = now;
                out.sends
                    .push((CONTROLLER, Msg::Heartbeat { broker_epoch }));
            }
            _ => {}
        }
        for p in 0..self.parts.len() {
            let events = self.parts[p].replica.tick(now);
            self.handle_events(p, events, now, out);
            let broker_epoch = self.epoch.unwrap_or(-1);
            let part = &mut self.parts[p];
            if let Some(proposal) = part.replica.alter_partition_in_flight()
                && now >= part.alter_sent_ms + RESEND_MS
            {
                part.alter_sent_ms = now;
                out.sends.push((
                    CONTROLLER,
                    Msg::AlterPartition {
                        partition: p,
                        broker_epoch,
                        proposal: proposal.clone(),
                    },
                ));
            }
            if let Some(position) = part.replica.fetch_position(part.log.epochs()) {
                let due = match part.fetch_sent {
                    Some((sent, at)) => sent != position || now >= at + RESEND_MS,
                    None => true,
                };
                if due {
                    part.fetch_sent = Some((position, now));
                    out.sends.push((
                        position.leader_id,
                        Msg::Fetch {
                            partition: p,
                            position,
                            broker_epoch: self.epoch,
                        },
                    ));
                }
            }
        }
    }

    /// A message from `from`.
    // Long, and kept whole: one match over the messages a broker takes, one arm each.
    pub fn on_message(&mut self, from: i32, msg: Msg, now: u64, out: &mut Out) {
        match msg {
            Msg::Registered {
                broker_epoch,
                offset,
            } => {
                self.epoch = Some(broker_epoch);
                self.metadata_offset = self.metadata_offset.max(offset);
            }
            // A broker acts on partitions only once registered (Kafka: after its
            // registration is accepted and it has caught up with the metadata), and its
            // image only moves forward: an image older than the one holding its
            // registration, or than one already applied, is stale (the real broker follows
            // the metadata log in order; seed 2765 had a restarted leader act on an image
            // sent before its re-registration fenced it).
            Msg::Metadata { .. } if self.epoch.is_none() => {}
            Msg::Metadata { offset, .. } if offset < self.metadata_offset => {}
            Msg::Metadata {
                offset,
                states,
                fenced,
                epochs,
            } => {
                self.metadata_offset = offset;
                for (p, state) in states.iter().enumerate().take(self.parts.len()) {
                    let part = &mut self.parts[p];
                    part.replica.set_isr_ineligible(fenced.iter().copied());
                    part.replica.set_broker_epochs(epochs.iter().copied());
                    if let vltava_replication::StateUpdate::Applied(events) =
                        part.replica.apply_partition_state(state, now)
                    {
                        out.notes.push(format!(
                            "b{} p{p} applies leader {:?} epoch {} pe {} isr {:?} -> {:?} leo {} hw {}",
                            self.id,
                            state.leader_id,
                            state.leader_epoch,
                            state.partition_epoch,
                            state.isr,
                            part.replica.role(),
                            part.log.end(),
                            part.replica.high_watermark()
                        ));
                        self.handle_events(p, events, now, out);
                    }
                }
            }
            Msg::AlterPartitionResponse {
                partition,
                proposal,
                result,
            } => {
                if let Some(part) = self.parts.get_mut(partition) {
                    let events = part.replica.on_alter_partition_result(&proposal, result);
                    self.handle_events(partition, events, now, out);
                }
            }
            Msg::Fetch {
                partition,
                position,
                broker_epoch,
            } => self.serve_fetch(from, partition, position, broker_epoch, now, out),
            Msg::FetchResponse {
                partition,
                position,
                body,
            } => self.on_fetch_response(partition, position, body, now, out),
            // Controller and client messages (the world serves the client's with the
            // broker's coordinator).
            Msg::Register
            | Msg::Heartbeat { .. }
            | Msg::AlterPartition { .. }
            | Msg::OffsetCommit { .. }
            | Msg::OffsetFetch { .. }
            | Msg::CommitAnswer { .. }
            | Msg::FetchAnswer { .. }
            | Msg::TxnRequest { .. }
            | Msg::TxnAnswer { .. }
            | Msg::Produce { .. }
            | Msg::ProduceAnswer { .. }
            | Msg::WriteMarker { .. }
            | Msg::MarkerAnswer { .. } => {}
        }
    }

    fn serve_fetch(
        &mut self,
        from: i32,
        p: usize,
        position: FetchPosition,
        broker_epoch: Option<i64>,
        now: u64,
        out: &mut Out,
    ) {
        let Some(part) = self.parts.get_mut(p) else {
            return;
        };
        let fetch = FollowerFetch {
            replica_id: from,
            fetch_offset: position.fetch_offset,
            last_fetched_epoch: position.last_fetched_epoch,
            current_leader_epoch: Some(position.current_leader_epoch),
            broker_epoch,
        };
        let body = match part
            .replica
            .on_follower_fetch(&fetch, part.log.epochs(), now)
        {
            Err(e) => FetchBody::Error(e.to_string()),
            Ok(answer) => {
                let body = match answer.diverging_epoch {
                    Some(diverging) => FetchBody::Diverging(diverging),
                    None => {
                        let start = usize::try_from(position.fetch_offset).unwrap_or(usize::MAX);
                        let records: Vec<Rec> = part
                            .log
                            .records()
                            .iter()
                            .skip(start)
                            .take(MAX_FETCH_RECORDS)
                            .copied()
                            .collect();
                        FetchBody::Records {
                            records,
                            high_watermark: answer.high_watermark,
                        }
                    }
                };
                self.handle_events(p, answer.events, now, out);
                body
            }
        };
        out.sends.push((
            from,
            Msg::FetchResponse {
                partition: p,
                position,
                body,
            },
        ));
    }

    fn on_fetch_response(
        &mut self,
        p: usize,
        position: FetchPosition,
        body: FetchBody,
        now: u64,
        out: &mut Out,
    ) {
        let Some(part) = self.parts.get_mut(p) else {
            return;
        };
        if part.replica.fetch_position(part.log.epochs()) != Some(position) {
            return;
        }
        part.fetch_sent = None;
        let result = match body {
            FetchBody::Error(e) => {
                out.notes
                    .push(format!("b{} p{p} fetch error: {e}", self.id));
                return;
            }
            FetchBody::Diverging(diverging) => FetchResult::Diverging(diverging),
            FetchBody::Records {
                records,
                high_watermark,
            } => {
                let hw = part.replica.high_watermark();
                for rec in records {
                    part.producers.apply(rec, part.log.end(), hw);
                    part.log.append(rec);
                }
                if self.sync_each_append {
                    part.log.sync();
                }
                FetchResult::Appended {
                    log_end_offset: part.log.end(),
                    leader_high_watermark: high_watermark,
                }
            }
        };
        let events = part
            .replica
            .on_fetch_response(&position, result, part.log.epochs());
        self.handle_events(p, events, now, out);
    }

    fn handle_events(&mut self, p: usize, events: Vec<Event>, now: u64, out: &mut Out) {
        let broker_epoch = self.epoch.unwrap_or(-1);
        let id = self.id;
        let Some(part) = self.parts.get_mut(p) else {
            return;
        };
        for event in events {
            match event {
                Event::HighWatermarkAdvanced(hw) => part.hw_checkpoint = hw,
                Event::AlterPartition(proposal) => {
                    out.notes.push(format!("b{id} p{p} proposes {proposal:?}"));
                    part.alter_sent_ms = now;
                    out.sends.push((
                        CONTROLLER,
                        Msg::AlterPartition {
                            partition: p,
                            broker_epoch,
                            proposal,
                        },
                    ));
                }
                Event::ProduceCompleted { id: pid, result } => {
                    if let Some((offset, rec)) = part.waiting.remove(&pid) {
                        if result.is_ok() {
                            out.acked.push((p, offset, rec));
                        } else {
                            out.failed.push((p, rec));
                        }
                    }
                }
                Event::Truncate(offset) => {
                    out.notes.push(format!(
                        "b{id} p{p} truncates to {offset} (leo {})",
                        part.log.end()
                    ));
                    part.log.truncate(offset);
                    part.producers =
                        PartitionProducers::rebuild(&part.log, part.replica.high_watermark());
                }
                // The simulated logs never lose their start (no retention), so no leader
                // answers out of range below it.
                Event::TruncateFullyAndStartAt(offset) => {
                    out.notes.push(format!(
                        "b{id} p{p} unexpectedly restarts its log at {offset}"
                    ));
                }
                Event::LeaderEpochStarted {
                    epoch,
                    start_offset,
                } => part.log.assign_epoch(epoch, start_offset),
                Event::LeaderChanged { .. } => part.fetch_sent = None,
            }
        }
    }

    /// Whether this broker leads `p` in its own view.
    pub fn leads(&self, p: usize) -> bool {
        self.alive
            && self
                .parts
                .get(p)
                .is_some_and(|part| part.replica.role() == Role::Leader)
    }
}
