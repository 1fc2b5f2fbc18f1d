//! The consumer: manual `assign` or group `subscribe` (classic protocol),
//! `poll` returning records in offset order per partition, commits (sync,
//! async, auto), `seek`, `pause`/`resume`, `auto.offset.reset`,
//! `isolation.level` (aborted transactions filtered), `max.poll.records`;
//! fetches run in incremental fetch sessions (KIP-227), one per leader.
//!
//! Records are handed out as raw bytes: deserializing is the caller's job, so
//! a record the caller cannot read (a poison record) is simply skipped or
//! forwarded to a dead-letter topic, and the position has already moved past it.

pub mod assignor;
pub mod config;
mod fetch_session;
mod fetched;
pub mod group;

pub use assignor::{
    Assignor, CooperativeStickyAssignor, RangeAssignor, RoundRobinAssignor, StickyAssignor, Tp,
};
pub use config::{ConsumerConfig, IsolationLevel, OffsetReset};

use crate::admin::{EARLIEST, LATEST, commit_offsets, fetch_committed, list_offsets};
use crate::cluster::{Cluster, ClusterMetadata};
use crate::error::{ClientError, Result};
use crate::kafka_error::{code, is_retriable};
use assignor::RebalanceProtocol;
use bytes::Bytes;
use fetch_session::{FetchSession, MIN_SESSION_VERSION, SessionFetch};
use fetched::Fetched;
use group::Membership;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::time::{Duration, Instant};
use vltava_protocol::ApiKey;
use vltava_protocol::messages::fetch_request::{FetchPartition, FetchTopic, ForgottenTopic};
use vltava_protocol::messages::{FetchRequest, FetchResponse};
use vltava_records::Header;

/// A consumed record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumerRecord {
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
    pub timestamp: i64,
    pub key: Option<Bytes>,
    pub value: Option<Bytes>,
    pub headers: Vec<Header>,
    /// Producer id and epoch of the batch the record came in (-1 from a producer that is
    /// neither idempotent nor transactional).
    pub producer_id: i64,
    pub producer_epoch: i16,
}

/// Called around rebalances (from inside `poll`).
pub trait RebalanceListener: Send {
    fn on_partitions_revoked(&mut self, _partitions: &[Tp]) {}
    fn on_partitions_assigned(&mut self, _partitions: &[Tp]) {}
    fn on_partitions_lost(&mut self, partitions: &[Tp]) {
        self.on_partitions_revoked(partitions);
    }
}

#[derive(Debug, Clone, Default)]
struct PartitionState {
    /// Next offset `poll` hands out (what a commit stores).
    position: Option<i64>,
    /// Next offset to fetch (ahead of `position` while records are buffered).
    fetch_position: Option<i64>,
    paused: bool,
    high_watermark: i64,
}

struct GroupState {
    membership: Arc<Membership>,
    topics: Vec<String>,
    heartbeat: tokio::task::JoinHandle<()>,
    listener: Option<Box<dyn RebalanceListener>>,
    protocol: RebalanceProtocol,
}

/// A Kafka consumer (one task drives it, like Java's `KafkaConsumer`).
pub struct Consumer {
    cluster: Arc<Cluster>,
    cfg: ConsumerConfig,
    assignment: BTreeMap<Tp, PartitionState>,
    /// Fetched record sets not yet handed out, decoded as `poll` drains them.
    buffer: HashMap<Tp, Fetched>,
    group: Option<GroupState>,
    membership: Option<Arc<Membership>>,
    last_auto_commit: Instant,
    rr_start: usize,
    /// Incremental fetch session per leader broker id.
    sessions: HashMap<i32, FetchSession>,
}

