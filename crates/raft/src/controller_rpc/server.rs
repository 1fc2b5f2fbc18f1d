//! One inbound controller-channel connection: Kafka frames (size-prefixed, at most
//! [`MAX_RPC_FRAME`]), answered one at a time in arrival order. A frame that does not decode,
//! an API the handler does not serve, or an oversized frame closes the connection.

use std::sync::Arc;

use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use vltava_protocol::frame::{decode_request, encode_response};

use super::{MAX_RPC_FRAME, RpcHandler};

/// Serves `stream` (already secured), whose first four bytes (the first frame's size) were
/// already read.
pub(crate) async fn serve<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    head: [u8; 4],
    rpc: Arc<dyn RpcHandler>,
) {
    let mut size = i32::from_be_bytes(head);
    loop {
        let Ok(len) = usize::try_from(size) else {
            return;
        };
        if len > MAX_RPC_FRAME {
            return;
        }
        let mut buf = vec![0u8; len];
        if stream.read_exact(&mut buf).await.is_err() {
            return;
        }
        let frame = Bytes::from(buf);
        let Ok(request) = decode_request(&frame) else {
            return;
        };
        let correlation_id = request.header.correlation_id;
        let version = request.api_version();
        let Some(body) = rpc.handle(request).await else {
            return;
        };
        let Ok(out) = encode_response(correlation_id, version, &body) else {
            return;
        };
        if stream.write_all(&out).await.is_err() || stream.flush().await.is_err() {
            return;
        }
        size = match stream.read_i32().await {
            Ok(s) => s,
            Err(_) => return,
        };
    }
}
