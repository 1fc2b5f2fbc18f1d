//! The producer: `send` returns the partition and offset the record got.
//! Records are batched per partition (`batch.size`, `linger.ms`), compressed,
//! sent by one background sender to each partition's leader with at most
//! `max.in.flight.requests.per.connection` requests per broker, retried on
//! retriable errors (idempotently: the same batch with the same sequence),
//! failed after `delivery.timeout.ms`. Waiting records hold `buffer.memory`
//! permits, so `send` waits (back-pressure) when the buffer is full.
//! With `transactional.id` the producer runs Kafka transactions
//! (`begin_transaction`, `send_offsets_to_transaction`, `commit_transaction`,
//! `abort_transaction`; see `transaction`).

mod accumulate;
mod buffers;
pub mod config;
mod delivery;
pub mod partitioner;
mod transaction;

pub use config::{Acks, ProducerConfig, parse_compression};
pub use delivery::DeliveryFuture;
pub use partitioner::{DefaultPartitioner, Partitioner, RoundRobinPartitioner, murmur2};

use crate::cluster::Cluster;
use crate::connection::{Connection, Queued, Written};
use crate::error::{ClientError, Result};
use crate::kafka_error::{code, is_retriable};
use buffers::BufferPool;
use bytes::Bytes;
use delivery::BatchOutcome;
use rustc_hash::FxHashMap;
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::{Mutex, Notify, OwnedSemaphorePermit, Semaphore};
use transaction::{TxnCoordinator, TxnState};
use vltava_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use vltava_protocol::messages::{InitProducerIdRequest, ProduceRequest, ProduceResponse};
use vltava_records::{BatchBuilder, Compression, Header};

/// A record to send.
#[derive(Debug, Clone, Default)]
pub struct ProducerRecord {
    pub topic: String,
    /// Explicit partition; otherwise the partitioner picks one.
    pub partition: Option<i32>,
    pub key: Option<Bytes>,
    pub value: Option<Bytes>,
    pub headers: Vec<Header>,
    /// Milliseconds since the epoch; now when `None`.
    pub timestamp: Option<i64>,
}

impl ProducerRecord {
    pub fn new(topic: impl Into<String>, key: Option<&[u8]>, value: Option<&[u8]>) -> Self {
        ProducerRecord {
            topic: topic.into(),
            key: key.map(Bytes::copy_from_slice),
            value: value.map(Bytes::copy_from_slice),
            ..Default::default()
        }
    }

    pub fn with_header(mut self, key: &str, value: Option<&[u8]>) -> Self {
        self.headers.push(Header::new(key.as_bytes(), value));
        self
    }

    pub fn with_partition(mut self, p: i32) -> Self {
        self.partition = Some(p);
        self
    }

    fn size(&self) -> usize {
        let h: usize = self
            .headers
            .iter()
            .map(|h| h.key.len() + h.value.as_ref().map_or(0, |v| v.len()) + 8)
            .sum();
        self.key.as_ref().map_or(0, |k| k.len())
            + self.value.as_ref().map_or(0, |v| v.len())
            + h
            + 24
    }
}

/// Where a record was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordMetadata {
    pub topic: String,
    pub partition: i32,
    /// -1 with `acks=0`.
    pub offset: i64,
    pub timestamp: i64,
}

/// A partition: its topic's name is shared (cloned per record, not copied).
type Tp = (Arc<str>, i32);
/// A topic's partition count, when it was learnt (ms since the epoch) and its shared name.
type KnownTopic = (i32, i64, Arc<str>);
/// error code, base offset, log append time, error message
type PartitionResult = (i16, i64, i64, Option<String>);

struct OpenBatch {
    builder: BatchBuilder,
    created: Instant,
    /// The delivery futures of its records read their results from this.
    outcome: BatchOutcome,
    /// The `buffer.memory` its records hold, released when the batch ends.
    memory: Option<OwnedSemaphorePermit>,
}

struct ReadyBatch {
    bytes: Bytes,
    created: Instant,
    outcome: BatchOutcome,
    _memory: Option<OwnedSemaphorePermit>,
    /// Records in the batch.
    count: usize,
    base_sequence: i32,
    attempts: u32,
    /// A retried batch waits until then (`retry.backoff.ms`, doubling per attempt up to
    /// `retry.backoff.max.ms`, as Kafka's producer), so a refused batch is not re-sent in a
    /// tight loop (thousands of requests a second while an earlier batch is missing).
    not_before: Option<Instant>,
}

