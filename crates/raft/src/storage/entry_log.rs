//! The append-only raft entry log file. Each entry is `len (u32) | crc32c(payload) (u32) |
//! payload`, payload = `index (u64) | term (u64) | entry type (u8) | context len (u32) |
//! context | data`. Opening reads every entry and truncates the file at the first torn or
//! corrupt one (a crash mid-append); a conflicting append from a new leader truncates the
//! file at the first overwritten entry.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use bytes::Bytes;
use raft::eraftpb::{Entry, EntryType};

use super::files::{Reader, sync_dir};
use crate::error::RaftError;

/// File name inside the metadata dir.
pub const FILE_NAME: &str = "raft-log";
/// Largest entry payload accepted when reading the file.
pub const MAX_ENTRY_PAYLOAD: usize = 64 * 1024 * 1024;

/// What opening found.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Recovery {
    /// Bytes cut off the end (torn or corrupt tail).
    pub truncated_bytes: u64,
}

/// The open log file and the file offset of each entry it holds.
#[derive(Debug)]
pub struct EntryLog {
    path: PathBuf,
    file: File,
    /// Start offset of each entry, in order.
    starts: Vec<u64>,
    end: u64,
}

fn encode(e: &Entry) -> Vec<u8> {
    let payload_len = 8 + 8 + 1 + 4 + e.context.len() + e.data.len();
    let mut payload = Vec::with_capacity(payload_len);
    payload.extend_from_slice(&e.index.to_be_bytes());
    payload.extend_from_slice(&e.term.to_be_bytes());
    payload.push(match e.entry_type {
        EntryType::EntryNormal => 0,
        EntryType::EntryConfChange => 1,
        EntryType::EntryConfChangeV2 => 2,
    });
    payload.extend_from_slice(&(e.context.len() as u32).to_be_bytes());
    payload.extend_from_slice(&e.context);
    payload.extend_from_slice(&e.data);
    let mut out = Vec::with_capacity(payload.len() + 8);
    out.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    out.extend_from_slice(&crc32c::crc32c(&payload).to_be_bytes());
    out.extend_from_slice(&payload);
    out
}

fn decode(payload: &[u8]) -> Option<Entry> {
    let mut r = Reader::new(payload);
    let index = r.u64()?;
    let term = r.u64()?;
    let entry_type = match r.u8()? {
        0 => EntryType::EntryNormal,
        1 => EntryType::EntryConfChange,
        2 => EntryType::EntryConfChangeV2,
        _ => return None,
    };
    let ctx_len = r.u32()? as usize;
    let context = Bytes::copy_from_slice(r.bytes(ctx_len)?);
    let data = Bytes::copy_from_slice(r.rest());
    Some(Entry {
        index,
        term,
        entry_type,
        context,
        data,
        ..Default::default()
    })
}

