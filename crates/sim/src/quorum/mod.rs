//! The metadata quorum under simulation: three real `vltava_raft::node::RaftNode`s (raft-rs
//! with vltava's on-disk log, hard state and snapshots, the metadata image applied from
//! committed entries) driven from one seed, over the simulated [`Network`] (drop, delay,
//! reorder, partitions) and clock; nodes crash (kill -9: the node is dropped, everything
//! it fsynced stays, messages on their way to it are lost) and restart from their dirs.
//! Clients propose topic records to whichever node leads; a proposal is acknowledged when
//! the proposing node applies it at the index and term it was given, as the controller
//! answers a request. The [`checker`] runs after every step.
//!
//! Files live under `/dev/shm` when it exists (fsync there is cheap), else the temp dir, and
//! are removed when the run ends. raft-rs draws election timeouts from its own random
//! source; the run pins them (`fixed_election_timeout`) and varies when each node ticks
//! instead, so one seed replays exactly.

pub mod checker;

use std::net::SocketAddr;
use std::path::PathBuf;

use raft::eraftpb::Message;
use vltava_protocol::Uuid;
use vltava_protocol::metadata::TopicRecord;
use vltava_raft::node::{AppliedEntry, RaftNode};
use vltava_raft::{MetadataRecord, QuorumConfig, Voter};
use vltava_testkit::rng::SplitMix64;

use self::checker::QuorumChecker;
use crate::net::Network;
use crate::{Failure, Model, Violation};

/// Voters of the simulated quorum.
pub const VOTERS: [i32; 3] = [0, 1, 2];
/// Simulated milliseconds per raft tick (jittered per node).
const TICK_MS: u64 = 20;
/// Ticks without a leader before a follower campaigns.
const ELECTION_TICKS: usize = 10;
/// Snapshot (and compact) every this many entries: small, so lagging nodes install them.
const SNAPSHOT_EVERY: u64 = 16;
/// Steps with faults, then quiet steps before the final check.
pub const QUORUM_FAULT_STEPS: u64 = 1_500;
/// Quiet steps (no faults, proposals go on).
pub const QUORUM_QUIET_STEPS: u64 = 1_500;
/// Steps without proposals at the end, so every node applies the last one.
pub const QUORUM_SETTLE_STEPS: u64 = 500;

/// Counters of one run.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct QuorumStats {
    /// Steps run.
    pub steps: u64,
    /// Proposals made.
    pub proposed: u64,
    /// Proposals acknowledged.
    pub acked: u64,
    /// Crashes.
    pub crashes: u64,
    /// Network partitions.
    pub partitions: u64,
    /// Highest term reached.
    pub max_term: u64,
}

/// One simulated voter: its config, its node when up, and its incarnation.
struct Voter3 {
    id: i32,
    cfg: QuorumConfig,
    node: Option<RaftNode>,
    incarnation: u32,
    next_tick: u64,
    restart_at: Option<u64>,
    pending: Vec<(AppliedEntry, String)>,
}

/// The quorum world of one seed.
#[allow(missing_debug_implementations)] // raft-rs's RawNode is not Debug
pub struct QuorumWorld {
    now: u64,
    rng: SplitMix64,
    net: Network<Message>,
    voters: Vec<Voter3>,
    checker: QuorumChecker,
    heal_at: Option<u64>,
    faults: bool,
    proposals: bool,
    next_value: u64,
    stats: QuorumStats,
    trace: Option<Vec<String>>,
    base: PathBuf,
}

impl Drop for QuorumWorld {
    fn drop(&mut self) {
        for v in &mut self.voters {
            v.node = None;
        }
        let _ = std::fs::remove_dir_all(&self.base);
    }
}

fn scratch_root() -> PathBuf {
    let shm = PathBuf::from("/dev/shm");
    if shm.is_dir() {
        shm
    } else {
        std::env::temp_dir()
    }
}

/// raft-rs ids are the Kafka node id plus one (raft reserves 0 for "none").
fn node_of(raft_id: u64) -> i32 {
    i32::try_from(raft_id).map_or(-1, |r| r - 1)
}

