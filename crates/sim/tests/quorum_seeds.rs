//! The metadata quorum simulation's runner: many seeds per run, one seed with a trace by
//! `VLTAVA_QUORUM_SEED`.

use vltava_sim::quorum::run_quorum_seed;

/// Quorum seeds per `cargo test` run (override with `VLTAVA_QUORUM_SEEDS`).
const DEFAULT_SEEDS: u64 = 300;

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.parse().ok())
}

/// Runs every seed; all failing seeds are listed, the first with the tail of its trace.
#[test]
fn many_quorum_seeds() {
    let seeds = env_u64("VLTAVA_QUORUM_SEEDS").unwrap_or(DEFAULT_SEEDS);
    let first = env_u64("VLTAVA_QUORUM_FIRST_SEED").unwrap_or(0);
    let started = std::time::Instant::now();
    let (mut acked, mut crashes, mut max_term) = (0, 0, 0);
    let mut failures = Vec::new();
    for seed in first..first + seeds {
        match run_quorum_seed(seed, false) {
            Ok(stats) => {
                acked += stats.acked;
                crashes += stats.crashes;
                max_term = max_term.max(stats.max_term);
            }
            Err(failure) => failures.push(failure),
        }
    }
    eprintln!(
        "{seeds} quorum seeds in {:?}: {acked} proposals acknowledged, {crashes} crashes, \
         highest term {max_term}, {} failed",
        started.elapsed(),
        failures.len()
    );
    if let Some(first_failure) = failures.first() {
        let traced = run_quorum_seed(first_failure.seed, true)
            .err()
            .unwrap_or_else(|| first_failure.clone());
        let tail: Vec<&String> = traced.trace.iter().rev().take(60).rev().collect();
        for line in tail {
            eprintln!("{line}");
        }
        for failure in &failures {
            eprintln!("{failure}");
        }
        panic!(
            "{} of {seeds} quorum seeds failed; first: {traced}",
            failures.len()
        );
    }
    assert!(acked > 0, "no proposal was acknowledged");
    assert!(crashes > 0, "no node crashed");
}

/// Reruns the seed in `VLTAVA_QUORUM_SEED` with its whole trace (a rerun tool, not part
/// of the normal run).
#[test]
#[ignore = "a rerun tool: needs VLTAVA_QUORUM_SEED"]
fn one_quorum_seed() {
    let seed = env_u64("VLTAVA_QUORUM_SEED").expect("set VLTAVA_QUORUM_SEED to the seed to rerun");
    match run_quorum_seed(seed, true) {
        Ok(stats) => eprintln!("quorum seed {seed} passed: {stats:?}"),
        Err(failure) => {
            for line in &failure.trace {
                eprintln!("{line}");
            }
            panic!("{failure}");
        }
    }
}

#[test]
fn a_quorum_seed_is_deterministic() {
    let a = run_quorum_seed(11, true);
    let b = run_quorum_seed(11, true);
    match (a, b) {
        (Ok(x), Ok(y)) => assert_eq!(x, y),
        (Err(x), Err(y)) => assert_eq!(x.trace, y.trace),
        _ => panic!("seed 11 passed once and failed once"),
    }
}
