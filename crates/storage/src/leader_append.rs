//! The steps of a leader's append (`Log::append_leader_batches`) that need no log
//! state: a producer's batches checked, the offsets each batch gets, and each
//! batch's header patched apart from its (shared) records.

use vltava_records::BatchHeader;
use vltava_records::batch_header::{
    BATCH_HEADER_LEN, parse_header, set_base_offset, set_log_append_time_split,
    set_partition_leader_epoch,
};

use crate::error::{Result, StorageError};

/// One batch's header bytes, patched.
type PatchedHeader = [u8; BATCH_HEADER_LEN];

/// Batch headers by the position of their batch in the appended bytes.
type Placed = Vec<(usize, BatchHeader)>;

/// A producer may not write control batches, and a batch's record count must match
/// its last offset delta.
pub(crate) fn check_counts(parsed: &[(usize, BatchHeader)], allow_control: bool) -> Result<()> {
    for (_, h) in parsed {
        if h.attributes.is_control() && !allow_control {
            return Err(StorageError::InvalidRecord(
                "clients may not write control batches".into(),
            ));
        }
        if h.record_count == 0 || i64::from(h.last_offset_delta) != i64::from(h.record_count) - 1 {
            return Err(StorageError::InvalidRecord(format!(
                "record count {} does not match last offset delta {}",
                h.record_count, h.last_offset_delta
            )));
        }
    }
    Ok(())
}

/// The headers the batches get, from offset `next` on, at `leader_epoch`.
pub(crate) fn plan_offsets(
    parsed: &[(usize, BatchHeader)],
    mut next: i64,
    leader_epoch: i32,
) -> Result<Vec<(usize, BatchHeader)>> {
    let mut planned = Vec::with_capacity(parsed.len());
    for (pos, h) in parsed {
        let assigned = BatchHeader {
            base_offset: next,
            partition_leader_epoch: leader_epoch,
            ..*h
        };
        if !crate::segment::offsets_in_range(&assigned) {
            return Err(StorageError::InvalidRecord("offsets overflow".into()));
        }
        next = assigned.next_offset();
        planned.push((*pos, assigned));
    }
    Ok(planned)
}

/// Each planned batch's header patched apart from the (shared) bytes, so the records
/// are written from where they are: the parsed headers and the header bytes.
pub(crate) fn patch_headers(
    batches: &[u8],
    planned: &[(usize, BatchHeader)],
    leader_epoch: i32,
    log_append_time: Option<i64>,
) -> Result<(Placed, Vec<PatchedHeader>)> {
    let mut headers = Vec::with_capacity(planned.len());
    let mut patched = Vec::with_capacity(planned.len());
    for (pos, h) in planned {
        let end = pos + h.total_size();
        let (Some(head), Some(records)) = (
            batches.get(*pos..pos + BATCH_HEADER_LEN),
            batches.get(pos + BATCH_HEADER_LEN..end),
        ) else {
            return Err(StorageError::InvalidRecord("batch cut short".into()));
        };
        let mut head: [u8; BATCH_HEADER_LEN] = head
            .try_into()
            .map_err(|_| StorageError::InvalidRecord("batch cut short".into()))?;
        set_base_offset(&mut head, h.base_offset)?;
        set_partition_leader_epoch(&mut head, leader_epoch)?;
        if let Some(now) = log_append_time {
            set_log_append_time_split(&mut head, records, now)?;
        }
        headers.push((*pos, parse_header(&head)?));
        patched.push(head);
    }
    Ok((headers, patched))
}
