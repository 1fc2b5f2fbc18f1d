//! Three voters in one process: `RaftNode`s driven by a seeded simulation (ticks, message
//! delivery with random drops, crashes and restarts from disk), and `Controller`s over the
//! in-memory tokio network.

#![allow(clippy::unwrap_used)]

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use raft::eraftpb::Message;
use vltava_protocol::messages::CreateTopicsRequest;
use vltava_protocol::messages::create_topics_request::CreatableTopic;
use vltava_raft::controller::{self, SequentialIds};
use vltava_raft::node::RaftNode;
use vltava_raft::{Controller, InMemoryNetwork, QuorumConfig, TopicDefaults, Voter};

use crate::support::{start_voters, temp_dir};

fn config(id: i32, base: &Path) -> QuorumConfig {
    let mut cfg = QuorumConfig::single_node(id, base.join(format!("node-{id}")), "multi");
    cfg.voters = (1..=3)
        .map(|v| Voter {
            id: v,
            addr: SocketAddr::from(([127, 0, 0, 1], 19090 + v as u16)),
        })
        .collect();
    cfg.tick_interval = Duration::from_millis(10);
    cfg.snapshot_every_entries = 5;
    cfg
}

/// xorshift64*: a tiny deterministic generator for the simulation.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

struct Sim {
    base: PathBuf,
    nodes: Vec<Option<RaftNode>>,
    wire: VecDeque<Message>,
    rng: Rng,
    drop_percent: u64,
}

impl Sim {
    fn new(name: &str, seed: u64, drop_percent: u64) -> Sim {
        let base = temp_dir(name);
        let nodes = (1..=3)
            .map(|id| Some(RaftNode::open(&config(id, &base)).unwrap()))
            .collect();
        Sim {
            base,
            nodes,
            wire: VecDeque::new(),
            rng: Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1),
            drop_percent,
        }
    }

    fn node(&mut self, id: i32) -> &mut RaftNode {
        self.nodes[(id - 1) as usize].as_mut().unwrap()
    }

    /// One round: every live node ticks and handles ready; the wire is delivered (with drops).
    fn step(&mut self) {
        for n in self.nodes.iter_mut().flatten() {
            n.tick();
        }
        let wire: Vec<Message> = self.wire.drain(..).collect();
        for m in wire {
            if self.rng.chance(self.drop_percent) {
                continue;
            }
            // Raft ids are node id + 1; node n sits at index n - 1.
            let to = (m.to - 2) as usize;
            if let Some(n) = self.nodes.get_mut(to).and_then(|n| n.as_mut()) {
                let _ = n.step(m);
            }
        }
        for n in self.nodes.iter_mut().flatten() {
            let out = n.handle_ready().unwrap();
            self.wire.extend(out.messages);
        }
    }

    fn leader(&self) -> Option<i32> {
        self.nodes
            .iter()
            .flatten()
            .find(|n| n.is_leader())
            .map(|n| n.node_id())
    }

    fn run_until(&mut self, max_rounds: usize, mut done: impl FnMut(&Sim) -> bool) -> bool {
        for _ in 0..max_rounds {
            if done(self) {
                return true;
            }
            self.step();
        }
        done(self)
    }

    /// Proposes creating `name` on the current leader (retrying across leader changes) and
    /// runs until every live node has applied it.
    fn create_topic(&mut self, name: &str, ids: &mut SequentialIds) {
        for _ in 0..50 {
            assert!(self.run_until(2000, |s| s.leader().is_some()), "no leader");
            let leader = self.leader().unwrap();
            let node = self.node(leader);
            let req = CreateTopicsRequest {
                topics: vec![CreatableTopic {
                    name: name.into(),
                    num_partitions: 2,
                    replication_factor: -1,
                    ..Default::default()
                }],
                ..Default::default()
            };
            let (resp, records) =
                controller::create_topics(node.image(), &req, 7, &TopicDefaults::default(), ids);
            if resp.topics[0].error_code == 36 {
                return;
            }
            assert_eq!(resp.topics[0].error_code, 0, "{resp:?}");
            node.propose(&records).unwrap();
            let all = |s: &Sim| {
                s.nodes
                    .iter()
                    .flatten()
                    .all(|n| n.image().topics.contains_key(name))
            };
            if self.run_until(3000, all) {
                return;
            }
        }
        panic!("topic {name} never committed everywhere");
    }

    fn assert_images_equal(&self) {
        let images: Vec<_> = self
            .nodes
            .iter()
            .flatten()
            .map(|n| n.image().clone())
            .collect();
        for im in &images[1..] {
            assert_eq!(im.topics, images[0].topics);
            assert_eq!(im.brokers, images[0].brokers);
            assert_eq!(im.configs, images[0].configs);
        }
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        self.nodes.clear();
        let _ = std::fs::remove_dir_all(&self.base);
    }
}

