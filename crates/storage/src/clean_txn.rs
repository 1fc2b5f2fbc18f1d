//! Transactions in a cleaning: when a COMMIT/ABORT marker may go, as Kafka's
//! cleaner decides (KIP-98, KIP-534).
//!
//! A marker becomes removable once every record of its transaction is gone (the
//! transaction's data batches are all empty: aborted records removed, committed
//! ones compacted away). The cleaning that first finds it so stamps the marker with
//! a delete horizon (`now + delete.retention.ms`: the delete-horizon attribute and
//! the horizon as base timestamp, the record keeping its timestamp), so a consumer
//! that read the transaction's data still meets its marker. A cleaning past the
//! horizon drops the marker together with the emptied headers of its transaction,
//! and the transaction's `.txnindex` entry; never one without the others, so that
//! replaying the remaining headers leaves no transaction open.
//!
//! The headers that producer state replays to its final value (what a producer
//! snapshot holds) stay: the whole transaction is kept when one of its data
//! batches is its producer's last (Kafka's rule), or when its marker is the
//! producer's last marker in the cleanable part (its coordinator epoch, and its
//! last batch when no data follows).
//!
//! Decisions to drop come from a header-only pass before the copies are written
//! ([`CleanPlan::scan_txn_drops`]); stamping happens in the copying pass itself
//! ([`MarkerTracker`]: data before markers, so at a marker its transaction's fate
//! in this cleaning is known).

use std::collections::{HashMap, HashSet};

use vltava_records::{BatchBuilder, BatchHeader, BatchView, DecodeLimits};

use crate::clean_batch::{CleanTally, RetainRule, builder_like, clean_batch};
use crate::clean_plan::CleanPlan;
use crate::clean_throttle::SharedThrottle;
use crate::error::Result;
use crate::txn_index::AbortedTxn;

/// A transaction the cleaning drops (its marker past the delete horizon).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DroppedTxn {
    pub producer_id: i64,
    /// Offset of the marker.
    pub marker: i64,
    /// The producer's previous marker in the cleanable part (`i64::MIN`: none):
    /// a producer snapshot in `(after, marker]` holds the transaction as open.
    pub after: i64,
}

/// What a cleaning drops of transactions.
#[derive(Debug, Default)]
pub(crate) struct TxnDrops {
    /// Base offsets of the batches dropped (markers and their data headers).
    pub batches: HashSet<i64>,
    /// The dropped transactions, by marker offset.
    pub markers: HashMap<i64, DroppedTxn>,
}

#[derive(Debug, Default)]
struct Pending {
    data_last_offsets: Vec<i64>,
    data_bases: Vec<i64>,
    all_empty: bool,
}

impl CleanPlan {
    /// The header-only pass over the segments below `map_end`: the transactions
    /// whose marker carries a delete horizon at or before now, whose data batches
    /// are all empty, and whose headers producer state does not need (see the
    /// module docs).
    pub(crate) fn scan_txn_drops(
        &self,
        map_end: i64,
        throttle: &SharedThrottle,
    ) -> Result<TxnDrops> {
        let mut pending: HashMap<i64, Pending> = HashMap::new();
        let mut prev_marker: HashMap<i64, i64> = HashMap::new();
        let mut candidates: Vec<(DroppedTxn, Vec<i64>)> = Vec::new();
        for seg in self.segments.iter().filter(|s| s.base < map_end) {
            let Some(reader) = self.open_segment(seg)? else {
                continue;
            };
            let mut pos = 0;
            while let Some(h) = reader.header_at(pos)? {
                pos += h.total_size() as u64;
                throttle.account(vltava_records::batch_header::BATCH_HEADER_LEN as u64);
                if h.producer_id < 0 || !h.attributes.is_transactional() {
                    continue;
                }
                let pid = h.producer_id;
                if !h.attributes.is_control() {
                    let p = pending.entry(pid).or_insert_with(|| Pending {
                        all_empty: true,
                        ..Pending::default()
                    });
                    p.data_bases.push(h.base_offset);
                    p.data_last_offsets.push(h.last_offset());
                    p.all_empty &= h.record_count == 0;
                    continue;
                }
                let p = pending.remove(&pid).unwrap_or(Pending {
                    all_empty: true,
                    ..Pending::default()
                });
                let after = prev_marker.insert(pid, h.base_offset).unwrap_or(i64::MIN);
                let last = |o: &i64| self.producer_last.get(&pid) == Some(o);
                if marker_due(&h, self.now_ms)
                    && p.all_empty
                    && !p.data_last_offsets.iter().any(last)
                {
                    let txn = DroppedTxn {
                        producer_id: pid,
                        marker: h.base_offset,
                        after,
                    };
                    candidates.push((txn, p.data_bases));
                }
            }
        }
        let mut drops = TxnDrops::default();
        for (txn, data) in candidates {
            // The producer's last marker here stays (see the module docs).
            if prev_marker.get(&txn.producer_id) == Some(&txn.marker) {
                continue;
            }
            drops.batches.extend(data);
            drops.batches.insert(txn.marker);
            drops.markers.insert(txn.marker, txn);
        }
        Ok(drops)
    }
}

