//! The transaction coordinator's tokio driver: one task owns the
//! [`TransactionCoordinator`], feeds it requests from
//! [`TxnCoordinatorHandle`]s, loaded records and timer ticks, and carries
//! out its effects through the broker's [`TxnIo`]: `__transaction_state`
//! appends on an append worker (as the group driver's), strictly in order
//! (like a log); marker writes and producer id allocations on tasks of their
//! own, their results fed back into the core.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use crate::clock::Clock;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::Instant;
use vltava_protocol::{ApiKey, RequestBody, ResponseBody};

use crate::append_worker::{AppendLog, AppendQueue, Committing};
use crate::codes;
use crate::control::{self, Control, ControlSender};
use crate::records::RawRecord;
use crate::txn::config::TxnConfig;
use crate::txn::coordinator::{TransactionCoordinator, TxnEffect, any_txn_error};
use crate::unfinished::Unfinished;
use crate::waiting::Waiting;

/// A boxed future the broker's [`TxnIo`] returns.
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// Requests queued to the coordinator task before callers wait for room.
pub const TXN_REQUEST_QUEUE_LIMIT: usize = 1024;
/// Requests the task holds unanswered at once; past it new requests get
/// COORDINATOR_NOT_AVAILABLE. (Appends and marker writes in flight are
/// bounded too: at most one of each per transactional id.)
pub const TXN_MAX_WAITING_REQUESTS: usize = 100_000;
/// `__transaction_state` appends queued for the append worker (which writes
/// and commits one at a time: [`TxnIo::append`] is one future). The core holds
/// at most one append in flight per transactional id, but the ids are
/// unbounded; past this queue an append fails at once as
/// COORDINATOR_NOT_AVAILABLE, which is what Kafka answers when a
/// `__transaction_state` write times out or lacks replicas: the client backs
/// off and retries, and the core's state is the one the failed write left.
/// The driver cannot wait for room: it is the task that must keep draining the
/// outcomes that make room.
pub const TXN_APPEND_QUEUE_LIMIT: usize = 1024;
/// IO outcomes (appends, marker writes, producer ids) queued back to the task.
/// The IO tasks wait for room (back-pressure on them); the coordinator task
/// only ever receives from this channel, so it never waits on itself.
pub const TXN_IO_DONE_LIMIT: usize = 1024;
/// Longest sleep of the task when no timer is due.
const IDLE_TICK: Duration = Duration::from_secs(60);

/// What the transaction coordinator needs from the broker.
pub trait TxnIo: Send + Sync + 'static {
    /// Appends `records` to `__transaction_state` partition `partition`
    /// (durably: they are read back at the next start). `Err` carries the
    /// Kafka error code of the failure.
    fn append(&self, partition: i32, records: Vec<RawRecord>) -> BoxFuture<Result<(), i16>>;
    /// Writes a COMMIT (`commit`) or ABORT control batch for the producer
    /// into each partition; returns a Kafka error code per partition.
    fn write_markers(
        &self,
        producer_id: i64,
        producer_epoch: i16,
        coordinator_epoch: i32,
        commit: bool,
        partitions: Vec<(String, i32)>,
    ) -> BoxFuture<Vec<((String, i32), i16)>>;
    /// One fresh producer id (from the controller's producer id blocks).
    fn allocate_producer_id(&self) -> BoxFuture<Result<i64, i16>>;
    /// Every record of `__transaction_state` partition `partition`, oldest
    /// first, for loading it when elected ([`TxnCoordinatorHandle::elect`]).
    /// The default has no log to read (COORDINATOR_NOT_AVAILABLE).
    fn read_partition(&self, partition: i32) -> BoxFuture<Result<Vec<RawRecord>, i16>> {
        let _ = partition;
        Box::pin(std::future::ready(Err(codes::COORDINATOR_NOT_AVAILABLE)))
    }
}

/// Wait before reading a `__transaction_state` partition again after a
/// failed read.
pub const TXN_LOAD_RETRY_BACKOFF: Duration = Duration::from_millis(500);

/// Messages to the coordinator task.
// A message is moved once into the channel; boxing the request would
// only add an allocation per request.
#[allow(clippy::large_enum_variant)]
enum Msg {
    Call {
        version: i16,
        body: RequestBody,
        reply: oneshot::Sender<ResponseBody>,
    },
    Load {
        records: Vec<RawRecord>,
        done: oneshot::Sender<u64>,
    },
    FinishLoad {
        done: oneshot::Sender<()>,
    },
}

/// Outcomes of IO, back to the task.
enum Done {
    Append(u64, Result<(), i16>),
    Markers(u64, Vec<((String, i32), i16)>),
    ProducerId(u64, Result<i64, i16>),
}

