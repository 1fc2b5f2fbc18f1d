//! `World`: one simulated cluster (three brokers, the controller, the network, the clock)
//! and its step: deliver due messages, tick every node, maybe inject a fault or a produce,
//! then check the invariants. Everything random comes from the run's one seed. With
//! [`Options::offsets`] the brokers also run the group coordinator over one more partition
//! (`__consumer_offsets`) for a committing client ([`group`]).

mod group;
mod txn;

use std::collections::BTreeMap;

use vltava_replication::{Acks, ReplicaConfig, Role};

use crate::broker::{Out, SimBroker};
use crate::controller::SimController;
use crate::invariants::{Checker, Violation};
use crate::net::{CONTROLLER, Msg, Network};
use vltava_testkit::rng::SplitMix64;

/// Broker ids.
pub const BROKERS: [i32; 3] = [0, 1, 2];
/// Data partitions of the simulated topic (with [`Options::offsets`], one more partition
/// after them plays `__consumer_offsets`).
pub const PARTITIONS: usize = 2;
/// `broker.session.timeout.ms`.
const SESSION_TIMEOUT_MS: u64 = 1_500;
/// `replica.lag.time.max.ms`.
const LAG_TIME_MS: u64 = 1_000;
/// The controller republishes metadata this often (messages may be lost).
const METADATA_MS: u64 = 100;

/// A partition's leader and leader epoch in the controller's image.
type Leader = (Option<i32>, i32);

/// Choices of a run beyond its seed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Options {
    /// Register a restarted broker as vltava-raft does today: accepted while its old
    /// session is live, its leaderships kept in the same leader epoch. Off: Kafka's
    /// DUPLICATE_BROKER_REGISTRATION rule (the broker waits until it is fenced).
    pub vltava_reregistration: bool,
    /// The controller moves leadership back to preferred replicas every
    /// [`crate::controller::REBALANCE_MS`] (`auto.leader.rebalance.enable`).
    pub preferred_rebalance: bool,
    /// Simulate the group coordinator: one more partition plays `__consumer_offsets`, each
    /// broker runs the real coordinator, a client commits and fetches offsets. Off: the
    /// replication-only model the named regression seeds ran with.
    pub offsets: bool,
    /// Simulate transactions: one more partition plays `__transaction_state`, each broker
    /// runs the real transaction coordinator, an idempotent and a transactional producer
    /// write to the data partitions ([`txn`]).
    pub txn: bool,
}

impl Options {
    /// The options the seed runner gives `seed`: odd seeds run vltava-raft's own
    /// registration rule (fence a live broker, then register), even seeds Kafka's (refuse
    /// it while its session lasts); seeds 2 and 3 modulo 4 rebalance leaders; every seed
    /// simulates the group coordinator and transactions. A rerun of one seed uses the same
    /// choice.
    pub fn for_seed(seed: u64) -> Options {
        Options {
            vltava_reregistration: seed % 2 == 1,
            preferred_rebalance: seed % 4 >= 2,
            offsets: true,
            txn: true,
        }
    }
}

/// Counters of one run.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Stats {
    /// Steps run.
    pub steps: u64,
    /// Messages delivered.
    pub delivered: u64,
    /// Records appended by producers.
    pub produced: u64,
    /// acks=all records acknowledged.
    pub acked: u64,
    /// Broker crashes.
    pub crashes: u64,
    /// Network partitions.
    pub partitions: u64,
    /// Partitions whose guarantee a crash voided (unsynced committed records lost on an
    /// ISR member).
    pub tainted: u64,
    /// Preferred-leader rebalances that moved leadership.
    pub rebalances: u64,
    /// Offset commits acknowledged to the client.
    pub commits_acked: u64,
    /// Coordinator loads (a broker elected for the offsets partition read its log).
    pub coordinator_loads: u64,
    /// Loads on another broker than the previous load (coordinator failovers).
    pub coordinator_failovers: u64,
    /// OffsetFetch answers of the current coordinator checked against acknowledged commits.
    pub offset_fetches_checked: u64,
    /// OffsetFetch answers of a deposed coordinator below an acknowledged commit (stale
    /// reads Kafka allows too).
    pub stale_offset_fetches: u64,
    /// OffsetFetch answers of the current coordinator below an earlier answer: an offset
    /// read before it was committed, then lost with the uncommitted tail it came from.
    pub regressed_offset_fetches: u64,
    /// Transactions whose EndTxn(commit) was answered.
    pub txn_commits_acked: u64,
    /// Transactions whose EndTxn(abort) was answered.
    pub txn_aborts_acked: u64,
    /// Transactions the producer gave up (fenced, restarted, timed out).
    pub txns_abandoned: u64,
    /// Producer epochs handed out to the transactional producer.
    pub txn_epochs: u64,
    /// Transaction coordinator loads, and those on another broker than the previous one.
    pub txn_coordinator_loads: u64,
    /// Transaction coordinator failovers.
    pub txn_coordinator_failovers: u64,
    /// Producer batches a leader answered as duplicates of one in its log.
    pub duplicates_answered: u64,
    /// Markers written (answered NONE to a coordinator).
    pub markers_written: u64,
    /// Producer batches checked in committed logs.
    pub producer_batches_checked: u64,
}

