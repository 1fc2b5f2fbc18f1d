//! The tokio driver: one task owns the [`GroupCoordinator`], loads
//! `__consumer_offsets` through an [`OffsetsLog`] (every partition at start,
//! or each partition when the broker elects it: [`start_unowned`]), feeds it
//! requests from [`CoordinatorHandle`]s and timer ticks, hands the records
//! it asks for to an append worker (written in issue order, their commits
//! awaited in that order, outcomes fed back) and routes its responses back.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use crate::clock::Clock;
use bytes::Bytes;
use tokio::sync::{Mutex, mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use vltava_protocol::{ApiKey, RequestBody, ResponseBody};

use crate::append_worker::{AppendLog, AppendQueue, Committing};
use crate::codes;
use crate::config::GroupConfig;
use crate::control::{self, Control, ControlSender};
use crate::coordinator::{Effect, GroupCoordinator, GroupRequest};
use crate::error::CoordinatorError;
use crate::offsets_log::{OffsetsLog, OffsetsLogEntry};
use crate::responses::any_error_response;
use crate::txn_driver::BoxFuture;
use crate::unfinished::Unfinished;
use crate::waiting::Waiting;

/// Requests queued to the coordinator task before callers wait for room.
pub const REQUEST_QUEUE_LIMIT: usize = 1024;
/// Requests (mostly JoinGroup and SyncGroup) the task holds unanswered at
/// once; past it new requests get COORDINATOR_NOT_AVAILABLE.
pub const MAX_WAITING_REQUESTS: usize = 100_000;
/// Wait before reading a `__consumer_offsets` partition again after a failure.
pub const LOAD_RETRY_BACKOFF: Duration = Duration::from_millis(500);
/// Appends queued for the append worker (and, as many again, written and
/// waiting for their commit there). Past it an append is not written and
/// fails at once as COORDINATOR_NOT_AVAILABLE (Kafka's answer to a group write
/// that times out or lacks replicas; the client retries). The task cannot
/// wait for room: it is the task that drains the outcomes.
pub const APPEND_QUEUE_LIMIT: usize = 1024;
/// Append outcomes queued back to the task; the append worker waits for room.
pub const APPEND_DONE_LIMIT: usize = 1024;
/// Longest sleep of the task when no timer is due.
const IDLE_TICK: Duration = Duration::from_secs(60);

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
    control: ControlSender,
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
    /// This broker became leader of `__consumer_offsets` partition
    /// `partition` at leader epoch `epoch` (the coordinator epoch): the
    /// coordinator loads it and then serves its groups. Stale or repeated
    /// elections are ignored. Taken ahead of queued requests.
    pub fn elect(&self, partition: i32, epoch: i32) {
        self.control.elect(partition, epoch);
    }

    /// This broker no longer leads `partition` (`epoch`: the new leader
    /// epoch, if known): its groups are unloaded and their requests answered
    /// NOT_COORDINATOR. A resignation older than the served epoch is ignored.
    pub fn resign(&self, partition: i32, epoch: Option<i32>) {
        self.control.resign(partition, epoch);
    }

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
/// `__consumer_offsets`, serving all of them: it loads every partition first
/// (requests meanwhile get COORDINATOR_LOAD_IN_PROGRESS), then serves. The
/// task ends when every handle is dropped. Must be called within a tokio
/// runtime.
pub fn start(
    cfg: GroupConfig,
    log: impl OffsetsLog,
    partitions: i32,
) -> (CoordinatorHandle, JoinHandle<()>) {
    spawn(cfg, log, partitions, true)
}

/// Starts the coordinator task over `log` serving no partition of
/// `__consumer_offsets` until elected: the broker calls
/// [`CoordinatorHandle::elect`] when it becomes leader of one (the partition
/// is loaded from `log`; its groups get COORDINATOR_LOAD_IN_PROGRESS
/// meanwhile) and [`CoordinatorHandle::resign`] when it stops (its groups
/// are unloaded; NOT_COORDINATOR afterwards).
pub fn start_unowned(
    cfg: GroupConfig,
    log: impl OffsetsLog,
    partitions: i32,
) -> (CoordinatorHandle, JoinHandle<()>) {
    spawn(cfg, log, partitions, false)
}

fn spawn(
    cfg: GroupConfig,
    log: impl OffsetsLog,
    partitions: i32,
    own_all: bool,
) -> (CoordinatorHandle, JoinHandle<()>) {
    let (tx, rx) = mpsc::channel(REQUEST_QUEUE_LIMIT);
    // Unbounded: see `control::channel`.
    let (control, control_rx) = control::channel();
    let mut cfg = cfg;
    cfg.offsets_topic_num_partitions = partitions.max(1);
    let (loaded_tx, loaded) = watch::channel(false);
    let core = if own_all {
        GroupCoordinator::new(cfg)
    } else {
        GroupCoordinator::unowned(cfg)
    };
    let inbox = Inbox {
        rx,
        control_rx,
        control: control.clone(),
        loaded: loaded_tx,
    };
    let task = tokio::spawn(run(core, log, inbox, own_all));
    (
        CoordinatorHandle {
            tx,
            control,
            loaded,
        },
        task,
    )
}

/// What the task receives from: requests, control, and its loaded flag.
struct Inbox {
    rx: mpsc::Receiver<Msg>,
    control_rx: mpsc::UnboundedReceiver<Control>,
    control: ControlSender,
    loaded: watch::Sender<bool>,
}

/// One append as the core issued it, on its way to the append worker.
struct OffsetsAppend {
    append_id: u64,
    partition: i32,
    records: Vec<(Bytes, Option<Bytes>)>,
    producer: Option<(i64, i16)>,
}

/// An append's outcome, from the append worker.
type Appended = (u64, Result<(), CoordinatorError>);

/// The append worker's log: the driver's [`OffsetsLog`], which the driver
/// also reads when loading (the lock is only contended then).
struct OffsetsWriter<L>(Arc<Mutex<L>>);

impl<L: OffsetsLog> AppendLog for OffsetsWriter<L> {
    type Append = OffsetsAppend;
    type Outcome = Appended;

    /// [`OffsetsLog::append_replicated`] writes to the local log at the call
    /// (on the worker's task, as the broker's produce path writes on its
    /// request's task) and returns the commit future.
    fn write(&mut self, a: OffsetsAppend) -> BoxFuture<Committing<Appended>> {
        let log = self.0.clone();
        Box::pin(async move {
            let committed = log
                .lock()
                .await
                .append_replicated(a.partition, a.records, a.producer);
            let id = a.append_id;
            Committing(Box::pin(async move { (id, committed.await) }))
        })
    }
}

struct Driver<L: OffsetsLog> {
    core: GroupCoordinator,
    log: Arc<Mutex<L>>,
    clock: Clock,
    waiting: Waiting,
    /// The append worker ([`APPEND_QUEUE_LIMIT`] long).
    appends: AppendQueue<OffsetsAppend>,
    /// Appends queued and not yet reported back, and loads waiting for them.
    unfinished: Unfinished,
    control: ControlSender,
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

    async fn control(&mut self, c: Control) {
        match c {
            Control::Elect { partition, epoch } => {
                let Some(effects) = self.core.elect(partition, epoch) else {
                    return;
                };
                self.apply(effects);
                self.load_partition(partition, epoch).await;
            }
            Control::Retry { partition, epoch } => self.load_partition(partition, epoch).await,
            Control::Resign { partition, epoch } => {
                let effects = self.core.resign(partition, epoch);
                self.apply(effects);
            }
        }
    }

    /// Reads `partition` and replays it, unless it is no longer loading at
    /// `epoch`; a failed read is tried again after [`LOAD_RETRY_BACKOFF`]
    /// (its groups keep answering COORDINATOR_LOAD_IN_PROGRESS). While appends
    /// to it are unfinished (queued in an earlier term) the read waits for
    /// them, so that it sees every write issued before the load.
    async fn load_partition(&mut self, partition: i32, epoch: i32) {
        if !self.core.is_loading_partition(partition, epoch) {
            return;
        }
        if self.unfinished.defer_load(partition, epoch) {
            return;
        }
        let read = read_entries(&self.log, partition).await;
        match read {
            Ok(entries) => {
                replay(&mut self.core, partition, entries);
                self.core
                    .finish_partition_load(partition, epoch, self.clock.now_ms());
            }
            Err(_) => self
                .control
                .retry_after(partition, epoch, LOAD_RETRY_BACKOFF),
        }
    }

    fn submit(&mut self, call: Call) {
        let id = match self.waiting.admit(call.reply) {
            Ok(id) => id,
            Err(reply) => {
                let api = call.body.api_key();
                let busy = unavailable(api, call.version, codes::COORDINATOR_NOT_AVAILABLE);
                let _ = reply.send(busy);
                return;
            }
        };
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
                Effect::Respond { request_id, body } => self.waiting.respond(request_id, body),
                Effect::Append {
                    append_id,
                    partition,
                    records,
                    producer,
                } => {
                    let append = OffsetsAppend {
                        append_id,
                        partition,
                        records,
                        producer,
                    };
                    // Written by the worker, in issue order; an append
                    // refused for want of room is never written.
                    if self.appends.try_push(append).is_ok() {
                        self.unfinished.queued(append_id, partition);
                    } else {
                        let more = self.core.complete_append_result(
                            append_id,
                            Err(codes::COORDINATOR_NOT_AVAILABLE),
                            self.clock.now_ms(),
                        );
                        queue.extend(more);
                    }
                }
            }
        }
    }

    /// An append's outcome, from the append worker; then the load of its
    /// partition if it was waiting for this append.
    async fn appended(&mut self, append_id: u64, written: Result<(), CoordinatorError>) {
        let result = written.map_err(|e| match e {
            CoordinatorError::Refused { code, .. } => code,
            _ => codes::COORDINATOR_NOT_AVAILABLE,
        });
        let effects = self
            .core
            .complete_append_result(append_id, result, self.clock.now_ms());
        self.apply(effects);
        if let Some((partition, epoch)) = self.unfinished.finished(append_id) {
            self.load_partition(partition, epoch).await;
        }
    }
}

