//! The tokio driver: one task owns the [`GroupCoordinator`], loads
//! `__consumer_offsets` through an [`OffsetsLog`], feeds it requests from
//! [`CoordinatorHandle`]s and timer ticks, appends the records it asks for
//! and routes its responses back.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use crate::clock::Clock;
use bytes::Bytes;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use vltava_protocol::{ApiKey, RequestBody, ResponseBody};

use crate::codes;
use crate::config::GroupConfig;
use crate::coordinator::{Effect, GroupCoordinator, GroupRequest};
use crate::error::CoordinatorError;
use crate::responses::any_error_response;

/// Requests queued to the coordinator task before callers wait for room.
pub const REQUEST_QUEUE_LIMIT: usize = 1024;
/// Requests (mostly JoinGroup and SyncGroup) the task holds unanswered at
/// once; past it new requests get COORDINATOR_NOT_AVAILABLE.
pub const MAX_WAITING_REQUESTS: usize = 100_000;
/// Wait before reading a `__consumer_offsets` partition again after a failure.
pub const LOAD_RETRY_BACKOFF: Duration = Duration::from_millis(500);
/// Longest sleep of the task when no timer is due.
const IDLE_TICK: Duration = Duration::from_secs(60);

/// The `__consumer_offsets` partitions, as the broker provides them.
pub trait OffsetsLog: Send + 'static {
    /// Appends records (key, value or tombstone) to `partition`, durably
    /// enough that [`OffsetsLog::read_all`] returns them after a restart.
    fn append(
        &mut self,
        partition: i32,
        records: Vec<(Bytes, Option<Bytes>)>,
    ) -> Result<(), CoordinatorError>;
    /// Every record of `partition`, oldest first.
    fn read_all(&mut self, partition: i32)
    -> Result<Vec<(Bytes, Option<Bytes>)>, CoordinatorError>;

    /// Appends `records` to `partition` as one transactional batch of the
    /// producer (TxnOffsetCommit). A refusal by the log (a fenced epoch)
    /// is [`CoordinatorError::Refused`] with its Kafka code. The default
    /// refuses: a log must implement it to serve TxnOffsetCommit.
    fn append_transactional(
        &mut self,
        partition: i32,
        producer_id: i64,
        producer_epoch: i16,
        records: Vec<(Bytes, Option<Bytes>)>,
    ) -> Result<(), CoordinatorError> {
        let _ = (partition, producer_id, producer_epoch, records);
        Err(CoordinatorError::Log(
            "this offsets log does not write transactional batches".into(),
        ))
    }

    /// Every entry of `partition`, oldest first, telling transactional
    /// records and COMMIT/ABORT markers apart (so transactional offsets
    /// reload as pending until their marker). The default is
    /// [`OffsetsLog::read_all`], every record plain.
    fn read_entries(&mut self, partition: i32) -> Result<Vec<OffsetsLogEntry>, CoordinatorError> {
        Ok(self
            .read_all(partition)?
            .into_iter()
            .map(|(key, value)| OffsetsLogEntry::Record { key, value })
            .collect())
    }
}

/// One entry of a `__consumer_offsets` partition as the loader sees it.
#[derive(Debug, Clone, PartialEq)]
pub enum OffsetsLogEntry {
    /// A record of a plain (non-transactional) batch.
    Record {
        /// The record key.
        key: Bytes,
        /// The record value (None: tombstone).
        value: Option<Bytes>,
    },
    /// A record of a transactional batch of `producer_id`.
    Transactional {
        /// The producer of the batch.
        producer_id: i64,
        /// The record key.
        key: Bytes,
        /// The record value (None: tombstone).
        value: Option<Bytes>,
    },
    /// A COMMIT (`commit`) or ABORT control marker of `producer_id`.
    Marker {
        /// The producer the marker ends a transaction of.
        producer_id: i64,
        /// COMMIT or ABORT.
        commit: bool,
    },
}

/// Messages to the task.
#[derive(Debug)]
// A message is moved once into the channel; boxing the request would
// only add an allocation per request.
#[allow(clippy::large_enum_variant)]
enum Msg {
    Call(Call),
    TxnMarker {
        partition: i32,
        producer_id: i64,
        commit: bool,
        done: oneshot::Sender<()>,
    },
}