/// The simulated cluster.
#[derive(Debug)]
pub struct World {
    now: u64,
    rng: SplitMix64,
    net: Network,
    controller: SimController,
    brokers: Vec<SimBroker>,
    checker: Checker,
    restart_at: BTreeMap<i32, u64>,
    /// The largest fetch offset each broker has sent per partition since it (re)started:
    /// what it told its leader it holds, delivered or still on the way.
    fetch_reported: BTreeMap<(i32, usize), u64>,
    heal_at: Option<u64>,
    last_metadata_ms: u64,
    next_value: u64,
    sync_each_append: bool,
    faults: bool,
    producing: bool,
    stats: Stats,
    trace: Option<Vec<String>>,
    group: Option<group::GroupSim>,
    txn: Option<txn::TxnSim>,
    /// The image's (leader, leader epoch) per partition, at a metadata offset.
    leaders_at: Option<(u64, Vec<Leader>)>,
}

impl World {
    /// A cluster for `seed`; `trace` keeps a line per event.
    pub fn new(seed: u64, trace: bool) -> Self {
        Self::with_options(seed, trace, Options::default())
    }

    /// A cluster for `seed` with `options`.
    pub fn with_options(seed: u64, trace: bool, options: Options) -> Self {
        let mut rng = SplitMix64::new(seed);
        let sync_each_append = rng.chance(500);
        let min_isr = if rng.chance(500) { 2 } else { 1 };
        let config = ReplicaConfig {
            replica_lag_time_max_ms: LAG_TIME_MS,
            min_insync_replicas: min_isr,
            ..ReplicaConfig::default()
        };
        let net = Network::new(rng.range(0, 50), rng.range(1, 40));
        let now = 1_000;
        let partitions = PARTITIONS + usize::from(options.offsets) + usize::from(options.txn);
        let mut controller = SimController::new(&BROKERS, partitions, SESSION_TIMEOUT_MS, now);
        controller.refuse_live_reregistration = !options.vltava_reregistration;
        controller.preferred_rebalance = options.preferred_rebalance;
        let brokers = BROKERS
            .iter()
            .map(|&id| {
                let epoch = controller.image().brokers.get(&id).map_or(-1, |b| b.epoch);
                let mut b = SimBroker::new(id, partitions, config, epoch);
                b.sync_each_append = sync_each_append;
                b
            })
            .collect();
        let mut world = World {
            now,
            rng,
            net,
            controller,
            brokers,
            checker: Checker::new(partitions),
            restart_at: BTreeMap::new(),
            fetch_reported: BTreeMap::new(),
            heal_at: None,
            last_metadata_ms: 0,
            next_value: 0,
            sync_each_append,
            faults: true,
            producing: true,
            stats: Stats::default(),
            trace: trace.then(Vec::new),
            group: options.offsets.then(group::GroupSim::default),
            txn: options.txn.then(txn::TxnSim::new),
            leaders_at: None,
        };
        world.install_coordinators();
        world.install_txn_coordinators();
        let (drop, delay) = (world.net.drop_per_mille, world.net.max_delay_ms);
        let fsync = if sync_each_append {
            "every append"
        } else {
            "page cache (random writeback)"
        };
        world.note(|| {
            format!(
                "seed {seed}: fsync {fsync}, min.insync.replicas {min_isr}, drop {drop}‰, delay ≤ {delay} ms"
            )
        });
        world
    }

    /// The trace so far (empty unless tracing).
    pub fn trace(&self) -> &[String] {
        self.trace.as_deref().unwrap_or(&[])
    }