/// Every entry of `partition`, read on a blocking thread (a whole partition
/// is a lot of disk IO for a runtime thread; the broker's
/// `TxnIo::read_partition` does the same). The append worker waits for the
/// lock meanwhile without holding a thread.
async fn read_entries<L: OffsetsLog>(
    log: &Arc<Mutex<L>>,
    partition: i32,
) -> Result<Vec<OffsetsLogEntry>, CoordinatorError> {
    let log = log.clone();
    tokio::task::spawn_blocking(move || log.blocking_lock().read_entries(partition))
        .await
        .map_err(|e| CoordinatorError::Log(format!("reading partition {partition}: {e}")))?
}

/// Replays the entries of `partition` into `core` (undecodable records are
/// counted in `load_errors` and skipped).
fn replay(core: &mut GroupCoordinator, partition: i32, entries: Vec<OffsetsLogEntry>) {
    for entry in entries {
        let _ = match entry {
            OffsetsLogEntry::Record { key, value } => core.load(key, value),
            OffsetsLogEntry::Transactional {
                producer_id,
                key,
                value,
            } => core.load_transactional(key, value, producer_id),
            OffsetsLogEntry::Marker {
                producer_id,
                commit,
            } => {
                core.load_marker_on(partition, producer_id, commit);
                Ok(())
            }
        };
    }
}

