//! `LogEpochs`: a partition log's leader-epoch checkpoint seen through
//! `vltava_replication::LeaderEpochLookup` (Kafka's `endOffsetFor` rules: the
//! latest epoch ends at the log end; an epoch below every entry ends where the
//! first entry starts; one above every entry is unknown).

use vltava_replication::{EpochEndOffset, LeaderEpochLookup};
use vltava_storage::Log;

/// Read access to one log's epoch history, for the replica state machine.
#[derive(Debug)]
pub struct LogEpochs<'a>(pub &'a Log);

/// A storage offset as the replica's unsigned offset (storage never has negative ones).
pub fn offset(o: i64) -> u64 {
    u64::try_from(o).unwrap_or(0)
}

impl LeaderEpochLookup for LogEpochs<'_> {
    fn end_offset_for_epoch(&self, epoch: i32) -> Option<EpochEndOffset> {
        let entries = self.0.leader_epoch_cache().entries();
        let latest = entries.last()?;
        if epoch == latest.epoch {
            return Some(EpochEndOffset {
                epoch,
                end_offset: offset(self.0.log_end_offset()),
            });
        }
        let higher = entries.iter().position(|e| e.epoch > epoch)?;
        let found = match higher.checked_sub(1) {
            Some(floor) => entries[floor].epoch,
            None => epoch,
        };
        Some(EpochEndOffset {
            epoch: found,
            end_offset: offset(entries[higher].start_offset),
        })
    }

    fn latest_epoch(&self) -> Option<i32> {
        self.0.leader_epoch_cache().latest().map(|e| e.epoch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use vltava_records::{BatchBuilder, BatchBuilderConfig};
    use vltava_storage::{LogConfig, LogOpenOptions, StdStorage, SystemClock};

    fn batch() -> Vec<u8> {
        let mut b = BatchBuilder::new(BatchBuilderConfig::default());
        b.append(1, Some(b"k"), Some(b"v"), &[]).unwrap();
        b.build().unwrap().to_vec()
    }

    #[test]
    fn kafkas_end_offset_rules_over_the_checkpoint() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = Log::open(
            Arc::new(StdStorage),
            dir.path(),
            LogConfig::default(),
            Arc::new(SystemClock),
            LogOpenOptions::default(),
        )
        .unwrap();
        assert_eq!(LogEpochs(&log).end_offset_for_epoch(0), None, "empty");
        log.append_as_leader(&mut batch(), 2).unwrap();
        log.append_as_leader(&mut batch(), 2).unwrap();
        log.append_as_leader(&mut batch(), 5).unwrap();
        let e = LogEpochs(&log);
        let at = |epoch, end_offset| Some(EpochEndOffset { epoch, end_offset });
        assert_eq!(e.latest_epoch(), Some(5));
        assert_eq!(e.end_offset_for_epoch(5), at(5, 3));
        assert_eq!(e.end_offset_for_epoch(4), at(2, 2));
        assert_eq!(e.end_offset_for_epoch(2), at(2, 2));
        assert_eq!(e.end_offset_for_epoch(1), at(1, 0), "below every entry");
        assert_eq!(e.end_offset_for_epoch(6), None, "above every entry");
    }
}
