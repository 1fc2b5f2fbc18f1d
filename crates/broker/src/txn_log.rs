//! `__transaction_state` for the transaction coordinator: its name, appending
//! TransactionLogKey/Value records to one partition and reading a partition
//! back at load (the shared code is in `offsets_log`).

use std::sync::Arc;

use bytes::Bytes;

use crate::offsets_log::{LogEntry, OffsetsLogError, append_internal, read_internal};
use crate::partitions::PartitionManager;

/// The internal topic holding transactional ids and their transaction state.
pub const TRANSACTION_STATE_TOPIC: &str = "__transaction_state";

/// The broker's `__transaction_state` partitions.
#[derive(Debug, Clone)]
pub struct TxnStateLog {
    partitions: Arc<PartitionManager>,
}

impl TxnStateLog {
    pub fn new(partitions: Arc<PartitionManager>) -> Self {
        TxnStateLog { partitions }
    }

    /// Appends `records` (key, value or tombstone) to `partition`.
    pub fn append(
        &self,
        partition: i32,
        records: &[(Bytes, Option<Bytes>)],
    ) -> Result<(), OffsetsLogError> {
        append_internal(
            &self.partitions,
            TRANSACTION_STATE_TOPIC,
            partition,
            records,
            None,
        )
    }

    /// Every record of `partition`, oldest first (an absent partition has none).
    pub fn read_all(&self, partition: i32) -> Result<Vec<(Bytes, Option<Bytes>)>, OffsetsLogError> {
        Ok(
            read_internal(&self.partitions, TRANSACTION_STATE_TOPIC, partition)?
                .into_iter()
                .filter_map(|e| match e {
                    LogEntry::Record { key, value, .. } => Some((key, value)),
                    LogEntry::Marker { .. } => None,
                })
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vltava_storage::LogConfig;

    #[test]
    fn appends_read_back_and_absent_partitions_are_empty() {
        let dir = tempfile::tempdir().unwrap();
        let m = Arc::new(PartitionManager::new(dir.path()).unwrap());
        let log = TxnStateLog::new(m.clone());
        assert!(log.read_all(0).unwrap().is_empty());
        assert!(matches!(
            log.append(0, &[(Bytes::from_static(b"k"), None)]),
            Err(OffsetsLogError::NotHosted(0))
        ));
        m.open(TRANSACTION_STATE_TOPIC, 0, LogConfig::default())
            .unwrap();
        log.append(
            0,
            &[(Bytes::from_static(b"a"), Some(Bytes::from_static(b"1")))],
        )
        .unwrap();
        log.append(0, &[(Bytes::from_static(b"a"), None)]).unwrap();
        let all = log.read_all(0).unwrap();
        assert_eq!(
            all,
            vec![
                (Bytes::from_static(b"a"), Some(Bytes::from_static(b"1"))),
                (Bytes::from_static(b"a"), None)
            ]
        );
    }
}
