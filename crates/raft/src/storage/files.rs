//! Small-file helpers of the metadata dir: atomic replace (write temp, fsync, rename, fsync
//! dir) and a CRC-guarded container (`magic | crc32c(body) | body`).

use std::fs::{self, File};
use std::io::Write;
use std::path::Path;

use crate::error::RaftError;

/// Replaces `path` with `bytes` atomically: a crash leaves either the old or the new content.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), RaftError> {
    let tmp = path.with_extension("tmp");
    let mut f = File::create(&tmp).map_err(|e| RaftError::io(&tmp, e))?;
    f.write_all(bytes).map_err(|e| RaftError::io(&tmp, e))?;
    f.sync_all().map_err(|e| RaftError::io(&tmp, e))?;
    drop(f);
    fs::rename(&tmp, path).map_err(|e| RaftError::io(path, e))?;
    sync_dir(path)
}

/// Fsyncs the directory holding `path` so a rename or create in it is durable.
pub fn sync_dir(path: &Path) -> Result<(), RaftError> {
    if let Some(dir) = path.parent() {
        let d = File::open(dir).map_err(|e| RaftError::io(dir, e))?;
        d.sync_all().map_err(|e| RaftError::io(dir, e))?;
    }
    Ok(())
}

/// `magic | crc32c(body) | body`.
pub fn seal(magic: &[u8; 4], body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() + 8);
    out.extend_from_slice(magic);
    out.extend_from_slice(&crc32c::crc32c(body).to_be_bytes());
    out.extend_from_slice(body);
    out
}

/// Checks and strips what [`seal`] added.
pub fn unseal<'a>(path: &Path, magic: &[u8; 4], bytes: &'a [u8]) -> Result<&'a [u8], RaftError> {
    if bytes.len() < 8 || &bytes[..4] != magic {
        return Err(RaftError::corrupt(path, "bad magic or short file"));
    }
    let crc = u32::from_be_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]);
    let body = &bytes[8..];
    if crc32c::crc32c(body) != crc {
        return Err(RaftError::corrupt(path, "checksum mismatch"));
    }
    Ok(body)
}

/// A big-endian reader over a byte slice that reports truncation as corruption.
#[derive(Debug)]
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }
    pub fn bytes(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.pos.checked_add(n)?;
        let s = self.buf.get(self.pos..end)?;
        self.pos = end;
        Some(s)
    }
    pub fn u8(&mut self) -> Option<u8> {
        self.bytes(1).map(|b| b[0])
    }
    pub fn u32(&mut self) -> Option<u32> {
        self.bytes(4)
            .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }
    pub fn u64(&mut self) -> Option<u64> {
        self.bytes(8).map(|b| {
            let mut a = [0u8; 8];
            a.copy_from_slice(b);
            u64::from_be_bytes(a)
        })
    }
    pub fn rest(&mut self) -> &'a [u8] {
        let s = &self.buf[self.pos.min(self.buf.len())..];
        self.pos = self.buf.len();
        s
    }
    pub fn at_end(&self) -> bool {
        self.pos >= self.buf.len()
    }
}