async fn run<L: OffsetsLog>(core: GroupCoordinator, log: L, inbox: Inbox, load_all: bool) {
    let Inbox {
        mut rx,
        mut control_rx,
        control,
        loaded,
    } = inbox;
    let partitions = core.config().offsets_topic_num_partitions;
    let log = Arc::new(Mutex::new(log));
    let (done_tx, mut done_rx) = mpsc::channel(APPEND_DONE_LIMIT);
    let appends = AppendQueue::start(OffsetsWriter(log.clone()), APPEND_QUEUE_LIMIT, done_tx);
    let mut d = Driver {
        core,
        log,
        clock: Clock::new(),
        waiting: Waiting::new(MAX_WAITING_REQUESTS),
        appends,
        unfinished: Unfinished::default(),
        control,
    };
    if load_all {
        d.core.begin_load();
        for p in 0..partitions {
            loop {
                while let Ok(msg) = rx.try_recv() {
                    d.receive(msg);
                }
                let read = read_entries(&d.log, p).await;
                match read {
                    Ok(entries) => {
                        replay(&mut d.core, p, entries);
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
    }
    let _ = loaded.send(true);
    let effects = d.core.tick(d.clock.now_ms());
    d.apply(effects);
    loop {
        let wake = match d.core.next_deadline() {
            Some(ms) => d.clock.instant_at(ms),
            None => Instant::now() + IDLE_TICK,
        };
        tokio::select! {
            biased;
            Some(c) = control_rx.recv() => d.control(c).await,
            Some((id, result)) = done_rx.recv() => d.appended(id, result).await,
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
