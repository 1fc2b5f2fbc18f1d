//! A partition's fetched record set, decoded one batch at a time as `poll`
//! drains it. A fetch of compressed batches can inflate to hundreds of times its
//! size (a 1 MiB fetch of lz4 batches, to hundreds of MB): decoding it all at once
//! would keep all of that alive, and fresh memory costs a page fault per page.
//! Batch by batch, the consumer holds about a batch of decoded records beyond what
//! `poll` handed out, and the allocator reuses the same memory.

use super::{ConsumerRecord, Tp};
use crate::error::{ClientError, Result};
use bytes::Bytes;
use std::collections::{BTreeSet, VecDeque};
use vltava_records::{BatchView, DecodeLimits, RecordIter, RecordsError};

/// Records at or after the fetch offset in one partition's fetched record set,
/// skipping control batches and aborted transactions.
#[derive(Debug)]
pub(super) struct Fetched {
    topic: String,
    partition: i32,
    data: Bytes,
    /// Byte offset of the next batch to decode.
    pos: usize,
    /// The fetch offset: records before it (early in the first batch) are dropped.
    from: i64,
    /// Aborted transactions (producer id, first offset) not reached yet, by offset.
    aborted: VecDeque<(i64, i64)>,
    /// Producers whose aborted transaction is under way at `pos`.
    active_aborts: BTreeSet<i64>,
    ready: VecDeque<ConsumerRecord>,
    /// The offset after the last batch decoded: where the next fetch starts.
    next: Option<i64>,
    /// No more batches to decode (the data is used up, or ended in a torn or bad batch).
    done: bool,
}

impl Fetched {
    /// `aborted` lists the response's aborted transactions (empty unless
    /// read_committed).
    pub(super) fn new(tp: &Tp, data: Bytes, from: i64, aborted: &[(i64, i64)]) -> Self {
        let mut aborted = aborted.to_vec();
        aborted.sort_by_key(|a| a.1);
        Fetched {
            topic: tp.0.clone(),
            partition: tp.1,
            data,
            pos: 0,
            from,
            aborted: aborted.into(),
            active_aborts: BTreeSet::new(),
            ready: VecDeque::new(),
            next: None,
            done: false,
        }
    }

    /// The next record, decoding batches until one has a record to hand out.
    pub(super) fn pop(&mut self) -> Result<Option<ConsumerRecord>> {
        while self.ready.is_empty() && !self.done {
            self.decode_batch()?;
        }
        Ok(self.ready.pop_front())
    }

    /// Decoded records not handed out yet.
    pub(super) fn ready(&self) -> usize {
        self.ready.len()
    }

    /// Every record handed out and every batch decoded.
    pub(super) fn is_drained(&self) -> bool {
        self.done && self.ready.is_empty()
    }

    /// Where the next fetch starts, once some batch was decoded.
    pub(super) fn next_offset(&self) -> Option<i64> {
        self.next
    }

    /// Decodes the batch at `pos`. A torn batch ends the data (a fetch may end in
    /// one); any other error does too once a batch was read from this fetch (the
    /// next fetch starts at the bad batch, and fails there), and is returned
    /// otherwise.
    fn decode_batch(&mut self) -> Result<()> {
        if self.pos >= self.data.len() {
            self.done = true;
            return Ok(());
        }
        let started = self.ready.len();
        match self.read_batch() {
            Ok(len) => {
                self.pos += len;
                Ok(())
            }
            Err(e) => {
                self.ready.truncate(started);
                self.done = true;
                match e {
                    RecordsError::Truncated { .. } => Ok(()),
                    _ if self.next.is_some() => Ok(()),
                    e => Err(ClientError::from(e)),
                }
            }
        }
    }

    /// Reads the batch at `pos` into `ready`; returns its length in bytes.
    fn read_batch(&mut self) -> std::result::Result<usize, RecordsError> {
        let view = BatchView::new(&self.data[self.pos..])?;
        view.validate_crc()?;
        let h = *view.header();
        let len = view.bytes().len();
        while self.aborted.front().is_some_and(|a| a.1 <= h.base_offset) {
            if let Some((pid, _)) = self.aborted.pop_front() {
                self.active_aborts.insert(pid);
            }
        }
        let skip = h.attributes.is_transactional() && self.active_aborts.contains(&h.producer_id);
        if h.attributes.is_control() {
            // An abort or commit marker ends that producer's transaction.
            if h.record_count > 0 {
                self.active_aborts.remove(&h.producer_id);
            }
        } else if !skip && h.record_count > 0 && h.last_offset() >= self.from {
            let batch = self.data.slice(self.pos..self.pos + len);
            for r in RecordIter::from_batch(&batch, &DecodeLimits::default())? {
                let r = r?;
                let offset = r.offset(&h);
                if offset < self.from {
                    continue;
                }
                self.ready.push_back(ConsumerRecord {
                    topic: self.topic.clone(),
                    partition: self.partition,
                    offset,
                    timestamp: r.timestamp(&h),
                    key: r.key,
                    value: r.value,
                    headers: r.headers,
                    producer_id: h.producer_id,
                    producer_epoch: h.producer_epoch,
                });
            }
        }
        self.next = Some(h.next_offset());
        Ok(len)
    }
}
