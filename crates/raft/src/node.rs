//! `RaftNode`: one quorum member without networking or timers. It owns raft-rs's `RawNode` over
//! `DiskStorage` and the committed `MetadataImage`; callers feed it ticks, peer messages and
//! proposals, then call `handle_ready`, which persists entries and hard state, applies committed
//! entries to the image, takes snapshots, and returns the messages to send and the entries applied.

use std::path::Path;

use bytes::Bytes;
use raft::eraftpb::{Message, MessageType};
use raft::{Config, RawNode, SnapshotStatus, StateRole};

use crate::apply::{apply_record, image_to_records, replay};
use crate::config::{QuorumConfig, node_id, raft_id};
use crate::error::RaftError;
use crate::image::MetadataImage;
use crate::quorum_status::{ObserverTimes, QuorumStatus, ReplicaStatus, ReplicaTimes};
use crate::records::{decode_batch, encode_batch};
use crate::storage::DiskStorage;
use crate::storage::meta_properties::{self, MetaProperties};

/// Largest raft message payload (entries per append) raft-rs builds.
pub const MAX_MSG_BYTES: u64 = 1024 * 1024;
/// Most in-flight append messages per follower.
pub const MAX_INFLIGHT_MSGS: usize = 256;

/// An entry this node applied (index and term identify a proposal).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AppliedEntry {
    pub index: u64,
    pub term: u64,
}

/// What [`RaftNode::applied_entries`] found.
#[derive(Debug)]
pub enum AppliedRead {
    /// Applied entries from the index asked for (empty when there are none yet).
    Entries(Vec<raft::eraftpb::Entry>),
    /// The index asked for is before the log start (compacted into the snapshot).
    BelowLogStart,
}

/// What one `handle_ready` produced.
#[derive(Debug, Default)]
pub struct ReadyOutput {
    /// Messages for peers.
    pub messages: Vec<Message>,
    /// Entries applied to the image, in order.
    pub applied: Vec<AppliedEntry>,
    /// Whether the image (content, offset or controller id) changed.
    pub image_changed: bool,
}

/// One quorum member (sans network).
pub struct RaftNode {
    raw: RawNode<DiskStorage>,
    image: MetadataImage,
    node_id: i32,
    snapshot_every: u64,
    /// Committed entries whose payload did not decode (skipped deterministically).
    pub undecodable_entries: u64,
}

impl std::fmt::Debug for RaftNode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RaftNode")
            .field("node_id", &self.node_id)
            .field("offset", &self.image.offset)
            .finish()
    }
}

/// Formats `dir` for `cfg` if it is fresh, or checks that it belongs to `cfg`'s node and cluster.
pub fn format_or_check(dir: &Path, cfg: &QuorumConfig) -> Result<MetaProperties, RaftError> {
    std::fs::create_dir_all(dir).map_err(|e| RaftError::io(dir, e))?;
    match meta_properties::read(dir)? {
        Some(meta) => {
            if meta.node_id != cfg.node_id {
                return Err(RaftError::Mismatch {
                    path: dir.to_path_buf(),
                    reason: format!(
                        "node.id is {} but this node is {}",
                        meta.node_id, cfg.node_id
                    ),
                });
            }
            if !cfg.cluster_id.is_empty() && meta.cluster_id != cfg.cluster_id {
                return Err(RaftError::Mismatch {
                    path: dir.to_path_buf(),
                    reason: format!(
                        "cluster.id is {} but the configuration says {}",
                        meta.cluster_id, cfg.cluster_id
                    ),
                });
            }
            Ok(meta)
        }
        None => {
            if cfg.cluster_id.is_empty() {
                return Err(RaftError::Config(
                    "a fresh metadata dir needs a cluster id".into(),
                ));
            }
            let meta = MetaProperties {
                cluster_id: cfg.cluster_id.clone(),
                node_id: cfg.node_id,
            };
            meta_properties::write(dir, &meta)?;
            Ok(meta)
        }
    }
}

