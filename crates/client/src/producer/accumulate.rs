//! The steps of `Producer::enqueue`: a record's buffer memory, its partition, its
//! partition's place in the open transaction, and its place in the partition's open
//! batch (closing full batches for the sender).

use std::sync::atomic::Ordering;
use std::time::Instant;

use tokio::sync::OwnedSemaphorePermit;
use vltava_records::{BatchBuilder, BatchBuilderConfig};

use super::delivery::{BatchOutcome, DeliveryFuture};
use super::{Inner, OpenBatch, ProducerRecord, Tp, close_open};
use crate::error::{ClientError, Result};

impl Inner {
    /// Refuses a record larger than a request or the whole buffer, then waits (up to
    /// `max.block.ms`) for `size` bytes of `buffer.memory`.
    pub(super) async fn reserve_memory(&self, size: usize) -> Result<OwnedSemaphorePermit> {
        if size > self.cfg.max_request_size || size > self.cfg.buffer_memory {
            return Err(ClientError::RecordTooLarge {
                size,
                limit: self.cfg.max_request_size.min(self.cfg.buffer_memory),
            });
        }
        // Most records find memory free: no timer, no clock read.
        match self.memory.clone().try_acquire_many_owned(size as u32) {
            Ok(permit) => Ok(permit),
            // Boxed: the timer's state stays out of every record's future.
            Err(_) => Box::pin(self.wait_memory(size)).await,
        }
    }

    /// Waits up to `max.block.ms` for `size` bytes of `buffer.memory`.
    async fn wait_memory(&self, size: usize) -> Result<OwnedSemaphorePermit> {
        tokio::time::timeout(
            self.cfg.max_block,
            self.memory.clone().acquire_many_owned(size as u32),
        )
        .await
        .map_err(|_| {
            ClientError::Timeout(format!(
                "waiting {:?} for buffer.memory",
                self.cfg.max_block
            ))
        })?
        .map_err(|_| ClientError::Closed)
    }

    /// The record's partition: the one it names (which must exist), else the
    /// partitioner's choice.
    pub(super) async fn choose_partition(
        &self,
        record: &ProducerRecord,
        now_ms: i64,
    ) -> Result<Tp> {
        let (n, topic) = self.partition_count(&record.topic, now_ms).await?;
        let p = match record.partition {
            Some(p) if p >= 0 && p < n => p,
            Some(p) => return Err(ClientError::UnknownTopic(format!("{}-{p}", record.topic))),
            None => self.cfg.partitioner.partition(
                &record.topic,
                record.key.as_deref(),
                record.value.as_deref(),
                n,
            ),
        };
        Ok((topic, p))
    }

    /// A transactional producer sends only inside a transaction, and adds each
    /// partition to it (with the coordinator) before its first record.
    pub(super) async fn join_transaction(&self, topic: &str, partition: i32) -> Result<()> {
        let Some((coordinator, state)) = &self.txn else {
            return Ok(());
        };
        let mut st = state.lock().await;
        if !st.in_transaction {
            return Err(ClientError::Config(
                "a transactional producer sends only inside begin_transaction()".into(),
            ));
        }
        let tp = (topic.to_string(), partition);
        if !st.partitions.contains(&tp) {
            coordinator
                .add_partitions(
                    (self.producer_id, self.producer_epoch),
                    std::slice::from_ref(&tp),
                )
                .await?;
            st.partitions.insert(tp);
            st.started = true;
        }
        Ok(())
    }

    /// Appends the record to its partition's open batch (a new one when there is none
    /// or it is full): whether the sender must wake (a new batch to linger on, or a
    /// full one to send), and the record's delivery future.
    pub(super) async fn append(
        &self,
        record: &ProducerRecord,
        tp: &Tp,
        timestamp: i64,
        memory: OwnedSemaphorePermit,
    ) -> Result<(bool, DeliveryFuture)> {
        let mut wake = false;
        let mut acc = self.acc.lock().await;
        let acc = &mut *acc;
        // One lookup per map (cloning the key is a reference count).
        let q = acc.queues.entry(tp.clone()).or_default();
        let seq = acc.sequences.entry(tp.clone()).or_insert(0);
        let mut memory = Some(memory);
        let mut future = None;
        for _ in 0..2 {
            if q.open.is_none() {
                // A new batch: the sender arms its linger timer for it.
                wake = true;
                q.open = Some(self.new_batch(tp, *seq));
            }
            let Some(open) = q.open.as_mut() else { break };
            let index = open.builder.len() as u32;
            let appended = open.builder.append(
                timestamp,
                record.key.as_deref(),
                record.value.as_deref(),
                &record.headers,
            )?;
            if appended {
                future = Some(open.outcome.future(index, timestamp));
                hold_memory(open, memory.take());
                if open.builder.uncompressed_size() >= self.cfg.batch_size {
                    close_open(&self.buffers, q, seq, self.producer_id)?;
                    wake = true;
                }
                break;
            }
            close_open(&self.buffers, q, seq, self.producer_id)?;
            wake = true;
        }
        let Some(future) = future else {
            return Err(ClientError::Other(
                "record did not fit an empty batch".into(),
            ));
        };
        self.outstanding.fetch_add(1, Ordering::AcqRel);
        Ok((wake, future))
    }

    /// An empty batch of `tp` starting at idempotent sequence `seq`.
    fn new_batch(&self, tp: &Tp, seq: i32) -> OpenBatch {
        OpenBatch {
            builder: BatchBuilder::with_buffer(
                BatchBuilderConfig {
                    compression: self.cfg.compression,
                    producer_id: self.producer_id,
                    producer_epoch: self.producer_epoch,
                    base_sequence: if self.producer_id >= 0 { seq } else { -1 },
                    transactional: self.txn.is_some(),
                    max_batch_bytes: self.cfg.batch_size,
                    ..BatchBuilderConfig::default()
                },
                self.buffers.take(),
            ),
            created: Instant::now(),
            outcome: BatchOutcome::new(tp.0.clone(), tp.1),
            memory: None,
        }
    }
}

/// The batch holds a record's memory until the batch ends.
fn hold_memory(open: &mut OpenBatch, permit: Option<OwnedSemaphorePermit>) {
    match (&mut open.memory, permit) {
        (Some(held), Some(p)) => held.merge(p),
        (held @ None, p) => *held = p,
        (Some(_), None) => {}
    }
}