    /// Counters so far.
    pub fn stats(&self) -> Stats {
        let mut stats = Stats {
            acked: self.checker.acked,
            tainted: self.checker.tainted,
            ..self.stats
        };
        if let Some(g) = &self.group {
            stats.commits_acked = g.checker.commits_acked;
            stats.coordinator_loads = g.loads;
            stats.coordinator_failovers = g.failovers;
            stats.offset_fetches_checked = g.checker.fetches_checked;
            stats.stale_offset_fetches = g.checker.stale_fetches;
            stats.regressed_offset_fetches = g.checker.regressed_fetches;
        }
        if let Some(t) = &self.txn {
            stats.txn_commits_acked = t.checker.commits_acked;
            stats.txn_aborts_acked = t.checker.aborts_acked;
            stats.txns_abandoned = t.checker.abandoned;
            stats.txn_epochs = t.checker.epochs;
            stats.txn_coordinator_loads = t.loads;
            stats.txn_coordinator_failovers = t.failovers;
            stats.duplicates_answered = t.duplicates;
            stats.markers_written = t.markers_written;
            stats.producer_batches_checked = t.checker.batches_checked;
        }
        stats
    }

    fn note(&mut self, line: impl FnOnce() -> String) {
        if let Some(trace) = &mut self.trace {
            trace.push(format!("[{}] {}", self.now, line()));
        }
    }

    fn absorb(&mut self, from: i32, out: Out) -> Result<(), Violation> {
        for line in out.notes {
            self.note(|| line);
        }
        for (to, msg) in out.sends {
            if let Msg::Fetch {
                partition,
                position,
                ..
            } = &msg
            {
                let reported = self.fetch_reported.entry((from, *partition)).or_default();
                *reported = (*reported).max(position.fetch_offset);
            }
            self.net.send(&mut self.rng, self.now, from, to, msg);
        }
        for &(p, offset, rec) in &out.acked {
            self.note(|| format!("p{p} ACK acks=all {rec:?} at {offset}"));
            self.checker.on_acked(p, offset, rec);
        }
        self.writes_completed(from, &out.acked, &out.failed)?;
        self.txn_writes_completed(from, &out.acked, &out.failed)
    }

    fn publish_metadata(&mut self) {
        self.last_metadata_ms = self.now;
        let states = self.controller.partition_states();
        let fenced = self.controller.fenced();
        let epochs = self.controller.broker_epochs();
        for b in BROKERS {
            let msg = Msg::Metadata {
                offset: self.controller.offset(),
                states: states.clone(),
                fenced: fenced.clone(),
                epochs: epochs.clone(),
            };
            self.net.send(&mut self.rng, self.now, CONTROLLER, b, msg);
        }
    }

    fn image_changed(&mut self, why: &str) {
        let states = self.controller.partition_states();
        let fenced = self.controller.fenced();
        let why = why.to_string();
        self.note(|| format!("controller: {why}: {states:?} fenced {fenced:?}"));
        self.publish_metadata();
    }

    fn deliver_to_controller(&mut self, from: i32, msg: Msg) {
        match msg {
            Msg::Register => {
                let Some(broker_epoch) = self.controller.register(from, self.now) else {
                    self.note(|| format!("controller: b{from} refused, its session is live"));
                    return;
                };
                self.net.send(
                    &mut self.rng,
                    self.now,
                    CONTROLLER,
                    from,
                    Msg::Registered {
                        broker_epoch,
                        offset: self.controller.offset(),
                    },
                );
                self.image_changed(&format!("b{from} registered at epoch {broker_epoch}"));
            }
            Msg::Heartbeat { broker_epoch }
                if self.controller.heartbeat(from, broker_epoch, self.now) =>
            {
                self.image_changed(&format!("b{from} unfenced"));
            }
            Msg::AlterPartition {
                partition,
                broker_epoch,
                proposal,
            } => {
                let result =
                    self.controller
                        .alter_partition(from, broker_epoch, partition, &proposal);
                self.note(|| format!("controller: AlterPartition {proposal:?} -> {result:?}"));
                let reply = Msg::AlterPartitionResponse {
                    partition,
                    proposal,
                    result,
                };
                self.net
                    .send(&mut self.rng, self.now, CONTROLLER, from, reply);
                self.image_changed("after AlterPartition");
            }
            _ => {}
        }
    }

    fn leaders(&self) -> Vec<(Option<i32>, i32)> {
        self.controller
            .partition_states()
            .iter()
            .map(|s| (s.leader_id, s.leader_epoch))
            .collect()
    }

    /// The checks at the end of a step.
    fn check(&mut self) -> Result<(), Violation> {
        self.check_changed(None)
    }