#[derive(Default)]
struct PartitionQueue {
    open: Option<OpenBatch>,
    ready: VecDeque<ReadyBatch>,
    in_flight: usize,
    /// A batch of this partition was acknowledged and none is being retried:
    /// only then are several of its batches sent at once (an idempotent broker
    /// could otherwise take a later sequence first and refuse the earlier one).
    confirmed: bool,
}

#[derive(Default)]
struct Accumulator {
    // Looked up for every record: FxHash (keys come from the application, not
    // the network, so hash flooding is not a concern).
    queues: FxHashMap<Tp, PartitionQueue>,
    /// Next idempotent sequence per partition; outlives the (pruned) queues.
    sequences: FxHashMap<Tp, i32>,
    flushing: usize,
}

struct Inner {
    cluster: Arc<Cluster>,
    cfg: ProducerConfig,
    memory: Arc<Semaphore>,
    /// Buffers of finished batches, for new ones.
    buffers: BufferPool,
    acc: Mutex<Accumulator>,
    wake: Notify,
    idle: Notify,
    outstanding: AtomicUsize,
    in_flight_per_node: std::sync::Mutex<HashMap<i32, usize>>,
    closed: AtomicBool,
    producer_id: i64,
    producer_epoch: i16,
    /// Per topic: its partition count, when that was fetched (ms since the epoch; refreshed
    /// after `metadata.max.age.ms`) and the shared name the queues are keyed by.
    partition_counts: std::sync::Mutex<FxHashMap<String, KnownTopic>>,
    /// With `transactional.id`: its coordinator and the open transaction.
    txn: Option<(TxnCoordinator, Mutex<TxnState>)>,
    /// A record of the open transaction failed (the transaction must be aborted).
    txn_failed: std::sync::Mutex<Option<String>>,
}

impl Inner {
    /// The topic's partition count and shared name; `now_ms` is the wall clock the
    /// caller read (one clock read per record). A clock that went back refreshes.
    async fn partition_count(&self, topic: &str, now_ms: i64) -> Result<(i32, Arc<str>)> {
        match self.cached_partition_count(topic, now_ms) {
            Some(known) => Ok(known),
            // Boxed: the metadata request's state stays out of every record's future.
            None => Box::pin(self.fetch_partition_count(topic, now_ms)).await,
        }
    }

    fn cached_partition_count(&self, topic: &str, now_ms: i64) -> Option<(i32, Arc<str>)> {
        let max_age =
            i64::try_from(self.cfg.client.metadata_max_age.as_millis()).unwrap_or(i64::MAX);
        let m = self.partition_counts.lock().ok()?;
        let (n, at, name) = m.get(topic)?;
        (*at..at.saturating_add(max_age))
            .contains(&now_ms)
            .then(|| (*n, Arc::clone(name)))
    }

    async fn fetch_partition_count(&self, topic: &str, now_ms: i64) -> Result<(i32, Arc<str>)> {
        let info = self.cluster.topic(topic, true).await?;
        let n = info.partitions.len() as i32;
        let name: Arc<str> = Arc::from(topic);
        if let Ok(mut m) = self.partition_counts.lock() {
            let name = m.get(topic).map_or(name, |e| Arc::clone(&e.2));
            m.insert(topic.to_string(), (n, now_ms, Arc::clone(&name)));
            return Ok((n, name));
        }
        Ok((n, name))
    }
}

/// An async Kafka producer. Cheap to clone; all clones share one sender.
#[derive(Clone)]
pub struct Producer {
    inner: Arc<Inner>,
    _last_handle: Arc<LastHandle>,
}

/// Dropped with the last `Producer` clone: closes the producer, and the sender
/// delivers (or fails, after `delivery.timeout.ms`) what is still buffered.
struct LastHandle(Arc<Inner>);

impl Drop for LastHandle {
    fn drop(&mut self) {
        self.0.closed.store(true, Ordering::Release);
        self.0.wake.notify_one();
    }
}

impl std::fmt::Debug for Producer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Producer")
            .field("producer_id", &self.inner.producer_id)
            .finish()
    }
}