impl QuorumWorld {
    /// A fresh quorum for `seed`; `trace` keeps a line per event.
    pub fn new(seed: u64, trace: bool) -> Result<Self, Violation> {
        let mut rng = SplitMix64::new(seed);
        let net = Network::new(rng.range(0, 60), rng.range(1, 40));
        let base = scratch_root().join(format!(
            "vltava-quorum-sim-{}-{seed}-{}",
            std::process::id(),
            rng.range(0, u64::MAX / 2)
        ));
        let _ = std::fs::remove_dir_all(&base);
        let addrs: Vec<Voter> = VOTERS
            .iter()
            .map(|&id| Voter {
                id,
                addr: SocketAddr::from(([127, 0, 0, 1], 1)),
            })
            .collect();
        let mut voters = Vec::new();
        for &id in &VOTERS {
            let mut cfg = QuorumConfig::single_node(id, base.join(format!("node-{id}")), "sim");
            cfg.voters = addrs.clone();
            cfg.election_ticks = ELECTION_TICKS;
            cfg.heartbeat_ticks = 2;
            cfg.snapshot_every_entries = SNAPSHOT_EVERY;
            cfg.fixed_election_timeout = true;
            let node = RaftNode::open(&cfg).map_err(|e| Violation(format!("open: {e}")))?;
            let next_tick = rng.range(1, TICK_MS * 2);
            voters.push(Voter3 {
                id,
                cfg,
                node: Some(node),
                incarnation: 0,
                next_tick,
                restart_at: None,
                pending: Vec::new(),
            });
        }
        let mut world = QuorumWorld {
            now: 0,
            rng,
            net,
            voters,
            checker: QuorumChecker::default(),
            heal_at: None,
            faults: true,
            proposals: true,
            next_value: 0,
            stats: QuorumStats::default(),
            trace: trace.then(Vec::new),
            base,
        };
        let (drop, delay) = (world.net.drop_per_mille, world.net.max_delay_ms);
        world.note(|| format!("seed {seed}: drop {drop}‰, delay ≤ {delay} ms"));
        Ok(world)
    }

    /// The trace so far (empty unless tracing).
    pub fn trace(&self) -> &[String] {
        self.trace.as_deref().unwrap_or(&[])
    }

    /// Counters so far.
    pub fn stats(&self) -> QuorumStats {
        let mut s = self.stats;
        s.acked = self.checker.acked() as u64;
        s
    }

    fn note(&mut self, line: impl FnOnce() -> String) {
        if let Some(trace) = &mut self.trace {
            trace.push(format!("[{}] {}", self.now, line()));
        }
    }

    /// One step: time moves, due messages are delivered, nodes tick, maybe a fault or a
    /// proposal; every node's ready state is handled; the invariants are checked.
    pub fn step(&mut self) -> Result<(), Violation> {
        self.stats.steps += 1;
        self.now += self.rng.range(1, 10);
        if let Some(at) = self.heal_at
            && at <= self.now
        {
            self.net.heal();
            self.heal_at = None;
            self.note(|| "network HEALED".into());
        }
        for i in 0..self.voters.len() {
            if self.voters[i].restart_at.is_some_and(|at| at <= self.now) {
                self.restart(i)?;
            }
        }
        while let Some((from, to, msg)) = self.net.next_due(self.now) {
            let Some(v) = self.voters.iter_mut().find(|v| v.id == to) else {
                continue;
            };
            if let Some(node) = &mut v.node {
                // A message raft refuses (e.g. from an unknown peer) is dropped, as the
                // driver drops it.
                let _ = node.step(msg);
            }
            let _ = from;
            self.ready(to)?;
        }
        for i in 0..self.voters.len() {
            if self.voters[i].node.is_some() && self.voters[i].next_tick <= self.now {
                let jitter = self.rng.range(0, TICK_MS / 2);
                let v = &mut self.voters[i];
                v.next_tick = self.now + TICK_MS + jitter;
                if let Some(node) = &mut v.node {
                    node.tick();
                }
                let id = v.id;
                self.ready(id)?;
            }
        }
        if self.faults {
            self.maybe_fault()?;
        }
        if self.proposals && self.rng.chance(150) {
            self.propose()?;
        }
        self.check_leaders()
    }

