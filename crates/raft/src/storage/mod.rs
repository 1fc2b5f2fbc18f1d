//! `DiskStorage`: raft-rs `Storage` over the metadata dir. Owns the entry log (`raft-log`),
//! the hard state + conf state (`raft-state`, replaced atomically), and the latest snapshot
//! (`snapshot`, replaced atomically; the log is compacted behind it). Entries since the
//! snapshot are also kept in memory for raft's reads.

pub mod entry_log;
pub mod files;
pub mod meta_properties;
pub mod reserve;

use std::path::{Path, PathBuf};

use bytes::Bytes;
use raft::eraftpb::{ConfState, Entry, HardState, Snapshot, SnapshotMetadata};
use raft::{GetEntriesContext, RaftState, StorageError};

use self::entry_log::{EntryLog, Recovery};
use self::files::{Reader, seal, unseal, write_atomic};
use self::reserve::SpaceReserve;
use crate::error::RaftError;

/// Hard state + conf state file.
pub const STATE_FILE: &str = "raft-state";
/// Latest snapshot file.
pub const SNAPSHOT_FILE: &str = "snapshot";
const STATE_MAGIC: &[u8; 4] = b"VRS1";
const SNAPSHOT_MAGIC: &[u8; 4] = b"VSN1";
/// Most voters or learners a stored conf state may list.
const MAX_MEMBERS: u32 = 1024;

/// Raft storage on disk.
#[derive(Debug)]
pub struct DiskStorage {
    dir: PathBuf,
    hard_state: HardState,
    conf_state: ConfState,
    snapshot: Snapshot,
    entries: Vec<Entry>,
    log: EntryLog,
    recovery: Recovery,
    /// The in-memory hard state differs from `raft-state`.
    state_dirty: bool,
    /// Space held back for metadata writes on a full disk.
    reserve: SpaceReserve,
}

fn encode_state(hs: &HardState, cs: &ConfState) -> Vec<u8> {
    let mut body = Vec::new();
    body.extend_from_slice(&hs.term.to_be_bytes());
    body.extend_from_slice(&hs.vote.to_be_bytes());
    body.extend_from_slice(&hs.commit.to_be_bytes());
    encode_conf_state(&mut body, cs);
    seal(STATE_MAGIC, &body)
}

fn encode_conf_state(out: &mut Vec<u8>, cs: &ConfState) {
    for list in [&cs.voters, &cs.learners] {
        out.extend_from_slice(&(list.len() as u32).to_be_bytes());
        for id in list.iter() {
            out.extend_from_slice(&id.to_be_bytes());
        }
    }
}

fn decode_conf_state(r: &mut Reader<'_>) -> Option<ConfState> {
    let mut lists = [Vec::new(), Vec::new()];
    for list in lists.iter_mut() {
        let n = r.u32()?;
        if n > MAX_MEMBERS {
            return None;
        }
        for _ in 0..n {
            list.push(r.u64()?);
        }
    }
    let [voters, learners] = lists;
    Some(ConfState::from((voters, learners)))
}

fn encode_snapshot(s: &Snapshot) -> Vec<u8> {
    let m = s.get_metadata();
    let mut body = Vec::with_capacity(s.data.len() + 64);
    body.extend_from_slice(&m.index.to_be_bytes());
    body.extend_from_slice(&m.term.to_be_bytes());
    encode_conf_state(&mut body, m.get_conf_state());
    body.extend_from_slice(&s.data);
    seal(SNAPSHOT_MAGIC, &body)
}

fn decode_snapshot(path: &Path, bytes: &[u8]) -> Result<Snapshot, RaftError> {
    let body = unseal(path, SNAPSHOT_MAGIC, bytes)?;
    let mut r = Reader::new(body);
    let parsed = (|| {
        let index = r.u64()?;
        let term = r.u64()?;
        let cs = decode_conf_state(&mut r)?;
        Some((index, term, cs))
    })();
    let Some((index, term, cs)) = parsed else {
        return Err(RaftError::corrupt(path, "truncated snapshot header"));
    };
    Ok(new_snapshot(
        index,
        term,
        cs,
        Bytes::copy_from_slice(r.rest()),
    ))
}

/// A snapshot value.
pub fn new_snapshot(index: u64, term: u64, cs: ConfState, data: Bytes) -> Snapshot {
    let mut meta = SnapshotMetadata {
        index,
        term,
        ..Default::default()
    };
    meta.set_conf_state(cs);
    let mut s = Snapshot {
        data,
        ..Default::default()
    };
    s.set_metadata(meta);
    s
}

