//! Reads a decoder stream into memory, stopping with an error at a size bound.

use std::io::Read;

use super::oversized;
use crate::error::RecordsError;

/// Reads `r` to its end into a vector of at most `max_out` bytes. `codec` names the
/// codec in errors. `hint` (a size the input claims, if any) only pre-sizes the
/// vector, capped at the bound; the vector otherwise grows as data arrives.
pub(super) fn read_bounded<R: Read>(
    r: R,
    max_out: usize,
    hint: Option<usize>,
    codec: &'static str,
) -> Result<Vec<u8>, RecordsError> {
    let mut out = Vec::with_capacity(hint.unwrap_or(0).min(max_out));
    // One byte past the bound tells "exactly at the bound" from "over it".
    let limit = (max_out as u64).saturating_add(1);
    r.take(limit)
        .read_to_end(&mut out)
        .map_err(|e| super::corrupt(codec, e))?;
    if out.len() > max_out {
        return Err(oversized(max_out));
    }
    Ok(out)
}
