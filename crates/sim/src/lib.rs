//! vltava-sim: a deterministic simulation of partition replication in a cluster (issue 12).
//!
//! One `u64` seed drives a whole cluster: three brokers, each running the real sans-IO
//! [`vltava_replication::Replica`] for every partition over an in-memory log that loses
//! unsynced writes on a crash; a controller running the real `vltava-raft` rules (fencing,
//! registration elections, AlterPartition) on a real `MetadataImage`; a network that drops,
//! delays, reorders and partitions; a clock; producers (acks=all and acks=1); crashes and
//! restarts. With [`Options::offsets`] (every seed the runner runs) a third partition plays
//! `__consumer_offsets` and each broker runs the real group coordinator over it
//! ([`coordinator`]) for a client committing and fetching offsets ([`committer`]). With
//! [`Options::txn`] (every seed the runner runs) one more partition plays
//! `__transaction_state`, each broker runs the real transaction coordinator over it
//! ([`txn_coordinator`]), leaders keep the broker's producer state ([`producers`]), and an
//! idempotent and a transactional producer ([`idempotent_producer`], [`txn_producer`])
//! write to the data partitions. The invariants ([`invariants`], [`offsets_check`],
//! [`txn_check`]) are checked after every delivered message and every step (the
//! read_committed ones every 50 steps and at the end). [`run_seed`] runs one seed; a failure names the seed to rerun with a
//! trace.
//!
//! Deviation from the real controller, on purpose: by default a restarted broker's
//! registration is refused while its old session is live (Kafka's
//! DUPLICATE_BROKER_REGISTRATION). vltava-raft accepts it and keeps the broker's
//! leaderships in the same leader epoch, which lets a leader that lost its unsynced tail
//! write different records at offsets its followers already hold (bug found by this
//! simulation, seed 28; [`Options::vltava_reregistration`] reproduces it).

pub mod append_queue;
pub mod batch;
pub mod broker;
pub mod committer;
pub mod controller;
pub mod coordinator;
pub mod idempotent_producer;
pub mod invariants;
pub mod log;
pub mod net;
pub mod offsets_check;
pub mod producers;
pub mod quorum;
pub mod runner;
pub mod txn_check;
pub mod txn_coordinator;
pub mod txn_producer;
pub mod txn_wire;
pub mod world;

pub use invariants::Violation;
pub use world::{Options, Stats, World};

/// Steps of faults and load in one run.
pub const FAULT_STEPS: u64 = 1_500;
/// Steps without faults at the end (recovery; producers go on with acks=all only).
pub const QUIET_STEPS: u64 = 1_000;
/// Steps without faults or producers after the quiet ones, for followers to catch up
/// (they fetch a few records at a time), before the final check.
pub const DRAIN_STEPS: u64 = 1_000;

/// Which simulation a seed ran (its rerun command differs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Model {
    /// Partition replication ([`run_seed_with`]).
    Replication,
    /// The metadata quorum ([`quorum::run_quorum_seed`]).
    Quorum,
}

impl Model {
    /// The command that reruns `seed` of this model with its trace.
    pub fn rerun_command(self, seed: u64) -> String {
        match self {
            Model::Replication => format!(
                "VLTAVA_SIM_SEED={seed} cargo test -p vltava-sim --test seeds -- one_seed --ignored --nocapture"
            ),
            Model::Quorum => format!(
                "VLTAVA_QUORUM_SEED={seed} cargo test -p vltava-sim --test quorum_seeds -- one_quorum_seed --ignored --nocapture"
            ),
        }
    }
}

/// A failed run: the seed, the violation, and the trace (when traced).
#[derive(Debug, Clone)]
pub struct Failure {
    /// The simulation.
    pub model: Model,
    /// The seed.
    pub seed: u64,
    /// The step at which an invariant broke.
    pub step: u64,
    /// What broke.
    pub violation: Violation,
    /// The events up to the failure, if traced.
    pub trace: Vec<String>,
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:?} seed {} failed at step {}: {}\nrerun: {}",
            self.model,
            self.seed,
            self.step,
            self.violation.0,
            self.model.rerun_command(self.seed)
        )
    }
}

/// Runs one seed: faults and load, then quiet, then drain, then the final check.
pub fn run_seed(seed: u64, trace: bool) -> Result<Stats, Box<Failure>> {
    run_seed_with(seed, trace, Options::default())
}

/// [`run_seed`] with `options`.
pub fn run_seed_with(seed: u64, trace: bool, options: Options) -> Result<Stats, Box<Failure>> {
    let mut world = World::with_options(seed, trace, options);
    let fail = |world: &World, violation: Violation| {
        Box::new(Failure {
            model: Model::Replication,
            seed,
            step: world.stats().steps,
            violation,
            trace: world.trace().to_vec(),
        })
    };
    for _ in 0..FAULT_STEPS {
        if let Err(v) = world.step() {
            return Err(fail(&world, v));
        }
    }
    world.quiesce();
    for _ in 0..QUIET_STEPS {
        if let Err(v) = world.step() {
            return Err(fail(&world, v));
        }
    }
    world.stop_producing();
    for _ in 0..DRAIN_STEPS {
        if let Err(v) = world.step() {
            return Err(fail(&world, v));
        }
    }
    if let Err(v) = world.check_final() {
        return Err(fail(&world, v));
    }
    Ok(world.stats())
}
