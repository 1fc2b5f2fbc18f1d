//! The simulation runner: many seeds per run, one seed with a trace by `VLTAVA_SIM_SEED`.

use vltava_sim::run_seed;

/// Seeds per `cargo test` run (override with `VLTAVA_SIM_SEEDS`).
const DEFAULT_SEEDS: u64 = 200;

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.parse().ok())
}

#[test]
fn many_seeds() {
    let seeds = env_u64("VLTAVA_SIM_SEEDS").unwrap_or(DEFAULT_SEEDS);
    let first = env_u64("VLTAVA_SIM_FIRST_SEED").unwrap_or(0);
    let started = std::time::Instant::now();
    let mut acked = 0;
    for seed in first..first + seeds {
        match run_seed(seed, false) {
            Ok(stats) => acked += stats.acked,
            Err(failure) => {
                let traced = run_seed(seed, true).err().unwrap_or(failure);
                let tail: Vec<&String> = traced.trace.iter().rev().take(60).rev().collect();
                for line in tail {
                    eprintln!("{line}");
                }
                panic!("{traced}");
            }
        }
    }
    eprintln!(
        "{seeds} seeds in {:?}, {acked} acks=all records acknowledged",
        started.elapsed()
    );
    assert!(acked > 0, "the workload acknowledged nothing");
}

#[test]
fn one_seed() {
    let Some(seed) = env_u64("VLTAVA_SIM_SEED") else {
        return;
    };
    match run_seed(seed, true) {
        Ok(stats) => eprintln!("seed {seed} passed: {stats:?}"),
        Err(failure) => {
            for line in &failure.trace {
                eprintln!("{line}");
            }
            panic!("{failure}");
        }
    }
}

#[test]
fn a_seed_is_deterministic() {
    let a = run_seed(7, true);
    let b = run_seed(7, true);
    match (a, b) {
        (Ok(x), Ok(y)) => assert_eq!(x, y),
        (Err(x), Err(y)) => assert_eq!(x.trace, y.trace),
        _ => panic!("seed 7 passed once and failed once"),
    }
}
