//! One harness run: start a [`TestCluster`] whose controllers reach each other through
//! [`LinkProxies`] and whose nodes each keep their data on a file system of their own
//! ([`NodeDisks`], for disk-full faults), create the workload topic with the configured
//! replication factor, run the workloads while the fault scheduler injects faults, heal,
//! stop the workloads, read every partition completely once every node is back, write the
//! merged history and check it.

use crate::checker::{self, Report};
use crate::disk::{DISK_BYTES, NodeDisks};
use crate::faults::{self, FaultError, FaultKind, FaultLog, Schedule};
use crate::final_read::{self, FinalReadError};
use crate::history::{self, HistoryError, Recorder};
use crate::proxy::{LinkProxies, ProxyError};
use crate::workload::python::{PythonError, PythonWorkload};
use crate::workload::{Shared, consumer, producer};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use vltava_client::{Admin, ClientConfig, NewTopic};
use vltava_testkit::broker_process::BrokerProcessError;
use vltava_testkit::cluster::TestCluster;

/// The workload topic.
pub const TOPIC: &str = "queue";
/// `broker.session.timeout.ms` of [`TestCluster`] nodes.
pub const SESSION_TIMEOUT: Duration = Duration::from_millis(3000);

/// A run's settings.
#[derive(Debug, Clone)]
pub struct Config {
    pub nodes: usize,
    /// Of the workload topic (3: every node a replica; with 3 or more replicas the topic
    /// gets `min.insync.replicas=2`, as production Kafka topics do).
    pub replication_factor: i16,
    pub partitions: i32,
    pub faults: u64,
    /// Longest time for the fault phase.
    pub max_duration: Duration,
    pub seed: u64,
    /// Fault kinds to draw from (empty: all).
    pub kinds: Vec<FaultKind>,
    /// Run the confluent-kafka workload too.
    pub python: bool,
    /// With `python`: its group consumer too (not only its producer).
    pub python_consumer: bool,
    /// With `python`: a transactional producer (commits and aborts across partitions led
    /// by different nodes) and a read_committed consumer.
    pub transactions: bool,
    pub idempotent_producers: usize,
    pub plain_producers: usize,
    pub group_consumers: usize,
    pub assign_consumers: usize,
    /// Where the history (and the Python workload's files) go.
    pub out_dir: PathBuf,
}

impl Config {
    /// The short run of `./test.sh`: about 20 faults, at most about 3 minutes in all.
    pub fn short(out_dir: PathBuf) -> Config {
        Config {
            nodes: 3,
            replication_factor: 3,
            partitions: 6,
            faults: 20,
            max_duration: Duration::from_secs(120),
            seed: 1,
            kinds: Vec::new(),
            python: true,
            python_consumer: true,
            transactions: true,
            idempotent_producers: 2,
            plain_producers: 1,
            group_consumers: 2,
            assign_consumers: 1,
            out_dir,
        }
    }
}

/// What a run produced.
#[derive(Debug)]
pub struct Outcome {
    pub report: Report,
    pub faults: FaultLog,
    pub history: PathBuf,
    pub elapsed: Duration,
}

