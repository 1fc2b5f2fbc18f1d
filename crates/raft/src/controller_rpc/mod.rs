//! The controller channel: Kafka requests between brokers and the active controller over the
//! controller listener (never a client listener), as Kafka's brokers send them: broker
//! registration and heartbeats, producer-id blocks, and the admin requests a broker that does
//! not lead the quorum forwards.
//!
//! - `server`: serves one inbound connection, one request at a time, through an [`RpcHandler`].
//! - `client`: [`RpcClient`], pooled connections to voters with time limits.
//! - `service`: [`ControllerService`], the handler that runs the requests on this node's
//!   controller and answers NOT_CONTROLLER when it does not lead.
//! - `metadata_service`: Fetch and FetchSnapshot of `__cluster_metadata` for observers.

pub mod client;
pub mod metadata_service;
pub mod server;
pub mod service;

use std::future::Future;
use std::pin::Pin;

use vltava_protocol::ResponseBody;
use vltava_protocol::frame::Request;

pub use client::{RpcClient, RpcError};
pub use service::ControllerService;

/// Largest request or response frame on the controller channel.
pub const MAX_RPC_FRAME: usize = 64 * 1024 * 1024;

/// The answer of an [`RpcHandler`]: a response, or `None` to close the connection (an API the
/// controller channel does not serve).
pub type RpcFuture = Pin<Box<dyn Future<Output = Option<ResponseBody>> + Send>>;

/// Serves the Kafka requests that arrive on the controller listener.
pub trait RpcHandler: Send + Sync + 'static {
    /// Answers one decoded request.
    fn handle(&self, request: Request) -> RpcFuture;
}