/// One request on its way to the task.
struct Call {
    version: i16,
    body: RequestBody,
    client_id: String,
    client_host: String,
    reply: oneshot::Sender<ResponseBody>,
}

/// A cheap, cloneable handle to the running coordinator task.
#[derive(Clone, Debug)]
pub struct CoordinatorHandle {
    tx: mpsc::Sender<Msg>,
    loaded: watch::Receiver<bool>,
}

impl std::fmt::Debug for Call {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Call")
            .field("api", &self.body.api_key())
            .field("version", &self.version)
            .finish()
    }
}

/// The response when the coordinator cannot take a request at all.
fn unavailable(api_key: ApiKey, version: i16, code: i16) -> ResponseBody {
    any_error_response(api_key, version, code)
}

impl CoordinatorHandle {
    /// Waits until `__consumer_offsets` is loaded (until then requests get
    /// COORDINATOR_LOAD_IN_PROGRESS). Returns false if the task stopped first.
    pub async fn wait_loaded(&self) -> bool {
        let mut rx = self.loaded.clone();
        rx.wait_for(|loaded| *loaded).await.is_ok()
    }

    /// Serves one group request (JoinGroup, SyncGroup, Heartbeat,
    /// LeaveGroup, OffsetCommit, OffsetFetch, DescribeGroups, ListGroups,
    /// DeleteGroups, OffsetDelete, and ConsumerGroupDescribe, answered
    /// GROUP_ID_NOT_FOUND as for classic groups) and returns its response
    /// for `version`.
    /// JoinGroup and SyncGroup may wait for the rebalance.
    pub async fn handle(&self, api_key: ApiKey, version: i16, body: RequestBody) -> ResponseBody {
        self.handle_from("", "", api_key, version, body).await
    }

    /// Like [`CoordinatorHandle::handle`], with the client id of the request
    /// header and the client's host (member ids and DescribeGroups use them).
    pub async fn handle_from(
        &self,
        client_id: &str,
        client_host: &str,
        api_key: ApiKey,
        version: i16,
        body: RequestBody,
    ) -> ResponseBody {
        if body.api_key() != api_key {
            return unavailable(api_key, version, codes::INVALID_REQUEST);
        }
        let (reply, rx) = oneshot::channel();
        let call = Call {
            version,
            body,
            client_id: client_id.to_owned(),
            client_host: client_host.to_owned(),
            reply,
        };
        if self.tx.send(Msg::Call(call)).await.is_err() {
            return unavailable(api_key, version, codes::COORDINATOR_NOT_AVAILABLE);
        }
        rx.await
            .unwrap_or_else(|_| unavailable(api_key, version, codes::COORDINATOR_NOT_AVAILABLE))
    }

    /// A COMMIT (`commit`) or ABORT marker of `producer_id` was written to
    /// `__consumer_offsets` partition `partition`: its pending
    /// transactional offsets become visible (commit) or are dropped.
    /// Returns once the coordinator applied it (false if it stopped).
    pub async fn complete_txn_marker(
        &self,
        partition: i32,
        producer_id: i64,
        commit: bool,
    ) -> bool {
        let (done, rx) = oneshot::channel();
        let msg = Msg::TxnMarker {
            partition,
            producer_id,
            commit,
            done,
        };
        if self.tx.send(msg).await.is_err() {
            return false;
        }
        rx.await.is_ok()
    }
}

/// Starts the coordinator task over `log` with `partitions` partitions of
/// `__consumer_offsets`: it loads every partition first (requests meanwhile
/// get COORDINATOR_LOAD_IN_PROGRESS), then serves. The task ends when every
/// handle is dropped. Must be called within a tokio runtime.
pub fn start(
    cfg: GroupConfig,
    log: impl OffsetsLog,
    partitions: i32,
) -> (CoordinatorHandle, JoinHandle<()>) {
    let (tx, rx) = mpsc::channel(REQUEST_QUEUE_LIMIT);
    let mut cfg = cfg;
    cfg.offsets_topic_num_partitions = partitions.max(1);
    let (loaded_tx, loaded) = watch::channel(false);
    let task = tokio::spawn(run(cfg, log, rx, loaded_tx));
    (CoordinatorHandle { tx, loaded }, task)
}

struct Driver<L: OffsetsLog> {
    core: GroupCoordinator,
    log: L,
    clock: Clock,
    next_request_id: u64,
    waiting: HashMap<u64, oneshot::Sender<ResponseBody>>,
}

