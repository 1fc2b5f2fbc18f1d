//! [`TestCluster`]: N `vltava` processes forming one KRaft-style cluster on `127.0.0.1`, for
//! tests (ours and other projects'), without Docker: every node combined broker+controller,
//! or each with its own [`NodeRole`] (controller-only voters and broker-only observers, as
//! KRaft deployments split them), with fixed ports, data directories formatted with one
//! cluster id (`vltava storage format`),
//! started together, and then killed (`SIGKILL`), paused (`SIGSTOP`), resumed, stopped
//! (`SIGTERM`) or restarted on the same directory one at a time. Dropping the cluster kills
//! every node and removes the directories.
//!
//! ```no_run
//! use vltava_testkit::cluster::TestCluster;
//! let mut cluster = TestCluster::start(3).expect("cluster");
//! println!("bootstrap servers {}", cluster.bootstrap());
//! cluster.kill(0).expect("kill node 0");
//! cluster.restart(0).expect("node 0 back");
//!
//! // Split roles: one controller-only voter (node 0) and two broker-only nodes (1, 2).
//! use vltava_testkit::cluster::NodeRole;
//! let split = TestCluster::start_roles(
//!     &[NodeRole::Controller, NodeRole::Broker, NodeRole::Broker],
//!     None,
//!     &[],
//! )
//! .expect("cluster");
//! assert_eq!(split.brokers(), vec![1, 2]);
//! ```

use std::io::{BufRead, BufReader};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::broker_process::{BrokerProcessError, STARTUP_LIMIT, broker_bin};
use crate::ports::PortReservation;

/// The line `vltava server start` prints once its listener accepts connections.
const LISTENING_PREFIX: &str = "vltava: listening on ";
/// Most nodes one cluster may have.
pub const MAX_NODES: usize = 9;

fn io_error(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> BrokerProcessError {
    let what = what.into();
    move |source| BrokerProcessError::Io { what, source }
}

/// What one node of a [`TestCluster`] runs (`process.roles`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeRole {
    /// `broker,controller`: a voter and a broker.
    Combined,
    /// `controller`: a voter only (no client listener).
    Controller,
    /// `broker`: a broker following the metadata log as an observer.
    Broker,
}

impl NodeRole {
    fn process_roles(self) -> &'static str {
        match self {
            NodeRole::Combined => "broker,controller",
            NodeRole::Controller => "controller",
            NodeRole::Broker => "broker",
        }
    }

    /// Whether the node serves clients.
    pub fn is_broker(self) -> bool {
        self != NodeRole::Controller
    }

    /// Whether the node is a voter of the metadata quorum.
    pub fn is_controller(self) -> bool {
        self != NodeRole::Broker
    }
}

/// One node of a [`TestCluster`].
#[derive(Debug)]
struct ClusterNode {
    id: i32,
    role: NodeRole,
    client_port: u16,
    controller_port: u16,
    config: PathBuf,
    stderr: PathBuf,
    /// Command and arguments the node's processes run under (`nsenter ... --`), or none.
    prefix: Vec<String>,
    child: Option<Child>,
}

/// A running cluster of `vltava` processes.
#[derive(Debug)]
pub struct TestCluster {
    bin: PathBuf,
    dir: PathBuf,
    cluster_id: String,
    nodes: Vec<ClusterNode>,
}

/// `bin` as a command, run under `prefix` (a command and its arguments) when there is one.
fn command(prefix: &[String], bin: &Path) -> Command {
    match prefix.split_first() {
        Some((program, args)) => {
            let mut c = Command::new(program);
            c.args(args).arg(bin);
            c
        }
        None => Command::new(bin),
    }
}

impl TestCluster {
    /// Starts `n` combined nodes (ids 0..n) with [`broker_bin`] and default settings.
    pub fn start(n: usize) -> Result<TestCluster, BrokerProcessError> {
        Self::start_with(n, None, &[])
    }