/// A cheap, cloneable handle to the running transaction coordinator.
#[derive(Clone, Debug)]
pub struct TxnCoordinatorHandle {
    tx: mpsc::Sender<Msg>,
    control: ControlSender,
    loaded: watch::Receiver<bool>,
}

impl std::fmt::Debug for Msg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Msg::Call { body, version, .. } => f
                .debug_struct("Call")
                .field("api", &body.api_key())
                .field("version", version)
                .finish(),
            Msg::Load { records, .. } => f
                .debug_struct("Load")
                .field("records", &records.len())
                .finish(),
            Msg::FinishLoad { .. } => f.write_str("FinishLoad"),
        }
    }
}

impl TxnCoordinatorHandle {
    /// This broker became leader of `__transaction_state` partition
    /// `partition` at leader epoch `epoch` (the coordinator epoch): the
    /// coordinator reads it through [`TxnIo::read_partition`], then serves
    /// its ids and completes the transactions found prepared. Stale or
    /// repeated elections are ignored.
    pub fn elect(&self, partition: i32, epoch: i32) {
        self.control.elect(partition, epoch);
    }

    /// This broker no longer leads `partition` (`epoch`: the new leader
    /// epoch, if known): its ids are unloaded (NOT_COORDINATOR afterwards).
    pub fn resign(&self, partition: i32, epoch: Option<i32>) {
        self.control.resign(partition, epoch);
    }

    /// Serves one request (InitProducerId, AddPartitionsToTxn,
    /// AddOffsetsToTxn, EndTxn, DescribeTransactions, ListTransactions) and
    /// returns its response for `version`. Until
    /// [`TxnCoordinatorHandle::finish_load`], requests get
    /// COORDINATOR_LOAD_IN_PROGRESS.
    pub async fn handle(&self, api_key: ApiKey, version: i16, body: RequestBody) -> ResponseBody {
        if body.api_key() != api_key {
            return any_txn_error(api_key, version, codes::INVALID_REQUEST);
        }
        let (reply, rx) = oneshot::channel();
        let msg = Msg::Call {
            version,
            body,
            reply,
        };
        if self.tx.send(msg).await.is_err() {
            return any_txn_error(api_key, version, codes::COORDINATOR_NOT_AVAILABLE);
        }
        rx.await
            .unwrap_or_else(|_| any_txn_error(api_key, version, codes::COORDINATOR_NOT_AVAILABLE))
    }

    /// Replays records of one `__transaction_state` partition, oldest
    /// first (call before [`TxnCoordinatorHandle::finish_load`]; afterwards
    /// records are ignored). Returns how many records could not be decoded
    /// (they are skipped).
    pub async fn load(&self, records: Vec<RawRecord>) -> u64 {
        let (done, rx) = oneshot::channel();
        if self.tx.send(Msg::Load { records, done }).await.is_err() {
            return 0;
        }
        rx.await.unwrap_or(0)
    }

    /// Ends loading: from now on requests are served, and transactions
    /// loaded in PrepareCommit/PrepareAbort get their markers written.
    pub async fn finish_load(&self) {
        let (done, rx) = oneshot::channel();
        if self.tx.send(Msg::FinishLoad { done }).await.is_ok() {
            let _ = rx.await;
        }
    }

    /// Waits until loading has finished. Returns false if the task stopped first.
    pub async fn wait_loaded(&self) -> bool {
        let mut rx = self.loaded.clone();
        rx.wait_for(|loaded| *loaded).await.is_ok()
    }
}

/// Starts the transaction coordinator task over `io`. It starts loading:
/// the broker passes each `__transaction_state` partition's records to
/// [`TxnCoordinatorHandle::load`], then calls
/// [`TxnCoordinatorHandle::finish_load`]; requests meanwhile get
/// COORDINATOR_LOAD_IN_PROGRESS. The task ends when every handle is
/// dropped. Must be called within a tokio runtime.
pub fn start(cfg: TxnConfig, io: impl TxnIo) -> TxnCoordinatorHandle {
    spawn(TransactionCoordinator::new(cfg), io, true)
}

/// Starts the transaction coordinator task over `io` serving no partition
/// of `__transaction_state` until elected ([`TxnCoordinatorHandle::elect`],
/// [`TxnCoordinatorHandle::resign`]); ids of partitions not served get
/// NOT_COORDINATOR.
pub fn start_unowned(cfg: TxnConfig, io: impl TxnIo) -> TxnCoordinatorHandle {
    spawn(TransactionCoordinator::unowned(cfg), io, false)
}