/// Why a run could not finish (anomalies are no error: they are in the report).
#[derive(Debug, thiserror::Error)]
pub enum HarnessError {
    #[error("cluster: {0}")]
    Cluster(#[from] BrokerProcessError),
    #[error("tokio runtime: {0}")]
    Runtime(#[source] std::io::Error),
    #[error("output directory {0}: {1}")]
    OutDir(PathBuf, #[source] std::io::Error),
    #[error("creating the workload topic: {0}")]
    Topic(#[from] vltava_client::ClientError),
    #[error("{0}")]
    Fault(#[from] FaultError),
    #[error("controller link proxies: {0}")]
    Proxy(#[from] ProxyError),
    #[error("python workload: {0}")]
    Python(#[from] PythonError),
    #[error("final reads: {0}")]
    FinalRead(#[from] FinalReadError),
    #[error("history: {0}")]
    History(#[from] HistoryError),
}

/// Runs the harness once.
// Long, and kept whole: the run's script, read in order (cluster, topic, workloads,
// faults, heal, stop, final reads, check); its steps share the cluster, the link
// proxies, the disks and the runtime, whose lifetimes this order sets. The self-contained
// steps are functions below.
pub fn run(cfg: &Config) -> Result<Outcome, HarnessError> {
    let started = Instant::now();
    std::fs::create_dir_all(&cfg.out_dir)
        .map_err(|e| HarnessError::OutDir(cfg.out_dir.clone(), e))?;
    let proxies = LinkProxies::start(cfg.nodes)?;
    // Each node's data on a file system of its own, when full disks are among the faults.
    let wants_disks = cfg.kinds.is_empty() || cfg.kinds.contains(&FaultKind::DiskFull);
    let mut disks = wants_disks.then(|| NodeDisks::new(DISK_BYTES));
    let mut cluster =
        // No settings beyond TestCluster's: the preferred-leader rebalance keeps Kafka's 300 s
        // interval. With it every 10 s (the group coordinators moving that often) one of ten
        // short runs hung on librdkafka's consumer losing its coordinator (docs/faults.md,
        // "librdkafka's group consumer deadlocks after brokers disagree about a node").
        TestCluster::start_with_voters_and_prefix(
            cfg.nodes,
            None,
            &[],
            |i, ports| proxies.voters(i, ports),
            |i, data_dir| match disks.as_mut() {
                Some(d) => d.mount(i, data_dir).map_err(|e| BrokerProcessError::Io {
                    what: format!("node {i}'s file system for disk-full faults (leave them out with --fault)"),
                    source: std::io::Error::other(e.to_string()),
                }),
                None => Ok(Vec::new()),
            },
        )?;
    let bootstrap = cluster.bootstrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(HarnessError::Runtime)?;
    rt.block_on(create_topic(cfg, &bootstrap))?;
    rt.block_on(final_read::wait_for_leaders(
        &bootstrap,
        TOPIC,
        cfg.partitions,
        Duration::from_secs(30),
    ))?;
    let recorder = Arc::new(Recorder::new());
    let shared = Shared {
        bootstrap: bootstrap.clone(),
        topic: TOPIC.into(),
        partitions: cfg.partitions,
        recorder: recorder.clone(),
        stop: Arc::new(AtomicBool::new(false)),
    };
    let tasks = spawn_workloads(&rt, cfg, &shared);
    let python = start_python(cfg, &bootstrap)?;
    std::thread::sleep(Duration::from_secs(3));
    let schedule = Schedule {
        seed: cfg.seed,
        faults: cfg.faults,
        max_duration: cfg.max_duration,
        kinds: cfg.kinds.clone(),
        session_timeout: SESSION_TIMEOUT,
    };
    let total = cfg.faults;
    let means = faults::Means {
        proxies: Some(&proxies),
        disks: disks.as_ref(),
    };
    let log = faults::run(
        &mut cluster,
        means,
        &schedule,
        &AtomicBool::new(false),
        |e| print_fault(started, e),
    );
    let log = match log {
        Ok(log) => log,
        Err(e) => {
            shared.stop.store(true, Ordering::Relaxed);
            return Err(e.into());
        }
    };
    eprintln!(
        "vltava-faults: {} of {total} faults injected; every node running; load continues 3 s",
        log.events.len()
    );
    std::thread::sleep(Duration::from_secs(3));
    shared.stop.store(true, Ordering::Relaxed);
    let python_ops = match python {
        Some(p) => p.finish(Duration::from_secs(60))?,
        None => Vec::new(),
    };
    rt.block_on(async {
        for t in tasks {
            let _ = tokio::time::timeout(Duration::from_secs(60), t).await;
        }
    });
    eprintln!("vltava-faults: workloads stopped; reading every partition completely");
    rt.block_on(final_read::read_all(
        &bootstrap,
        TOPIC,
        cfg.partitions,
        &recorder,
        Duration::from_secs(60),
    ))?;
    let ops = history::merge(vec![recorder.snapshot(), python_ops, log.history()]);
    let path = cfg.out_dir.join("history.jsonl");
    history::write_file(&path, &ops)?;
    let report = checker::check(&ops);
    drop(cluster);
    drop(disks);
    Ok(Outcome {
        report,
        faults: log,
        history: path,
        elapsed: started.elapsed(),
    })
}

/// Creates the workload topic (`min.insync.replicas=2` with 3 or more replicas).
async fn create_topic(cfg: &Config, bootstrap: &str) -> Result<(), HarnessError> {
    let admin = Admin::connect(ClientConfig::new(bootstrap)).await?;
    let mut topic = NewTopic::new(TOPIC, cfg.partitions, cfg.replication_factor);
    if cfg.replication_factor >= 3 {
        topic
            .configs
            .push(("min.insync.replicas".into(), "2".into()));
    }
    admin.create_topic(topic).await?;
    Ok(())
}

/// Spawns the Rust producers and consumers on `rt`; they run until `shared.stop`.
fn spawn_workloads(
    rt: &tokio::runtime::Runtime,
    cfg: &Config,
    shared: &Shared,
) -> Vec<tokio::task::JoinHandle<()>> {
    let mut tasks = Vec::new();
    for slot in 0..cfg.idempotent_producers {
        tasks.push(rt.spawn(producer::run(shared.clone(), slot, true)));
    }
    for slot in 0..cfg.plain_producers {
        tasks.push(rt.spawn(producer::run(shared.clone(), slot, false)));
    }
    for slot in 0..cfg.group_consumers {
        let mode = consumer::Mode::Group;
        tasks.push(rt.spawn(consumer::run(shared.clone(), slot, mode, "rs-group".into())));
    }
    for slot in 0..cfg.assign_consumers {
        let mode = consumer::Mode::Assign;
        tasks.push(rt.spawn(consumer::run(shared.clone(), slot, mode, String::new())));
    }
    tasks
}

/// Starts the confluent-kafka workload when `cfg.python` asks for it.
fn start_python(cfg: &Config, bootstrap: &str) -> Result<Option<PythonWorkload>, HarnessError> {
    if !cfg.python {
        return Ok(None);
    }
    let max = cfg.max_duration + Duration::from_secs(120);
    Ok(Some(PythonWorkload::start(
        &cfg.out_dir,
        bootstrap,
        TOPIC,
        cfg.partitions,
        max,
        cfg.python_consumer,
        cfg.transactions,
    )?))
}

/// One line on stderr per healed fault.
fn print_fault(started: Instant, e: &faults::FaultEvent) {
    eprintln!(
        "vltava-faults: [{:>6.1}s] {} on node {} ({:.1}s){}",
        started.elapsed().as_secs_f64(),
        e.kind,
        e.node,
        e.healed.saturating_sub(e.start) as f64 / 1e9,
        e.note
            .as_deref()
            .map(|n| format!(": {n}"))
            .unwrap_or_default()
    );
}
