//! The fault scheduler: on a seeded schedule it injects one fault at a time into a
//! [`TestCluster`] (kill -9 then restart; SIGSTOP past the broker session timeout then
//! SIGCONT; SIGTERM then restart; a network partition of one node's controller links
//! through the [`LinkProxies`]; a full disk on one node through its [`NodeDisks`]), holds
//! it, heals it, and counts what it did. At most one
//! node is faulty at any moment, so a three-node quorum always keeps a majority.

use std::collections::BTreeMap;
use std::fmt;
use std::time::{Duration, Instant};
use vltava_testkit::broker_process::BrokerProcessError;
use vltava_testkit::cluster::TestCluster;
use vltava_testkit::rng::SplitMix64;

use crate::disk::NodeDisks;
use crate::proxy::LinkProxies;

/// A kind of fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum FaultKind {
    /// SIGKILL, a short outage, then a restart on the same data.
    Kill,
    /// SIGSTOP for longer than `broker.session.timeout.ms` (the node is fenced), then SIGCONT.
    Pause,
    /// SIGTERM (controlled shutdown), then a restart.
    Restart,
    /// Every controller link to and from the node cut (black-holed) for longer than the
    /// broker session timeout, then healed; the node keeps running and serving clients.
    Partition,
    /// The node's file system (data and metadata log) filled up for longer than the broker
    /// session timeout, then the space freed; the node keeps running.
    DiskFull,
}

impl FaultKind {
    pub const ALL: [FaultKind; 5] = [
        FaultKind::Kill,
        FaultKind::Pause,
        FaultKind::Restart,
        FaultKind::Partition,
        FaultKind::DiskFull,
    ];

    pub fn name(self) -> &'static str {
        match self {
            FaultKind::Kill => "kill -9 + restart",
            FaultKind::Pause => "SIGSTOP > session timeout + SIGCONT",
            FaultKind::Restart => "SIGTERM + restart",
            FaultKind::Partition => "controller links partitioned > session timeout",
            FaultKind::DiskFull => "disk full > session timeout, then freed",
        }
    }
}

impl fmt::Display for FaultKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// How the scheduler runs.
#[derive(Debug, Clone)]
pub struct Schedule {
    pub seed: u64,
    /// Stop after this many faults...
    pub faults: u64,
    /// ...or once this much time has passed, whichever comes first.
    pub max_duration: Duration,
    /// The kinds to draw from (all, unless narrowed).
    pub kinds: Vec<FaultKind>,
    /// `broker.session.timeout.ms` of the cluster: pauses last longer than this.
    pub session_timeout: Duration,
}

/// One injected fault.
#[derive(Debug, Clone)]
pub struct FaultEvent {
    pub kind: FaultKind,
    pub node: usize,
    /// Wall-clock ns (history time base) when it started and when it was healed.
    pub start: u64,
    pub healed: u64,
    /// Something unexpected on the way (a SIGTERM the node ignored for 30 s).
    pub note: Option<String>,
}

/// What the scheduler did.
#[derive(Debug, Default, Clone)]
pub struct FaultLog {
    pub events: Vec<FaultEvent>,
}

impl FaultLog {
    /// The faults as nemesis operations of the history: an `invoke` when each started and
    /// an `ok` (with any note as `error`) when it was healed.
    pub fn history(&self) -> Vec<crate::history::Op> {
        use crate::history::{Op, OpFn, OpType};
        let mut ops = Vec::new();
        for e in &self.events {
            for (kind, time) in [(OpType::Invoke, e.start), (OpType::Ok, e.healed)] {
                let mut op = Op::new("nemesis", kind, OpFn::Fault);
                op.time = time;
                op.fault = Some(e.kind.name().to_string());
                op.node = i32::try_from(e.node).ok();
                if kind == OpType::Ok {
                    op.error = e.note.clone();
                }
                ops.push(op);
            }
        }
        ops
    }

    /// Faults injected per kind.
    pub fn counts(&self) -> BTreeMap<FaultKind, u64> {
        let mut c = BTreeMap::new();
        for e in &self.events {
            *c.entry(e.kind).or_insert(0) += 1;
        }
        c
    }
}

/// Why the scheduler stopped early.
#[derive(Debug, thiserror::Error)]
pub enum FaultError {
    #[error("fault {kind} on node {node}: {source}")]
    Cluster {
        kind: FaultKind,
        node: usize,
        #[source]
        source: BrokerProcessError,
    },
    #[error("fault {kind} on node {node}: {source}")]
    Disk {
        kind: FaultKind,
        node: usize,
        #[source]
        source: crate::disk::DiskError,
    },
}

/// What the scheduler can reach besides the cluster's processes: the controller link
/// proxies (partitions) and the nodes' file systems (disk full). A kind whose means is
/// missing is not drawn.
#[derive(Debug, Clone, Copy, Default)]
pub struct Means<'a> {
    pub proxies: Option<&'a LinkProxies>,
    pub disks: Option<&'a NodeDisks>,
}