impl Producer {
    /// Connects, and with idempotence fetches a producer id (InitProducerId).
    pub async fn new(cfg: ProducerConfig) -> Result<Producer> {
        if cfg.enable_idempotence && (cfg.acks != Acks::All || cfg.max_in_flight > 5) {
            return Err(ClientError::Config(
                "enable.idempotence needs acks=all and max.in.flight.requests.per.connection <= 5"
                    .into(),
            ));
        }
        let cluster = Cluster::connect(cfg.client.clone()).await?;
        Self::with_cluster(cluster, cfg).await
    }

    /// A producer over an existing cluster handle.
    pub async fn with_cluster(cluster: Arc<Cluster>, cfg: ProducerConfig) -> Result<Producer> {
        let txn = match &cfg.transactional_id {
            Some(id) => {
                if !cfg.enable_idempotence {
                    return Err(ClientError::Config(
                        "transactional.id needs enable.idempotence".into(),
                    ));
                }
                let timeout_ms = cfg.transaction_timeout.as_millis().min(i32::MAX as u128) as i32;
                Some(TxnCoordinator::new(
                    cluster.clone(),
                    id.clone(),
                    timeout_ms,
                    cfg.max_block,
                ))
            }
            None => None,
        };
        let (producer_id, producer_epoch) = if let Some(t) = &txn {
            // Java's initTransactions(): done once, when the producer is built.
            t.init_producer_id().await?
        } else if cfg.enable_idempotence {
            let resp = cluster
                .send_any(InitProducerIdRequest {
                    transactional_id: None,
                    transaction_timeout_ms: i32::MAX,
                    producer_id: -1,
                    producer_epoch: -1,
                    ..Default::default()
                })
                .await?;
            crate::error::check(resp.error_code, || "InitProducerId".into(), None)?;
            (resp.producer_id, resp.producer_epoch)
        } else {
            (-1, -1)
        };
        let inner = Arc::new(Inner {
            memory: Arc::new(Semaphore::new(
                cfg.buffer_memory.min(Semaphore::MAX_PERMITS),
            )),
            buffers: BufferPool::new(cfg.buffer_memory),
            cluster,
            cfg,
            acc: Mutex::new(Accumulator::default()),
            wake: Notify::new(),
            idle: Notify::new(),
            outstanding: AtomicUsize::new(0),
            in_flight_per_node: Default::default(),
            closed: AtomicBool::new(false),
            producer_id,
            producer_epoch,
            partition_counts: Default::default(),
            txn: txn.map(|t| (t, Mutex::new(TxnState::default()))),
            txn_failed: std::sync::Mutex::new(None),
        });
        tokio::spawn(sender_loop(inner.clone()));
        Ok(Producer {
            _last_handle: Arc::new(LastHandle(inner.clone())),
            inner,
        })
    }

    /// The producer id (-1 without idempotence).
    pub fn producer_id(&self) -> i64 {
        self.inner.producer_id
    }

    /// Sends a record and waits until it is acknowledged.
    pub async fn send(&self, record: ProducerRecord) -> Result<RecordMetadata> {
        self.enqueue(record).await?.await
    }

    /// Queues a record (waiting for buffer memory if needed) and returns a
    /// future for its delivery, so many records can be in flight at once.
    pub async fn enqueue(&self, record: ProducerRecord) -> Result<DeliveryFuture> {
        let inner = &self.inner;
        if inner.closed.load(Ordering::Acquire) {
            return Err(ClientError::Closed);
        }
        let size = record.size();
        let permit = inner.reserve_memory(size).await?;
        // The one clock read of a record: its timestamp and the metadata's age.
        let now_ms = vltava_records::clock::now_ms();
        let tp = inner.choose_partition(&record, now_ms).await?;
        if inner.txn.is_some() {
            Box::pin(inner.join_transaction(&record.topic, tp.1)).await?;
        }
        let timestamp = record.timestamp.unwrap_or(now_ms);
        let (wake, future) = inner.append(&record, &tp, timestamp, permit).await?;
        inner.cfg.partitioner.on_append(&record.topic, tp.1, size);
        // Wake the sender only for a new batch (linger timer) or a full one.
        if wake {
            inner.wake.notify_one();
        }
        Ok(future)
    }

    /// Sends everything queued now and waits until every record is acknowledged or failed.
    pub async fn flush(&self) {
        let inner = &self.inner;
        inner.acc.lock().await.flushing += 1;
        loop {
            let idle = inner.idle.notified();
            if inner.outstanding.load(Ordering::Acquire) == 0 {
                break;
            }
            inner.wake.notify_one();
            let _ = tokio::time::timeout(Duration::from_millis(50), idle).await;
        }
        inner.acc.lock().await.flushing -= 1;
    }