fn read_optional(path: &Path) -> Result<Option<Vec<u8>>, RaftError> {
    match std::fs::read(path) {
        Ok(b) => Ok(Some(b)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(RaftError::io(path, e)),
    }
}

impl DiskStorage {
    /// Opens the storage in `dir`; a dir without state starts with `initial_voters`.
    pub fn open(dir: &Path, initial_voters: &[u64]) -> Result<DiskStorage, RaftError> {
        let state_path = dir.join(STATE_FILE);
        let (hard_state, conf_state) = match read_optional(&state_path)? {
            Some(bytes) => {
                let body = unseal(&state_path, STATE_MAGIC, &bytes)?;
                let mut r = Reader::new(body);
                let parsed = (|| {
                    let hs = HardState {
                        term: r.u64()?,
                        vote: r.u64()?,
                        commit: r.u64()?,
                        ..Default::default()
                    };
                    let cs = decode_conf_state(&mut r)?;
                    r.at_end().then_some((hs, cs))
                })();
                parsed.ok_or_else(|| RaftError::corrupt(&state_path, "bad raft state"))?
            }
            None => {
                let cs = ConfState::from((initial_voters.to_vec(), Vec::<u64>::new()));
                let hs = HardState::default();
                write_atomic(&state_path, &encode_state(&hs, &cs))?;
                (hs, cs)
            }
        };
        let snap_path = dir.join(SNAPSHOT_FILE);
        let snapshot = match read_optional(&snap_path)? {
            Some(bytes) => decode_snapshot(&snap_path, &bytes)?,
            None => new_snapshot(0, 0, conf_state.clone(), Bytes::new()),
        };
        let snap_index = snapshot.get_metadata().index;
        let (log, entries, recovery) = EntryLog::open(dir, snap_index)?;
        let mut s = DiskStorage {
            dir: dir.to_path_buf(),
            hard_state,
            conf_state,
            snapshot,
            entries,
            log,
            recovery,
            state_dirty: false,
            reserve: SpaceReserve::open(dir),
        };
        // A torn tail may have taken entries the hard state counted as committed; that can only
        // happen if an fsync lied, and the commit index must not point past the log.
        let last = s.last_index_inner();
        if s.hard_state.commit > last {
            s.hard_state.commit = last.max(snap_index);
        }
        if s.hard_state.commit < snap_index {
            s.hard_state.commit = snap_index;
        }
        Ok(s)
    }

    /// What opening the entry log found.
    pub fn recovery(&self) -> &Recovery {
        &self.recovery
    }

    /// The latest snapshot (index 0 = none).
    pub fn latest_snapshot(&self) -> &Snapshot {
        &self.snapshot
    }

    /// The persisted hard state.
    pub fn hard_state(&self) -> &HardState {
        &self.hard_state
    }

    /// Entries held since the snapshot.
    pub fn entry_count(&self) -> usize {
        self.entries.len()
    }

    /// Size of the entry log file.
    pub fn log_bytes(&self) -> u64 {
        self.log.len_bytes()
    }

    fn first_index_inner(&self) -> u64 {
        self.snapshot.get_metadata().index + 1
    }

    fn last_index_inner(&self) -> u64 {
        match self.entries.last() {
            Some(e) => e.index,
            None => self.snapshot.get_metadata().index,
        }
    }

    fn persist_state(&mut self) -> Result<(), RaftError> {
        let bytes = encode_state(&self.hard_state, &self.conf_state);
        let path = self.dir.join(STATE_FILE);
        self.with_space(|_| write_atomic(&path, &bytes))
    }

    /// Runs a write; one that finds the disk full gets the space reserve and
    /// runs once more (every write here can be repeated: the entry log cuts a
    /// failed append back, files are replaced by rename).
    fn with_space<T>(
        &mut self,
        mut write: impl FnMut(&mut Self) -> Result<T, RaftError>,
    ) -> Result<T, RaftError> {
        let r = match write(self) {
            Err(RaftError::Io { source, .. })
                if reserve::is_out_of_space(&source) && self.reserve.release() =>
            {
                write(self)
            }
            r => r,
        };
        if r.is_ok() {
            self.reserve.maybe_restore();
        }
        r
    }

    /// Whether the space reserve holds its bytes.
    pub fn reserve_held(&self) -> bool {
        self.reserve.is_held()
    }

    /// Appends entries (a conflicting suffix is replaced) and fsyncs the log.
    pub fn append(&mut self, ents: &[Entry]) -> Result<(), RaftError> {
        let Some(first) = ents.first() else {
            return Ok(());
        };
        if first.index < self.first_index_inner() {
            return Err(RaftError::Config(format!(
                "append at {} overwrites compacted entries (first index {})",
                first.index,
                self.first_index_inner()
            )));
        }
        if first.index > self.last_index_inner() + 1 {
            return Err(RaftError::Config(format!(
                "append at {} leaves a gap after {}",
                first.index,
                self.last_index_inner()
            )));
        }
        let keep = (first.index - self.first_index_inner()) as usize;
        let drop = self.entries.len() - keep;
        self.log.truncate_last(drop)?;
        self.entries.truncate(keep);
        self.with_space(|s| s.log.append(ents))?;
        self.entries.extend_from_slice(ents);
        Ok(())
    }

    /// Persists a new hard state.
    pub fn set_hard_state(&mut self, hs: HardState) -> Result<(), RaftError> {
        self.hard_state = hs;
        self.persist_state()
    }

    /// Persists a new commit index.
    pub fn set_commit(&mut self, commit: u64) -> Result<(), RaftError> {
        if self.hard_state.commit == commit {
            return Ok(());
        }
        self.hard_state.commit = commit;
        self.persist_state()
    }

    /// Records a new hard state, persisted by the next [`DiskStorage::flush_state`] (which must
    /// run before any message of the same ready leaves this node).
    pub fn stage_hard_state(&mut self, hs: HardState) {
        if self.hard_state != hs {
            self.hard_state = hs;
            self.state_dirty = true;
        }
    }

    /// Records a new commit index, persisted by the next [`DiskStorage::flush_state`].
    pub fn stage_commit(&mut self, commit: u64) {
        if self.hard_state.commit != commit {
            self.hard_state.commit = commit;
            self.state_dirty = true;
        }
    }

    /// Writes the staged hard state, if it changed.
    pub fn flush_state(&mut self) -> Result<(), RaftError> {
        if self.state_dirty {
            self.persist_state()?;
            self.state_dirty = false;
        }
        Ok(())
    }

    /// Installs a snapshot received from the leader: replaces the log and state.
    pub fn apply_snapshot(&mut self, snap: Snapshot) -> Result<(), RaftError> {
        let meta = snap.get_metadata();
        if meta.index < self.first_index_inner() {
            return Ok(());
        }
        let path = self.dir.join(SNAPSHOT_FILE);
        let bytes = encode_snapshot(&snap);
        self.with_space(|_| write_atomic(&path, &bytes))?;
        self.hard_state.term = self.hard_state.term.max(meta.term);
        self.hard_state.commit = self.hard_state.commit.max(meta.index);
        self.conf_state = meta.get_conf_state().clone();
        self.entries.clear();
        self.with_space(|s| s.log.rewrite(&[]))?;
        self.snapshot = snap;
        self.persist_state()
    }

    /// Writes a snapshot of the state at `index` (already applied) and compacts the log behind it.
    pub fn create_snapshot(&mut self, index: u64, data: Bytes) -> Result<(), RaftError> {
        if index <= self.snapshot.get_metadata().index || index > self.last_index_inner() {
            return Ok(());
        }
        let term = self
            .term_inner(index)
            .ok_or_else(|| RaftError::Config(format!("no term for index {index}")))?;
        let snap = new_snapshot(index, term, self.conf_state.clone(), data);
        let path = self.dir.join(SNAPSHOT_FILE);
        let bytes = encode_snapshot(&snap);
        self.with_space(|_| write_atomic(&path, &bytes))?;
        self.snapshot = snap;
        let drop =
            (index + 1).saturating_sub(self.entries.first().map(|e| e.index).unwrap_or(index + 1));
        self.entries
            .drain(..(drop as usize).min(self.entries.len()));
        let entries = std::mem::take(&mut self.entries);
        let r = self.with_space(|s| s.log.rewrite(&entries));
        self.entries = entries;
        r
    }

    fn term_inner(&self, idx: u64) -> Option<u64> {
        let m = self.snapshot.get_metadata();
        if idx == m.index {
            return Some(m.term);
        }
        let first = self.first_index_inner();
        if idx < first {
            return None;
        }
        self.entries.get((idx - first) as usize).map(|e| e.term)
    }
}

fn store_err(e: StorageError) -> raft::Error {
    raft::Error::Store(e)
}

impl raft::Storage for DiskStorage {
    fn initial_state(&self) -> raft::Result<RaftState> {
        Ok(RaftState::new(
            self.hard_state.clone(),
            self.conf_state.clone(),
        ))
    }

    fn entries(
        &self,
        low: u64,
        high: u64,
        max_size: impl Into<Option<u64>>,
        _context: GetEntriesContext,
    ) -> raft::Result<Vec<Entry>> {
        let first = self.first_index_inner();
        if low < first {
            return Err(store_err(StorageError::Compacted));
        }
        if high > self.last_index_inner() + 1 || low > high {
            return Err(store_err(StorageError::Unavailable));
        }
        let max = max_size.into().unwrap_or(u64::MAX);
        let mut out = Vec::new();
        let mut size = 0u64;
        for e in &self.entries[(low - first) as usize..(high - first) as usize] {
            size += (e.data.len() + e.context.len() + 24) as u64;
            if !out.is_empty() && size > max {
                break;
            }
            out.push(e.clone());
        }
        Ok(out)
    }

    fn term(&self, idx: u64) -> raft::Result<u64> {
        if let Some(t) = self.term_inner(idx) {
            return Ok(t);
        }
        if idx < self.first_index_inner() {
            Err(store_err(StorageError::Compacted))
        } else {
            Err(store_err(StorageError::Unavailable))
        }
    }

    fn first_index(&self) -> raft::Result<u64> {
        Ok(self.first_index_inner())
    }

    fn last_index(&self) -> raft::Result<u64> {
        Ok(self.last_index_inner())
    }

    fn snapshot(&self, request_index: u64, _to: u64) -> raft::Result<Snapshot> {
        if self.snapshot.get_metadata().index < request_index {
            return Err(store_err(StorageError::SnapshotTemporarilyUnavailable));
        }
        Ok(self.snapshot.clone())
    }
}
