//! Requests from this broker to another broker's client listener, as Kafka's brokers send
//! them on the inter-broker listener: transaction markers (WriteTxnMarkers) to the leaders of
//! a transaction's partitions, and produce verification (AddPartitionsToTxn, verify only) to
//! a transactional id's coordinator. [`Peers`] resolves a node id through this broker's
//! metadata and sends over pooled connections (`vltava_raft::controller_rpc::RpcClient`),
//! each call bounded by [`PEER_TIMEOUT`].

use std::net::{SocketAddr, ToSocketAddrs};
use std::time::Duration;

use vltava_protocol::{RequestBody, ResponseBody};
use vltava_raft::controller_rpc::{RpcClient, RpcError};

use crate::metadata_cache::MetadataCache;

/// Longest wait for another broker's answer.
pub const PEER_TIMEOUT: Duration = Duration::from_secs(30);

/// Why a request to another broker failed.
#[derive(Debug, thiserror::Error)]
pub enum PeerError {
    #[error("broker {0} is not a live broker in this node's metadata")]
    UnknownBroker(i32),
    #[error("broker {0} has no endpoint on the inter-broker listener")]
    NoListener(i32),
    #[error("broker {0} has an address that does not resolve")]
    BadAddress(i32),
    #[error(transparent)]
    Rpc(#[from] RpcError),
    #[error("broker {0} answered with another API")]
    WrongAnswer(i32),
}

/// Connections to the other brokers, on their inter-broker listener.
#[derive(Debug)]
pub struct Peers {
    rpc: RpcClient,
    /// `inter.broker.listener.name` (empty: each broker's default address).
    listener: String,
}

impl Default for Peers {
    fn default() -> Self {
        Self::new(String::new())
    }
}

impl Peers {
    /// Peers reached on their listener named `listener`.
    pub fn new(listener: String) -> Self {
        Peers {
            rpc: RpcClient::new("vltava-inter-broker"),
            listener,
        }
    }

    /// Sends `body` at `version` to broker `node_id` and returns its answer.
    pub async fn call(
        &self,
        cache: &MetadataCache,
        node_id: i32,
        body: RequestBody,
        version: i16,
    ) -> Result<ResponseBody, PeerError> {
        let b = cache
            .brokers
            .get(&node_id)
            .ok_or(PeerError::UnknownBroker(node_id))?;
        let (host, port) = b
            .address(&self.listener)
            .ok_or(PeerError::NoListener(node_id))?;
        let addr: SocketAddr = (host, u16::try_from(port).unwrap_or(0))
            .to_socket_addrs()
            .ok()
            .and_then(|mut a| a.next())
            .ok_or(PeerError::BadAddress(node_id))?;
        let key = body.api_key();
        let answer = self.rpc.call(addr, body, version, PEER_TIMEOUT).await?;
        if answer.api_key() != key {
            return Err(PeerError::WrongAnswer(node_id));
        }
        Ok(answer)
    }
}
