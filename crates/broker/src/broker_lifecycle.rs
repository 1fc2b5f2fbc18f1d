//! This broker's membership in the cluster, as Kafka's broker lifecycle manager keeps it:
//! registration with the active controller at start (retried until
//! `initial.broker.registration.timeout.ms`), a heartbeat every
//! `broker.heartbeat.interval.ms` (re-registering when the controller no longer knows this
//! broker's epoch), and controlled shutdown: before the node stops, it asks to be fenced so
//! its partitions' leadership moves away, and waits (bounded) until the controller agrees.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use tokio::task::JoinHandle;
use vltava_raft::{Controller, RaftError};

/// Pause between registration attempts and between controlled-shutdown heartbeats.
const RETRY_PAUSE: Duration = Duration::from_millis(100);
/// Longest a controlled shutdown waits for the controller.
pub const CONTROLLED_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(10);
/// STALE_BROKER_EPOCH and BROKER_ID_NOT_REGISTERED: register again.
const REREGISTER_CODES: [i16; 2] = [77, 102];

/// Where this broker is reached, as registered.
#[derive(Debug, Clone)]
pub struct Registration {
    pub node_id: i32,
    pub host: String,
    pub port: i32,
    /// Every advertised listener (the first is `host:port`).
    pub endpoints: Vec<vltava_raft::ListenerEndpoint>,
    pub rack: Option<String>,
}

/// The broker's current registration epoch, shared with the heartbeat task.
#[derive(Debug)]
pub struct Lifecycle {
    controller: Controller,
    registration: Registration,
    epoch: Arc<AtomicI64>,
}

impl Lifecycle {
    /// Registers, retrying until `timeout`, then waits until this node's own metadata shows
    /// the registration (so its first answers already list it).
    pub async fn register(
        controller: Controller,
        registration: Registration,
        timeout: Duration,
    ) -> Result<Lifecycle, RaftError> {
        let deadline = tokio::time::Instant::now() + timeout;
        let epoch = loop {
            match register_once(&controller, &registration).await {
                Ok(epoch) => break epoch,
                Err(e) if tokio::time::Instant::now() >= deadline => return Err(e),
                Err(e) => {
                    tracing::debug!(error = %e, "broker registration not accepted yet; retrying");
                    tokio::time::sleep(RETRY_PAUSE).await;
                }
            }
        };
        let mut images = controller.subscribe();
        let id = registration.node_id;
        let caught_up = tokio::time::timeout_at(deadline, async {
            loop {
                if images
                    .borrow_and_update()
                    .brokers
                    .get(&id)
                    .is_some_and(|b| b.epoch >= epoch)
                {
                    return true;
                }
                if images.changed().await.is_err() {
                    return false;
                }
            }
        })
        .await;
        if !matches!(caught_up, Ok(true)) {
            return Err(RaftError::Timeout);
        }
        tracing::info!(
            node_id = id,
            broker_epoch = epoch,
            "registered with the controller"
        );
        Ok(Lifecycle {
            controller,
            registration,
            epoch: Arc::new(AtomicI64::new(epoch)),
        })
    }

    /// The broker epoch of the latest registration.
    pub fn epoch(&self) -> i64 {
        self.epoch.load(Ordering::Acquire)
    }

    /// Heartbeats every `interval` until aborted.
    pub fn spawn_heartbeats(&self, interval: Duration) -> JoinHandle<()> {
        let controller = self.controller.clone();
        let registration = self.registration.clone();
        let epoch = self.epoch.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(interval).await;
                let current = epoch.load(Ordering::Acquire);
                match controller
                    .heartbeat(registration.node_id, current, false, false)
                    .await
                {
                    Ok(_) => {}
                    Err(RaftError::Kafka { code, .. }) if REREGISTER_CODES.contains(&code) => {
                        match register_once(&controller, &registration).await {
                            Ok(e) => {
                                tracing::warn!(
                                    broker_epoch = e,
                                    "registered again with the controller"
                                );
                                epoch.store(e, Ordering::Release);
                            }
                            Err(e) => tracing::warn!(error = %e, "re-registration failed"),
                        }
                    }
                    Err(e) => tracing::debug!(error = %e, "heartbeat not answered"),
                }
            }
        })
    }

    /// Controlled shutdown: asks to be fenced (leadership moves to other in-sync replicas, or
    /// the partitions go offline) and waits until the controller says the broker may go, at
    /// most [`CONTROLLED_SHUTDOWN_TIMEOUT`]. Skipped when no other broker is alive.
    pub async fn controlled_shutdown(&self) {
        let id = self.registration.node_id;
        let others = self
            .controller
            .image()
            .brokers
            .values()
            .any(|b| b.id != id && !b.fenced);
        if !others {
            return;
        }
        let done = tokio::time::timeout(CONTROLLED_SHUTDOWN_TIMEOUT, async {
            loop {
                match self
                    .controller
                    .heartbeat(id, self.epoch(), true, true)
                    .await
                {
                    Ok(s) if s.should_shut_down => return,
                    _ => tokio::time::sleep(RETRY_PAUSE).await,
                }
            }
        })
        .await;
        match done {
            Ok(()) => tracing::info!(node_id = id, "controlled shutdown complete"),
            Err(_) => tracing::warn!(
                node_id = id,
                "controlled shutdown timed out; stopping anyway"
            ),
        }
    }
}

async fn register_once(controller: &Controller, r: &Registration) -> Result<i64, RaftError> {
    let endpoints = if r.endpoints.is_empty() {
        vec![vltava_raft::controller::plaintext(&r.host, r.port)]
    } else {
        r.endpoints.clone()
    };
    controller
        .register_broker_endpoints(r.node_id, endpoints, r.rack.clone())
        .await
}
