//! `FileSlice`: a byte range of a segment file that a broker can send without copying.

use std::sync::Arc;

use bytes::Bytes;

use crate::error::{Result, StorageError};
use crate::io::{StorageFile, read_full_at};

/// A range of whole batches inside one segment's `.log` file.
///
/// It holds the file open, so it stays readable after the segment is deleted or
/// rolled. `file.as_std_file()` exposes the OS file for `sendfile`-style sends.
#[derive(Debug, Clone)]
pub struct FileSlice {
    /// The segment's log file.
    pub file: Arc<dyn StorageFile>,
    /// Byte position of the first batch.
    pub position: u64,
    /// Length in bytes (whole batches only).
    pub len: u64,
    /// Where the range ends in offsets, so a reader need not parse the bytes: the offset
    /// after its last batch, or the base offset of the batch that follows it (Kafka's
    /// fetch upper bound; the two differ only across a gap left by compaction). For an
    /// empty range, the base offset of the batch reading stopped at; -1 when unknown.
    pub end_offset: i64,
}

impl FileSlice {
    /// Copies the range into memory.
    pub fn to_bytes(&self) -> Result<Bytes> {
        let mut buf = vec![0u8; self.len as usize];
        let n = read_full_at(self.file.as_ref(), &mut buf, self.position)
            .map_err(|e| StorageError::io("<segment slice>", e))?;
        if n != buf.len() {
            return Err(StorageError::corrupt(
                "<segment slice>",
                format!("slice shrank: wanted {} bytes, read {n}", buf.len()),
            ));
        }
        Ok(Bytes::from(buf))
    }
}
