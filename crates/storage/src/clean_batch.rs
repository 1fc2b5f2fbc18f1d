//! Cleaning one record batch: which records of it survive compaction, and the
//! bytes written for it (the batch as it is, a rebuilt batch with the same base and
//! last offset, an empty batch, or nothing). See `compaction` for the rules.

use std::collections::HashMap;

use bytes::Bytes;
use vltava_records::batch_header::{BATCH_HEADER_LEN, LOG_OVERHEAD, update_crc};
use vltava_records::{BatchBuilder, BatchBuilderConfig, BatchHeader, BatchView, DecodeLimits};

use crate::error::Result;
use crate::offset_map::OffsetMap;
use crate::txn_index::AbortedTxn;

/// Byte offset of the last-offset-delta field in a batch header.
const LAST_OFFSET_DELTA_AT: usize = 23;

/// What decides whether a record stays.
#[derive(Debug)]
pub(crate) struct RetainRule<'a> {
    /// Latest offset per key in the mapped part of the dirty section.
    pub map: &'a OffsetMap,
    /// End of the mapped part: only tombstones below it may be dropped (past it
    /// the older values of their keys were not looked for).
    pub map_end: i64,
    pub now_ms: i64,
    pub delete_retention_ms: i64,
    /// Last offset of each producer's last batch, when cleaning was planned.
    pub producer_last: &'a HashMap<i64, i64>,
}

/// What cleaning saw besides the records it dropped.
#[derive(Debug, Default)]
pub(crate) struct CleanTally {
    pub removed: u64,
    /// The oldest timestamp of a tombstone kept below the mapped end.
    pub oldest_kept_tombstone: Option<i64>,
    /// Something besides records changed (a marker stamped, headers dropped).
    pub changed: bool,
    pub markers_stamped: u64,
    pub markers_removed: u64,
    /// The earliest future delete horizon of a marker kept.
    pub marker_horizon: Option<i64>,
}

/// Whether `h` is a data batch of one of the `aborted` transactions: a
/// transactional batch of the producer between the transaction's first offset
/// and its ABORT marker.
pub(crate) fn in_aborted_txn(h: &BatchHeader, aborted: &[AbortedTxn]) -> bool {
    h.attributes.is_transactional()
        && !h.attributes.is_control()
        && aborted.iter().any(|t| {
            t.producer_id == h.producer_id
                && t.first_offset <= h.base_offset
                && h.base_offset < t.last_offset
        })
}

/// A builder configuration that rebuilds a batch with `h`'s header fields (codec, offsets,
/// epochs, producer, flags, timestamp type) and no size limit: how a cleaning rewrites a
/// batch whose records it keeps only in part (`clean_batch`) or re-stamps (`clean_txn`).
pub(crate) fn builder_like(h: &BatchHeader) -> BatchBuilderConfig {
    BatchBuilderConfig {
        compression: h
            .attributes
            .compression()
            .unwrap_or(vltava_records::Compression::None),
        base_offset: h.base_offset,
        partition_leader_epoch: h.partition_leader_epoch,
        producer_id: h.producer_id,
        producer_epoch: h.producer_epoch,
        base_sequence: h.base_sequence,
        transactional: h.attributes.is_transactional(),
        control: h.attributes.is_control(),
        timestamp_type: h.attributes.timestamp_type(),
        max_batch_bytes: usize::MAX,
    }
}

/// A batch with `h`'s header and no records.
pub(crate) fn empty_batch_like(h: &BatchHeader) -> Bytes {
    let header = BatchHeader {
        batch_length: (BATCH_HEADER_LEN - LOG_OVERHEAD) as i32,
        record_count: 0,
        ..*h
    };
    let mut buf = [0u8; BATCH_HEADER_LEN];
    header.write_to(&mut buf);
    let mut v = buf.to_vec();
    update_crc(&mut v);
    Bytes::from(v)
}

/// The bytes to keep of one data batch, counting the records dropped in
/// `removed` (control batches: see `clean_txn`).
pub(crate) fn clean_batch(
    bytes: &[u8],
    h: &BatchHeader,
    rule: &RetainRule<'_>,
    aborted: &[AbortedTxn],
    tally: &mut CleanTally,
) -> Result<Option<Vec<u8>>> {
    if h.attributes.is_control() {
        return Ok(Some(bytes.to_vec()));
    }
    if in_aborted_txn(h, aborted) {
        tally.removed += u64::try_from(h.record_count).unwrap_or(0);
        return Ok(Some(empty_batch_like(h).to_vec()));
    }
    let view = BatchView::new(bytes)?;
    let records = view.records(&DecodeLimits::default())?;
    let keep: Vec<bool> = records
        .iter()
        .map(|r| match &r.key {
            None => true,
            Some(k) => {
                let offset = r.offset(h);
                let superseded = rule.map.get(k).is_some_and(|o| o > offset);
                let tombstone = r.value.is_none() && offset < rule.map_end;
                let expired = rule.now_ms.saturating_sub(r.timestamp(h)) > rule.delete_retention_ms;
                if tombstone && !superseded && !expired {
                    let ts = r.timestamp(h);
                    tally.oldest_kept_tombstone =
                        Some(tally.oldest_kept_tombstone.map_or(ts, |o| o.min(ts)));
                }
                let expired_tombstone = tombstone && expired;
                !superseded && !expired_tombstone
            }
        })
        .collect();
    let kept = keep.iter().filter(|k| **k).count();
    tally.removed += (records.len() - kept) as u64;
    if kept == records.len() {
        return Ok(Some(bytes.to_vec()));
    }
    let last_of_producer =
        h.producer_id >= 0 && rule.producer_last.get(&h.producer_id) == Some(&h.last_offset());
    if kept == 0 {
        let keep_header = last_of_producer || h.attributes.is_transactional();
        return Ok(keep_header.then(|| empty_batch_like(h).to_vec()));
    }
    let mut b = BatchBuilder::new(builder_like(h));
    for (r, _) in records.iter().zip(&keep).filter(|(_, k)| **k) {
        b.append_with_offset(
            r.offset(h),
            r.timestamp(h),
            r.key.as_deref(),
            r.value.as_deref(),
            &r.headers,
        )?;
    }
    let mut built = b.build()?.to_vec();
    // Keep the original last offset so offsets and sequences stay put.
    if built.len() >= BATCH_HEADER_LEN {
        built[LAST_OFFSET_DELTA_AT..LAST_OFFSET_DELTA_AT + 4]
            .copy_from_slice(&h.last_offset_delta.to_be_bytes());
        update_crc(&mut built);
    }
    Ok(Some(built))
}