fn register_all(sim: &mut Sim) {
    assert!(sim.run_until(2000, |s| s.leader().is_some()));
    let leader = sim.leader().unwrap();
    let node = sim.node(leader);
    let mut records = Vec::new();
    let mut image = node.image().clone();
    for id in 1..=3 {
        let r = controller::register_broker(&image, id, "h", 9090 + id, None);
        vltava_raft::apply::apply_record(&mut image, &r);
        records.push(r);
    }
    node.propose(&records).unwrap();
    assert!(sim.run_until(3000, |s| {
        s.nodes
            .iter()
            .flatten()
            .all(|n| n.image().brokers.len() == 3)
    }));
}

#[test]
fn three_voters_elect_a_leader_and_commit_a_topic() {
    let mut sim = Sim::new("basic", 1, 0);
    register_all(&mut sim);
    let mut ids = SequentialIds::default();
    sim.create_topic("orders", &mut ids);
    sim.assert_images_equal();
    let leader = sim.leader().unwrap();
    for n in sim.nodes.iter().flatten() {
        assert_eq!(n.image().controller_id, leader);
        assert_eq!(n.image().topics["orders"].partitions.len(), 2);
    }
}

#[test]
fn seeded_message_drops_still_converge() {
    for seed in 0..16u64 {
        let mut sim = Sim::new(&format!("drops{seed}"), seed, 20);
        register_all(&mut sim);
        let mut ids = SequentialIds::default();
        for i in 0..4 {
            sim.create_topic(&format!("t{i}"), &mut ids);
        }
        // Let followers catch up fully, then compare.
        sim.drop_percent = 0;
        for _ in 0..200 {
            sim.step();
        }
        sim.assert_images_equal();
        for n in sim.nodes.iter().flatten() {
            assert_eq!(n.image().topics.len(), 4, "seed {seed}");
        }
    }
}

#[test]
fn leader_crash_new_leader_and_restarted_node_catches_up_via_snapshot() {
    let mut sim = Sim::new("crash", 7, 0);
    register_all(&mut sim);
    let mut ids = SequentialIds::default();
    sim.create_topic("before", &mut ids);
    let old = sim.leader().unwrap();
    // Crash the leader (drop its in-memory state; only its dir remains).
    sim.nodes[(old - 1) as usize] = None;
    sim.wire.clear();
    assert!(sim.run_until(5000, |s| s.leader().is_some_and(|l| l != old)));
    // Enough entries that the survivors snapshot and compact (every 5 entries).
    for i in 0..8 {
        sim.create_topic(&format!("after{i}"), &mut ids);
    }
    // Restart the crashed node from its dir.
    let base = sim.base.clone();
    sim.nodes[(old - 1) as usize] = Some(RaftNode::open(&config(old, &base)).unwrap());
    assert!(sim.run_until(5000, |s| {
        s.nodes
            .iter()
            .flatten()
            .all(|n| n.image().topics.len() == 9)
    }));
    sim.assert_images_equal();
}

#[tokio::test]
async fn three_controllers_over_the_in_memory_network() {
    let base = temp_dir("tokio");
    let net = InMemoryNetwork::new();
    let mut controllers = Vec::new();
    for id in 1..=3 {
        let (transport, inbox) = net.join(id);
        let c = Controller::start_with_transport(config(id, &base), transport, inbox, None)
            .await
            .unwrap();
        controllers.push(c);
    }
    let mut rx = controllers[0].subscribe();
    let leader = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            let l = rx.borrow_and_update().controller_id;
            if l > 0 {
                return l;
            }
            rx.changed().await.unwrap();
        }
    })
    .await
    .unwrap();
    let lc = &controllers[(leader - 1) as usize];
    let follower = &controllers[(leader % 3) as usize];
    // A follower is not the controller.
    assert!(follower.allocate_producer_ids(0).await.is_err());
    for id in 1..=3 {
        lc.register_broker(id, "h".into(), 9090 + id, None)
            .await
            .unwrap();
    }
    let resp = lc
        .create_topics(
            CreateTopicsRequest {
                topics: vec![CreatableTopic {
                    name: "replicated".into(),
                    num_partitions: 3,
                    replication_factor: 3,
                    ..Default::default()
                }],
                ..Default::default()
            },
            7,
            &TopicDefaults::default(),
        )
        .await;
    assert_eq!(resp.topics[0].error_code, 0, "{resp:?}");
    for c in &controllers {
        let mut rx = c.subscribe();
        tokio::time::timeout(Duration::from_secs(20), async {
            while !rx.borrow_and_update().topics.contains_key("replicated") {
                rx.changed().await.unwrap();
            }
        })
        .await
        .unwrap();
        let image = c.image();
        assert_eq!(image.topics["replicated"].id, resp.topics[0].topic_id);
        assert_eq!(image.topics["replicated"].partitions[&0].replicas.len(), 3);
    }
    // DescribeQuorum: only the leader answers; once the followers have acknowledged the
    // leader's whole log, every voter shows the high watermark and both timestamps.
    assert!(matches!(
        follower.describe_quorum().await,
        Err(vltava_raft::RaftError::NotController)
    ));
    let status = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            let s = lc.describe_quorum().await.unwrap();
            if s.voters
                .iter()
                .all(|v| v.log_end_offset == s.high_watermark && v.last_caught_up_timestamp > 0)
            {
                return s;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .unwrap();
    assert_eq!(status.leader_id, leader);
    assert!(status.leader_epoch >= 1);
    assert!(status.high_watermark >= lc.image().offset, "{status:?}");
    let ids: Vec<i32> = status.voters.iter().map(|v| v.replica_id).collect();
    assert_eq!(ids, vec![1, 2, 3]);
    assert_eq!(status.voter_endpoints.len(), 3);
    for v in &status.voters {
        assert!(
            v.last_fetch_timestamp >= v.last_caught_up_timestamp,
            "{v:?}"
        );
    }
    for c in controllers {
        c.shutdown().await;
    }
    std::fs::remove_dir_all(&base).unwrap();
}

