//! The aborted transaction index (`<base>.txnindex`) of one segment, in Kafka's
//! layout: one 34-byte entry per transaction whose ABORT marker is in the segment,
//! in marker order:
//!
//! | bytes | field |
//! |---|---|
//! | 0..2 | version (i16, 0) |
//! | 2..10 | producer id (i64) |
//! | 10..18 | first offset of the transaction (i64) |
//! | 18..26 | last offset: the ABORT marker's offset (i64) |
//! | 26..34 | last stable offset once the marker was written (i64) |
//!
//! Every segment has one (empty without aborted transactions), so a missing file
//! shows damage and has the index rebuilt from the log (Kafka creates the file with
//! its first entry and reads either). The index holds no open file: the empty file
//! is created and closed with the segment, and each append opens, writes and
//! closes it (aborts are rare), so a segment without aborted transactions costs no
//! descriptor. Entries are kept in memory as well (34 bytes on disk, one
//! [`AbortedTxn`] in memory per aborted transaction).

use std::path::{Path, PathBuf};

use crate::checkpoint::read_small_file;
use crate::error::{Result, StorageError};
use crate::io::Storage;

/// Size of one entry.
pub const ENTRY_BYTES: usize = 34;
/// The only entry version.
pub const ENTRY_VERSION: i16 = 0;
/// Largest `.txnindex` file loaded (about 7.9 million aborted transactions in one
/// segment); a larger one is treated as damaged and rebuilt from the log.
pub const MAX_TXN_INDEX_BYTES: u64 = 256 * 1024 * 1024;

/// One aborted transaction, as in Kafka's `.txnindex` entry (version 0: producer
/// id, first offset, last offset (the ABORT marker's offset), last stable offset;
/// 34 bytes with the i16 version).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AbortedTxn {
    pub producer_id: i64,
    pub first_offset: i64,
    pub last_offset: i64,
    pub last_stable_offset: i64,
}

impl AbortedTxn {
    /// The 34-byte entry.
    pub fn encode(&self) -> [u8; ENTRY_BYTES] {
        let mut out = [0u8; ENTRY_BYTES];
        out[0..2].copy_from_slice(&ENTRY_VERSION.to_be_bytes());
        out[2..10].copy_from_slice(&self.producer_id.to_be_bytes());
        out[10..18].copy_from_slice(&self.first_offset.to_be_bytes());
        out[18..26].copy_from_slice(&self.last_offset.to_be_bytes());
        out[26..34].copy_from_slice(&self.last_stable_offset.to_be_bytes());
        out
    }

    /// Parses one entry; `None` for a wrong size or an unknown version.
    pub fn decode(bytes: &[u8]) -> Option<Self> {
        if bytes.len() != ENTRY_BYTES {
            return None;
        }
        let i64_at = |at: usize| {
            let mut b = [0u8; 8];
            b.copy_from_slice(&bytes[at..at + 8]);
            i64::from_be_bytes(b)
        };
        if i16::from_be_bytes([bytes[0], bytes[1]]) != ENTRY_VERSION {
            return None;
        }
        Some(AbortedTxn {
            producer_id: i64_at(2),
            first_offset: i64_at(10),
            last_offset: i64_at(18),
            last_stable_offset: i64_at(26),
        })
    }
}

/// A segment's aborted transactions, mirrored to its `.txnindex` file.
#[derive(Debug)]
pub struct TxnIndex {
    path: PathBuf,
    base_offset: i64,
    entries: Vec<AbortedTxn>,
    /// The file changed since the last fsync.
    dirty: bool,
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> StorageError + '_ {
    move |e| StorageError::io(path, e)
}

impl TxnIndex {
    /// An empty index for the segment at `base_offset` without a file (it is
    /// created by the first append or reset).
    pub fn new(path: PathBuf, base_offset: i64) -> Self {
        TxnIndex {
            path,
            base_offset,
            entries: Vec::new(),
            dirty: false,
        }
    }

    /// An empty index with an empty file at `path` (replacing any file there; the
    /// file is closed again).
    pub fn create(storage: &dyn Storage, path: PathBuf, base_offset: i64) -> Result<Self> {
        let mut idx = Self::new(path, base_offset);
        idx.reset(storage)?;
        Ok(idx)
    }

    /// An empty index without a file: any file left at `path` is removed (a
    /// compaction output, which keeps the original segment's file).
    pub fn without_file(storage: &dyn Storage, path: PathBuf, base_offset: i64) -> Result<Self> {
        match storage.remove(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(StorageError::io(&path, e)),
        }
        Ok(Self::new(path, base_offset))
    }