/// Whether a marker carries a delete horizon at or before `now_ms`.
pub(crate) fn marker_due(h: &BatchHeader, now_ms: i64) -> bool {
    h.attributes.has_delete_horizon() && h.base_timestamp <= now_ms
}

/// The delete horizon of a stamped marker still in the future.
pub(crate) fn pending_horizon(h: &BatchHeader, now_ms: i64) -> Option<i64> {
    (h.attributes.has_delete_horizon() && h.base_timestamp > now_ms).then_some(h.base_timestamp)
}

/// Follows, in the copying pass, whether each producer's current transaction
/// kept any record.
#[derive(Debug, Default)]
pub(crate) struct MarkerTracker {
    kept: HashMap<i64, bool>,
}

impl MarkerTracker {
    /// A transactional data batch of `producer_id` was written with
    /// `kept_records` records.
    pub fn on_data(&mut self, producer_id: i64, kept_records: i32) {
        *self.kept.entry(producer_id).or_insert(false) |= kept_records > 0;
    }

    /// A marker of `producer_id`: whether its transaction holds no record any more
    /// (so the marker may be stamped). Ends the transaction.
    pub fn on_marker(&mut self, producer_id: i64) -> bool {
        !self.kept.remove(&producer_id).unwrap_or(false)
    }
}

/// The control batch `bytes` stamped with the delete horizon `horizon_ms` (its
/// record, offsets, producer fields and timestamps otherwise unchanged); `None`
/// for a control batch that cannot be rebuilt so (no record, or a last offset its
/// records do not reach): it stays as it is.
pub(crate) fn stamp_delete_horizon(
    bytes: &[u8],
    h: &BatchHeader,
    horizon_ms: i64,
) -> Result<Option<Vec<u8>>> {
    let view = BatchView::new(bytes)?;
    let records = view.records(&DecodeLimits::default())?;
    if records.is_empty() {
        return Ok(None);
    }
    let mut b = BatchBuilder::new(builder_like(h));
    b.set_delete_horizon(horizon_ms)?;
    for r in &records {
        b.append_with_offset(
            r.offset(h),
            r.timestamp(h),
            r.key.as_deref(),
            r.value.as_deref(),
            &r.headers,
        )?;
    }
    let built = b.build()?.to_vec();
    let kh = vltava_records::batch_header::parse_header(&built)?;
    let same = kh.last_offset() == h.last_offset() && kh.max_timestamp == h.max_timestamp;
    Ok(same.then_some(built))
}

/// The transaction side of one cleaning's copying pass.
#[derive(Debug)]
pub(crate) struct TxnCleaning {
    pub drops: TxnDrops,
    tracker: MarkerTracker,
    now_ms: i64,
    delete_retention_ms: i64,
}

impl TxnCleaning {
    pub fn new(drops: TxnDrops, now_ms: i64, delete_retention_ms: i64) -> Self {
        TxnCleaning {
            drops,
            tracker: MarkerTracker::default(),
            now_ms,
            delete_retention_ms,
        }
    }

    /// The bytes to keep of one batch (`None`: dropped), markers stamped or
    /// dropped as the module docs say, data batches by `clean_batch`.
    pub fn clean(
        &mut self,
        bytes: &[u8],
        h: &BatchHeader,
        rule: &RetainRule<'_>,
        aborted: &[AbortedTxn],
        tally: &mut CleanTally,
    ) -> Result<Option<Vec<u8>>> {
        let txn = h.producer_id >= 0 && h.attributes.is_transactional();
        let control = h.attributes.is_control();
        if txn && self.drops.batches.contains(&h.base_offset) {
            tally.changed = true;
            if control {
                tally.markers_removed += 1;
                self.tracker.on_marker(h.producer_id);
            }
            tally.removed += u64::try_from(h.record_count).unwrap_or(0);
            return Ok(None);
        }
        if control {
            if !txn {
                return Ok(Some(bytes.to_vec()));
            }
            let data_gone = self.tracker.on_marker(h.producer_id);
            if let Some(t) = pending_horizon(h, self.now_ms) {
                note_horizon(tally, t);
            }
            if data_gone && !h.attributes.has_delete_horizon() {
                let horizon = self.now_ms.saturating_add(self.delete_retention_ms);
                if let Some(stamped) = stamp_delete_horizon(bytes, h, horizon)? {
                    tally.changed = true;
                    tally.markers_stamped += 1;
                    note_horizon(tally, horizon);
                    return Ok(Some(stamped));
                }
            }
            return Ok(Some(bytes.to_vec()));
        }
        let out = clean_batch(bytes, h, rule, aborted, tally)?;
        if txn {
            let kept = match &out {
                Some(b) => vltava_records::batch_header::parse_header(b)?.record_count,
                None => 0,
            };
            self.tracker.on_data(h.producer_id, kept);
        }
        Ok(out)
    }
}

fn note_horizon(tally: &mut CleanTally, t: i64) {
    tally.marker_horizon = Some(tally.marker_horizon.map_or(t, |o| o.min(t)));
}