    /// Starts a transaction (a producer built with `transactional.id`).
    pub async fn begin_transaction(&self) -> Result<()> {
        let mut st = self.txn()?.1.lock().await;
        if st.in_transaction {
            return Err(ClientError::Config("a transaction is already open".into()));
        }
        st.in_transaction = true;
        st.started = false;
        st.partitions.clear();
        if let Ok(mut f) = self.inner.txn_failed.lock() {
            *f = None;
        }
        Ok(())
    }

    /// Commits the consumed `offsets` (next offsets to read) of `group_id` as part
    /// of the open transaction: they become the group's committed offsets only if
    /// the transaction commits.
    pub async fn send_offsets_to_transaction(
        &self,
        offsets: &[(crate::consumer::Tp, i64)],
        group_id: &str,
    ) -> Result<()> {
        let (coordinator, state) = self.txn()?;
        let mut st = state.lock().await;
        if !st.in_transaction {
            return Err(ClientError::Config("no transaction is open".into()));
        }
        st.started = true;
        coordinator
            .send_offsets(self.pid(), group_id, offsets)
            .await
    }

    /// Sends everything of the open transaction, then commits it. When a record
    /// of it failed, nothing is committed and the error says so: abort instead.
    pub async fn commit_transaction(&self) -> Result<()> {
        self.flush().await;
        let (coordinator, state) = self.txn()?;
        let mut st = state.lock().await;
        if !st.in_transaction {
            return Err(ClientError::Config("no transaction is open".into()));
        }
        if let Some(e) = self.inner.txn_failed.lock().ok().and_then(|f| f.clone()) {
            return Err(ClientError::Other(format!(
                "a record of the transaction failed ({e}); abort the transaction"
            )));
        }
        if st.started {
            coordinator.end(self.pid(), true).await?;
        }
        st.in_transaction = false;
        st.partitions.clear();
        Ok(())
    }

    /// Aborts the open transaction: read_committed consumers never see its records.
    pub async fn abort_transaction(&self) -> Result<()> {
        self.flush().await;
        let (coordinator, state) = self.txn()?;
        let mut st = state.lock().await;
        if !st.in_transaction {
            return Err(ClientError::Config("no transaction is open".into()));
        }
        if st.started {
            coordinator.end(self.pid(), false).await?;
        }
        st.in_transaction = false;
        st.partitions.clear();
        Ok(())
    }

    fn txn(&self) -> Result<&(TxnCoordinator, Mutex<TxnState>)> {
        self.inner.txn.as_ref().ok_or_else(|| {
            ClientError::Config("transactions need a producer with transactional.id".into())
        })
    }

    fn pid(&self) -> (i64, i16) {
        (self.inner.producer_id, self.inner.producer_epoch)
    }

    /// Flushes and stops the sender.
    pub async fn close(&self) {
        self.flush().await;
        self.inner.closed.store(true, Ordering::Release);
        self.inner.wake.notify_one();
    }
}

fn close_open(
    buffers: &BufferPool,
    q: &mut PartitionQueue,
    next_sequence: &mut i32,
    producer_id: i64,
) -> Result<()> {
    if let Some(open) = q.open.take() {
        if open.builder.is_empty() {
            return Ok(());
        }
        let count = open.builder.len();
        let base_sequence = if producer_id >= 0 { *next_sequence } else { -1 };
        let bytes = if open.builder.config().compression == Compression::None {
            open.builder.build()?
        } else {
            // Compressed into a kept buffer; the records' buffer is kept for another batch.
            let (bytes, records) = open.builder.build_into(buffers.take())?;
            buffers.give(records);
            bytes
        };
        if producer_id >= 0 {
            *next_sequence = next_sequence.wrapping_add(count as i32) & i32::MAX;
        }
        q.ready.push_back(ReadyBatch {
            bytes,
            created: open.created,
            outcome: open.outcome,
            _memory: open.memory,
            count,
            base_sequence,
            attempts: 0,
            not_before: None,
        });
    }
    Ok(())
}

/// Runs until the producer is closed and nothing is outstanding.
async fn sender_loop(inner: Arc<Inner>) {
    loop {
        if inner.closed.load(Ordering::Acquire) && inner.outstanding.load(Ordering::Acquire) == 0 {
            return;
        }
        let wait = run_once(&inner).await;
        let _ = tokio::time::timeout(wait, inner.wake.notified()).await;
    }
}