    /// Loads the file at `path`. `Ok(None)` when it is missing or fails its checks
    /// (size not a whole number of entries, unknown version, an entry ending before
    /// the segment or before its own first offset, last offsets not increasing, too
    /// large): the caller rebuilds it from the log.
    pub fn load(storage: &dyn Storage, path: PathBuf, base_offset: i64) -> Result<Option<Self>> {
        let bytes = match read_small_file(storage, &path, MAX_TXN_INDEX_BYTES) {
            Ok(Some(b)) => b,
            Ok(None) => return Ok(None),
            Err(StorageError::Corrupt { .. }) => return Ok(None),
            Err(e) => return Err(e),
        };
        if bytes.len() % ENTRY_BYTES != 0 {
            return Ok(None);
        }
        let mut entries = Vec::with_capacity(bytes.len() / ENTRY_BYTES);
        let mut prev_last = base_offset - 1;
        for chunk in bytes.chunks_exact(ENTRY_BYTES) {
            let Some(e) = AbortedTxn::decode(chunk) else {
                return Ok(None);
            };
            if e.last_offset <= prev_last
                || e.first_offset < 0
                || e.first_offset > e.last_offset
                || e.last_stable_offset < 0
            {
                return Ok(None);
            }
            prev_last = e.last_offset;
            entries.push(e);
        }
        Ok(Some(TxnIndex {
            path,
            base_offset,
            entries,
            dirty: false,
        }))
    }

    /// The file's path (it may not exist).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Points the index at a renamed file.
    pub fn set_path(&mut self, path: PathBuf) {
        self.path = path;
    }

    /// The entries, in marker order.
    pub fn entries(&self) -> &[AbortedTxn] {
        &self.entries
    }

    /// Whether the file changed since it was last fsynced.
    pub fn is_dirty(&self) -> bool {
        self.dirty
    }

    /// Records that the file was fsynced elsewhere.
    pub fn mark_synced(&mut self) {
        self.dirty = false;
    }

    /// The last marker offset recorded.
    pub fn last_offset(&self) -> Option<i64> {
        self.entries.last().map(|e| e.last_offset)
    }

    /// Appends an entry (creating the file if needed). Marker offsets must increase
    /// and lie in the segment.
    pub fn append(&mut self, storage: &dyn Storage, txn: AbortedTxn) -> Result<()> {
        if txn.last_offset < self.base_offset
            || self.last_offset().is_some_and(|l| txn.last_offset <= l)
            || txn.first_offset > txn.last_offset
        {
            return Err(StorageError::InvalidRecord(format!(
                "aborted transaction {txn:?} does not follow {:?} in segment {}",
                self.entries.last(),
                self.base_offset
            )));
        }
        let f = storage.open(&self.path, true).map_err(io_err(&self.path))?;
        let pos = (self.entries.len() * ENTRY_BYTES) as u64;
        f.write_at(&txn.encode(), pos).map_err(io_err(&self.path))?;
        self.entries.push(txn);
        self.dirty = true;
        Ok(())
    }

    /// Drops the entries whose marker is at or after `offset`.
    pub fn truncate_to(&mut self, storage: &dyn Storage, offset: i64) -> Result<()> {
        let keep = self.entries.partition_point(|e| e.last_offset < offset);
        if keep == self.entries.len() {
            return Ok(());
        }
        self.entries.truncate(keep);
        self.set_file_len(storage, (keep * ENTRY_BYTES) as u64)
    }