impl<L: OffsetsLog> Driver<L> {
    fn receive(&mut self, msg: Msg) {
        match msg {
            Msg::Call(call) => self.submit(call),
            Msg::TxnMarker {
                partition,
                producer_id,
                commit,
                done,
            } => {
                let effects = self.core.complete_txn_marker(
                    partition,
                    producer_id,
                    commit,
                    self.clock.now_ms(),
                );
                self.apply(effects);
                let _ = done.send(());
            }
        }
    }

    fn submit(&mut self, call: Call) {
        let api = call.body.api_key();
        if self.waiting.len() >= MAX_WAITING_REQUESTS {
            let _ = call.reply.send(unavailable(
                api,
                call.version,
                codes::COORDINATOR_NOT_AVAILABLE,
            ));
            return;
        }
        let id = self.next_request_id;
        self.next_request_id += 1;
        self.waiting.insert(id, call.reply);
        let req = GroupRequest {
            version: call.version,
            body: call.body,
            client_id: call.client_id,
            client_host: call.client_host,
        };
        let effects = self.core.handle(id, self.clock.now_ms(), req);
        self.apply(effects);
    }

    fn apply(&mut self, effects: Vec<Effect>) {
        let mut queue: VecDeque<Effect> = effects.into();
        while let Some(effect) = queue.pop_front() {
            match effect {
                Effect::Respond { request_id, body } => {
                    if let Some(reply) = self.waiting.remove(&request_id) {
                        let _ = reply.send(body);
                    }
                }
                Effect::Append {
                    append_id,
                    partition,
                    records,
                    producer,
                } => {
                    let written = match producer {
                        None => self.log.append(partition, records),
                        Some((pid, epoch)) => self
                            .log
                            .append_transactional(partition, pid, epoch, records),
                    };
                    let result = written.map_err(|e| match e {
                        CoordinatorError::Refused { code, .. } => code,
                        _ => codes::COORDINATOR_NOT_AVAILABLE,
                    });
                    let more =
                        self.core
                            .complete_append_result(append_id, result, self.clock.now_ms());
                    queue.extend(more);
                }
            }
        }
    }
}

async fn run<L: OffsetsLog>(
    cfg: GroupConfig,
    log: L,
    mut rx: mpsc::Receiver<Msg>,
    loaded: watch::Sender<bool>,
) {
    let partitions = cfg.offsets_topic_num_partitions;
    let mut d = Driver {
        core: GroupCoordinator::new(cfg),
        log,
        clock: Clock::new(),
        next_request_id: 1,
        waiting: HashMap::new(),
    };
    d.core.begin_load();
    for p in 0..partitions {
        loop {
            while let Ok(msg) = rx.try_recv() {
                d.receive(msg);
            }
            match d.log.read_entries(p) {
                Ok(entries) => {
                    for entry in entries {
                        // An undecodable record is counted (`load_errors`)
                        // and skipped.
                        let _ = match entry {
                            OffsetsLogEntry::Record { key, value } => d.core.load(key, value),
                            OffsetsLogEntry::Transactional {
                                producer_id,
                                key,
                                value,
                            } => d.core.load_transactional(key, value, producer_id),
                            OffsetsLogEntry::Marker {
                                producer_id,
                                commit,
                            } => {
                                d.core.load_marker_on(p, producer_id, commit);
                                Ok(())
                            }
                        };
                    }
                    break;
                }
                // Serving without this partition's groups would lose their
                // offsets: keep answering LOAD_IN_PROGRESS and retry.
                Err(_) => tokio::time::sleep(LOAD_RETRY_BACKOFF).await,
            }
        }
        tokio::task::yield_now().await;
    }
    d.core.finish_load(d.clock.now_ms());
    let _ = loaded.send(true);
    let effects = d.core.tick(d.clock.now_ms());
    d.apply(effects);
    loop {
        let wake = match d.core.next_deadline() {
            Some(ms) => d.clock.instant_at(ms),
            None => Instant::now() + IDLE_TICK,
        };
        tokio::select! {
            msg = rx.recv() => match msg {
                Some(msg) => d.receive(msg),
                None => break,
            },
            _ = tokio::time::sleep_until(wake) => {
                let effects = d.core.tick(d.clock.now_ms());
                d.apply(effects);
            }
        }
    }
}
