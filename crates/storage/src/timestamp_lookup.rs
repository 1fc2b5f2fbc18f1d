//! Finding the first record at or after a timestamp inside the batch that
//! `LogSegment::find_by_timestamp` located (ListOffsets).

use vltava_records::{BatchHeader, BatchView, DecodeLimits};

use crate::error::{Result, StorageError};
use crate::segment::LogSegment;

/// The (timestamp, offset) of the first record in the batch at `pos` whose
/// timestamp is at or after `target`. Records are decoded (and decompressed, within
/// the default limits) only for this one batch; a batch whose records cannot be
/// decoded answers with its base offset and max timestamp.
pub fn first_record_at_or_after(
    seg: &LogSegment,
    pos: u64,
    h: &BatchHeader,
    target: i64,
) -> Result<(i64, i64)> {
    let bytes = seg.read_bytes(pos, h.total_size() as u64)?;
    let view = BatchView::new(&bytes).map_err(StorageError::InvalidBatch)?;
    if let Ok(records) = view.records(&DecodeLimits::default()) {
        if let Some(r) = records.iter().find(|r| r.timestamp(h) >= target) {
            return Ok((r.timestamp(h), r.offset(h)));
        }
    }
    Ok((h.max_timestamp, h.base_offset))
}
