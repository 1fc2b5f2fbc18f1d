//! Follower fetchers: one tokio task per leader broker this broker follows
//! partitions of (started and stopped by a supervisor as leadership changes).
//! Each sends full (sessionless) Fetch requests as a replica — `ReplicaState`
//! (v15+, with this broker's epoch: KIP-903) or `ReplicaId` with this broker's
//! id — for its partitions at their
//! fetch positions (log end, current leader epoch, last fetched epoch), and
//! hands every partition of the answer to the replica manager, which appends
//! the batches with their offsets, truncates on a diverging epoch and takes the
//! leader's high watermark.

use std::collections::HashMap;
use std::sync::{Arc, Weak};
use std::time::Duration;

use tokio::task::JoinHandle;
use vltava_client::config::ClientConfig;
use vltava_client::connection::Connection;
use vltava_protocol::ApiKey;
use vltava_protocol::messages::FetchRequest;
use vltava_protocol::messages::fetch_request::{FetchPartition, FetchTopic, ReplicaState};

use crate::broker::Broker;
use crate::replica_manager::follower::{FollowOutcome, FollowTarget};

/// Pause after a partition-level error (a leader whose metadata is behind, a
/// fenced epoch): short, since the fix is usually the next metadata image.
const PARTITION_ERROR_BACKOFF: Duration = Duration::from_millis(50);

/// Fetched records this broker could not append (its log offline), logged at most once a
/// second.
static APPLY_FAILURES: crate::resources::LogLimiter = crate::resources::LogLimiter::new();

/// How often the supervisor looks at leadership even without a change signal.
const SUPERVISE_INTERVAL: Duration = Duration::from_secs(1);

/// Starts the supervisor of the follower fetchers.
pub fn spawn(broker: &Arc<Broker>) -> JoinHandle<()> {
    let weak = Arc::downgrade(broker);
    let mut changes = broker.replicas.subscribe_leaders();
    tokio::spawn(async move {
        let mut tasks: HashMap<i32, JoinHandle<()>> = HashMap::new();
        loop {
            let Some(b) = weak.upgrade() else { break };
            let wanted = b.replicas.leaders_to_follow();
            drop(b);
            tasks.retain(|leader, task| {
                let keep = wanted.contains(leader) && !task.is_finished();
                if !keep {
                    task.abort();
                }
                keep
            });
            for leader in wanted {
                tasks
                    .entry(leader)
                    .or_insert_with(|| tokio::spawn(fetch_loop(weak.clone(), leader)));
            }
            tokio::select! {
                r = changes.changed() => if r.is_err() { break },
                _ = tokio::time::sleep(SUPERVISE_INTERVAL) => {}
            }
        }
        for task in tasks.values() {
            task.abort();
        }
    })
}

/// Newest Fetch version the fetchers send (the codec's newest).
const MAX_FETCH_VERSION: i16 = 17;

/// The Fetch request for `targets` at `version`, as this broker's replica id:
/// `ReplicaState` from v15, `ReplicaId` before; topic ids from v13, names before.
fn fetch_request(b: &Broker, targets: &[FollowTarget], version: i16) -> FetchRequest {
    let c = &b.config;
    let mut topics: Vec<FetchTopic> = Vec::new();
    for t in targets {
        let partition = FetchPartition {
            partition: t.partition,
            current_leader_epoch: t.position.current_leader_epoch,
            fetch_offset: i64::try_from(t.position.fetch_offset).unwrap_or(i64::MAX),
            last_fetched_epoch: t.position.last_fetched_epoch.unwrap_or(-1),
            log_start_offset: -1,
            partition_max_bytes: c.replica_fetch_max_bytes,
            ..Default::default()
        };
        match topics.last_mut() {
            Some(last) if last.topic_id == t.topic_id && last.topic.as_str() == t.topic => {
                last.partitions.push(partition)
            }
            _ if version >= 13 => topics.push(FetchTopic {
                topic_id: t.topic_id,
                partitions: vec![partition],
                ..Default::default()
            }),
            _ => topics.push(FetchTopic {
                topic: t.topic.as_str().into(),
                partitions: vec![partition],
                ..Default::default()
            }),
        }
    }
    let (replica_id, replica_state) = if version >= 15 {
        // KIP-903: this broker's registration epoch, so the leader proposes it for the ISR
        // with the epoch of the incarnation that actually fetched (-1 while fenced).
        let replica_epoch = b
            .metadata()
            .image()
            .live_broker(c.node_id)
            .map_or(-1, |n| n.epoch);
        let state = ReplicaState {
            replica_id: c.node_id,
            replica_epoch,
            ..Default::default()
        };
        (-1, state)
    } else {
        (c.node_id, ReplicaState::default())
    };
    FetchRequest {
        replica_id,
        replica_state,
        max_wait_ms: c.replica_fetch_wait_max_ms,
        min_bytes: c.replica_fetch_min_bytes,
        max_bytes: c.replica_fetch_response_max_bytes,
        isolation_level: 0,
        session_id: 0,
        session_epoch: -1,
        topics,
        ..Default::default()
    }
}