    /// Starts `n` combined nodes of `bin` (default [`broker_bin`]) with extra `key=value`
    /// properties for every node.
    pub fn start_with(
        n: usize,
        bin: Option<&Path>,
        properties: &[&str],
    ) -> Result<TestCluster, BrokerProcessError> {
        let n = n.clamp(1, MAX_NODES);
        Self::start_roles(&vec![NodeRole::Combined; n], bin, properties)
    }

    /// Starts one node per entry of `roles` (node ids 0.., in that order; the voters are the
    /// nodes with the controller role, at least one) of `bin` (default [`broker_bin`]) with
    /// extra `key=value` properties for every node.
    pub fn start_roles(
        roles: &[NodeRole],
        bin: Option<&Path>,
        properties: &[&str],
    ) -> Result<TestCluster, BrokerProcessError> {
        let voters = |_: usize, ports: &[u16]| {
            ports
                .iter()
                .enumerate()
                .filter(|(j, _)| roles.get(*j).is_some_and(|r| r.is_controller()))
                .map(|(j, port)| format!("{j}@127.0.0.1:{port}"))
                .collect::<Vec<_>>()
                .join(",")
        };
        Self::start_planned(roles, bin, properties, None, voters, |_, _| Ok(Vec::new()))
    }

    /// As [`TestCluster::start_with`] (combined nodes), with node `i`'s
    /// `controller.quorum.voters` given by `voters(i, controller_ports)` (to put a fault
    /// proxy between controllers).
    pub fn start_with_voters(
        n: usize,
        bin: Option<&Path>,
        properties: &[&str],
        voters: impl Fn(usize, &[u16]) -> String,
    ) -> Result<TestCluster, BrokerProcessError> {
        Self::start_with_voters_and_prefix(n, bin, properties, voters, |_, _| Ok(Vec::new()))
    }

    /// As [`TestCluster::start_with_voters`], with every process of node `i` (its
    /// `storage format` and each start) run under the command `prefix(i, data_dir)`
    /// returns (for example `nsenter -t PID -m --`, to put its data dir on a file system of
    /// a mount namespace the caller made); `prefix` is called once per node, after the
    /// node's directory exists and before anything is written to `data_dir`.
    pub fn start_with_voters_and_prefix(
        n: usize,
        bin: Option<&Path>,
        properties: &[&str],
        voters: impl Fn(usize, &[u16]) -> String,
        prefix: impl FnMut(usize, &Path) -> Result<Vec<String>, BrokerProcessError>,
    ) -> Result<TestCluster, BrokerProcessError> {
        let n = n.clamp(1, MAX_NODES);
        Self::start_planned(
            &vec![NodeRole::Combined; n],
            bin,
            properties,
            None,
            voters,
            prefix,
        )
    }

    /// As [`TestCluster::start_with`] (combined nodes), each node with one more listener,
    /// named `listener` (a security protocol's name, such as `SASL_SSL`, so it needs no
    /// `listener.security.protocol.map`), on a port of its own, advertised after
    /// PLAINTEXT (which [`TestCluster::addr`] still names). `properties` set its security
    /// and, for example, `inter.broker.listener.name`.
    pub fn start_with_listener(
        n: usize,
        bin: Option<&Path>,
        properties: &[&str],
        listener: &str,
    ) -> Result<TestCluster, BrokerProcessError> {
        let n = n.clamp(1, MAX_NODES);
        let voters = |_: usize, ports: &[u16]| {
            ports
                .iter()
                .enumerate()
                .map(|(j, port)| format!("{j}@127.0.0.1:{port}"))
                .collect::<Vec<_>>()
                .join(",")
        };
        Self::start_planned(
            &vec![NodeRole::Combined; n],
            bin,
            properties,
            Some(listener),
            voters,
            |_, _| Ok(Vec::new()),
        )
    }