fn spawn(core: TransactionCoordinator, io: impl TxnIo, load_all: bool) -> TxnCoordinatorHandle {
    let (tx, rx) = mpsc::channel(TXN_REQUEST_QUEUE_LIMIT);
    // Unbounded: see `control::channel`.
    let (control, control_rx) = control::channel();
    let (loaded_tx, loaded) = watch::channel(!load_all);
    let inbox = Inbox {
        rx,
        control_rx,
        control: control.clone(),
        loaded: loaded_tx,
    };
    tokio::spawn(run(core, Arc::new(io), inbox, load_all));
    TxnCoordinatorHandle {
        tx,
        control,
        loaded,
    }
}

/// What the task receives from: requests, control, and its loaded flag.
struct Inbox {
    rx: mpsc::Receiver<Msg>,
    control_rx: mpsc::UnboundedReceiver<Control>,
    control: ControlSender,
    loaded: watch::Sender<bool>,
}

/// One append as the core issued it: its id, partition and records.
type TxnAppend = (u64, i32, Vec<RawRecord>);

/// The append worker's log: [`TxnIo::append`], whose one future writes and
/// awaits the commit, so the worker writes the next append only after it.
struct TxnWriter(Arc<dyn TxnIo>);

impl AppendLog for TxnWriter {
    type Append = TxnAppend;
    type Outcome = Done;

    fn write(&mut self, (id, partition, records): TxnAppend) -> BoxFuture<Committing<Done>> {
        let appended = self.0.append(partition, records);
        Box::pin(async move {
            let done = Done::Append(id, appended.await);
            Committing(Box::pin(std::future::ready(done)))
        })
    }
}

struct Driver {
    core: TransactionCoordinator,
    io: Arc<dyn TxnIo>,
    clock: Clock,
    waiting: Waiting,
    /// The append worker ([`TXN_APPEND_QUEUE_LIMIT`] long).
    appends: AppendQueue<TxnAppend>,
    /// Appends queued and not yet reported back, and loads waiting for them.
    unfinished: Unfinished,
    /// Outcomes of IO, [`TXN_IO_DONE_LIMIT`] long.
    done_tx: mpsc::Sender<Done>,
    control: ControlSender,
}

impl Driver {
    async fn control(&mut self, c: Control) {
        match c {
            Control::Elect { partition, epoch } => {
                if self.core.elect(partition, epoch) {
                    self.read(partition, epoch).await;
                }
            }
            Control::Retry { partition, epoch } => self.read(partition, epoch).await,
            Control::Resign { partition, epoch } => self.core.resign(partition, epoch),
        }
    }

    /// Reads `partition` for loading at `epoch` (unless no longer loading)
    /// before the task takes anything else: requests queued behind an
    /// election see the partition loaded. While appends to it are unfinished
    /// (queued in an earlier term) the read waits for them, so that it sees
    /// every write issued before the load.
    async fn read(&mut self, partition: i32, epoch: i32) {
        if !self.core.is_loading_partition(partition, epoch) {
            return;
        }
        if self.unfinished.defer_load(partition, epoch) {
            return;
        }
        let records = self.io.read_partition(partition).await;
        self.loaded(partition, epoch, records);
    }

    /// A partition's records arrived: replayed and served, or read again
    /// after [`TXN_LOAD_RETRY_BACKOFF`] when the read failed.
    fn loaded(&mut self, partition: i32, epoch: i32, records: Result<Vec<RawRecord>, i16>) {
        if !self.core.is_loading_partition(partition, epoch) {
            return;
        }
        match records {
            Ok(records) => {
                for (k, v) in records {
                    // Undecodable records are counted and skipped.
                    let _ = self.core.load(k, v);
                }
                let now = self.clock.now_ms();
                let effects = self.core.finish_partition_load(partition, epoch, now);
                self.apply(effects);
            }
            Err(_) => self
                .control
                .retry_after(partition, epoch, TXN_LOAD_RETRY_BACKOFF),
        }
    }

    fn submit(&mut self, version: i16, body: RequestBody, reply: oneshot::Sender<ResponseBody>) {
        let id = match self.waiting.admit(reply) {
            Ok(id) => id,
            Err(reply) => {
                let busy = any_txn_error(body.api_key(), version, codes::COORDINATOR_NOT_AVAILABLE);
                let _ = reply.send(busy);
                return;
            }
        };
        let effects = self.core.handle(id, self.clock.now_ms(), version, body);
        self.apply(effects);
    }