/// Logs the partitions fetched from `leader` when they changed since `followed`.
fn note_followed(leader: i32, targets: &[FollowTarget], followed: &mut Vec<(String, i32, i32)>) {
    let now_followed: Vec<(String, i32, i32)> = targets
        .iter()
        .map(|t| {
            (
                t.topic.clone(),
                t.partition,
                t.position.current_leader_epoch,
            )
        })
        .collect();
    if now_followed != *followed {
        tracing::debug!(leader, partitions = ?now_followed, "partitions fetched from this leader");
        *followed = now_followed;
    }
}

/// How the fetcher connects to a leader.
fn client_config(b: &Broker) -> ClientConfig {
    ClientConfig {
        client_id: format!("vltava-replica-fetcher-{}", b.config.node_id),
        connect_timeout: Duration::from_secs(5),
        max_response_bytes: usize::try_from(b.config.replica_fetch_response_max_bytes)
            .unwrap_or(0)
            .saturating_add(1 << 20)
            .max(b.config.socket_request_max_bytes),
        security: b.inter_broker_security.clone(),
        ..ClientConfig::default()
    }
}

/// Applies a leader's fetch answer to the followed partitions; whether any
/// partition was refused or could not be applied.
fn apply(
    b: &Broker,
    leader: i32,
    targets: &[FollowTarget],
    response: &vltava_protocol::messages::FetchResponse,
) -> bool {
    let mut partition_error = false;
    for topic in &response.responses {
        for data in &topic.partitions {
            let Some(target) = targets.iter().find(|t| {
                t.partition == data.partition_index
                    && (t.topic_id == topic.topic_id || t.topic == topic.topic.as_str())
            }) else {
                continue;
            };
            match b.replicas.on_fetch_data(target, data) {
                Ok(FollowOutcome::Error(code)) => {
                    tracing::debug!(topic = %target.topic, partition = target.partition, leader, code, "follower fetch refused");
                    partition_error = true;
                }
                Ok(_) => {}
                Err(e) => {
                    // A full disk fails every fetch of every partition until space
                    // returns: one line a second, counting the rest.
                    if let Some(left_out) = APPLY_FAILURES.admit(vltava_records::clock::now_ms()) {
                        tracing::warn!(topic = %target.topic, partition = target.partition, leader, error = %e, left_out, "cannot apply fetched records");
                    }
                    partition_error = true;
                }
            }
        }
    }
    partition_error
}

/// Fetches from `leader` until this broker follows nothing there (the
/// supervisor then aborts the task) or the broker is gone.
async fn fetch_loop(weak: Weak<Broker>, leader: i32) {
    let mut conn: Option<Connection> = None;
    let mut followed: Vec<(String, i32, i32)> = Vec::new();
    tracing::info!(leader, "follower fetcher started");
    loop {
        let Some(b) = weak.upgrade() else { return };
        let backoff = Duration::from_millis(b.config.replica_fetch_backoff_ms.max(1));
        let targets = b.replicas.fetch_targets(leader);
        note_followed(leader, &targets, &mut followed);
        // The leader's inter-broker listener (`inter.broker.listener.name`).
        let addr = b.metadata().image().live_broker(leader).and_then(|n| {
            n.address(&b.config.inter_broker_listener_name)
                .map(|(host, port)| format!("{host}:{port}"))
        });
        let (Some(addr), false) = (addr, targets.is_empty()) else {
            drop(b);
            tokio::time::sleep(backoff).await;
            continue;
        };
        let client = client_config(&b);
        let wait =
            Duration::from_millis(u64::try_from(b.config.replica_fetch_wait_max_ms).unwrap_or(0));
        drop(b);
        if conn
            .as_ref()
            .is_none_or(|c| c.is_closed() || c.addr() != addr)
        {
            conn = match Connection::connect(&addr, &client).await {
                Ok(c) => Some(c),
                Err(e) if vltava_client::security::is_fatal(&e) => {
                    tracing::warn!(leader, %addr, error = %e, "the leader refuses this broker's inter-broker login");
                    tokio::time::sleep(backoff).await;
                    continue;
                }
                Err(e) => {
                    tracing::debug!(leader, %addr, error = %e, "cannot reach the leader to fetch");
                    tokio::time::sleep(backoff).await;
                    continue;
                }
            };
        }
        let Some(c) = conn.as_ref() else { continue };
        let version = c
            .versions()
            .range(ApiKey::Fetch)
            .map_or(12, |(_, max)| max.min(MAX_FETCH_VERSION));
        let Some(b) = weak.upgrade() else { return };
        let request = fetch_request(&b, &targets, version);
        drop(b);
        let answer =
            tokio::time::timeout(wait + Duration::from_secs(30), c.send_at(request, version)).await;
        let response = match answer {
            Ok(Ok(r)) if r.error_code == 0 => r,
            other => {
                tracing::debug!(leader, outcome = ?other.map(|r| r.map(|r| r.error_code)), "follower fetch failed");
                conn = None;
                tokio::time::sleep(backoff).await;
                continue;
            }
        };
        let Some(b) = weak.upgrade() else { return };
        let partition_error = apply(&b, leader, &targets, &response);
        drop(b);
        if partition_error {
            tokio::time::sleep(PARTITION_ERROR_BACKOFF).await;
        }
    }
}
