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
use std::io::{self, IoSlice};

use bytes::Bytes;

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
    async fn send_slice(&mut self, slice: &FileSlice) -> io::Result<()> {
        match slice.file.as_std_file() {
            Some(file) => sendfile_all(self.as_ref(), file, slice.position, slice.len).await,
            // A file with no OS descriptor (in-memory storage): copy it.
            None => copy_slice(self, slice).await,
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

/// Encoded bytes held before one write: answers ready one after another leave in one
/// vectored write instead of a write each (a pipelining producer's small answers).
const COALESCE_BYTES: usize = 256 * 1024;
/// Parts held before one write (well under the kernel's `IOV_MAX`, 1024).
const COALESCE_PARTS: usize = 256;

/// Frames' encoded bytes not yet written, in order. An external part is never held: the
/// bytes before it are written first, then it is sent from its file, so the order on
/// the wire is the frames' order.
#[derive(Debug, Default)]
pub struct Coalesced {
    parts: Vec<Bytes>,
    len: usize,
}

impl Coalesced {
    /// Whether [`Coalesced::flush`] should be called before taking more (a limit reached).
    pub fn full(&self) -> bool {
        self.len >= COALESCE_BYTES || self.parts.len() >= COALESCE_PARTS
    }

    /// Takes `frame`: its bytes are held, its external parts sent at once (after what is
    /// held). An external part whose records are no longer registered is an error.
    pub async fn push_frame<W: ResponseSink>(
        &mut self,
        w: &mut W,
        frame: &FrameParts,
    ) -> io::Result<()> {
        for part in &frame.parts {
            match part {
                FramePart::Bytes(b) => {
                    self.len += b.len();
                    self.parts.push(b.clone());
                }
                FramePart::External { addr, len } => {
                    let slice = file_records::resolve(*addr, *len).ok_or_else(|| {
                        io::Error::other(format!("records of {len} bytes not found to send"))
                    })?;
                    self.write_held(w).await?;
                    w.send_slice(&slice).await?;
                }
            }
        }
        Ok(())
    }

    /// Writes everything held and flushes the stream (TLS holds written bytes until then).
    pub async fn flush<W: ResponseSink>(&mut self, w: &mut W) -> io::Result<()> {
        self.write_held(w).await?;
        w.flush().await
    }

    /// Writes the held bytes whole, in as few vectored writes as the socket takes.
    async fn write_held<W: ResponseSink>(&mut self, w: &mut W) -> io::Result<()> {
        let mut slices: Vec<IoSlice<'_>> = self.parts.iter().map(|b| IoSlice::new(b)).collect();
        let mut rest = &mut slices[..];
        while !rest.is_empty() {
            let n = w.write_vectored(rest).await?;
            if n == 0 {
                return Err(io::ErrorKind::WriteZero.into());
            }
            IoSlice::advance_slices(&mut rest, n);
        }
        self.parts.clear();
        self.len = 0;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use bytes::Bytes;
    use tokio::io::AsyncReadExt;
    use tokio::net::{TcpListener, TcpStream};
    use vltava_protocol::frame_parts::{FramePart, FrameParts};
    use vltava_storage::{FileSlice, StdStorage, Storage, StorageFile};

    use super::*;

    /// A connected pair: (the broker's write half, the client's stream).
    async fn pair() -> (OwnedWriteHalf, TcpStream) {
        let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let client = TcpStream::connect(l.local_addr().expect("addr"))
            .await
            .expect("connect");
        let (server, _) = l.accept().await.expect("accept");
        (server.into_split().1, client)
    }

    fn content(n: usize) -> Vec<u8> {
        (0..n).map(|i| (i * 7 % 253) as u8).collect()
    }

    fn open(dir: &std::path::Path, data: &[u8]) -> Arc<dyn StorageFile> {
        let path = dir.join("seg.log");
        std::fs::write(&path, data).expect("write");
        StdStorage.open(&path, false).expect("open")
    }

    /// A frame of `head`, the records `stand_in` stands for, and `tail`.
    fn around(head: &'static [u8], stand_in: &Bytes, tail: &'static [u8]) -> FrameParts {
        FrameParts {
            parts: vec![
                FramePart::Bytes(Bytes::from_static(head)),
                FramePart::External {
                    addr: stand_in.as_ptr() as usize,
                    len: stand_in.len(),
                },
                FramePart::Bytes(Bytes::from_static(tail)),
            ],
            len: head.len() + stand_in.len() + tail.len(),
        }
    }

    /// One frame alone through [`Coalesced`], then flushed.
    async fn send_frame<W: ResponseSink>(w: &mut W, frame: &FrameParts) -> io::Result<()> {
        let mut out = Coalesced::default();
        out.push_frame(w, frame).await?;
        out.flush(w).await
    }

    async fn read_all(mut c: TcpStream) -> Vec<u8> {
        let mut got = Vec::new();
        let _ = c.read_to_end(&mut got).await;
        got
    }

    #[tokio::test]
    async fn a_frame_of_bytes_and_a_file_slice_arrives_whole_even_through_a_full_socket() {
        let dir = tempfile::tempdir().expect("dir");
        // Larger than the socket buffers, so sendfile meets a full socket (EAGAIN).
        let data = content(8 << 20);
        let file = open(dir.path(), &data);
        let slice = FileSlice {
            file,
            position: 100,
            len: (data.len() - 200) as u64,
            end_offset: 0,
        };
        let stand_in = file_records::share(slice).expect("stand-in");
        let frame = around(b"head", &stand_in, b"tail");
        let (mut w, c) = pair().await;
        // The reader starts late: the socket fills first.
        let reader = tokio::spawn(async move {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            read_all(c).await
        });
        send_frame(&mut w, &frame).await.expect("sent");
        drop(w);
        let got = reader.await.expect("reader");
        let mut want = b"head".to_vec();
        want.extend_from_slice(&data[100..data.len() - 100]);
        want.extend_from_slice(b"tail");
        assert!(
            got == want,
            "{} bytes received, {} expected",
            got.len(),
            want.len()
        );
        // The file deleted under the slice (retention): still sent from the open file.
        std::fs::remove_file(dir.path().join("seg.log")).expect("remove");
        let (mut w, c) = pair().await;
        let reader = tokio::spawn(read_all(c));
        send_frame(&mut w, &frame).await.expect("sent after unlink");
        drop(w);
        assert!(reader.await.expect("reader") == want);
    }

    #[tokio::test]
    async fn a_file_truncated_under_its_slice_fails_the_send_after_the_valid_bytes() {
        let dir = tempfile::tempdir().expect("dir");
        let data = content(300_000);
        let file = open(dir.path(), &data);
        let slice = FileSlice {
            file: file.clone(),
            position: 1_000,
            len: 200_000,
            end_offset: 0,
        };
        // Truncated after the read, below the slice's end.
        file.set_len(150_000).expect("truncate");
        let (mut w, c) = pair().await;
        let reader = tokio::spawn(read_all(c));
        let err = w.send_slice(&slice).await.expect_err("short file");
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
        drop(w);
        let got = reader.await.expect("reader");
        assert_eq!(
            got,
            data[1_000..150_000],
            "only the bytes the file still has"
        );
        // On a TLS-like (copying) sink the short read fails before anything is written.
        let mut sink = Vec::new();
        let err = copy_slice(&mut sink, &slice).await.expect_err("short file");
        assert!(sink.is_empty(), "{err}");
    }

    #[tokio::test]
    async fn coalesced_frames_arrive_in_order_around_a_file_slice() {
        let dir = tempfile::tempdir().expect("dir");
        let data = content(100_000);
        let slice = FileSlice {
            file: open(dir.path(), &data),
            position: 10,
            len: 50_000,
            end_offset: 0,
        };
        let stand_in = file_records::share(slice).expect("stand-in");
        let small = |text: &'static [u8]| FrameParts {
            parts: vec![FramePart::Bytes(Bytes::from_static(text))],
            len: text.len(),
        };
        let with_file = around(b"[head", &stand_in, b"tail]");
        let (mut w, c) = pair().await;
        let reader = tokio::spawn(read_all(c));
        let mut out = Coalesced::default();
        out.push_frame(&mut w, &small(b"one,")).await.expect("one");
        out.push_frame(&mut w, &small(b"two,")).await.expect("two");
        assert!(!out.full());
        out.push_frame(&mut w, &with_file).await.expect("file");
        out.push_frame(&mut w, &small(b",three"))
            .await
            .expect("three");
        out.flush(&mut w).await.expect("flush");
        drop(w);
        let mut want = b"one,two,[head".to_vec();
        want.extend_from_slice(&data[10..50_010]);
        want.extend_from_slice(b"tail],three");
        assert!(reader.await.expect("reader") == want);
    }

    #[tokio::test]
    async fn coalesced_bytes_are_bounded() {
        let (mut w, c) = pair().await;
        let reader = tokio::spawn(read_all(c));
        let mut out = Coalesced::default();
        let chunk = Bytes::from(vec![7u8; 1000]);
        let mut pushed = 0;
        while !out.full() {
            let frame = FrameParts {
                parts: vec![FramePart::Bytes(chunk.clone())],
                len: chunk.len(),
            };
            out.push_frame(&mut w, &frame).await.expect("push");
            pushed += 1;
        }
        assert_eq!(
            pushed, COALESCE_PARTS,
            "the part limit comes first with 1 kB parts"
        );
        out.flush(&mut w).await.expect("flush");
        assert!(!out.full());
        drop(w);
        assert_eq!(reader.await.expect("reader").len(), pushed * 1000);
    }

    #[tokio::test]
    async fn an_unknown_external_part_fails_the_send() {
        let (mut w, _c) = pair().await;
        let frame = FrameParts {
            parts: vec![FramePart::External { addr: 8, len: 10 }],
            len: 10,
        };
        assert!(send_frame(&mut w, &frame).await.is_err());
    }
}