impl RaftNode {
    /// Opens (formatting if fresh) this node's metadata dir and rebuilds the image from the
    /// snapshot; committed entries after it are applied by the first `handle_ready` calls.
    pub fn open(cfg: &QuorumConfig) -> Result<RaftNode, RaftError> {
        if !cfg.voters.iter().any(|v| v.id == cfg.node_id) {
            return Err(RaftError::Config(format!(
                "node {} is not a voter",
                cfg.node_id
            )));
        }
        if cfg.voters.iter().any(|v| v.id < 0) {
            return Err(RaftError::Config("voter ids must not be negative".into()));
        }
        let meta = format_or_check(&cfg.metadata_dir, cfg)?;
        let voters: Vec<u64> = cfg.voters.iter().map(|v| raft_id(v.id)).collect();
        let store = DiskStorage::open(&cfg.metadata_dir, &voters)?;
        let mut stored: Vec<u64> = raft::Storage::initial_state(&store)?.conf_state.voters;
        let mut wanted = voters.clone();
        stored.sort_unstable();
        wanted.sort_unstable();
        if stored != wanted {
            return Err(RaftError::Mismatch {
                path: cfg.metadata_dir.clone(),
                reason: format!(
                    "the log's voters are {:?} but the configuration lists {:?} (membership changes are not supported)",
                    stored.iter().map(|r| node_id(*r)).collect::<Vec<_>>(),
                    wanted.iter().map(|r| node_id(*r)).collect::<Vec<_>>()
                ),
            });
        }
        let snap = store.latest_snapshot();
        let snap_index = snap.get_metadata().index;
        let mut image = MetadataImage::empty(&meta.cluster_id);
        if snap_index > 0 {
            let records = decode_batch(&snap.data).map_err(|e| {
                RaftError::corrupt(
                    cfg.metadata_dir.join(crate::storage::SNAPSHOT_FILE),
                    e.to_string(),
                )
            })?;
            replay(&mut image, &records);
            image.offset = snap_index as i64;
        }
        let election_tick = cfg.election_ticks.max(2);
        let (min_election_tick, max_election_tick) = if cfg.fixed_election_timeout {
            (election_tick, election_tick + 1)
        } else {
            (0, 0)
        };
        let raft_cfg = Config {
            id: raft_id(cfg.node_id),
            election_tick,
            min_election_tick,
            max_election_tick,
            heartbeat_tick: cfg.heartbeat_ticks.max(1),
            applied: snap_index,
            max_size_per_msg: MAX_MSG_BYTES,
            max_inflight_msgs: MAX_INFLIGHT_MSGS,
            pre_vote: true,
            check_quorum: cfg.voters.len() > 1,
            ..Default::default()
        };
        raft_cfg.validate()?;
        let logger = slog::Logger::root(slog::Discard, slog::o!());
        let mut raw = RawNode::new(&raft_cfg, store, &logger)?;
        if cfg.voters.len() == 1 {
            raw.campaign()?;
        }
        Ok(RaftNode {
            raw,
            image,
            node_id: cfg.node_id,
            snapshot_every: cfg.snapshot_every_entries.max(1),
            undecodable_entries: 0,
        })
    }

    /// The committed image.
    pub fn image(&self) -> &MetadataImage {
        &self.image
    }

    /// This node's id.
    pub fn node_id(&self) -> i32 {
        self.node_id
    }

    /// Whether this node is the raft leader (the active controller).
    pub fn is_leader(&self) -> bool {
        self.raw.raft.state == StateRole::Leader
    }

    /// The leader's node id, -1 if unknown.
    pub fn leader_id(&self) -> i32 {
        node_id(self.raw.raft.leader_id)
    }

    /// Current raft term.
    pub fn term(&self) -> u64 {
        self.raw.raft.term
    }

    /// Commit index known to this node.
    pub fn commit_index(&self) -> u64 {
        self.raw.raft.raft_log.committed
    }

