//! `vltava-faults`: runs the fault harness and prints the checker's report; exits non-zero
//! on any anomaly (after the final complete reads, `unseen` counts as one: the reads
//! reached every partition's end, so an acknowledged value beyond them was lost), on a
//! malformed history, or when the run could not finish. `--check <history>` only checks a
//! recorded history.

use anyhow::{Context, bail};
use clap::Parser;
use std::path::PathBuf;
use std::time::Duration;
use vltava_faults::checker::check;
use vltava_faults::faults::FaultKind;
use vltava_faults::harness::{self, Config};

#[derive(Debug, Parser)]
#[command(
    name = "vltava-faults",
    about = "Vltava under faults: workloads, faults, history checker"
)]
struct Args {
    /// The short run of ./test.sh: about 20 faults, about 3 minutes.
    #[arg(long)]
    short: bool,
    /// Faults to inject (the long run: 1000).
    #[arg(long)]
    faults: Option<u64>,
    /// Longest fault phase in seconds (default: 120 short, else 4 s per fault).
    #[arg(long)]
    max_seconds: Option<u64>,
    /// Replication factor of the workload topic (3 or more: min.insync.replicas=2).
    #[arg(long, default_value_t = 3)]
    replication_factor: i16,
    #[arg(long, default_value_t = 6)]
    partitions: i32,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Only these fault kinds: kill, pause, restart, partition, disk-full (repeatable;
    /// disk-full, among the defaults, needs root or CAP_SYS_ADMIN for a mount namespace).
    #[arg(long = "fault", value_parser = parse_kind)]
    kinds: Vec<FaultKind>,
    /// Leave out the confluent-kafka workload.
    #[arg(long)]
    no_python: bool,
    /// Leave out the confluent-kafka group consumer (keep its producers).
    #[arg(long)]
    no_python_consumer: bool,
    /// Leave out the transactional workload (confluent-kafka transactional producer and
    /// read_committed consumer).
    #[arg(long)]
    no_transactions: bool,
    /// Directory for history.jsonl (default: a fresh temp dir).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Check a recorded history instead of running.
    #[arg(long, value_name = "HISTORY")]
    check: Option<PathBuf>,
}

fn parse_kind(s: &str) -> Result<FaultKind, String> {
    match s {
        "kill" => Ok(FaultKind::Kill),
        "pause" => Ok(FaultKind::Pause),
        "restart" => Ok(FaultKind::Restart),
        "partition" => Ok(FaultKind::Partition),
        "disk-full" => Ok(FaultKind::DiskFull),
        _ => Err(format!(
            "unknown fault kind {s} (kill, pause, restart, partition, disk-full)"
        )),
    }
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if let Some(path) = &args.check {
        let ops = vltava_faults::history::read_file(path)?;
        let report = check(&ops);
        println!("{report}");
        if !report.valid() {
            bail!("{} anomalies", report.anomalies());
        }
        return Ok(());
    }
    let out = match &args.out {
        Some(dir) => dir.clone(),
        None => vltava_testkit::temp_dir("faults").context("creating an output directory")?,
    };
    let mut cfg = Config::short(out);
    if !args.short {
        cfg.faults = args.faults.unwrap_or(100);
        cfg.max_duration = Duration::from_secs(cfg.faults * 12);
    }
    if let Some(n) = args.faults {
        cfg.faults = n;
    }
    if let Some(s) = args.max_seconds {
        cfg.max_duration = Duration::from_secs(s);
    }
    cfg.replication_factor = args.replication_factor;
    cfg.partitions = args.partitions;
    cfg.seed = args.seed;
    cfg.kinds = args.kinds.clone();
    cfg.python = !args.no_python;
    cfg.python_consumer = !args.no_python_consumer;
    cfg.transactions = !args.no_transactions;
    let outcome = harness::run(&cfg).context("fault harness run")?;
    println!(
        "vltava-faults: {} nodes, replication factor {}, {} partitions, seed {}, {:.0} s",
        cfg.nodes,
        cfg.replication_factor,
        cfg.partitions,
        cfg.seed,
        outcome.elapsed.as_secs_f64()
    );
    for (kind, n) in outcome.faults.counts() {
        println!("faults: {n:>5}  {kind}");
    }
    for e in outcome.faults.events.iter().filter_map(|e| e.note.as_ref()) {
        println!("fault note: {e}");
    }
    println!("history: {}", outcome.history.display());
    println!("{}", outcome.report);
    if !outcome.report.valid() {
        bail!(
            "{} anomalies ({} warnings) in {}",
            outcome.report.anomalies(),
            outcome.report.warnings.len(),
            outcome.history.display()
        );
    }
    Ok(())
}