    fn maybe_fault(&mut self) -> Result<(), Violation> {
        if self.rng.chance(4) {
            let i = self.rng.range(0, VOTERS.len() as u64 - 1) as usize;
            if self.voters[i].node.is_some() {
                self.crash(i);
            }
        }
        let leader = self
            .voters
            .iter()
            .position(|v| v.node.as_ref().is_some_and(RaftNode::is_leader));
        if let Some(i) = leader
            && self.rng.chance(3)
        {
            self.note(|| "the leader is crashed".into());
            self.crash(i);
        } else if let Some(i) = leader
            && self.heal_at.is_none()
            && self.rng.chance(2)
        {
            let id = self.voters[i].id;
            for &other in VOTERS.iter().filter(|&&o| o != id) {
                self.net.cut(id, other);
            }
            self.stats.partitions += 1;
            self.heal_at = Some(self.now + self.rng.range(100, 3_000));
            self.note(|| format!("network ISOLATES leader {id}"));
        }
        if self.heal_at.is_none() && self.rng.chance(3) {
            let a = VOTERS[self.rng.range(0, 2) as usize];
            let b = VOTERS[self.rng.range(0, 2) as usize];
            if a != b {
                self.net.cut(a, b);
                self.stats.partitions += 1;
                self.heal_at = Some(self.now + self.rng.range(100, 3_000));
                self.note(|| format!("network PARTITION between {a} and {b}"));
            }
        }
        Ok(())
    }

    fn crash(&mut self, i: usize) {
        let down = self.rng.range(10, 3_000);
        let v = &mut self.voters[i];
        v.node = None;
        v.pending.clear();
        v.restart_at = Some(self.now + down);
        let id = v.id;
        self.net.drop_to(id);
        self.stats.crashes += 1;
        self.note(|| format!("node {id} CRASHES, restarts in {down} ms"));
    }

    fn restart(&mut self, i: usize) -> Result<(), Violation> {
        let v = &mut self.voters[i];
        v.restart_at = None;
        v.incarnation += 1;
        let node =
            RaftNode::open(&v.cfg).map_err(|e| Violation(format!("node {} reopen: {e}", v.id)))?;
        let (id, offset) = (v.id, node.image().offset);
        v.node = Some(node);
        self.note(|| format!("node {id} RESTARTS (image at offset {offset})"));
        self.ready(id)
    }

    fn propose(&mut self) -> Result<(), Violation> {
        let Some(i) = self
            .voters
            .iter()
            .position(|v| v.node.as_ref().is_some_and(RaftNode::is_leader))
        else {
            return Ok(());
        };
        let value = self.next_value;
        self.next_value += 1;
        let name = format!("t{value}");
        let record = MetadataRecord::Topic(TopicRecord {
            name: name.clone().into(),
            topic_id: Uuid::from_u128(u128::from(value) + 1),
            ..Default::default()
        });
        let v = &mut self.voters[i];
        let Some(node) = &mut v.node else {
            return Ok(());
        };
        match node.propose(&[record]) {
            Ok(at) => {
                self.stats.proposed += 1;
                v.pending.push((at, name.clone()));
                let id = v.id;
                self.note(|| format!("node {id} proposes {name} at {at:?}"));
                self.ready(id)
            }
            Err(_) => Ok(()),
        }
    }

