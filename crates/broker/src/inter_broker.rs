//! Requests from this broker to another broker's inter-broker listener, as Kafka's
//! brokers send them: transaction markers (WriteTxnMarkers) to the leaders of a
//! transaction's partitions, and produce verification (AddPartitionsToTxn, verify only)
//! to a transactional id's coordinator. [`Peers`] resolves a node id through this
//! broker's metadata and sends over one pooled `vltava_client::Connection` per broker,
//! secured as the listener wants ([`crate::inter_broker_security`]: TLS, SASL), each
//! call (connecting included) bounded by [`PEER_TIMEOUT`].

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use vltava_client::security::Security;
use vltava_client::{ClientConfig, ClientError};
use vltava_protocol::{RequestBody, ResponseBody};

use crate::metadata_view::MetadataView;

/// Longest wait for another broker's answer.
pub const PEER_TIMEOUT: Duration = Duration::from_secs(30);

/// Longest wait for a connection to another broker (TLS and SASL included).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Largest answer accepted from another broker.
const MAX_ANSWER_BYTES: usize = 100 * 1024 * 1024;

/// Why a request to another broker failed.
#[derive(Debug, thiserror::Error)]
pub enum PeerError {
    #[error("broker {0} is not a live broker in this node's metadata")]
    UnknownBroker(i32),
    #[error("broker {0} has no endpoint on the inter-broker listener")]
    NoListener(i32),
    #[error("broker {0}: {1}")]
    Client(i32, #[source] ClientError),
    #[error("broker {0} did not answer within {PEER_TIMEOUT:?}")]
    Timeout(i32),
    #[error("broker {0} answered with another API")]
    WrongAnswer(i32),
}

/// Connections to the other brokers, on their inter-broker listener.
#[derive(Debug)]
pub struct Peers {
    /// `inter.broker.listener.name` (empty: each broker's default address).
    listener: String,
    client: ClientConfig,
    /// One connection per `host:port`, replaced once closed.
    pool: Mutex<HashMap<String, Arc<vltava_client::connection::Connection>>>,
}

impl Default for Peers {
    fn default() -> Self {
        Self::new(String::new(), Security::default())
    }
}

impl Peers {
    /// Peers reached on their listener named `listener`, with `security`.
    pub fn new(listener: String, security: Security) -> Self {
        Peers {
            listener,
            client: ClientConfig {
                client_id: "vltava-inter-broker".into(),
                connect_timeout: CONNECT_TIMEOUT,
                request_timeout: PEER_TIMEOUT,
                max_response_bytes: MAX_ANSWER_BYTES,
                security,
                ..ClientConfig::default()
            },
            pool: Mutex::new(HashMap::new()),
        }
    }

    fn pooled(&self, addr: &str) -> Option<Arc<vltava_client::connection::Connection>> {
        let pool = self.pool.lock().unwrap_or_else(|p| p.into_inner());
        pool.get(addr).filter(|c| !c.is_closed()).cloned()
    }

    async fn connection(
        &self,
        addr: &str,
    ) -> Result<Arc<vltava_client::connection::Connection>, ClientError> {
        if let Some(c) = self.pooled(addr) {
            return Ok(c);
        }
        let c = Arc::new(vltava_client::connection::Connection::connect(addr, &self.client).await?);
        let mut pool = self.pool.lock().unwrap_or_else(|p| p.into_inner());
        pool.insert(addr.to_string(), c.clone());
        Ok(c)
    }

    /// Sends `body` at `version` to broker `node_id` and returns its answer.
    pub async fn call(
        &self,
        metadata: &MetadataView,
        node_id: i32,
        body: RequestBody,
        version: i16,
    ) -> Result<ResponseBody, PeerError> {
        let b = metadata
            .image()
            .live_broker(node_id)
            .ok_or(PeerError::UnknownBroker(node_id))?;
        let (host, port) = b
            .address(&self.listener)
            .ok_or(PeerError::NoListener(node_id))?;
        let addr = format!("{host}:{port}");
        let key = body.api_key();
        let call = async {
            let conn = self.connection(&addr).await?;
            conn.send_body(body, version).await
        };
        let answer = tokio::time::timeout(PEER_TIMEOUT, call)
            .await
            .map_err(|_| PeerError::Timeout(node_id))?
            .map_err(|e| PeerError::Client(node_id, e))?;
        if answer.api_key() != key {
            return Err(PeerError::WrongAnswer(node_id));
        }
        Ok(answer)
    }
}
