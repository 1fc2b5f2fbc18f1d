//! The seed runners both simulations share: many seeds with every failure listed (the first
//! rerun with its trace), one seed rerun with its whole trace, and a determinism check.

use std::fmt::Debug;
use std::ops::Range;

use crate::Failure;

/// A `u64` from the environment variable `name`, if set and a number.
pub fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.parse().ok())
}

/// Runs `run(seed, false)` for every seed of `seeds`. All pass: their stats. Some fail: the
/// first is rerun with its trace, whose tail is printed with the list of failing seeds, and
/// the error says how many failed and what broke first.
pub fn run_seeds<S>(
    seeds: Range<u64>,
    run: impl Fn(u64, bool) -> Result<S, Box<Failure>>,
) -> Result<Vec<S>, String> {
    let count = seeds.end.saturating_sub(seeds.start);
    let mut passed = Vec::new();
    let mut failures = Vec::new();
    for seed in seeds {
        match run(seed, false) {
            Ok(stats) => passed.push(stats),
            Err(failure) => failures.push(failure),
        }
    }
    let Some(first) = failures.first() else {
        return Ok(passed);
    };
    let traced = run(first.seed, true).err().unwrap_or_else(|| first.clone());
    let tail: Vec<&String> = traced.trace.iter().rev().take(60).rev().collect();
    for line in tail {
        eprintln!("{line}");
    }
    for failure in &failures {
        eprintln!("{failure}");
    }
    Err(format!(
        "{} of {count} seeds failed; first: {traced}",
        failures.len()
    ))
}

/// Reruns `seed` with its whole trace printed; panics when it fails.
pub fn rerun_one<S: Debug>(seed: u64, run: impl Fn(u64, bool) -> Result<S, Box<Failure>>) {
    match run(seed, true) {
        Ok(stats) => eprintln!("seed {seed} passed: {stats:?}"),
        Err(failure) => {
            for line in &failure.trace {
                eprintln!("{line}");
            }
            panic!("{failure}");
        }
    }
}

/// Runs `seed` twice with traces: the same stats, or the same trace to the same failure.
pub fn assert_deterministic<S: PartialEq + Debug>(
    seed: u64,
    run: impl Fn(u64, bool) -> Result<S, Box<Failure>>,
) {
    match (run(seed, true), run(seed, true)) {
        (Ok(x), Ok(y)) => assert_eq!(x, y),
        (Err(x), Err(y)) => assert_eq!(x.trace, y.trace),
        _ => panic!("seed {seed} passed once and failed once"),
    }
}
