//! The tokio driver: one task owns the `RaftNode`, ticks it, steps peer messages, runs admin
//! commands against the pending image (committed image + records proposed but not yet
//! committed), proposes their records, and completes each command when its entry is applied.
//! Every change of the committed image is published on a watch channel.

use std::collections::HashMap;
use std::sync::Arc;

use raft::eraftpb::{Message, MessageType};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::{Instant, MissedTickBehavior};

use crate::apply::apply_record;
use crate::config::{ElectionSettings, Voter, node_id};
use crate::controller::features::{METADATA_VERSION, bootstrap_records};
use crate::controller::{IdSource, RandomIds};
use crate::controller::{elections, fencing};
use crate::error::{RaftError, codes};
use crate::image::MetadataImage;
use crate::node::{AppliedEntry, AppliedRead, RaftNode};
use crate::quorum_status::{ObserverTimes, QuorumStatus, ReplicaTimes, wall_clock_ms};
use crate::records::MetadataRecord;
use crate::transport::Transport;

/// Capacity of the command queue from `Controller` handles to the driver.
pub const COMMAND_QUEUE: usize = 1024;
/// Most ready rounds handled back to back before the driver looks at its inputs again.
const MAX_READY_ROUNDS: usize = 16;
/// Most proposals waiting to commit; more are refused until some complete.
pub const MAX_PENDING_PROPOSALS: usize = 4096;

/// Builds the records of one admin operation from the pending image (and sends its own
/// response through a channel it captured).
pub(crate) type BuildRecords =
    Box<dyn FnOnce(&MetadataImage, &mut dyn IdSource) -> Vec<MetadataRecord> + Send>;

pub(crate) enum Command {
    Propose {
        build: BuildRecords,
        done: oneshot::Sender<Result<(), RaftError>>,
    },
    /// The quorum's state, `None` when this node does not lead.
    DescribeQuorum(oneshot::Sender<Option<QuorumStatus>>),
    /// A broker's heartbeat (served only by the leader).
    Heartbeat(
        Heartbeat,
        oneshot::Sender<Result<HeartbeatState, RaftError>>,
    ),
    /// An observer's metadata fetch: applied entries from raft index `from` (served only by
    /// the leader, which records the fetch for DescribeQuorum).
    ReadApplied {
        from: u64,
        max_bytes: u64,
        replica_id: i32,
        reply: oneshot::Sender<Result<MetadataRead, RaftError>>,
    },
    Shutdown(oneshot::Sender<()>),
}

/// The answer to [`Command::ReadApplied`].
#[derive(Debug)]
pub(crate) struct MetadataRead {
    /// Whether this node leads (only then are `read` and the offsets meaningful).
    pub is_leader: bool,
    /// The leader this node knows, -1 if none.
    pub leader_id: i32,
    /// This node's raft term.
    pub leader_epoch: i32,
    /// Offset after the last committed entry (the commit index).
    pub high_watermark: i64,
    /// Offset of the first entry still in the log (first index - 1).
    pub log_start_offset: i64,
    pub read: AppliedRead,
}

/// A broker's BrokerHeartbeat, as the driver needs it.
#[derive(Debug, Clone, Copy)]
pub struct Heartbeat {
    pub id: i32,
    pub epoch: i64,
    /// The broker asks to be (or stay) fenced.
    pub want_fence: bool,
    /// The broker is shutting down: move its leadership away, then let it go.
    pub want_shut_down: bool,
}

/// What the controller tells a heartbeating broker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeartbeatState {
    /// Fenced in the committed image.
    pub fenced: bool,
    /// Its controlled shutdown is complete: it leads nothing and may exit.
    pub should_shut_down: bool,
}

struct Pending {
    at: AppliedEntry,
    records: Vec<MetadataRecord>,
    deadline: Instant,
    done: oneshot::Sender<Result<(), RaftError>>,
}

pub(crate) struct Driver<T: Transport> {
    pub node: RaftNode,
    pub transport: T,
    pub inbox: mpsc::Receiver<Message>,
    pub commands: mpsc::Receiver<Command>,
    pub images: watch::Sender<Arc<MetadataImage>>,
    pub ready: Option<oneshot::Sender<Result<(), RaftError>>>,
    pub tick_interval: std::time::Duration,
    pub proposal_timeout: std::time::Duration,
    pub single_voter: bool,
    voters: Vec<Voter>,
    replica_times: ReplicaTimes,
    observers: ObserverTimes,
    pending: Vec<Pending>,
    pending_image: Option<MetadataImage>,
    ids: RandomIds,
    bootstrap_term: u64,
    /// Written with `metadata.version` when the log is fresh (`QuorumConfig::bootstrap_records`).
    bootstrap_extra: Arc<Vec<MetadataRecord>>,
    /// Leader only: when each unfenced broker's session ends without another heartbeat.
    sessions: HashMap<i32, Instant>,
    session_timeout: std::time::Duration,
    elections: ElectionSettings,
    /// Leader only: when the next preferred-leader rebalance and unclean-election passes run.
    next_rebalance: Option<Instant>,
    next_unclean: Option<Instant>,
}