/// Why one injection failed.
enum InjectError {
    Cluster(BrokerProcessError),
    Disk(crate::disk::DiskError),
}

/// Runs the schedule against `cluster`, returning the cluster (every node running) and
/// the log. `stop` ends it early (checked between faults). Without `means.proxies` there
/// are no partitions, without `means.disks` no full disks.
pub fn run(
    cluster: &mut TestCluster,
    means: Means<'_>,
    schedule: &Schedule,
    stop: &std::sync::atomic::AtomicBool,
    mut on_event: impl FnMut(&FaultEvent),
) -> Result<FaultLog, FaultError> {
    let mut rng = SplitMix64::new(schedule.seed);
    let mut log = FaultLog::default();
    let started = Instant::now();
    let mut kinds = if schedule.kinds.is_empty() {
        FaultKind::ALL.to_vec()
    } else {
        schedule.kinds.clone()
    };
    if means.proxies.is_none() {
        kinds.retain(|k| *k != FaultKind::Partition);
    }
    if means.disks.is_none() {
        kinds.retain(|k| *k != FaultKind::DiskFull);
    }
    if kinds.is_empty() {
        return Ok(log);
    }
    while (log.events.len() as u64) < schedule.faults
        && started.elapsed() < schedule.max_duration
        && !stop.load(std::sync::atomic::Ordering::Relaxed)
    {
        std::thread::sleep(rng.millis(500, 1500));
        let kind = kinds[rng.below(kinds.len() as u64) as usize];
        let node = rng.below(cluster.len() as u64) as usize;
        let start = crate::history::now_ns();
        let note = inject(cluster, means, kind, node, schedule, &mut rng).map_err(|e| match e {
            InjectError::Cluster(source) => FaultError::Cluster { kind, node, source },
            InjectError::Disk(source) => FaultError::Disk { kind, node, source },
        })?;
        let event = FaultEvent {
            kind,
            node,
            start,
            healed: crate::history::now_ns(),
            note,
        };
        on_event(&event);
        log.events.push(event);
    }
    Ok(log)
}

fn inject(
    cluster: &mut TestCluster,
    means: Means<'_>,
    kind: FaultKind,
    node: usize,
    schedule: &Schedule,
    rng: &mut SplitMix64,
) -> Result<Option<String>, InjectError> {
    if kind == FaultKind::DiskFull {
        let hold = schedule.session_timeout + rng.millis(500, 2000);
        if let Some(d) = means.disks {
            d.fill(node).map_err(InjectError::Disk)?;
            std::thread::sleep(hold);
            d.free(node).map_err(InjectError::Disk)?;
        }
        return Ok(None);
    }
    inject_process(cluster, means.proxies, kind, node, schedule, rng).map_err(InjectError::Cluster)
}

/// The faults on a node's process or its links.
fn inject_process(
    cluster: &mut TestCluster,
    proxies: Option<&LinkProxies>,
    kind: FaultKind,
    node: usize,
    schedule: &Schedule,
    rng: &mut SplitMix64,
) -> Result<Option<String>, BrokerProcessError> {
    match kind {
        FaultKind::Kill => {
            cluster.kill(node)?;
            std::thread::sleep(rng.millis(200, 2000));
            restart(cluster, node).map(|()| None)
        }
        FaultKind::Pause => {
            cluster.pause(node)?;
            let hold = schedule.session_timeout + rng.millis(500, 2000);
            std::thread::sleep(hold);
            cluster.resume(node).map(|()| None)
        }
        FaultKind::Restart => {
            let mut note = None;
            if let Err(e) = cluster.stop(node, Duration::from_secs(30)) {
                // A controlled shutdown that hangs is worth reporting; the run goes on.
                note = Some(format!("node {node} did not stop on SIGTERM ({e}); killed"));
                cluster.kill(node)?;
            }
            std::thread::sleep(rng.millis(200, 1000));
            restart(cluster, node).map(|()| note)
        }
        FaultKind::Partition => {
            let hold = schedule.session_timeout + rng.millis(500, 2000);
            if let Some(p) = proxies {
                p.isolate(node, true);
                std::thread::sleep(hold);
                p.isolate(node, false);
            }
            Ok(None)
        }
        FaultKind::DiskFull => Ok(None),
    }
}

/// Restarts a node, retrying a start that failed (a port briefly held, a slow quorum).
fn restart(cluster: &mut TestCluster, node: usize) -> Result<(), BrokerProcessError> {
    let mut last = None;
    for _ in 0..3 {
        match cluster.restart(node) {
            Ok(()) => return Ok(()),
            Err(e) => {
                eprintln!("vltava-faults: restarting node {node} failed ({e}); retrying");
                last = Some(e);
                std::thread::sleep(Duration::from_secs(1));
            }
        }
    }
    Err(last.unwrap_or(BrokerProcessError::Timeout("restart", Duration::ZERO)))
}