impl std::fmt::Debug for Consumer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Consumer")
            .field("group_id", &self.cfg.group_id)
            .field("assignment", &self.assignment.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl Drop for Consumer {
    fn drop(&mut self) {
        if let Some(g) = &self.group {
            g.membership.stopped.store(true, Ordering::Release);
            g.heartbeat.abort();
        }
    }
}

impl Consumer {
    pub async fn new(cfg: ConsumerConfig) -> Result<Consumer> {
        let cluster = Cluster::connect(cfg.client.clone()).await?;
        Ok(Consumer::with_cluster(cluster, cfg))
    }

    pub fn with_cluster(cluster: Arc<Cluster>, cfg: ConsumerConfig) -> Consumer {
        Consumer {
            cluster,
            cfg,
            assignment: BTreeMap::new(),
            buffer: HashMap::new(),
            group: None,
            membership: None,
            last_auto_commit: Instant::now(),
            rr_start: 0,
            sessions: HashMap::new(),
        }
    }

    pub fn cluster(&self) -> &Arc<Cluster> {
        &self.cluster
    }

    /// Manually assigns partitions (no group membership; commits still use `group.id`).
    pub fn assign(&mut self, partitions: &[Tp]) -> Result<()> {
        if self.group.is_some() {
            return Err(ClientError::Config(
                "assign after subscribe: unsubscribe first".into(),
            ));
        }
        self.set_assignment(partitions);
        Ok(())
    }

    fn set_assignment(&mut self, partitions: &[Tp]) {
        let keep: BTreeSet<&Tp> = partitions.iter().collect();
        self.assignment.retain(|tp, _| keep.contains(tp));
        self.buffer.retain(|tp, _| keep.contains(tp));
        for tp in partitions {
            self.assignment.entry(tp.clone()).or_default();
        }
    }

    /// Subscribes to topics through the group `group.id`; partitions are
    /// assigned at the next `poll`.
    pub fn subscribe(
        &mut self,
        topics: &[&str],
        listener: Option<Box<dyn RebalanceListener>>,
    ) -> Result<()> {
        let group_id = self
            .cfg
            .group_id
            .clone()
            .ok_or_else(|| ClientError::Config("subscribe needs group.id".into()))?;
        if self.group.is_some() {
            return Err(ClientError::Config("already subscribed".into()));
        }
        let membership = Arc::new(Membership {
            group_id,
            instance_id: self.cfg.group_instance_id.clone(),
            member_id: std::sync::Mutex::new(String::new()),
            generation: AtomicI64::new(-1),
            rejoin_needed: AtomicBool::new(true),
            last_poll_ms: AtomicI64::new(0),
            started: Instant::now(),
            stopped: AtomicBool::new(false),
        });
        let heartbeat =
            group::spawn_heartbeat(self.cluster.clone(), self.cfg.clone(), membership.clone());
        self.assignment.clear();
        self.buffer.clear();
        self.membership = Some(membership.clone());
        self.group = Some(GroupState {
            membership,
            topics: topics.iter().map(|t| t.to_string()).collect(),
            heartbeat,
            listener,
            protocol: RebalanceProtocol::Eager,
        });
        Ok(())
    }

    /// The currently assigned partitions.
    pub fn assignment(&self) -> Vec<Tp> {
        self.assignment.keys().cloned().collect()
    }

    /// The group member id (empty when not in a group).
    pub fn member_id(&self) -> String {
        self.membership
            .as_ref()
            .map(|m| m.member_id())
            .unwrap_or_default()
    }

    /// Next offset `poll` returns for a partition.
    pub fn position(&self, tp: &Tp) -> Option<i64> {
        self.assignment.get(tp).and_then(|s| s.position)
    }

    /// Moves the position of an assigned partition.
    pub fn seek(&mut self, tp: &Tp, offset: i64) -> Result<()> {
        let st = self
            .assignment
            .get_mut(tp)
            .ok_or_else(|| ClientError::Config(format!("{}-{} is not assigned", tp.0, tp.1)))?;
        st.position = Some(offset);
        st.fetch_position = Some(offset);
        self.buffer.remove(tp);
        Ok(())
    }

    /// Seeks to the beginning or end (`EARLIEST`/`LATEST`) of partitions.
    pub async fn seek_to(&mut self, partitions: &[Tp], which: i64) -> Result<()> {
        let offs = list_offsets(
            &self.cluster,
            partitions,
            which,
            self.cfg.isolation_level.as_i8(),
        )
        .await?;
        for (tp, o) in offs {
            self.seek(&tp, o)?;
        }
        Ok(())
    }

    pub fn pause(&mut self, partitions: &[Tp]) {
        for tp in partitions {
            if let Some(s) = self.assignment.get_mut(tp) {
                s.paused = true;
            }
        }
    }

    pub fn resume(&mut self, partitions: &[Tp]) {
        for tp in partitions {
            if let Some(s) = self.assignment.get_mut(tp) {
                s.paused = false;
            }
        }
    }

    pub fn paused(&self) -> Vec<Tp> {
        self.assignment
            .iter()
            .filter(|(_, s)| s.paused)
            .map(|(tp, _)| tp.clone())
            .collect()
    }

    /// The group's committed offsets for partitions.
    pub async fn committed(&self, partitions: &[Tp]) -> Result<BTreeMap<Tp, i64>> {
        let g = self.group_id()?;
        fetch_committed(&self.cluster, &g, Some(partitions)).await
    }

    fn group_id(&self) -> Result<String> {
        self.cfg
            .group_id
            .clone()
            .ok_or_else(|| ClientError::Config("commits need group.id".into()))
    }

    fn consumed_offsets(&self) -> BTreeMap<Tp, i64> {
        self.assignment
            .iter()
            .filter_map(|(tp, s)| s.position.map(|p| (tp.clone(), p)))
            .collect()
    }

    /// Commits the positions of every assigned partition and waits.
    pub async fn commit_sync(&mut self) -> Result<()> {
        let offsets = self.consumed_offsets();
        self.commit_offsets(&offsets).await
    }

    /// Commits explicit offsets (the next offset to read) and waits.
    pub async fn commit_offsets(&mut self, offsets: &BTreeMap<Tp, i64>) -> Result<()> {
        if offsets.is_empty() {
            return Ok(());
        }
        let g = self.group_id()?;
        let (gen_, member) = match &self.membership {
            Some(m) => (m.generation(), m.member_id()),
            None => (-1, String::new()),
        };
        let instance = self.cfg.group_instance_id.clone();
        let r = commit_offsets(
            &self.cluster,
            &g,
            gen_,
            &member,
            instance.as_deref(),
            offsets,
        )
        .await;
        if let (Err(e), Some(m)) = (&r, &self.membership) {
            if matches!(
                e.code(),
                Some(
                    code::REBALANCE_IN_PROGRESS
                        | code::ILLEGAL_GENERATION
                        | code::UNKNOWN_MEMBER_ID
                )
            ) {
                m.rejoin_needed.store(true, Ordering::Release);
            }
        }
        r
    }

    /// Commits positions in the background; the handle gives the result.
    pub fn commit_async(&self) -> tokio::task::JoinHandle<Result<()>> {
        let offsets = self.consumed_offsets();
        let cluster = self.cluster.clone();
        let g = self.cfg.group_id.clone();
        let (gen_, member) = match &self.membership {
            Some(m) => (m.generation(), m.member_id()),
            None => (-1, String::new()),
        };
        let instance = self.cfg.group_instance_id.clone();
        tokio::spawn(async move {
            let g = g.ok_or_else(|| ClientError::Config("commits need group.id".into()))?;
            if offsets.is_empty() {
                return Ok(());
            }
            commit_offsets(&cluster, &g, gen_, &member, instance.as_deref(), &offsets).await
        })
    }

    /// Returns the next record, waiting as long as needed.
    pub async fn recv(&mut self) -> Result<ConsumerRecord> {
        loop {
            let mut recs = self.poll_at_most(Duration::from_millis(500), 1).await?;
            if let Some(r) = recs.pop() {
                return Ok(r);
            }
        }
    }

    /// Returns up to `max.poll.records` records, waiting at most `timeout` for some.
    pub async fn poll(&mut self, timeout: Duration) -> Result<Vec<ConsumerRecord>> {
        let max = self.cfg.max_poll_records;
        self.poll_at_most(timeout, max).await
    }

    async fn poll_at_most(&mut self, timeout: Duration, max: usize) -> Result<Vec<ConsumerRecord>> {
        let deadline = Instant::now() + timeout;
        if let Some(m) = &self.membership {
            m.touch_poll();
        }
        loop {
            self.maybe_rejoin().await?;
            self.maybe_auto_commit().await;
            self.fill_positions().await?;
            let out = self.drain_buffer(max)?;
            if !out.is_empty() {
                return Ok(out);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            self.fetch(left.min(self.cfg.fetch_max_wait)).await?;
            let out = self.drain_buffer(max)?;
            if !out.is_empty() || Instant::now() >= deadline {
                return Ok(out);
            }
        }
    }

    fn drain_buffer(&mut self, max: usize) -> Result<Vec<ConsumerRecord>> {
        // Sized once when records are buffered: growing a vector of records by
        // doubling copies them again, into fresh memory.
        let mut out = if self.buffer.is_empty() {
            Vec::new()
        } else {
            Vec::with_capacity(max.min(8192))
        };
        let keys: Vec<Tp> = self.assignment.keys().cloned().collect();
        if keys.is_empty() {
            return Ok(out);
        }
        // Rotate the starting partition so one busy partition cannot starve the others.
        self.rr_start = (self.rr_start + 1) % keys.len();
        for i in 0..keys.len() {
            let tp = &keys[(self.rr_start + i) % keys.len()];
            let Some(st) = self.assignment.get_mut(tp) else {
                continue;
            };
            if st.paused {
                continue;
            }
            if let Some(f) = self.buffer.get_mut(tp) {
                while out.len() < max {
                    let r = match f.pop() {
                        Ok(Some(r)) => r,
                        Ok(None) => break,
                        Err(e) => {
                            self.buffer.remove(tp);
                            return Err(e);
                        }
                    };
                    st.position = Some(r.offset + 1);
                    out.push(r);
                }
                if f.is_drained() {
                    if let Some(next) = f.next_offset() {
                        st.fetch_position = st.fetch_position.max(Some(next));
                    }
                    self.buffer.remove(tp);
                }
            }
            // Every fetched record handed out: the position moves on to where the next
            // fetch starts, past control batches and aborted records it skipped (Kafka's
            // position() does), so a log ending in a commit marker can be read to its end.
            if !self.buffer.contains_key(tp) {
                if let (Some(pos), Some(fetch)) = (st.position, st.fetch_position) {
                    st.position = Some(pos.max(fetch));
                }
            }
            if out.len() >= max {
                break;
            }
        }
        Ok(out)
    }

    async fn maybe_auto_commit(&mut self) {
        if self.cfg.enable_auto_commit
            && self.cfg.group_id.is_some()
            && self.last_auto_commit.elapsed() >= self.cfg.auto_commit_interval
        {
            self.last_auto_commit = Instant::now();
            // Fire and forget: a failed auto-commit is retried at the next interval.
            drop(self.commit_async());
        }
    }

    async fn maybe_rejoin(&mut self) -> Result<()> {
        let Some(g) = self.group.as_ref() else {
            return Ok(());
        };
        if !g.membership.rejoin_needed.load(Ordering::Acquire) {
            return Ok(());
        }
        let membership = g.membership.clone();
        let topics = g.topics.clone();
        let old: Vec<Tp> = self.assignment.keys().cloned().collect();
        let eager = g.protocol == RebalanceProtocol::Eager;
        // Eager: give up everything before joining (commit first, like Java).
        if eager && !old.is_empty() {
            if self.cfg.enable_auto_commit {
                let _ = self.commit_sync().await;
            }
            if let Some(l) = self.group.as_mut().and_then(|g| g.listener.as_mut()) {
                l.on_partitions_revoked(&old);
            }
            self.set_assignment(&[]);
        }
        let owned: Vec<Tp> = self.assignment.keys().cloned().collect();
        let joined = group::join(&self.cluster, &self.cfg, &membership, &topics, &owned).await?;
        membership.touch_poll();
        let new_set: BTreeSet<Tp> = joined.assignment.iter().cloned().collect();
        let revoked: Vec<Tp> = owned
            .iter()
            .filter(|tp| !new_set.contains(*tp))
            .cloned()
            .collect();
        let added: Vec<Tp> = joined
            .assignment
            .iter()
            .filter(|tp| !owned.contains(tp))
            .cloned()
            .collect();
        if !revoked.is_empty() {
            if self.cfg.enable_auto_commit {
                let _ = self.commit_sync().await;
            }
            if let Some(l) = self.group.as_mut().and_then(|g| g.listener.as_mut()) {
                l.on_partitions_revoked(&revoked);
            }
        }
        self.set_assignment(&joined.assignment);
        if let Some(g) = self.group.as_mut() {
            g.protocol = joined.protocol;
            if let Some(l) = g.listener.as_mut() {
                l.on_partitions_assigned(&added);
            }
        }
        // Cooperative: partitions given up this round let the others take them in a follow-up round.
        if joined.protocol == RebalanceProtocol::Cooperative && !revoked.is_empty() {
            membership.rejoin_needed.store(true, Ordering::Release);
        }
        Ok(())
    }

    /// Positions for partitions without one: the committed offset, else `auto.offset.reset`.
    async fn fill_positions(&mut self) -> Result<()> {
        let missing: Vec<Tp> = self
            .assignment
            .iter()
            .filter(|(_, s)| s.position.is_none())
            .map(|(tp, _)| tp.clone())
            .collect();
        if missing.is_empty() {
            return Ok(());
        }
        let committed = match &self.cfg.group_id {
            Some(g) => fetch_committed(&self.cluster, g, Some(&missing)).await?,
            None => BTreeMap::new(),
        };
        let mut reset = Vec::new();
        for tp in &missing {
            match committed.get(tp) {
                Some(o) => {
                    if let Some(s) = self.assignment.get_mut(tp) {
                        s.position = Some(*o);
                        s.fetch_position = Some(*o);
                    }
                }
                None => reset.push(tp.clone()),
            }
        }
        self.reset_offsets(&reset).await
    }

    async fn reset_offsets(&mut self, parts: &[Tp]) -> Result<()> {
        if parts.is_empty() {
            return Ok(());
        }
        let ts = match self.cfg.auto_offset_reset {
            OffsetReset::Earliest => EARLIEST,
            OffsetReset::Latest => LATEST,
            OffsetReset::None => {
                return Err(ClientError::Config(format!(
                    "no committed offset for {:?} and auto.offset.reset=none",
                    parts
                )));
            }
        };
        let offs = list_offsets(&self.cluster, parts, ts, self.cfg.isolation_level.as_i8()).await?;
        for (tp, o) in offs {
            if let Some(s) = self.assignment.get_mut(&tp) {
                s.position = Some(o);
                s.fetch_position = Some(o);
                self.buffer.remove(&tp);
            }
        }
        Ok(())
    }

    /// The partitions to fetch now, with their positions, by leader: assigned, not
    /// paused, with a position and a known leader, and nothing buffered.
    fn fetchable_by_leader(&self, meta: &ClusterMetadata) -> BTreeMap<i32, Vec<(Tp, i64)>> {
        let mut by_leader: BTreeMap<i32, Vec<(Tp, i64)>> = BTreeMap::new();
        for (tp, s) in &self.assignment {
            if s.paused || self.buffer.contains_key(tp) {
                continue;
            }
            let (Some(pos), Some(leader)) = (s.fetch_position, meta.leader(&tp.0, tp.1)) else {
                continue;
            };
            by_leader.entry(leader).or_default().push((tp.clone(), pos));
        }
        by_leader
    }

    /// The cluster's metadata, refreshed for `topics` first when a partition of the
    /// assignment has no known leader. (`&mut self`: a `&Consumer` held across an await
    /// would need the consumer to be `Sync`, which its rebalance listener is not.)
    async fn metadata_with_leaders(&mut self, topics: &[String]) -> Result<Arc<ClusterMetadata>> {
        let meta = self.cluster.metadata().await;
        if self
            .assignment
            .keys()
            .any(|(t, p)| meta.leader(t, *p).is_none())
        {
            return Ok(Arc::new(self.cluster.refresh(topics).await?));
        }
        Ok(meta)
    }

    async fn fetch(&mut self, max_wait: Duration) -> Result<()> {
        let topics: Vec<String> = {
            let mut t: Vec<String> = self.assignment.keys().map(|tp| tp.0.clone()).collect();
            t.dedup();
            t
        };
        if topics.is_empty() {
            tokio::time::sleep(max_wait.min(Duration::from_millis(100))).await;
            return Ok(());
        }
        let meta = self.metadata_with_leaders(&topics).await?;
        let by_leader = self.fetchable_by_leader(&meta);
        if by_leader.is_empty() {
            tokio::time::sleep(max_wait.min(Duration::from_millis(50))).await;
            return Ok(());
        }
        let mut tasks = tokio::task::JoinSet::new();
        let mut refresh = false;
        for (leader, parts) in by_leader {
            let conn = match self.cluster.connection(leader).await {
                Ok(c) => c,
                Err(e) if e.is_retriable() => {
                    refresh = true;
                    continue;
                }
                Err(e) => return Err(e),
            };
            let supported = conn
                .version(ApiKey::Fetch)
                .is_ok_and(|v| v >= MIN_SESSION_VERSION);
            let fetch = self
                .sessions
                .entry(leader)
                .or_default()
                .build(&parts, supported);
            let req = self.fetch_request(&fetch, max_wait);
            tasks.spawn(async move { (leader, parts, conn.send(req).await) });
        }
        let mut out_of_range = Vec::new();
        while let Some(joined) = tasks.join_next().await {
            let Ok((leader, parts, resp)) = joined else {
                continue;
            };
            let session = self.sessions.entry(leader).or_default();
            match resp {
                Ok(resp) => {
                    if session.complete(resp.error_code, resp.session_id) {
                        continue; // session lost: the next fetch is a full one
                    }
                    let (r, oor) = self.absorb(&parts, resp)?;
                    refresh |= r;
                    out_of_range.extend(oor);
                }
                Err(e) => {
                    session.fail();
                    if e.is_retriable() {
                        refresh = true;
                    } else {
                        return Err(e);
                    }
                }
            }
        }
        if refresh {
            let _ = self.cluster.refresh(&topics).await;
        }
        if !out_of_range.is_empty() {
            self.reset_offsets(&out_of_range).await?;
        }
        Ok(())
    }

    fn fetch_request(&self, fetch: &SessionFetch, max_wait: Duration) -> FetchRequest {
        let mut topics: Vec<FetchTopic> = Vec::new();
        for ((t, p), pos) in &fetch.send {
            let fp = FetchPartition {
                partition: *p,
                fetch_offset: *pos,
                partition_max_bytes: self.cfg.max_partition_fetch_bytes,
                ..Default::default()
            };
            match topics.iter_mut().find(|x| x.topic.as_str() == t) {
                Some(x) => x.partitions.push(fp),
                None => topics.push(FetchTopic {
                    topic: t.as_str().into(),
                    partitions: vec![fp],
                    ..Default::default()
                }),
            }
        }
        FetchRequest {
            replica_id: -1,
            max_wait_ms: max_wait.as_millis().min(i32::MAX as u128) as i32,
            min_bytes: self.cfg.fetch_min_bytes,
            max_bytes: self.cfg.fetch_max_bytes,
            isolation_level: self.cfg.isolation_level.as_i8(),
            session_id: fetch.session_id,
            session_epoch: fetch.session_epoch,
            topics,
            forgotten_topics_data: forgotten(&fetch.forget),
            ..Default::default()
        }
    }

    /// Buffers the records of a fetch response. Returns whether metadata needs a
    /// refresh and the partitions whose offsets are out of range.
    fn absorb(&mut self, parts: &[(Tp, i64)], resp: FetchResponse) -> Result<(bool, Vec<Tp>)> {
        let mut refresh = false;
        let mut oor = Vec::new();
        if resp.error_code != 0 {
            return if is_retriable(resp.error_code) {
                Ok((true, oor))
            } else {
                Err(ClientError::kafka(resp.error_code, "fetch", None))
            };
        }
        let requested: HashMap<&Tp, i64> = parts.iter().map(|(tp, o)| (tp, *o)).collect();
        for t in &resp.responses {
            for p in &t.partitions {
                let tp = (t.topic.to_string(), p.partition_index);
                let Some(&fetched_at) = requested.get(&tp) else {
                    continue;
                };
                let Some(st) = self.assignment.get_mut(&tp) else {
                    continue;
                };
                if st.fetch_position != Some(fetched_at) {
                    continue; // seeked meanwhile
                }
                match p.error_code {
                    0 => {}
                    code::OFFSET_OUT_OF_RANGE => {
                        oor.push(tp);
                        continue;
                    }
                    e if is_retriable(e) => {
                        refresh = true;
                        continue;
                    }
                    e => {
                        return Err(ClientError::kafka(
                            e,
                            format!("fetching {}-{}", tp.0, tp.1),
                            None,
                        ));
                    }
                }
                st.high_watermark = p.high_watermark;
                let Some(data) = p.records.as_ref() else {
                    continue;
                };
                let aborted: Vec<(i64, i64)> =
                    if self.cfg.isolation_level == IsolationLevel::ReadCommitted {
                        p.aborted_transactions
                            .as_ref()
                            .map(|v| v.iter().map(|a| (a.producer_id, a.first_offset)).collect())
                            .unwrap_or_default()
                    } else {
                        Vec::new()
                    };
                if !data.is_empty() {
                    let fetched = Fetched::new(&tp, data.clone(), fetched_at, &aborted);
                    self.buffer.insert(tp, fetched);
                }
            }
        }
        Ok((refresh, oor))
    }

    /// The incremental fetch session with broker `broker_id` as (session id, epoch of
    /// the next request), if one is open (for monitoring, like librdkafka's stats).
    pub fn fetch_session(&self, broker_id: i32) -> Option<(i32, i32)> {
        self.sessions.get(&broker_id).and_then(FetchSession::state)
    }

    /// Leaves the group (after a final commit with auto-commit on).
    pub async fn close(mut self) -> Result<()> {
        if self.cfg.enable_auto_commit && self.cfg.group_id.is_some() {
            let _ = self.commit_sync().await;
        }
        if let Some(g) = self.group.take() {
            g.membership.stopped.store(true, Ordering::Release);
            g.heartbeat.abort();
            group::leave(&self.cluster, &g.membership).await?;
        }
        Ok(())
    }

    /// Leaves the group and drops the subscription.
    pub async fn unsubscribe(&mut self) -> Result<()> {
        if let Some(g) = self.group.take() {
            g.membership.stopped.store(true, Ordering::Release);
            g.heartbeat.abort();
            group::leave(&self.cluster, &g.membership).await?;
        }
        self.membership = None;
        self.set_assignment(&[]);
        Ok(())
    }
}

/// Forgotten partitions grouped by topic.
fn forgotten(parts: &[Tp]) -> Vec<ForgottenTopic> {
    let mut out: Vec<ForgottenTopic> = Vec::new();
    for (t, p) in parts {
        match out.iter_mut().find(|x| x.topic.as_str() == t) {
            Some(x) => x.partitions.push(*p),
            None => out.push(ForgottenTopic {
                topic: t.as_str().into(),
                partitions: vec![*p],
                ..Default::default()
            }),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use vltava_records::control::build_end_txn_batch;
    use vltava_records::{BatchBuilder, BatchBuilderConfig, ControlRecordType};

    fn batch(base: i64, pid: i64, transactional: bool, values: &[&str]) -> Bytes {
        let mut b = BatchBuilder::new(BatchBuilderConfig {
            base_offset: base,
            producer_id: pid,
            producer_epoch: 0,
            base_sequence: if pid >= 0 { base as i32 } else { -1 },
            transactional,
            compression: vltava_records::Compression::Lz4,
            ..BatchBuilderConfig::default()
        });
        for v in values {
            b.append(0, None, Some(v.as_bytes()), &[]).unwrap();
        }
        b.build().unwrap()
    }

    fn log() -> Bytes {
        let mut all = Vec::new();
        all.extend_from_slice(&batch(0, 7, true, &["aborted-0", "aborted-1"]));
        all.extend_from_slice(&batch(2, -1, false, &["plain-2"]));
        let marker = build_end_txn_batch(
            BatchBuilderConfig {
                base_offset: 3,
                producer_id: 7,
                producer_epoch: 0,
                ..BatchBuilderConfig::default()
            },
            ControlRecordType::Abort,
            0,
            0,
        )
        .unwrap();
        all.extend_from_slice(&marker);
        all.extend_from_slice(&batch(4, 7, true, &["committed-4"]));
        Bytes::from(all)
    }

    /// Every record `Fetched` hands out, and where the next fetch starts.
    fn decode_records(
        tp: &Tp,
        data: &Bytes,
        from: i64,
        aborted: &[(i64, i64)],
    ) -> Result<(Vec<ConsumerRecord>, Option<i64>)> {
        let mut f = Fetched::new(tp, data.clone(), from, aborted);
        let mut out = Vec::new();
        while let Some(r) = f.pop()? {
            out.push(r);
        }
        assert!(f.is_drained());
        Ok((out, f.next_offset()))
    }

    fn values(recs: &[ConsumerRecord]) -> Vec<(i64, String)> {
        recs.iter()
            .map(|r| {
                (
                    r.offset,
                    String::from_utf8_lossy(r.value.as_deref().unwrap_or_default()).into_owned(),
                )
            })
            .collect()
    }

    #[test]
    fn read_committed_skips_aborted_transactions_and_markers() {
        let tp = ("t".to_string(), 0);
        let (recs, next) = decode_records(&tp, &log(), 0, &[(7, 0)]).unwrap();
        assert_eq!(
            values(&recs),
            vec![(2, "plain-2".into()), (4, "committed-4".into())]
        );
        assert_eq!(next, Some(5));
        // read_uncommitted (no aborted list): everything but the marker.
        let (recs, _) = decode_records(&tp, &log(), 0, &[]).unwrap();
        assert_eq!(recs.len(), 4);
        // A position inside a batch drops the records before it.
        let (recs, _) = decode_records(&tp, &log(), 1, &[]).unwrap();
        assert_eq!(recs.first().map(|r| r.offset), Some(1));
    }

    #[test]
    fn a_bad_batch_after_good_ones_ends_the_fetch_there_and_fails_the_next() {
        let tp = ("t".to_string(), 0);
        let first = batch(0, -1, false, &["a", "b"]);
        let mut second = batch(2, -1, false, &["c"]).to_vec();
        let last = second.len() - 1;
        second[last] ^= 1; // the CRC no longer matches
        let log = Bytes::from([&first[..], &second[..]].concat());
        let (recs, next) = decode_records(&tp, &log, 0, &[]).unwrap();
        assert_eq!(recs.len(), 2);
        assert_eq!(next, Some(2));
        // The next fetch starts at the bad batch: an error, not a silent skip.
        assert!(decode_records(&tp, &log.slice(first.len()..), 2, &[]).is_err());
    }

    #[test]
    fn a_torn_last_batch_ends_the_fetch_without_error() {
        let tp = ("t".to_string(), 0);
        let full = log();
        let torn = full.slice(..full.len() - 5);
        let (recs, next) = decode_records(&tp, &torn, 0, &[]).unwrap();
        assert_eq!(recs.len(), 3);
        assert_eq!(next, Some(4));
    }
}