    /// Starts one node per entry of `roles`, node `i`'s voters given by
    /// `voters(i, every node's controller port)`, its processes run under
    /// `prefix(i, its data dir)`.
    fn start_planned(
        roles: &[NodeRole],
        bin: Option<&Path>,
        properties: &[&str],
        extra_listener: Option<&str>,
        voters: impl Fn(usize, &[u16]) -> String,
        mut prefix: impl FnMut(usize, &Path) -> Result<Vec<String>, BrokerProcessError>,
    ) -> Result<TestCluster, BrokerProcessError> {
        let roles = &roles[..roles.len().min(MAX_NODES)];
        if !roles.iter().any(|r| r.is_controller()) || !roles.iter().any(|r| r.is_broker()) {
            return Err(BrokerProcessError::Io {
                what: "planning a cluster".into(),
                source: std::io::Error::other("a cluster needs a controller and a broker"),
            });
        }
        let bin = match bin {
            Some(b) if b.exists() => b.to_path_buf(),
            Some(b) => return Err(BrokerProcessError::MissingBinary(b.to_path_buf())),
            None => broker_bin()?,
        };
        let n = roles.len();
        let dir = crate::temp_dir("cluster").map_err(io_error("creating a temp dir"))?;
        // Held until every node's config is written, released just before they start.
        let mut reservation = PortReservation::default();
        let mut ports = Vec::new();
        let mut extra_ports = Vec::new();
        for _ in 0..n {
            let client = reservation.take().map_err(io_error("reserving a port"))?;
            let controller = reservation.take().map_err(io_error("reserving a port"))?;
            ports.push((client, controller));
            if extra_listener.is_some() {
                extra_ports.push(reservation.take().map_err(io_error("reserving a port"))?);
            }
        }
        let controller_ports: Vec<u16> = ports.iter().map(|(_, c)| *c).collect();
        let cluster_id = "vltava-test-cluster-id".to_string();
        let mut nodes = Vec::new();
        for (i, (client, controller)) in ports.iter().enumerate() {
            let node_dir = dir.join(format!("node-{i}"));
            std::fs::create_dir_all(&node_dir).map_err(io_error("creating a node dir"))?;
            let data_dir = node_dir.join("data");
            let node_prefix = prefix(i, &data_dir)?;
            let role = roles[i];
            let extra = match (extra_listener, extra_ports.get(i)) {
                (Some(name), Some(port)) => format!(",{name}://127.0.0.1:{port}"),
                _ => String::new(),
            };
            let listeners = match role {
                NodeRole::Combined => format!(
                    "listeners=PLAINTEXT://127.0.0.1:{client}{extra},CONTROLLER://127.0.0.1:{controller}\n\
                     advertised.listeners=PLAINTEXT://127.0.0.1:{client}{extra}\n"
                ),
                NodeRole::Controller => format!("listeners=CONTROLLER://127.0.0.1:{controller}\n"),
                NodeRole::Broker => format!(
                    "listeners=PLAINTEXT://127.0.0.1:{client}\n\
                     advertised.listeners=PLAINTEXT://127.0.0.1:{client}\n"
                ),
            };
            let mut text = format!(
                "process.roles={}\n\
                 node.id={i}\n\
                 {listeners}\
                 controller.listener.names=CONTROLLER\n\
                 controller.quorum.voters={}\n\
                 log.dirs={}\n\
                 broker.session.timeout.ms=3000\n\
                 broker.heartbeat.interval.ms=500\n\
                 group.initial.rebalance.delay.ms=0\n",
                role.process_roles(),
                voters(i, &controller_ports),
                data_dir.display()
            );
            for p in properties {
                text.push_str(p);
                text.push('\n');
            }
            let config = node_dir.join("server.properties");
            std::fs::write(&config, text).map_err(io_error("writing server.properties"))?;
            let status = command(&node_prefix, &bin)
                .args(["storage", "format", "-t", &cluster_id, "-c"])
                .arg(&config)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .map_err(io_error("running vltava storage format"))?;
            if !status.success() {
                return Err(BrokerProcessError::Io {
                    what: "vltava storage format".into(),
                    source: std::io::Error::other(format!("exited with {status}")),
                });
            }
            nodes.push(ClusterNode {
                id: i as i32,
                role,
                client_port: *client,
                controller_port: *controller,
                config,
                stderr: node_dir.join("stderr.log"),
                prefix: node_prefix,
                child: None,
            });
        }
        let mut cluster = TestCluster {
            bin,
            dir,
            cluster_id,
            nodes,
        };
        // Every node at once: none can register before a quorum of them runs.
        let mut waits = Vec::new();
        reservation.release();
        for i in 0..n {
            waits.push(cluster.spawn(i)?);
        }
        for (i, rx) in waits.into_iter().enumerate() {
            cluster.wait_ready(i, rx)?;
        }
        Ok(cluster)
    }

