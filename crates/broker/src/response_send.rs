//! Sends a response frame made of parts (`vltava_protocol::frame_parts`): encoded
//! bytes are written, and each external part — a Fetch answer's records left in
//! their segment file (`file_records`) — goes from the file to the socket with
//! `sendfile(2)` on a plaintext TCP connection, or is read into memory once and
//! written on a TLS one (the stream has to encrypt it).
//!
//! Invariant: a frame's bytes on the wire are exactly the length it declares, or
//! the send fails and the connection is closed. `sendfile` never reads past the
//! slice (it is asked for the bytes left of it only), and a segment file found
//! shorter than the slice when sending (truncated since the read) ends the send
//! with an error instead of a short frame.

use std::future::Future;
use std::io;

use tokio::io::{AsyncWrite, AsyncWriteExt, Interest, WriteHalf};
use tokio::net::TcpStream;
use tokio::net::tcp::OwnedWriteHalf;
use tokio_rustls::server::TlsStream;
use vltava_protocol::frame_parts::{FramePart, FrameParts};
use vltava_storage::FileSlice;

use crate::file_records;

/// Most bytes asked of one `sendfile` call.
const SENDFILE_CHUNK: u64 = 1 << 30;

/// The write half of a connection, able to send a file slice.
pub trait ResponseSink: AsyncWrite + Unpin + Send {
    /// Writes all of `slice`'s bytes, or fails.
    fn send_slice<'a>(
        &'a mut self,
        slice: &'a FileSlice,
    ) -> impl Future<Output = io::Result<()>> + Send + 'a;
}

impl ResponseSink for OwnedWriteHalf {
    fn send_slice<'a>(
        &'a mut self,
        slice: &'a FileSlice,
    ) -> impl Future<Output = io::Result<()>> + Send + 'a {
        async move {
            match slice.file.as_std_file() {
                Some(file) => sendfile_all(self.as_ref(), file, slice.position, slice.len).await,
                // A file with no OS descriptor (in-memory storage): copy it.
                None => copy_slice(self, slice).await,
            }
        }
    }
}

impl ResponseSink for WriteHalf<TlsStream<TcpStream>> {
    fn send_slice<'a>(
        &'a mut self,
        slice: &'a FileSlice,
    ) -> impl Future<Output = io::Result<()>> + Send + 'a {
        copy_slice(self, slice)
    }
}

/// One read of the slice into memory, one write.
async fn copy_slice<W: AsyncWrite + Unpin>(w: &mut W, slice: &FileSlice) -> io::Result<()> {
    let bytes = slice.to_bytes().map_err(io::Error::other)?;
    w.write_all(&bytes).await
}

/// `len` bytes of `file` from `position` to `stream` with `sendfile(2)`, waiting
/// for the (non-blocking) socket to be writable whenever it is full.
async fn sendfile_all(
    stream: &TcpStream,
    file: &std::fs::File,
    position: u64,
    len: u64,
) -> io::Result<()> {
    let mut offset = position;
    let end = position.saturating_add(len);
    while offset < end {
        stream.writable().await?;
        let chunk = usize::try_from((end - offset).min(SENDFILE_CHUNK)).unwrap_or(1 << 20);
        let sent = stream.try_io(Interest::WRITABLE, || {
            rustix::fs::sendfile(stream, file, Some(&mut offset), chunk).map_err(io::Error::from)
        });
        match sent {
            Ok(0) => {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!(
                        "segment file ends before the records sent from it ({} of {len} bytes sent)",
                        len - (end - offset)
                    ),
                ));
            }
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Writes every part of `frame` in order. An external part whose records are no
/// longer registered is an error (nothing of it is sent).
pub async fn send_frame<W: ResponseSink>(w: &mut W, frame: &FrameParts) -> io::Result<()> {
    for part in &frame.parts {
        match part {
            FramePart::Bytes(b) => w.write_all(b).await?,
            FramePart::External { addr, len } => {
                let slice = file_records::resolve(*addr, *len).ok_or_else(|| {
                    io::Error::other(format!("records of {len} bytes not found to send"))
                })?;
                w.send_slice(&slice).await?;
            }
        }
    }
    w.flush().await
}