    /// The checks after a change of broker `changed` only (`None`: any): the image's
    /// leaders are computed again only when the image changed (its metadata offset moved).
    fn check_changed(&mut self, changed: Option<i32>) -> Result<(), Violation> {
        let offset = self.controller.offset();
        if self.leaders_at.as_ref().is_none_or(|(o, _)| *o != offset) {
            self.leaders_at = Some((offset, self.leaders()));
        }
        let leaders = self
            .leaders_at
            .as_ref()
            .map_or(&[][..], |(_, l)| l.as_slice());
        self.checker.check_changed(&self.brokers, leaders, changed)
    }

    /// One step: time moves, due messages arrive, nodes tick, maybe a fault or a produce.
    /// The invariants are checked after each delivery and at the end.
    pub fn step(&mut self) -> Result<(), Violation> {
        self.stats.steps += 1;
        self.now += self.rng.range(1, 10);
        while let Some((from, to, msg)) = self.net.next_due(self.now) {
            self.stats.delivered += 1;
            if to == CONTROLLER {
                self.deliver_to_controller(from, msg);
            } else if self.group.is_some() && self.deliver_group_msg(to, &msg)? {
                // A client request, served by the broker's coordinator, or an answer.
            } else if self.txn.is_some() && self.deliver_txn_msg(from, to, &msg)? {
                // A producer's request or answer, or a transaction marker.
            } else if let Some(i) = self.brokers.iter().position(|b| b.id == to && b.alive) {
                let mut out = Out::default();
                self.brokers[i].on_message(from, msg, self.now, &mut out);
                self.absorb(to, out)?;
                self.sync_coordinator(i)?;
                self.sync_txn_coordinator(i)?;
            }
            // Only the recipient of a message changed (the controller and the clients
            // hold no replica).
            self.check_changed(Some(to))?;
        }
        let fenced = self.controller.expire_sessions(self.now);
        if !fenced.is_empty() {
            self.image_changed(&format!("sessions expired, fenced {fenced:?}"));
        } else if self.controller.maybe_rebalance(self.now) {
            self.stats.rebalances += 1;
            self.image_changed("leadership moved back to preferred replicas");
        } else if self.now >= self.last_metadata_ms + METADATA_MS {
            self.publish_metadata();
        }
        for i in 0..self.brokers.len() {
            let mut out = Out::default();
            self.brokers[i].tick(self.now, &mut out);
            let id = self.brokers[i].id;
            self.absorb(id, out)?;
            if !self.sync_each_append && self.rng.chance(20) {
                self.brokers[i].sync();
            }
        }
        self.maybe_fault();
        self.maybe_produce()?;
        if self.group.is_some() {
            self.tick_coordinators()?;
            self.client_step();
        }
        self.txn_step()?;
        self.check()
    }

    fn maybe_produce(&mut self) -> Result<(), Violation> {
        if !self.producing || !self.rng.chance(400) {
            return Ok(());
        }
        let p = self.rng.index(PARTITIONS);
        // Clients find the leader from metadata; sometimes they are wrong.
        let leaders: Vec<usize> = (0..self.brokers.len())
            .filter(|&i| self.brokers[i].leads(p))
            .collect();
        let i = if leaders.is_empty() || self.rng.chance(100) {
            self.rng.index(self.brokers.len())
        } else {
            leaders[self.rng.index(leaders.len())]
        };
        if !self.brokers[i].alive {
            return Ok(());
        }
        // Quiet: acks=all only, as a client that wants its records safe. Such producers are
        // refused before the append while the ISR is below min.insync.replicas, so only the
        // replicas themselves can bring the ISR back (acks=1 records would grow a new
        // leader's log past a follower stuck ahead of it and hide that it never rejoins).
        let acks = if !self.faults || self.rng.chance(700) {
            Acks::All
        } else {
            Acks::Leader
        };
        self.next_value += 1;
        self.stats.produced += 1;
        let mut out = Out::default();
        self.brokers[i].produce(p, acks, self.next_value, self.now, &mut out);
        let id = self.brokers[i].id;
        self.absorb(id, out)
    }