impl<T: Transport> Driver<T> {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        node: RaftNode,
        transport: T,
        inbox: mpsc::Receiver<Message>,
        commands: mpsc::Receiver<Command>,
        images: watch::Sender<Arc<MetadataImage>>,
        ready: oneshot::Sender<Result<(), RaftError>>,
        tick_interval: std::time::Duration,
        proposal_timeout: std::time::Duration,
        voters: Vec<Voter>,
        session_timeout: std::time::Duration,
        elections: ElectionSettings,
    ) -> Self {
        Driver {
            node,
            transport,
            inbox,
            commands,
            images,
            ready: Some(ready),
            tick_interval,
            proposal_timeout,
            single_voter: voters.len() == 1,
            voters,
            replica_times: ReplicaTimes::default(),
            observers: ObserverTimes::default(),
            pending: Vec::new(),
            pending_image: None,
            ids: RandomIds::default(),
            bootstrap_term: 0,
            bootstrap_extra: Arc::new(Vec::new()),
            sessions: HashMap::new(),
            session_timeout,
            elections,
            next_rebalance: None,
            next_unclean: None,
        }
    }

    /// Also writes `records` when this driver bootstraps a fresh metadata log.
    pub(crate) fn with_bootstrap_records(mut self, records: Vec<MetadataRecord>) -> Self {
        self.bootstrap_extra = Arc::new(records);
        self
    }

    pub(crate) async fn run(mut self) {
        let mut ticker = tokio::time::interval(self.tick_interval);
        ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut inbox_open = true;
        loop {
            self.maybe_bootstrap();
            if let Err(e) = self.process_ready() {
                self.fail_all(&e);
                if let Some(r) = self.ready.take() {
                    let _ = r.send(Err(e));
                }
                return;
            }
            self.signal_ready();
            tokio::select! {
                _ = ticker.tick() => {
                    self.node.tick();
                    self.expire();
                    self.expire_sessions();
                    self.periodic_elections();
                }
                cmd = self.commands.recv() => match cmd {
                    None => return,
                    Some(Command::Shutdown(ack)) => {
                        let _ = self.process_ready();
                        self.fail_all(&RaftError::Stopped);
                        let _ = ack.send(());
                        return;
                    }
                    Some(Command::Propose { build, done }) => self.propose(build, done),
                    Some(Command::ReadApplied { from, max_bytes, replica_id, reply }) => {
                        let _ = reply.send(self.read_applied(from, max_bytes, replica_id));
                    }
                    Some(Command::Heartbeat(hb, reply)) => {
                        let answer = self.heartbeat(hb);
                        let _ = reply.send(answer);
                    }
                    Some(Command::DescribeQuorum(reply)) => {
                        let status = self.node.quorum_status(
                            &self.replica_times,
                            &self.observers,
                            &self.voters,
                            wall_clock_ms(),
                        );
                        let _ = reply.send(status);
                    }
                },
                msg = self.inbox.recv(), if inbox_open => match msg {
                    Some(m) => {
                        self.note_answer(&m);
                        let _ = self.node.step(m);
                    }
                    None => inbox_open = false,
                },
            }
        }
    }

    /// Keeps the time of a follower's append answer (and whether it holds the leader's whole
    /// log) for DescribeQuorum.
    fn note_answer(&mut self, m: &Message) {
        if m.msg_type == MessageType::MsgAppendResponse && !m.reject && self.node.is_leader() {
            let caught_up = m.index >= self.node.last_index();
            self.replica_times
                .record(node_id(m.from), wall_clock_ms(), caught_up);
        }
    }

    /// A leader that has applied everything and finds no metadata version writes it (once per
    /// term), as Kafka's bootstrap does on a fresh cluster.
    fn maybe_bootstrap(&mut self) {
        let caught_up = self.node.applied_index() >= self.node.commit_index();
        if !self.node.is_leader()
            || !caught_up
            || !self.pending.is_empty()
            || self.bootstrap_term == self.node.term()
            || self.node.image().features.contains_key(METADATA_VERSION)
        {
            return;
        }
        self.bootstrap_term = self.node.term();
        let (done, _) = oneshot::channel();
        let extra = self.bootstrap_extra.clone();
        self.propose(
            Box::new(move |image, _| {
                let mut records = bootstrap_records(image);
                if !records.is_empty() {
                    records.extend(extra.iter().cloned());
                }
                records
            }),
            done,
        );
    }

    fn signal_ready(&mut self) {
        let caught_up = self.node.applied_index() >= self.node.commit_index();
        let ok = if self.single_voter {
            self.node.is_leader()
                && caught_up
                && self.node.image().features.contains_key(METADATA_VERSION)
        } else {
            true
        };
        if ok {
            if let Some(r) = self.ready.take() {
                let _ = r.send(Ok(()));
            }
        }
    }

    fn propose(&mut self, build: BuildRecords, done: oneshot::Sender<Result<(), RaftError>>) {
        if !self.node.is_leader() {
            let _ = done.send(Err(RaftError::NotController));
            return;
        }
        if self.pending.len() >= MAX_PENDING_PROPOSALS {
            let _ = done.send(Err(RaftError::Limit("too many proposals in flight".into())));
            return;
        }
        if self.pending_image.is_none() {
            // Committed image plus whatever this node still has in flight (its own log entries
            // may yet commit, also after a leader change back to this node).
            let mut view = self.node.image().clone();
            for p in &self.pending {
                for r in &p.records {
                    apply_record(&mut view, r);
                }
            }
            self.pending_image = Some(view);
        }
        let Some(view) = self.pending_image.as_mut() else {
            return;
        };
        let records = build(view, &mut self.ids);
        if records.is_empty() {
            let _ = done.send(Ok(()));
            return;
        }
        match self.node.propose(&records) {
            Ok(at) => {
                if let Some(view) = self.pending_image.as_mut() {
                    for r in &records {
                        apply_record(view, r);
                    }
                }
                self.pending.push(Pending {
                    at,
                    records,
                    deadline: Instant::now() + self.proposal_timeout,
                    done,
                });
            }
            Err(e) => {
                self.pending_image = None;
                let _ = done.send(Err(e));
            }
        }
    }

    /// Handles readies until raft has nothing more (bounded, so a busy node still ticks).
    fn process_ready(&mut self) -> Result<(), RaftError> {
        let was_leader = self.node.is_leader();
        for _ in 0..MAX_READY_ROUNDS {
            let out = self.node.handle_ready()?;
            for m in out.messages {
                self.transport.send(m);
            }
            // Publish first: a caller whose proposal completes must see its change in `image()`.
            if out.image_changed {
                self.images
                    .send_replace(Arc::new(self.node.image().clone()));
            }
            for applied in &out.applied {
                self.complete(applied);
            }
            if !self.node.has_ready() {
                break;
            }
        }
        if was_leader && !self.node.is_leader() {
            self.pending_image = None;
            self.replica_times.clear();
            self.observers.clear();
            self.sessions.clear();
        }
        if self.pending.is_empty() {
            self.pending_image = None;
        }
        Ok(())
    }

    fn complete(&mut self, applied: &AppliedEntry) {
        let mut i = 0;
        while i < self.pending.len() {
            if self.pending[i].at.index <= applied.index {
                let p = self.pending.swap_remove(i);
                let result = if p.at == *applied {
                    Ok(())
                } else {
                    self.pending_image = None;
                    Err(RaftError::ProposalLost)
                };
                let _ = p.done.send(result);
            } else {
                i += 1;
            }
        }
    }

    /// An observer's fetch from raft index `from`: the applied entries, when this node leads.
    fn read_applied(
        &mut self,
        from: u64,
        max_bytes: u64,
        replica_id: i32,
    ) -> Result<MetadataRead, RaftError> {
        let is_leader = self.node.is_leader();
        let commit = self.node.commit_index();
        let mut answer = MetadataRead {
            is_leader,
            leader_id: self.node.leader_id(),
            leader_epoch: i32::try_from(self.node.term()).unwrap_or(i32::MAX),
            high_watermark: commit as i64,
            log_start_offset: 0,
            read: AppliedRead::Entries(Vec::new()),
        };
        if !is_leader {
            return Ok(answer);
        }
        if replica_id >= 0 && !self.voters.iter().any(|v| v.id == replica_id) {
            let fetch_offset = from.saturating_sub(1) as i64;
            self.observers
                .record(replica_id, fetch_offset, wall_clock_ms(), from > commit);
        }
        answer.log_start_offset =
            raft::Storage::first_index(self.node.storage())?.saturating_sub(1) as i64;
        answer.read = self.node.applied_entries(from, max_bytes)?;
        Ok(answer)
    }

    /// A heartbeat: renews the broker's session and proposes the fencing change it asks for.
    fn heartbeat(&mut self, hb: Heartbeat) -> Result<HeartbeatState, RaftError> {
        if !self.node.is_leader() {
            return Err(RaftError::NotController);
        }
        let Some(b) = self.node.image().brokers.get(&hb.id) else {
            return Err(RaftError::Kafka {
                code: codes::BROKER_ID_NOT_REGISTERED,
                message: format!("broker {} is not registered", hb.id),
            });
        };
        if b.epoch != hb.epoch {
            return Err(RaftError::Kafka {
                code: codes::STALE_BROKER_EPOCH,
                message: format!(
                    "broker {} has epoch {}, the heartbeat {}",
                    hb.id, b.epoch, hb.epoch
                ),
            });
        }
        let fenced = b.fenced;
        let id = hb.id;
        self.sessions
            .insert(id, Instant::now() + self.session_timeout);
        if hb.want_fence || hb.want_shut_down {
            if !fenced {
                self.propose_liveness(fencing::fence_broker, id);
            }
        } else if fenced {
            self.propose_liveness(fencing::unfence_broker, id);
        }
        Ok(HeartbeatState {
            fenced,
            should_shut_down: hb.want_shut_down && fenced,
        })
    }

    /// Leader only: fences every unfenced broker whose session ended. A broker first seen
    /// (registered, or this node just became leader) gets a whole session from now.
    fn expire_sessions(&mut self) {
        if !self.node.is_leader() {
            return;
        }
        let now = Instant::now();
        let mut expired = Vec::new();
        for b in self.node.image().brokers.values().filter(|b| !b.fenced) {
            let deadline = *self
                .sessions
                .entry(b.id)
                .or_insert(now + self.session_timeout);
            if deadline <= now {
                expired.push(b.id);
            }
        }
        for id in expired {
            // Not again until it heartbeats (or the fencing commits).
            self.sessions.insert(id, now + self.session_timeout);
            self.propose_liveness(fencing::fence_broker, id);
        }
    }

    /// Proposes fencing or unfencing broker `id` (`change`), with the unclean elections it
    /// makes necessary where topics allow them.
    fn propose_liveness(
        &mut self,
        change: fn(&MetadataImage, i32) -> Vec<MetadataRecord>,
        id: i32,
    ) {
        let unclean = self.elections.unclean_default;
        let (ack, _) = oneshot::channel();
        self.propose(
            Box::new(move |image, _| {
                elections::then_unclean_elections(image, change(image, id), unclean)
            }),
            ack,
        );
    }

    /// Leader only: the preferred-leader rebalance (`auto.leader.rebalance.enable`) and the
    /// unclean elections of leaderless partitions, each every its interval from when this
    /// node began to lead; a pass that hit its election limit is followed a second later.
    fn periodic_elections(&mut self) {
        if !self.node.is_leader() {
            self.next_rebalance = None;
            self.next_unclean = None;
            return;
        }
        let now = Instant::now();
        let settings = self.elections;
        if settings.auto_rebalance {
            let pending = timed_pass(
                &mut self.next_rebalance,
                settings.rebalance_interval,
                now,
                || elections::balance_leaders(self.node.image()).len(),
            );
            if pending > 0 {
                tracing::info!(pending, "moving leadership back to preferred replicas");
                let (ack, _) = oneshot::channel();
                self.propose(Box::new(|image, _| elections::balance_leaders(image)), ack);
            }
        }
        let unclean = settings.unclean_default;
        let pending = timed_pass(
            &mut self.next_unclean,
            settings.unclean_interval,
            now,
            || elections::elect_unclean_leaders(self.node.image(), unclean).len(),
        );
        if pending > 0 {
            tracing::warn!(
                pending,
                "unclean leader elections for offline partitions: records only other \
                 replicas held are lost"
            );
            let (ack, _) = oneshot::channel();
            self.propose(
                Box::new(move |image, _| elections::elect_unclean_leaders(image, unclean)),
                ack,
            );
        }
    }

    fn expire(&mut self) {
        let now = Instant::now();
        let mut i = 0;
        while i < self.pending.len() {
            if self.pending[i].deadline <= now {
                let p = self.pending.swap_remove(i);
                let _ = p.done.send(Err(RaftError::Timeout));
            } else {
                i += 1;
            }
        }
    }

    fn fail_all(&mut self, e: &RaftError) {
        for p in self.pending.drain(..) {
            let err = match e {
                RaftError::Stopped => RaftError::Stopped,
                _ => RaftError::NotController,
            };
            let _ = p.done.send(Err(err));
        }
    }
}

/// A periodic election pass whose next run is `next` (the first one `interval` from when it
/// is first asked about): when due, the elections it would make (`pending`), and the next run
/// `interval` later, or a second later when the pass hit its limit. 0 when not due.
fn timed_pass(
    next: &mut Option<Instant>,
    interval: std::time::Duration,
    now: Instant,
    pending: impl FnOnce() -> usize,
) -> usize {
    if *next.get_or_insert(now + interval) > now {
        return 0;
    }
    let pending = pending();
    let full = pending >= elections::MAX_ELECTIONS_PER_PASS;
    *next = Some(
        now + if full {
            std::time::Duration::from_secs(1)
        } else {
            interval
        },
    );
    pending
}