    /// The cluster id every node was formatted with.
    pub fn cluster_id(&self) -> &str {
        &self.cluster_id
    }

    /// Number of nodes (running or not).
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Whether the cluster has no nodes (never, once started).
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// `host:port` of node `i`'s client listener (a controller-only node has none: its
    /// controller listener).
    pub fn addr(&self, i: usize) -> String {
        let n = &self.nodes[i];
        let port = if n.role.is_broker() {
            n.client_port
        } else {
            n.controller_port
        };
        format!("127.0.0.1:{port}")
    }

    /// `host:port` of node `i`'s controller listener (where a voter takes raft messages and
    /// the controller channel); unused on a broker-only node.
    pub fn controller_addr(&self, i: usize) -> String {
        format!("127.0.0.1:{}", self.nodes[i].controller_port)
    }

    /// Node `i`'s role.
    pub fn role(&self, i: usize) -> NodeRole {
        self.nodes[i].role
    }

    /// The indices of the nodes that serve clients.
    pub fn brokers(&self) -> Vec<usize> {
        (0..self.nodes.len())
            .filter(|i| self.nodes[*i].role.is_broker())
            .collect()
    }

    /// The indices of the voters.
    pub fn controllers(&self) -> Vec<usize> {
        (0..self.nodes.len())
            .filter(|i| self.nodes[*i].role.is_controller())
            .collect()
    }