/// Closes batches that are due, sends what can be sent, and returns how long to
/// sleep before the next linger deadline.
// Long, and kept whole: one pass over the partition queues under the accumulator's lock,
// each partition's close/expire/send decision reading the per-node tallies the pass keeps.
async fn run_once(inner: &Arc<Inner>) -> Duration {
    let now = Instant::now();
    let cfg = &inner.cfg;
    let mut next_wake = Duration::from_millis(100);
    let meta = inner.cluster.metadata().await;
    let mut per_node: HashMap<i32, Vec<(Tp, ReadyBatch)>> = HashMap::new();
    let mut need_refresh = Vec::new();
    {
        let mut acc = inner.acc.lock().await;
        let flushing = acc.flushing > 0 || inner.closed.load(Ordering::Acquire);
        let in_flight = inner
            .in_flight_per_node
            .lock()
            .map(|m| m.clone())
            .unwrap_or_default();
        let mut taken: HashMap<i32, usize> = HashMap::new();
        let mut req_bytes: HashMap<i32, usize> = HashMap::new();
        let acc = &mut *acc;
        for (tp, q) in acc.queues.iter_mut() {
            if let Some(open) = q.open.as_ref() {
                let age = now.saturating_duration_since(open.created);
                // Due, but nothing of this partition could go out now (batches queued
                // ahead of it, or an in-flight limit reached): it stays open and keeps
                // taking records, as Kafka's accumulator does, rather than one small
                // batch being queued per wakeup (with linger.ms=0, one per record).
                // A completed request wakes the sender.
                let blocked = !flushing
                    && (!q.ready.is_empty()
                        || (q.in_flight > 0 && (!q.confirmed || cfg.max_in_flight == 1))
                        || meta.leader(&tp.0, tp.1).is_some_and(|l| {
                            in_flight.get(&l).copied().unwrap_or(0) >= cfg.max_in_flight
                        }));
                if blocked {
                    // Closed once the partition can send again.
                } else if flushing || age >= cfg.linger {
                    let seq = acc.sequences.entry(tp.clone()).or_insert(0);
                    if let Err(e) = close_open(&inner.buffers, q, seq, inner.producer_id) {
                        fail_open(q, &e);
                    }
                } else {
                    next_wake = next_wake.min(cfg.linger - age);
                }
            }
            expire_ready(inner, q, tp, now);
            if q.ready.is_empty() {
                continue;
            }
            if let Some(due) = q.ready.front().and_then(|b| b.not_before) {
                if due > now {
                    next_wake = next_wake.min(due - now);
                    continue;
                }
            }
            // Without idempotence, keep order by sending one batch at a time per partition
            // when max.in.flight is 1; with idempotence the broker checks sequences.
            if q.in_flight > 0 && (!q.confirmed || cfg.max_in_flight == 1) {
                continue;
            }
            let Some(leader) = meta.leader(&tp.0, tp.1) else {
                need_refresh.push(tp.0.to_string());
                continue;
            };
            let node_in_flight = in_flight.get(&leader).copied().unwrap_or(0);
            if node_in_flight >= cfg.max_in_flight {
                continue;
            }
            let batch_len = q.ready.front().map_or(0, |b| b.bytes.len());
            let used = req_bytes.entry(leader).or_insert(0);
            if *used > 0 && *used + batch_len > cfg.max_request_size {
                continue;
            }
            *used += batch_len;
            if let Some(b) = q.ready.pop_front() {
                q.in_flight += 1;
                *taken.entry(leader).or_insert(0) += 1;
                per_node.entry(leader).or_default().push((tp.clone(), b));
            }
        }
        acc.queues
            .retain(|_, q| q.open.is_some() || !q.ready.is_empty() || q.in_flight > 0);
    }
    if !need_refresh.is_empty() {
        refresh_in_background(inner, need_refresh);
        next_wake = next_wake.min(cfg.client.retry_backoff);
    }
    send_requests(inner, per_node).await;
    next_wake
}

