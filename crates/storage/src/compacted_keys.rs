//! The key rule of compacted logs: a producer's record without a key is refused by a log
//! whose `cleanup.policy` includes `compact` (Kafka's LogValidator answers
//! INVALID_RECORD, "Compacted topic cannot accept message without key"), since
//! compaction keeps the latest record per key and a keyless one has none.

use vltava_records::{BatchView, DecodeLimits};

use crate::error::{Result, StorageError};

/// Checks that every record of a (non-control) batch has a key, decompressing it if needed.
pub fn check_keys(view: &BatchView<'_>) -> Result<()> {
    if view.header().attributes.is_control() {
        return Ok(());
    }
    for (i, record) in view.records(&DecodeLimits::default())?.iter().enumerate() {
        if record.key.is_none() {
            return Err(StorageError::InvalidRecord(format!(
                "Compacted topic cannot accept message without key (record {i} of the batch)"
            )));
        }
    }
    Ok(())
}