    fn apply(&mut self, effects: Vec<TxnEffect>) {
        for effect in effects {
            match effect {
                TxnEffect::Respond { request_id, body } => self.waiting.respond(request_id, body),
                TxnEffect::Append {
                    append_id,
                    partition,
                    records,
                } => {
                    if self
                        .appends
                        .try_push((append_id, partition, records))
                        .is_ok()
                    {
                        self.unfinished.queued(append_id, partition);
                    } else {
                        // Queue full (or the worker gone): the append fails
                        // (see TXN_APPEND_QUEUE_LIMIT), reported like any
                        // outcome, after this round of effects.
                        let done = self.done_tx.clone();
                        tokio::spawn(async move {
                            let failed = Err(codes::COORDINATOR_NOT_AVAILABLE);
                            let _ = done.send(Done::Append(append_id, failed)).await;
                        });
                    }
                }
                TxnEffect::WriteMarkers {
                    marker_id,
                    producer_id,
                    producer_epoch,
                    coordinator_epoch,
                    commit,
                    partitions,
                } => {
                    let fut = self.io.write_markers(
                        producer_id,
                        producer_epoch,
                        coordinator_epoch,
                        commit,
                        partitions,
                    );
                    let done = self.done_tx.clone();
                    tokio::spawn(async move {
                        let results = fut.await;
                        let _ = done.send(Done::Markers(marker_id, results)).await;
                    });
                }
                TxnEffect::AllocateProducerId { request_id } => {
                    let fut = self.io.allocate_producer_id();
                    let done = self.done_tx.clone();
                    tokio::spawn(async move {
                        let result = fut.await;
                        let _ = done.send(Done::ProducerId(request_id, result)).await;
                    });
                }
            }
        }
    }

    /// An IO outcome; after an append's, the load of its partition if it
    /// was waiting for this append.
    async fn complete(&mut self, done: Done) {
        let now = self.clock.now_ms();
        let mut due_load = None;
        let effects = match done {
            Done::Append(id, result) => {
                due_load = self.unfinished.finished(id);
                self.core.complete_append(id, result, now)
            }
            Done::Markers(id, results) => self.core.complete_markers(id, results, now),
            Done::ProducerId(id, result) => self.core.complete_producer_id(id, result, now),
        };
        self.apply(effects);
        if let Some((partition, epoch)) = due_load {
            self.read(partition, epoch).await;
        }
    }
}

async fn run(core: TransactionCoordinator, io: Arc<dyn TxnIo>, inbox: Inbox, load_all: bool) {
    let Inbox {
        mut rx,
        mut control_rx,
        control,
        loaded,
    } = inbox;
    let (done_tx, mut done_rx) = mpsc::channel(TXN_IO_DONE_LIMIT);
    let appends = AppendQueue::start(
        TxnWriter(io.clone()),
        TXN_APPEND_QUEUE_LIMIT,
        done_tx.clone(),
    );
    let mut d = Driver {
        core,
        io,
        clock: Clock::new(),
        waiting: Waiting::new(TXN_MAX_WAITING_REQUESTS),
        appends,
        unfinished: Unfinished::default(),
        done_tx,
        control,
    };
    if load_all {
        d.core.begin_load();
    } else {
        // Nothing to load at start: the timers (timeouts, expiry) start now.
        let effects = d.core.tick(d.clock.now_ms());
        d.apply(effects);
    }
    loop {
        let wake = match d.core.next_deadline() {
            Some(ms) if !(load_all && d.core.is_loading()) => d.clock.instant_at(ms),
            _ => Instant::now() + IDLE_TICK,
        };
        tokio::select! {
            biased;
            Some(c) = control_rx.recv() => d.control(c).await,
            msg = rx.recv() => match msg {
                Some(Msg::Call { version, body, reply }) => d.submit(version, body, reply),
                Some(Msg::Load { records, done }) => {
                    let before = d.core.load_errors();
                    // Records after finish_load would overwrite live state:
                    // ignored.
                    let records = if load_all && d.core.is_loading() { records } else { Vec::new() };
                    for (k, v) in records {
                        // Undecodable records are counted and skipped.
                        let _ = d.core.load(k, v);
                    }
                    let _ = done.send(d.core.load_errors() - before);
                }
                Some(Msg::FinishLoad { done }) => {
                    if load_all && d.core.is_loading() {
                        let now = d.clock.now_ms();
                        let effects = d.core.finish_load(now);
                        d.apply(effects);
                        let effects = d.core.tick(now);
                        d.apply(effects);
                        let _ = loaded.send(true);
                    }
                    let _ = done.send(());
                }
                None => break,
            },
            Some(done) = done_rx.recv() => d.complete(done).await,
            _ = tokio::time::sleep_until(wake) => {
                let effects = d.core.tick(d.clock.now_ms());
                d.apply(effects);
            }
        }
    }
}
