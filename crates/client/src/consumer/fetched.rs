//! A partition's fetched record set, decoded one batch at a time as `poll`
//! drains it. A fetch of compressed batches can inflate to hundreds of times its
//! size (a 1 MiB fetch of lz4 batches, to hundreds of MB): decoding it all at once
//! would keep all of that alive, and fresh memory costs a page fault per page.
//! Batch by batch, the consumer holds about a batch of decoded records beyond what
//! `poll` handed out, and the allocator reuses the same memory. Records are built
//! straight from the batch's record iterator, with no queue between.

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
    /// Byte offset of the batch after the current one.
    pos: usize,
    /// The fetch offset: records before it (early in the first batch) are dropped.
    from: i64,
    /// Aborted transactions (producer id, first offset) not reached yet, by offset.
    aborted: VecDeque<(i64, i64)>,
    /// Producers whose aborted transaction is under way at `pos`.
    active_aborts: BTreeSet<i64>,
    /// The records of the batch being handed out.
    current: Option<RecordIter>,
    /// Where the next fetch starts: after the last batch read, or after the last
    /// record handed out of a batch that failed part way.
    next: Option<i64>,
    /// No more records (the data is used up, or ended in a torn or bad batch).
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
            current: None,
            next: None,
            done: false,
        }
    }

    /// The next record, decoding the next batch when the current one is used up.
    /// A torn batch ends the data (a fetch may end in one); so does any other error
    /// once something was read from this fetch (the next fetch starts there, and
    /// fails there), which is returned otherwise.
    pub(super) fn pop(&mut self) -> Result<Option<ConsumerRecord>> {
        while !self.done {
            let Some(iter) = self.current.as_mut() else {
                if let Err(e) = self.next_batch() {
                    return self.fail(e);
                }
                continue;
            };
            let h = *iter.header();
            match iter.next() {
                Some(Ok(r)) => {
                    let offset = r.offset(&h);
                    if offset < self.from {
                        continue;
                    }
                    self.next = Some(self.next.map_or(offset + 1, |n| n.max(offset + 1)));
                    return Ok(Some(ConsumerRecord {
                        topic: self.topic.clone(),
                        partition: self.partition,
                        offset,
                        timestamp: r.timestamp(&h),
                        key: r.key,
                        value: r.value,
                        headers: r.headers,
                        producer_id: h.producer_id,
                        producer_epoch: h.producer_epoch,
                    }));
                }
                Some(Err(e)) => return self.fail(e),
                None => {
                    self.current = None;
                    self.next = Some(h.next_offset());
                }
            }
        }
        Ok(None)
    }

    fn fail(&mut self, e: RecordsError) -> Result<Option<ConsumerRecord>> {
        self.done = true;
        self.current = None;
        match e {
            RecordsError::Truncated { .. } => Ok(None),
            _ if self.next.is_some() => Ok(None),
            e => Err(ClientError::from(e)),
        }
    }

    /// Every record handed out and every batch read.
    pub(super) fn is_drained(&self) -> bool {
        self.done
    }

    /// Where the next fetch starts, once something was read.
    pub(super) fn next_offset(&self) -> Option<i64> {
        self.next
    }

    /// Reads the batch at `pos`: its records become `current`, unless it is a
    /// control batch, aborted, or wholly before the fetch offset.
    fn next_batch(&mut self) -> std::result::Result<(), RecordsError> {
        if self.pos >= self.data.len() {
            self.done = true;
            return Ok(());
        }
        let view = BatchView::new(&self.data[self.pos..])?;
        view.validate_crc()?;
        let h = *view.header();
        let start = self.pos;
        let end = start + view.bytes().len();
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
            let batch = self.data.slice(start..end);
            self.current = Some(RecordIter::from_batch(&batch, &DecodeLimits::default())?);
        }
        self.pos = end;
        if self.current.is_none() {
            self.next = Some(h.next_offset());
        }
        Ok(())
    }
}