    /// Handles `id`'s ready state: persists, applies (checked), sends.
    fn ready(&mut self, id: i32) -> Result<(), Violation> {
        let Some(i) = self.voters.iter().position(|v| v.id == id) else {
            return Ok(());
        };
        let incarnation = self.voters[i].incarnation;
        let Some(node) = &mut self.voters[i].node else {
            return Ok(());
        };
        if !node.has_ready() {
            return Ok(());
        }
        let out = node
            .handle_ready()
            .map_err(|e| Violation(format!("node {id} handle_ready: {e}")))?;
        for applied in &out.applied {
            self.checker
                .on_applied(id, incarnation, applied.index, applied.term)?;
        }
        let mut acked = Vec::new();
        let pending = &mut self.voters[i].pending;
        for applied in &out.applied {
            pending.retain(|(at, name)| {
                if at.index > applied.index {
                    return true;
                }
                if at == applied {
                    acked.push((*at, name.clone()));
                }
                false
            });
        }
        for (at, name) in acked {
            self.note(|| format!("ACK {name} at {at:?}"));
            self.checker.on_acked(at.index, at.term, name)?;
        }
        for m in out.messages {
            let to = node_of(m.to);
            self.net.send(&mut self.rng, self.now, id, to, m);
        }
        Ok(())
    }

    fn check_leaders(&mut self) -> Result<(), Violation> {
        for v in &self.voters {
            if let Some(node) = &v.node {
                self.stats.max_term = self.stats.max_term.max(node.term());
                if node.is_leader() {
                    self.checker.on_leader(v.id, node.term())?;
                }
            }
        }
        Ok(())
    }

    /// Ends the faults: every node restarts, the network heals and stops dropping.
    pub fn quiesce(&mut self) {
        self.faults = false;
        self.net.drop_per_mille = 0;
        self.heal_at = Some(self.now);
        for v in &mut self.voters {
            if v.restart_at.is_some() {
                v.restart_at = Some(self.now);
            }
        }
        self.note(|| "QUIESCE: no more faults".into());
    }

    /// Stops the proposals, so the last ones reach every node before the final check.
    pub fn settle(&mut self) {
        self.proposals = false;
        self.note(|| "SETTLE: no more proposals".into());
    }

    /// After quiescing: one leader, equal images holding every acknowledged proposal.
    pub fn check_final(&mut self) -> Result<(), Violation> {
        let mut images = Vec::new();
        let mut leaders = 0;
        for v in &self.voters {
            let Some(node) = &v.node else {
                return Err(Violation(format!("node {} is down after quiescing", v.id)));
            };
            images.push(node.image().clone());
            leaders += usize::from(node.is_leader());
        }
        self.checker.check_final(&images, leaders)
    }
}

/// Runs one quorum seed: faults, then quiet, then the final check. A panic inside the run
/// (raft-rs asserts its own invariants) is a failure of that seed.
pub fn run_quorum_seed(seed: u64, trace: bool) -> Result<QuorumStats, Box<Failure>> {
    std::panic::catch_unwind(|| run_quorum_seed_inner(seed, trace)).unwrap_or_else(|panic| {
        let what = panic
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_string()))
            .unwrap_or_else(|| "a panic".into());
        Err(Box::new(Failure {
            model: Model::Quorum,
            seed,
            step: 0,
            violation: Violation(format!("panicked: {what}")),
            trace: Vec::new(),
        }))
    })
}

fn run_quorum_seed_inner(seed: u64, trace: bool) -> Result<QuorumStats, Box<Failure>> {
    let mut world = match QuorumWorld::new(seed, trace) {
        Ok(w) => w,
        Err(violation) => {
            return Err(Box::new(Failure {
                model: Model::Quorum,
                seed,
                step: 0,
                violation,
                trace: Vec::new(),
            }));
        }
    };
    let fail = |world: &QuorumWorld, violation: Violation| {
        Box::new(Failure {
            model: Model::Quorum,
            seed,
            step: world.stats.steps,
            violation,
            trace: world.trace().to_vec(),
        })
    };
    for _ in 0..QUORUM_FAULT_STEPS {
        if let Err(v) = world.step() {
            return Err(fail(&world, v));
        }
    }
    world.quiesce();
    for _ in 0..QUORUM_QUIET_STEPS {
        if let Err(v) = world.step() {
            return Err(fail(&world, v));
        }
    }
    world.settle();
    for _ in 0..QUORUM_SETTLE_STEPS {
        if let Err(v) = world.step() {
            return Err(fail(&world, v));
        }
    }
    if let Err(v) = world.check_final() {
        return Err(fail(&world, v));
    }
    Ok(world.stats())
}