    fn maybe_fault(&mut self) {
        let due: Vec<i32> = self
            .restart_at
            .iter()
            .filter(|&(_, &at)| at <= self.now)
            .map(|(&b, _)| b)
            .collect();
        for b in due {
            self.restart_at.remove(&b);
            let now = self.now;
            if let Some(broker) = self.brokers.iter_mut().find(|x| x.id == b) {
                broker.restart(now);
            }
            self.note(|| format!("b{b} RESTARTS"));
        }
        if self.heal_at.is_some_and(|at| at <= self.now) {
            self.heal_at = None;
            self.net.heal();
            self.note(|| "network HEALED".to_string());
        }
        if !self.faults {
            return;
        }
        if self.rng.chance(3) && self.restart_at.len() < 2 {
            let i = self.rng.index(self.brokers.len());
            if self.brokers[i].alive {
                self.crash(i);
            }
        }
        if self.heal_at.is_none() && self.rng.chance(3) {
            let mut nodes = vec![BROKERS[0], BROKERS[1], BROKERS[2], CONTROLLER];
            if self.group.is_some() {
                nodes.push(crate::committer::CLIENT);
            }
            if self.txn.is_some() {
                nodes.push(crate::idempotent_producer::IDEMPOTENT_PRODUCER);
                nodes.push(crate::txn_producer::TXN_PRODUCER);
            }
            let a = nodes[self.rng.index(nodes.len())];
            let b = nodes[self.rng.index(nodes.len())];
            if a != b {
                self.net.cut(a, b);
                self.stats.partitions += 1;
                self.heal_at = Some(self.now + self.rng.range(100, 3_000));
                self.note(|| format!("network PARTITION between {a} and {b}"));
            }
        }
    }

    fn crash(&mut self, i: usize) {
        let id = self.brokers[i].id;
        // In the ISR for Kafka's guarantee: the controller's ISR, or a leader's maximal ISR
        // (an expansion to this broker may still be on its way to the controller, and the
        // leader already counts the broker; seed 9237).
        let states = self.controller.partition_states();
        let in_isr: Vec<bool> = (0..states.len())
            .map(|p| {
                states[p].isr.contains(&id)
                    || self.brokers.iter().any(|b| {
                        b.alive
                            && b.parts.get(p).is_some_and(|part| {
                                part.replica.role() == Role::Leader
                                    && part.replica.maximal_isr().contains(&id)
                            })
                    })
            })
            .collect();
        let lost = self.brokers[i].crash(&mut self.rng);
        self.stats.crashes += 1;
        for (p, range) in lost.iter().enumerate() {
            if in_isr.get(p).copied().unwrap_or(false) {
                let reported = self.fetch_reported.get(&(id, p)).copied().unwrap_or(0);
                self.checker.on_crash_loss(p, range, reported);
            }
        }
        self.fetch_reported.retain(|&(b, _), _| b != id);
        // Its connections die with it: what was on its way to it is lost (what it sent
        // may still arrive).
        self.net.drop_to(id);
        let down = self.rng.range(10, 4_000);
        self.restart_at.insert(id, self.now + down);
        self.note(|| format!("b{id} CRASHES (lost {lost:?}), restarts in {down} ms"));
    }

    /// Ends the faults: every broker restarts, the network heals and stops dropping.
    pub fn quiesce(&mut self) {
        self.faults = false;
        self.net.drop_per_mille = 0;
        self.heal_at = Some(self.now);
        for at in self.restart_at.values_mut() {
            *at = self.now;
        }
        self.note(|| "QUIESCE: no more faults".to_string());
    }

    /// Ends the producers (the followers catch up with nothing new arriving).
    pub fn stop_producing(&mut self) {
        self.producing = false;
        self.note(|| "DRAIN: no more produce requests".to_string());
    }

    /// After quiescing long enough: every partition has a leader whose high watermark
    /// covers every acknowledged acks=all record, and every replica is back in the ISR
    /// (all brokers are up and the network is whole: a replica left out is a liveness bug,
    /// e.g. a follower the new leader refuses for good).
    pub fn check_final(&mut self) -> Result<(), Violation> {
        self.check()?;
        for (p, state) in self.controller.partition_states().iter().enumerate() {
            if BROKERS.iter().any(|b| !state.isr.contains(b)) {
                return Err(Violation(format!(
                    "p{p}: ISR {:?} is not every replica after quiescing",
                    state.isr
                )));
            }
        }
        for (p, (leader, _)) in self.leaders().into_iter().enumerate() {
            let Some(b) = leader.and_then(|id| self.brokers.iter().find(|b| b.id == id)) else {
                return Err(Violation(format!("p{p} has no leader after quiescing")));
            };
            let need = self.checker.acked_end(p);
            let hw = b.parts.get(p).map_or(0, |x| x.replica.high_watermark());
            if hw < need {
                return Err(Violation(format!(
                    "p{p}: leader b{} HW {hw} below acknowledged end {need} after quiescing",
                    b.id
                )));
            }
        }
        self.check_group_final()?;
        self.check_txn(true)
    }
}
