//! The metadata quorum simulation's runner: many seeds per run, one seed with a trace by
//! `VLTAVA_QUORUM_SEED`.

use vltava_sim::quorum::run_quorum_seed;
use vltava_sim::runner::{assert_deterministic, env_u64, rerun_one, run_seeds};

/// Quorum seeds per `cargo test` run (override with `VLTAVA_QUORUM_SEEDS`).
const DEFAULT_SEEDS: u64 = 300;

/// Runs every seed; all failing seeds are listed, the first with the tail of its trace.
#[test]
fn many_quorum_seeds() {
    let seeds = env_u64("VLTAVA_QUORUM_SEEDS").unwrap_or(DEFAULT_SEEDS);
    let first = env_u64("VLTAVA_QUORUM_FIRST_SEED").unwrap_or(0);
    let started = std::time::Instant::now();
    let stats = run_seeds(first..first + seeds, run_quorum_seed).unwrap_or_else(|e| panic!("{e}"));
    let acked: u64 = stats.iter().map(|s| s.acked).sum();
    let crashes: u64 = stats.iter().map(|s| s.crashes).sum();
    let max_term = stats.iter().map(|s| s.max_term).max().unwrap_or(0);
    eprintln!(
        "{seeds} quorum seeds in {:?}: {acked} proposals acknowledged, {crashes} crashes, \
         highest term {max_term}",
        started.elapsed()
    );
    assert!(acked > 0, "no proposal was acknowledged");
    assert!(crashes > 0, "no node crashed");
}

/// Reruns the seed in `VLTAVA_QUORUM_SEED` with its whole trace (a rerun tool, not part
/// of the normal run).
#[test]
#[ignore = "a rerun tool: needs VLTAVA_QUORUM_SEED"]
fn one_quorum_seed() {
    let seed = env_u64("VLTAVA_QUORUM_SEED").expect("set VLTAVA_QUORUM_SEED to the seed to rerun");
    rerun_one(seed, run_quorum_seed);
}

#[test]
fn a_quorum_seed_is_deterministic() {
    assert_deterministic(11, run_quorum_seed);
}
