//! `OffsetsLog`: the `__consumer_offsets` partitions as the broker gives
//! them to the group coordinator's driver — appends (plain, transactional,
//! and replicated: acknowledged once the partition's high watermark covers
//! them) and reads of a partition for loading.

use bytes::Bytes;

use crate::error::CoordinatorError;
use crate::txn_driver::BoxFuture;

/// The `__consumer_offsets` partitions, as the broker provides them.
pub trait OffsetsLog: Send + 'static {
    /// Appends records (key, value or tombstone) to `partition`, durably
    /// enough that [`OffsetsLog::read_all`] returns them after a restart.
    fn append(
        &mut self,
        partition: i32,
        records: Vec<(Bytes, Option<Bytes>)>,
    ) -> Result<(), CoordinatorError>;
    /// Every record of `partition`, oldest first.
    fn read_all(&mut self, partition: i32)
    -> Result<Vec<(Bytes, Option<Bytes>)>, CoordinatorError>;

    /// Appends `records` to `partition` as one transactional batch of the
    /// producer (TxnOffsetCommit). A refusal by the log (a fenced epoch)
    /// is [`CoordinatorError::Refused`] with its Kafka code. The default
    /// refuses: a log must implement it to serve TxnOffsetCommit.
    fn append_transactional(
        &mut self,
        partition: i32,
        producer_id: i64,
        producer_epoch: i16,
        records: Vec<(Bytes, Option<Bytes>)>,
    ) -> Result<(), CoordinatorError> {
        let _ = (partition, producer_id, producer_epoch, records);
        Err(CoordinatorError::Log(
            "this offsets log does not write transactional batches".into(),
        ))
    }

    /// Appends `records` to `partition` (as a transactional batch of
    /// `producer` when set) the way Kafka's coordinator does, with acks=all:
    /// the records are in the local log, after every earlier append, when
    /// this returns; the future resolves once they are committed (the high
    /// watermark covers them) or failed. A failure carrying a Kafka code is
    /// [`CoordinatorError::Refused`]. The default writes with
    /// [`OffsetsLog::append`] / [`OffsetsLog::append_transactional`] and is
    /// committed at once (a log without replicas).
    fn append_replicated(
        &mut self,
        partition: i32,
        records: Vec<(Bytes, Option<Bytes>)>,
        producer: Option<(i64, i16)>,
    ) -> BoxFuture<Result<(), CoordinatorError>> {
        let written = match producer {
            None => self.append(partition, records),
            Some((pid, epoch)) => self.append_transactional(partition, pid, epoch, records),
        };
        Box::pin(std::future::ready(written))
    }

    /// Every entry of `partition`, oldest first, telling transactional
    /// records and COMMIT/ABORT markers apart (so transactional offsets
    /// reload as pending until their marker). The default is
    /// [`OffsetsLog::read_all`], every record plain.
    fn read_entries(&mut self, partition: i32) -> Result<Vec<OffsetsLogEntry>, CoordinatorError> {
        Ok(self
            .read_all(partition)?
            .into_iter()
            .map(|(key, value)| OffsetsLogEntry::Record { key, value })
            .collect())
    }
}

/// One entry of a `__consumer_offsets` partition as the loader sees it.
#[derive(Debug, Clone, PartialEq)]
pub enum OffsetsLogEntry {
    /// A record of a plain (non-transactional) batch.
    Record {
        /// The record key.
        key: Bytes,
        /// The record value (None: tombstone).
        value: Option<Bytes>,
    },
    /// A record of a transactional batch of `producer_id`.
    Transactional {
        /// The producer of the batch.
        producer_id: i64,
        /// The record key.
        key: Bytes,
        /// The record value (None: tombstone).
        value: Option<Bytes>,
    },
    /// A COMMIT (`commit`) or ABORT control marker of `producer_id`.
    Marker {
        /// The producer the marker ends a transaction of.
        producer_id: i64,
        /// COMMIT or ABORT.
        commit: bool,
    },
}
