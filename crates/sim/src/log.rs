//! `SimLog`: one replica's partition log in memory, as storage that loses unsynced writes.
//! Records are (epoch, value) at their index as offset; a prefix of them is synced. A crash
//! keeps the synced prefix and any part of the unsynced tail (a torn tail is cut, as a
//! log's recovery cuts a torn batch); the leader-epoch history is rebuilt from what is left.

use vltava_replication::EpochHistory;

use vltava_testkit::rng::SplitMix64;

/// One record: the leader epoch it was written in and its (unique) value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rec {
    /// Leader epoch of the batch.
    pub epoch: i32,
    /// The producer's value, unique in a run.
    pub value: u64,
}

/// A partition log in memory with an fsync point.
#[derive(Debug, Clone, Default)]
pub struct SimLog {
    records: Vec<Rec>,
    synced: usize,
    epochs: EpochHistory,
    /// How many times records were cut from the log (a prefix seen at one count is
    /// unchanged while the count stays).
    cuts: u64,
}

impl SimLog {
    /// The records, offset = index.
    pub fn records(&self) -> &[Rec] {
        &self.records
    }

    /// The log end offset.
    pub fn end(&self) -> u64 {
        self.records.len() as u64
    }

    /// How many times records were cut (truncation, crash): while it stays, every record
    /// of the log is where it was.
    pub fn cuts(&self) -> u64 {
        self.cuts
    }

    /// The leader-epoch history (what `Replica` asks through `LeaderEpochLookup`).
    pub fn epochs(&self) -> &EpochHistory {
        &self.epochs
    }

    /// The record at `offset`, if the log has it.
    pub fn get(&self, offset: u64) -> Option<Rec> {
        usize::try_from(offset)
            .ok()
            .and_then(|i| self.records.get(i).copied())
    }

    /// Appends one record (unsynced).
    pub fn append(&mut self, rec: Rec) {
        self.records.push(rec);
        self.epochs.append(rec.epoch, self.end());
    }

    /// Records that `epoch` starts at `start_offset` (a leader's new epoch).
    pub fn assign_epoch(&mut self, epoch: i32, start_offset: u64) {
        self.epochs.assign(epoch, start_offset);
    }

    /// Cuts the log at `offset`.
    pub fn truncate(&mut self, offset: u64) {
        let keep = usize::try_from(offset).unwrap_or(usize::MAX);
        if keep < self.records.len() {
            self.cuts += 1;
        }
        self.records.truncate(keep);
        self.synced = self.synced.min(self.records.len());
        self.epochs.truncate_to(offset);
    }

    /// fsync: everything written so far survives a crash.
    pub fn sync(&mut self) {
        self.synced = self.records.len();
    }

    /// A crash: the log ends anywhere between the fsync point and its end. Returns the
    /// offsets lost.
    pub fn crash(&mut self, rng: &mut SplitMix64) -> std::ops::Range<u64> {
        let end = self.records.len();
        let keep = rng.range(self.synced as u64, end as u64);
        let keep = usize::try_from(keep).unwrap_or(end);
        if keep < end {
            self.cuts += 1;
        }
        self.records.truncate(keep);
        let mut epochs = EpochHistory::new();
        for (i, rec) in self.records.iter().enumerate() {
            epochs.append(rec.epoch, i as u64 + 1);
        }
        self.epochs = epochs;
        keep as u64..end as u64
    }
}