/// Fails the batches of `tp` past `delivery.timeout.ms`.
fn expire_ready(inner: &Inner, q: &mut PartitionQueue, tp: &Tp, now: Instant) {
    while let Some(b) = q.ready.front() {
        if now.saturating_duration_since(b.created) < inner.cfg.delivery_timeout {
            break;
        }
        if let Some(b) = q.ready.pop_front() {
            fail_batch(
                inner,
                b,
                ClientError::Timeout(format!(
                    "{}-{} not delivered within delivery.timeout.ms",
                    tp.0, tp.1
                )),
            );
        }
    }
}

/// Refreshes the metadata of `topics` (partitions without a known leader) in a
/// task of its own.
fn refresh_in_background(inner: &Inner, mut topics: Vec<String>) {
    topics.sort();
    topics.dedup();
    let cluster = inner.cluster.clone();
    tokio::spawn(async move {
        let _ = cluster.refresh(&topics).await;
    });
}

/// Sends one Produce request per node, and waits for each answer in a task of its own.
async fn send_requests(inner: &Arc<Inner>, per_node: HashMap<i32, Vec<(Tp, ReadyBatch)>>) {
    for (node, batches) in per_node {
        if let Ok(mut m) = inner.in_flight_per_node.lock() {
            *m.entry(node).or_insert(0) += 1;
        }
        // Queued here, by the one sender loop, so the requests of a partition
        // go on the wire in sequence order; only the wait for the answer runs
        // in its own task.
        let queued = queue_produce(inner, node, &batches).await;
        let inner = inner.clone();
        tokio::spawn(async move {
            let result = match queued {
                Ok(QueuedProduce::Answered(conn, q)) => conn.response(q).await.map(Some),
                Ok(QueuedProduce::Unanswered(conn, w)) => conn.written(w).await.map(|()| None),
                Err(e) => Err(e),
            };
            produce_done(&inner, batches, result).await;
            if let Ok(mut m) = inner.in_flight_per_node.lock() {
                if let Some(n) = m.get_mut(&node) {
                    *n = n.saturating_sub(1);
                }
            }
            inner.wake.notify_one();
        });
    }
}

fn fail_open(q: &mut PartitionQueue, e: &ClientError) {
    if let Some(open) = q.open.take() {
        open.outcome.fail(ClientError::Other(e.to_string()));
    }
}

fn fail_batch(inner: &Inner, b: ReadyBatch, e: ClientError) {
    if inner.txn.is_some() {
        if let Ok(mut f) = inner.txn_failed.lock() {
            f.get_or_insert_with(|| e.to_string());
        }
    }
    b.outcome.fail(e);
    finish(inner, b.count);
    inner.buffers.give_bytes(b.bytes);
}

fn finish(inner: &Inner, n: usize) {
    let before = inner.outstanding.fetch_sub(n, Ordering::AcqRel);
    if before <= n {
        inner.idle.notify_waiters();
    }
}

/// A Produce request queued on a broker connection.
enum QueuedProduce {
    Answered(Arc<Connection>, Queued<ProduceRequest>),
    /// acks=0: written, never answered.
    Unanswered(Arc<Connection>, Written),
}

/// Builds the Produce request for `batches` and queues it on `node`'s
/// connection (its place in that connection's pipeline is then fixed).
async fn queue_produce(
    inner: &Arc<Inner>,
    node: i32,
    batches: &[(Tp, ReadyBatch)],
) -> Result<QueuedProduce> {
    let cfg = &inner.cfg;
    let mut topics: Vec<TopicProduceData> = Vec::new();
    for ((topic, partition), b) in batches {
        let topic: &str = topic;
        let pd = PartitionProduceData {
            index: *partition,
            records: Some(b.bytes.clone()),
            ..Default::default()
        };
        match topics.iter_mut().find(|t| t.name.as_str() == topic) {
            Some(t) => t.partition_data.push(pd),
            None => topics.push(TopicProduceData {
                name: topic.into(),
                partition_data: vec![pd],
                ..Default::default()
            }),
        }
    }
    let req = ProduceRequest {
        transactional_id: None,
        acks: cfg.acks.as_i16(),
        timeout_ms: cfg.client.request_timeout.as_millis().min(i32::MAX as u128) as i32,
        topic_data: topics,
        ..Default::default()
    };
    let conn = inner.cluster.connection(node).await?;
    if cfg.acks == Acks::None {
        let written = conn.queue_no_response(req).await?;
        Ok(QueuedProduce::Unanswered(conn, written))
    } else {
        let queued = conn.queue(req).await?;
        Ok(QueuedProduce::Answered(conn, queued))
    }
}

