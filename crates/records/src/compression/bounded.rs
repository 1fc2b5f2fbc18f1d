//! Reads a decoder stream into memory, stopping with an error at a size bound.

use std::io::Read;

use super::oversized;
use crate::error::RecordsError;

/// Reads `r` to its end into a vector of at most `max_out` bytes. `codec` names the
/// codec in errors. Grows the vector as data arrives, never to a size the input claims.
pub(super) fn read_bounded<R: Read>(
    mut r: R,
    max_out: usize,
    codec: &'static str,
) -> Result<Vec<u8>, RecordsError> {
    let mut out = Vec::new();
    let mut chunk = [0u8; 16 * 1024];
    loop {
        let n = match r.read(&mut chunk) {
            Ok(0) => return Ok(out),
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(super::corrupt(codec, e)),
        };
        if out.len() + n > max_out {
            return Err(oversized(max_out));
        }
        out.extend_from_slice(&chunk[..n]);
    }
}