impl EntryLog {
    /// Opens (creating if missing) the log in `dir` and returns the entries after
    /// `after_index` (entries at or below it are covered by the snapshot).
    pub fn open(
        dir: &Path,
        after_index: u64,
    ) -> Result<(EntryLog, Vec<Entry>, Recovery), RaftError> {
        let path = dir.join(FILE_NAME);
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| RaftError::io(&path, e))?;
        let mut buf = Vec::new();
        file.read_to_end(&mut buf)
            .map_err(|e| RaftError::io(&path, e))?;
        let mut entries = Vec::new();
        let mut starts = Vec::new();
        let mut pos = 0usize;
        let mut stale = false;
        let mut last: Option<u64> = None;
        while pos < buf.len() {
            let Some(head) = buf.get(pos..pos + 8) else {
                break;
            };
            let len = u32::from_be_bytes([head[0], head[1], head[2], head[3]]) as usize;
            let crc = u32::from_be_bytes([head[4], head[5], head[6], head[7]]);
            if len > MAX_ENTRY_PAYLOAD {
                break;
            }
            let Some(payload) = buf.get(pos + 8..pos + 8 + len) else {
                break;
            };
            if crc32c::crc32c(payload) != crc {
                break;
            }
            let Some(e) = decode(payload) else { break };
            if last.is_some_and(|l| e.index != l + 1) {
                break;
            }
            last = Some(e.index);
            if e.index <= after_index {
                stale = true;
            } else {
                if entries.is_empty() && e.index != after_index + 1 {
                    return Err(RaftError::corrupt(
                        &path,
                        format!(
                            "log starts at {} but the snapshot ends at {after_index}",
                            e.index
                        ),
                    ));
                }
                starts.push(pos as u64);
                entries.push(e);
            }
            pos += 8 + len;
        }
        let recovery = Recovery {
            truncated_bytes: (buf.len() - pos) as u64,
        };
        let mut log = EntryLog {
            path: path.clone(),
            file,
            starts,
            end: pos as u64,
        };
        if recovery.truncated_bytes > 0 {
            log.file
                .set_len(log.end)
                .map_err(|e| RaftError::io(&path, e))?;
            log.file.sync_all().map_err(|e| RaftError::io(&path, e))?;
        }
        if stale {
            log.rewrite(&entries)?;
        }
        log.file
            .seek(SeekFrom::Start(log.end))
            .map_err(|e| RaftError::io(&path, e))?;
        Ok((log, entries, recovery))
    }

    /// Drops the last `n` entries from the file (a conflicting append replaces them).
    pub fn truncate_last(&mut self, n: usize) -> Result<(), RaftError> {
        if n == 0 {
            return Ok(());
        }
        let keep = self.starts.len().saturating_sub(n);
        let new_end = self.starts.get(keep).copied().unwrap_or(self.end);
        self.starts.truncate(keep);
        self.end = new_end;
        self.file
            .set_len(new_end)
            .map_err(|e| RaftError::io(&self.path, e))?;
        self.file
            .seek(SeekFrom::Start(new_end))
            .map_err(|e| RaftError::io(&self.path, e))?;
        Ok(())
    }

    /// Appends entries and fsyncs. A failed write (a full disk, EIO) is cut
    /// back: the file ends at the last whole entry again and can be appended
    /// to (or the append repeated).
    pub fn append(&mut self, ents: &[Entry]) -> Result<(), RaftError> {
        let mut buf = Vec::new();
        let mut starts = Vec::with_capacity(ents.len());
        for e in ents {
            starts.push(self.end + buf.len() as u64);
            buf.extend_from_slice(&encode(e));
        }
        let written = self
            .file
            .write_all(&buf)
            .and_then(|()| self.file.sync_data());
        if let Err(e) = written {
            // Shrinking needs no space; if it fails too, the next open cuts the
            // torn tail (entries carry a CRC).
            let _ = self.file.set_len(self.end);
            let _ = self.file.seek(SeekFrom::Start(self.end));
            return Err(RaftError::io(&self.path, e));
        }
        self.starts.extend(starts);
        self.end += buf.len() as u64;
        Ok(())
    }

    /// Replaces the file with exactly `ents` (after a snapshot compacted the log).
    pub fn rewrite(&mut self, ents: &[Entry]) -> Result<(), RaftError> {
        let tmp = self.path.with_extension("tmp");
        let mut f = File::create(&tmp).map_err(|e| RaftError::io(&tmp, e))?;
        let mut starts = Vec::with_capacity(ents.len());
        let mut buf = Vec::new();
        for e in ents {
            starts.push(buf.len() as u64);
            buf.extend_from_slice(&encode(e));
        }
        f.write_all(&buf).map_err(|e| RaftError::io(&tmp, e))?;
        f.sync_all().map_err(|e| RaftError::io(&tmp, e))?;
        drop(f);
        std::fs::rename(&tmp, &self.path).map_err(|e| RaftError::io(&self.path, e))?;
        sync_dir(&self.path)?;
        self.file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(&self.path)
            .map_err(|e| RaftError::io(&self.path, e))?;
        self.end = buf.len() as u64;
        self.file
            .seek(SeekFrom::Start(self.end))
            .map_err(|e| RaftError::io(&self.path, e))?;
        self.starts = starts;
        Ok(())
    }

    /// Size of the file in bytes.
    pub fn len_bytes(&self) -> u64 {
        self.end
    }
}