/// Each partition's result in a Produce answer.
fn partition_results(resp: &ProduceResponse) -> HashMap<Tp, PartitionResult> {
    let mut results: HashMap<Tp, PartitionResult> = HashMap::new();
    for t in &resp.responses {
        for p in &t.partition_responses {
            results.insert(
                (Arc::from(t.name.as_str()), p.index),
                (
                    p.error_code,
                    p.base_offset,
                    p.log_append_time_ms,
                    p.error_message.as_ref().map(|m| m.to_string()),
                ),
            );
        }
    }
    results
}

/// Marks the `sent` partitions' request done, and puts the `retry` batches back in
/// their queues (in sequence order, after their backoff).
async fn requeue(inner: &Inner, sent: &[Tp], retry: Vec<(Tp, ReadyBatch)>) {
    let mut acc = inner.acc.lock().await;
    for tp in sent {
        let retried = retry.iter().any(|(r, _)| r == tp);
        let q = acc.queues.entry(tp.clone()).or_default();
        q.in_flight = q.in_flight.saturating_sub(1);
        if retried {
            q.confirmed = false;
        } else if q.in_flight == 0 || q.confirmed {
            q.confirmed = true;
        }
    }
    let mut retry_later = Vec::new();
    let now = Instant::now();
    for (tp, mut b) in retry {
        b.not_before = Some(now + inner.cfg.client.backoff(b.attempts));
        b.attempts += 1;
        retry_later.push((tp, b));
    }
    for (tp, b) in retry_later {
        let q = acc.queues.entry(tp).or_default();
        // Keep sequence order: retried batches go before newer ones.
        let pos = q
            .ready
            .iter()
            .position(|x| x.base_sequence > b.base_sequence)
            .unwrap_or(q.ready.len());
        let pos = if b.base_sequence < 0 { 0 } else { pos };
        q.ready.insert(pos, b);
    }
    drop(acc);
}

/// Completes, retries or fails the batches of one Produce request by its outcome.
async fn produce_done(
    inner: &Arc<Inner>,
    batches: Vec<(Tp, ReadyBatch)>,
    result: Result<Option<ProduceResponse>>,
) {
    let sent: Vec<Tp> = batches.iter().map(|(tp, _)| tp.clone()).collect();
    let mut retry: Vec<(Tp, ReadyBatch)> = Vec::new();
    let mut refresh = false;
    match result {
        Err(e) => {
            refresh = true;
            for (tp, b) in batches {
                if e.is_retriable() {
                    retry.push((tp, b));
                } else {
                    fail_batch(inner, b, ClientError::Other(e.to_string()));
                }
            }
        }
        Ok(None) => {
            for (_, b) in batches {
                complete(inner, b, -1, -1);
            }
        }
        Ok(Some(resp)) => {
            let mut results = partition_results(&resp);
            for (tp, b) in batches {
                let Some((err, base, append_time, msg)) = results.remove(&tp) else {
                    fail_batch(
                        inner,
                        b,
                        ClientError::Protocol(format!("no produce result for {}-{}", tp.0, tp.1)),
                    );
                    continue;
                };
                if err == code::NONE || err == code::DUPLICATE_SEQUENCE_NUMBER {
                    complete(inner, b, base, append_time);
                } else if is_retriable(err)
                    || (inner.producer_id >= 0 && err == code::OUT_OF_ORDER_SEQUENCE_NUMBER)
                {
                    refresh |= err != code::OUT_OF_ORDER_SEQUENCE_NUMBER;
                    retry.push((tp, b));
                } else {
                    let ctx = format!("producing to {}-{}", tp.0, tp.1);
                    fail_batch(inner, b, ClientError::kafka(err, ctx, msg.as_deref()));
                }
            }
        }
    }
    if refresh {
        let topics: Vec<String> = retry.iter().map(|(tp, _)| tp.0.to_string()).collect();
        let _ = inner.cluster.refresh(&topics).await;
    }
    requeue(inner, &sent, retry).await;
    if !inner.cfg.client.retry_backoff.is_zero() {
        tokio::time::sleep(Duration::ZERO).await;
    }
}

fn complete(inner: &Arc<Inner>, b: ReadyBatch, base: i64, append_time: i64) {
    b.outcome.succeed(base, append_time);
    finish(inner, b.count);
    inner.buffers.give_bytes(b.bytes);
}