    /// Last applied index.
    pub fn applied_index(&self) -> u64 {
        self.raw.raft.raft_log.applied
    }

    /// Index of the last entry in this node's log.
    pub fn last_index(&self) -> u64 {
        self.raw.raft.raft_log.last_index()
    }

    /// The quorum as this node sees it, if it leads (only the leader knows its followers'
    /// progress); `times` are the followers' last answer times the driver kept.
    pub(crate) fn quorum_status(
        &self,
        times: &ReplicaTimes,
        observers: &ObserverTimes,
        voter_endpoints: &[crate::config::Voter],
        now_ms: i64,
    ) -> Option<QuorumStatus> {
        if !self.is_leader() {
            return None;
        }
        let mut ids = self.raw.raft.prs().conf().to_conf_state().voters;
        ids.sort_unstable();
        let voters = ids
            .into_iter()
            .map(|raft| {
                let replica_id = node_id(raft);
                if replica_id == self.node_id {
                    return ReplicaStatus {
                        replica_id,
                        log_end_offset: self.last_index() as i64,
                        last_fetch_timestamp: now_ms,
                        last_caught_up_timestamp: now_ms,
                    };
                }
                let matched = self.raw.raft.prs().get(raft).map_or(0, |p| p.matched);
                let (last_fetch_timestamp, last_caught_up_timestamp) = times.of(replica_id);
                ReplicaStatus {
                    replica_id,
                    log_end_offset: matched as i64,
                    last_fetch_timestamp,
                    last_caught_up_timestamp,
                }
            })
            .collect();
        let mut voter_endpoints = voter_endpoints.to_vec();
        voter_endpoints.sort_by_key(|v| v.id);
        Some(QuorumStatus {
            leader_id: self.node_id,
            leader_epoch: i32::try_from(self.term()).unwrap_or(i32::MAX),
            high_watermark: self.commit_index() as i64,
            voters,
            observers: observers.live(now_ms),
            voter_endpoints,
        })
    }

    /// The applied entries from raft index `from` on (at most about `max_bytes`, at least
    /// one), for an observer's fetch; `BelowLogStart` when `from` was compacted into the
    /// snapshot (the observer must load the image instead).
    pub fn applied_entries(&self, from: u64, max_bytes: u64) -> Result<AppliedRead, RaftError> {
        let store = self.raw.store();
        let first = raft::Storage::first_index(store)?;
        if from < first {
            return Ok(AppliedRead::BelowLogStart);
        }
        let end = (self.image.offset.max(0) as u64).min(raft::Storage::last_index(store)?) + 1;
        if from >= end {
            return Ok(AppliedRead::Entries(Vec::new()));
        }
        let entries = raft::Storage::entries(
            store,
            from,
            end,
            max_bytes,
            raft::GetEntriesContext::empty(false),
        )?;
        Ok(AppliedRead::Entries(entries))
    }

    /// The storage (for inspection in tests and tools).
    pub fn storage(&self) -> &DiskStorage {
        self.raw.store()
    }

    /// Whether `handle_ready` has work.
    pub fn has_ready(&self) -> bool {
        self.raw.has_ready()
    }

    /// Advances the logical clock by one tick.
    pub fn tick(&mut self) {
        self.raw.tick();
    }

    /// Feeds a message from a peer.
    pub fn step(&mut self, msg: Message) -> Result<(), RaftError> {
        self.raw.step(msg)?;
        Ok(())
    }

    /// Proposes a batch of records; returns the (index, term) the entry will have if it commits.
    pub fn propose(
        &mut self,
        records: &[crate::records::MetadataRecord],
    ) -> Result<AppliedEntry, RaftError> {
        if !self.is_leader() {
            return Err(RaftError::NotController);
        }
        let data = encode_batch(records)?;
        self.raw.propose(Vec::new(), data.to_vec())?;
        let index = self.raw.raft.raft_log.last_index();
        Ok(AppliedEntry {
            index,
            term: self.raw.raft.term,
        })
    }