    fn set_file_len(&mut self, storage: &dyn Storage, len: u64) -> Result<()> {
        let f = match storage.open(&self.path, false) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(StorageError::io(&self.path, e)),
        };
        f.set_len(len).map_err(io_err(&self.path))?;
        self.dirty = true;
        Ok(())
    }

    /// Forgets every entry and empties the file (creating it if missing), before a
    /// rebuild.
    pub fn reset(&mut self, storage: &dyn Storage) -> Result<()> {
        self.entries.clear();
        let f = storage.open(&self.path, true).map_err(io_err(&self.path))?;
        f.set_len(0).map_err(io_err(&self.path))?;
        self.dirty = true;
        Ok(())
    }

    /// Fsyncs the file if it changed since the last fsync.
    pub fn sync(&mut self, storage: &dyn Storage) -> Result<()> {
        if !self.dirty {
            return Ok(());
        }
        match storage.open(&self.path, false) {
            Ok(f) => f.sync().map_err(io_err(&self.path))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(StorageError::io(&self.path, e)),
        }
        self.dirty = false;
        Ok(())
    }

    /// Entries overlapping `[fetch_offset, upper_bound_offset)`, and whether the
    /// search is complete (an entry's last stable offset reached the upper bound, so
    /// no later marker can close a transaction that began below it).
    pub fn collect(
        &self,
        fetch_offset: i64,
        upper_bound_offset: i64,
        out: &mut Vec<AbortedTxn>,
    ) -> bool {
        let start = self
            .entries
            .partition_point(|e| e.last_offset < fetch_offset);
        for e in &self.entries[start..] {
            if e.first_offset < upper_bound_offset {
                out.push(*e);
            }
            if e.last_stable_offset >= upper_bound_offset {
                return true;
            }
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io::MemStorage;

    fn txn(pid: i64, first: i64, last: i64, lso: i64) -> AbortedTxn {
        AbortedTxn {
            producer_id: pid,
            first_offset: first,
            last_offset: last,
            last_stable_offset: lso,
        }
    }

    #[test]
    fn entry_layout_is_kafkas() {
        let e = txn(0x0102, 3, 9, 10).encode();
        assert_eq!(e.len(), 34);
        assert_eq!(&e[0..2], &[0, 0]);
        assert_eq!(&e[2..10], &0x0102i64.to_be_bytes());
        assert_eq!(&e[10..18], &3i64.to_be_bytes());
        assert_eq!(&e[18..26], &9i64.to_be_bytes());
        assert_eq!(&e[26..34], &10i64.to_be_bytes());
        assert_eq!(AbortedTxn::decode(&e), Some(txn(0x0102, 3, 9, 10)));
        let mut v1 = e;
        v1[1] = 1;
        assert_eq!(AbortedTxn::decode(&v1), None);
    }

    #[test]
    fn file_round_trips_and_a_missing_one_is_damage() {
        let s = MemStorage::new();
        let p = PathBuf::from("/d/00000000000000000010.txnindex");
        assert!(TxnIndex::load(&s, p.clone(), 10).unwrap().is_none());
        let mut idx = TxnIndex::create(&s, p.clone(), 10).unwrap();
        assert!(s.exists(&p));
        assert!(
            TxnIndex::load(&s, p.clone(), 10)
                .unwrap()
                .unwrap()
                .entries()
                .is_empty()
        );
        idx.append(&s, txn(1, 5, 12, 13)).unwrap();
        idx.append(&s, txn(2, 11, 14, 15)).unwrap();
        assert!(
            idx.append(&s, txn(2, 11, 14, 15)).is_err(),
            "same marker twice"
        );
        assert!(s.exists(&p));
        let back = TxnIndex::load(&s, p.clone(), 10).unwrap().unwrap();
        assert_eq!(back.entries(), idx.entries());
        idx.truncate_to(&s, 14).unwrap();
        let back = TxnIndex::load(&s, p.clone(), 10).unwrap().unwrap();
        assert_eq!(back.entries(), &[txn(1, 5, 12, 13)]);
        idx.reset(&s).unwrap();
        assert!(
            TxnIndex::load(&s, p, 10)
                .unwrap()
                .unwrap()
                .entries()
                .is_empty()
        );
    }

    #[test]
    fn damaged_files_are_refused() {
        let s = MemStorage::new();
        let p = PathBuf::from("/d/00000000000000000010.txnindex");
        let good = [txn(1, 5, 12, 13).encode(), txn(2, 11, 14, 15).encode()].concat();
        s.put(&p, good[..40].to_vec()).unwrap();
        assert!(TxnIndex::load(&s, p.clone(), 10).unwrap().is_none(), "torn");
        let swapped = [txn(2, 11, 14, 15).encode(), txn(1, 5, 12, 13).encode()].concat();
        s.put(&p, swapped).unwrap();
        assert!(
            TxnIndex::load(&s, p.clone(), 10).unwrap().is_none(),
            "order"
        );
        s.put(&p, txn(1, 2, 9, 10).encode().to_vec()).unwrap();
        assert!(
            TxnIndex::load(&s, p.clone(), 10).unwrap().is_none(),
            "before base"
        );
        s.put(&p, good).unwrap();
        assert_eq!(
            TxnIndex::load(&s, p, 10).unwrap().unwrap().entries().len(),
            2
        );
    }

    #[test]
    fn collect_stops_at_the_upper_bound() {
        let s = MemStorage::new();
        let mut idx = TxnIndex::new(PathBuf::from("/d/x.txnindex"), 0);
        idx.append(&s, txn(1, 0, 4, 5)).unwrap();
        idx.append(&s, txn(2, 6, 9, 10)).unwrap();
        idx.append(&s, txn(3, 12, 20, 21)).unwrap();
        let mut out = Vec::new();
        assert!(idx.collect(5, 10, &mut out));
        assert_eq!(out, vec![txn(2, 6, 9, 10)]);
        out.clear();
        assert!(!idx.collect(0, 100, &mut out));
        assert_eq!(out.len(), 3);
        out.clear();
        assert!(!idx.collect(21, 30, &mut out));
        assert!(out.is_empty());
    }
}