#[tokio::test]
async fn three_controllers_over_tcp() {
    let base = temp_dir("tcp");
    let (controllers, _) = start_voters(3, |id| config(id, &base)).await;
    let mut rx = controllers[0].subscribe();
    let leader = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            let l = rx.borrow_and_update().controller_id;
            if l > 0 {
                return l;
            }
            rx.changed().await.unwrap();
        }
    })
    .await
    .unwrap();
    let lc = &controllers[(leader - 1) as usize];
    for id in 1..=3 {
        lc.register_broker(id, "h".into(), 9090 + id, None)
            .await
            .unwrap();
    }
    let resp = lc
        .create_topics(
            CreateTopicsRequest {
                topics: vec![CreatableTopic {
                    name: "over-tcp".into(),
                    num_partitions: 2,
                    replication_factor: 3,
                    ..Default::default()
                }],
                ..Default::default()
            },
            7,
            &TopicDefaults::default(),
        )
        .await;
    assert_eq!(resp.topics[0].error_code, 0, "{resp:?}");
    for c in &controllers {
        let mut rx = c.subscribe();
        tokio::time::timeout(Duration::from_secs(20), async {
            while !rx.borrow_and_update().topics.contains_key("over-tcp") {
                rx.changed().await.unwrap();
            }
        })
        .await
        .unwrap();
    }
    for c in controllers {
        c.shutdown().await;
    }
    std::fs::remove_dir_all(&base).unwrap();
}

async fn wait_for_leader(c: &Controller, not: i32) -> i32 {
    let mut rx = c.subscribe();
    tokio::time::timeout(Duration::from_secs(60), async {
        loop {
            let l = rx.borrow_and_update().controller_id;
            if l > 0 && l != not {
                return l;
            }
            rx.changed().await.unwrap();
        }
    })
    .await
    .unwrap()
}

#[tokio::test(start_paused = true)]
async fn isolated_leader_times_out_and_follower_says_not_controller() {
    let base = temp_dir("isolate");
    let net = InMemoryNetwork::new();
    let mut controllers = Vec::new();
    for id in 1..=3 {
        let (transport, inbox) = net.join(id);
        let mut cfg = config(id, &base);
        cfg.proposal_timeout = Duration::from_secs(5);
        controllers.push(
            Controller::start_with_transport(cfg, transport, inbox, None)
                .await
                .unwrap(),
        );
    }
    let leader = wait_for_leader(&controllers[0], -1).await;
    let lc = controllers[(leader - 1) as usize].clone();
    for id in 1..=3 {
        lc.register_broker(id, "h".into(), 9090 + id, None)
            .await
            .unwrap();
    }
    let create = |name: &str| CreateTopicsRequest {
        topics: vec![CreatableTopic {
            name: name.into(),
            num_partitions: 1,
            replication_factor: -1,
            ..Default::default()
        }],
        ..Default::default()
    };
    // A follower answers NOT_CONTROLLER.
    let follower = &controllers[(leader % 3) as usize];
    let resp = follower
        .create_topics(create("via-follower"), 7, &TopicDefaults::default())
        .await;
    assert_eq!(resp.topics[0].error_code, 41);

    // Cut the leader off: its proposal cannot commit and times out.
    net.isolate(leader, true);
    let resp = lc
        .create_topics(create("lost"), 7, &TopicDefaults::default())
        .await;
    assert_eq!(resp.topics[0].error_code, 7, "{resp:?}");

    // The others elect a new leader and go on.
    let other = &controllers[(leader % 3) as usize];
    let new_leader = wait_for_leader(other, leader).await;
    let nc = &controllers[(new_leader - 1) as usize];
    let resp = nc
        .create_topics(create("kept"), 7, &TopicDefaults::default())
        .await;
    assert_eq!(resp.topics[0].error_code, 0);

    // Healed, the old leader drops its uncommitted entry and converges.
    net.isolate(leader, false);
    let mut rx = lc.subscribe();
    tokio::time::timeout(Duration::from_secs(60), async {
        while !rx.borrow_and_update().topics.contains_key("kept") {
            rx.changed().await.unwrap();
        }
    })
    .await
    .unwrap();
    for c in &controllers {
        let image = c.image();
        assert!(!image.topics.contains_key("lost"));
    }
    for c in controllers {
        c.shutdown().await;
    }
    std::fs::remove_dir_all(&base).unwrap();
}