    /// Persists, applies and collects everything raft has ready.
    pub fn handle_ready(&mut self) -> Result<ReadyOutput, RaftError> {
        let mut out = ReadyOutput::default();
        let leader_before = self.image.controller_id;
        if self.raw.has_ready() {
            let mut rd = self.raw.ready();
            out.messages.extend(rd.take_messages());
            if !rd.snapshot().is_empty() {
                let snap = rd.snapshot().clone();
                self.install_snapshot(snap)?;
                out.image_changed = true;
            }
            let committed = rd.take_committed_entries();
            self.apply_entries(committed, &mut out);
            if !rd.entries().is_empty() {
                self.raw.mut_store().append(rd.entries())?;
            }
            if let Some(hs) = rd.hs() {
                self.raw.mut_store().stage_hard_state(hs.clone());
            }
            out.messages.extend(rd.take_persisted_messages());
            let mut light = self.raw.advance(rd);
            if let Some(commit) = light.commit_index() {
                self.raw.mut_store().stage_commit(commit);
            }
            out.messages.extend(light.take_messages());
            let committed = light.take_committed_entries();
            self.apply_entries(committed, &mut out);
            self.raw.advance_apply();
            // One write of term, vote and commit per ready, before any message leaves (the
            // caller sends `out.messages` only after this returns).
            self.raw.mut_store().flush_state()?;
            self.maybe_snapshot()?;
        }
        // Transports are fire-and-forget: report each snapshot as sent, so the leader goes back
        // to probing that follower (and sends the snapshot again if it was lost).
        for m in &out.messages {
            if m.msg_type == MessageType::MsgSnapshot {
                self.raw.report_snapshot(m.to, SnapshotStatus::Finish);
            }
        }
        let leader = self.leader_id();
        if leader != leader_before {
            self.image.controller_id = leader;
            out.image_changed = true;
        }
        Ok(out)
    }

    fn install_snapshot(&mut self, snap: raft::eraftpb::Snapshot) -> Result<(), RaftError> {
        let index = snap.get_metadata().index;
        let records = decode_batch(&snap.data)?;
        let mut image = MetadataImage::empty(&self.image.cluster_id);
        replay(&mut image, &records);
        image.offset = index as i64;
        image.controller_id = self.image.controller_id;
        self.raw.mut_store().apply_snapshot(snap)?;
        self.image = image;
        Ok(())
    }

    fn apply_entries(&mut self, entries: Vec<raft::eraftpb::Entry>, out: &mut ReadyOutput) {
        for e in entries {
            if e.index as i64 <= self.image.offset {
                continue;
            }
            if e.entry_type == raft::eraftpb::EntryType::EntryNormal && !e.data.is_empty() {
                match decode_batch(&e.data) {
                    Ok(records) => {
                        for r in &records {
                            apply_record(&mut self.image, r);
                        }
                    }
                    Err(_) => self.undecodable_entries += 1,
                }
            }
            self.image.offset = e.index as i64;
            out.image_changed = true;
            out.applied.push(AppliedEntry {
                index: e.index,
                term: e.term,
            });
        }
    }

    fn maybe_snapshot(&mut self) -> Result<(), RaftError> {
        let applied = self.image.offset.max(0) as u64;
        let snap_index = self.raw.store().latest_snapshot().get_metadata().index;
        if applied >= snap_index + self.snapshot_every {
            self.snapshot_now()?;
        }
        Ok(())
    }

    /// Writes a snapshot of the image at the applied index and compacts the log behind it.
    pub fn snapshot_now(&mut self) -> Result<(), RaftError> {
        let applied = self.image.offset.max(0) as u64;
        let data: Bytes = encode_batch(&image_to_records(&self.image))?;
        self.raw.mut_store().create_snapshot(applied, data)
    }
}