    /// The client listeners of every broker, comma-separated (a bootstrap server list).
    pub fn bootstrap(&self) -> String {
        self.brokers()
            .into_iter()
            .map(|i| self.addr(i))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Node `i`'s `server.properties`.
    pub fn config_path(&self, i: usize) -> &Path {
        &self.nodes[i].config
    }

    /// Node `i`'s process id, while it runs.
    pub fn pid(&self, i: usize) -> Option<u32> {
        self.nodes[i].child.as_ref().map(Child::id)
    }

    fn signal(&self, i: usize, signal: &str) -> Result<(), BrokerProcessError> {
        let Some(pid) = self.pid(i) else {
            return Err(BrokerProcessError::Io {
                what: format!("signalling node {i}"),
                source: std::io::Error::other("not running"),
            });
        };
        let status = Command::new("kill")
            .args([signal, &pid.to_string()])
            .status()
            .map_err(io_error(format!("kill {signal}")))?;
        if status.success() {
            Ok(())
        } else {
            Err(BrokerProcessError::Io {
                what: format!("kill {signal} {pid}"),
                source: std::io::Error::other(format!("exited with {status}")),
            })
        }
    }

    /// Kills node `i` with SIGKILL (no controlled shutdown, no flush) and reaps it.
    pub fn kill(&mut self, i: usize) -> Result<(), BrokerProcessError> {
        if let Some(mut child) = self.nodes[i].child.take() {
            child.kill().map_err(io_error("killing a node"))?;
            child.wait().map_err(io_error("reaping a node"))?;
        }
        Ok(())
    }

    /// Stops node `i` with SIGTERM (controlled shutdown) and waits up to `limit`.
    pub fn stop(&mut self, i: usize, limit: Duration) -> Result<(), BrokerProcessError> {
        self.signal(i, "-TERM")?;
        let deadline = Instant::now() + limit;
        if let Some(child) = self.nodes[i].child.as_mut() {
            loop {
                if child.try_wait().map_err(io_error("waiting"))?.is_some() {
                    break;
                }
                if Instant::now() > deadline {
                    return Err(BrokerProcessError::Timeout("stop on SIGTERM", limit));
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        self.nodes[i].child = None;
        Ok(())
    }

    /// Freezes node `i` (SIGSTOP): it holds its sockets but answers nothing.
    pub fn pause(&self, i: usize) -> Result<(), BrokerProcessError> {
        self.signal(i, "-STOP")
    }

    /// Lets a paused node `i` run again (SIGCONT).
    pub fn resume(&self, i: usize) -> Result<(), BrokerProcessError> {
        self.signal(i, "-CONT")
    }

    /// Starts node `i` again on its directory and ports (after kill or stop) and waits until
    /// it listens.
    pub fn restart(&mut self, i: usize) -> Result<(), BrokerProcessError> {
        self.kill(i)?;
        let rx = self.spawn(i)?;
        self.wait_ready(i, rx)
    }

    fn spawn(&mut self, i: usize) -> Result<mpsc::Receiver<()>, BrokerProcessError> {
        let node = &mut self.nodes[i];
        let stderr = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&node.stderr)
            .map_err(io_error("opening a node's stderr log"))?;
        let mut child = command(&node.prefix, &self.bin)
            .args(["server", "start", "-c"])
            .arg(&node.config)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .map_err(io_error(format!("spawning node {}", node.id)))?;
        let stdout = child.stdout.take().ok_or_else(|| BrokerProcessError::Io {
            what: "taking a node's stdout".into(),
            source: std::io::Error::other("no pipe"),
        })?;
        node.child = Some(child);
        let (tx, rx) = mpsc::channel();
        // Drains stdout for the node's whole life, so it never blocks on a full pipe.
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { return };
                if line.starts_with(LISTENING_PREFIX) {
                    let _ = tx.send(());
                }
            }
        });
        Ok(rx)
    }

    fn wait_ready(&mut self, i: usize, rx: mpsc::Receiver<()>) -> Result<(), BrokerProcessError> {
        // A cluster start waits for a quorum and registration: allow twice a single node's.
        let limit = STARTUP_LIMIT * 2;
        let deadline = Instant::now() + limit;
        loop {
            match rx.recv_timeout(Duration::from_millis(100)) {
                Ok(()) => break,
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    std::thread::sleep(Duration::from_millis(100));
                }
            }
            if let Some(child) = self.nodes[i].child.as_mut() {
                if let Some(status) = child.try_wait().map_err(io_error("waiting"))? {
                    self.nodes[i].child = None;
                    return Err(BrokerProcessError::ExitedEarly {
                        status,
                        stderr: std::fs::read_to_string(&self.nodes[i].stderr).unwrap_or_default(),
                    });
                }
            }
            if Instant::now() > deadline {
                return Err(BrokerProcessError::Timeout("start", limit));
            }
        }
        TcpStream::connect(self.addr(i)).map_err(io_error("connecting to a started node"))?;
        Ok(())
    }
}

/// Kills every node and removes the cluster's directory, unless `VLTAVA_KEEP_CLUSTER` is set
/// (then it stays, with each node's `stderr.log` and data, for a post-mortem).
impl Drop for TestCluster {
    fn drop(&mut self) {
        for i in 0..self.nodes.len() {
            let _ = self.kill(i);
        }
        if std::env::var_os("VLTAVA_KEEP_CLUSTER").is_none() {
            let _ = std::fs::remove_dir_all(&self.dir);
        } else {
            eprintln!("cluster kept in {}", self.dir.display());
        }
    }
}
