//! The client listener: accepts connections up to `max.connections`, serves
//! each on its own task and stops accepting on shutdown.

use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};

use crate::broker::Broker;
use crate::connection::{ConnectionEnd, ConnectionLimits, serve};

/// The connection limits from the broker's configuration.
pub fn limits(broker: &Broker) -> ConnectionLimits {
    ConnectionLimits {
        max_frame: broker.config.socket_request_max_bytes,
        idle: std::time::Duration::from_millis(broker.config.connections_max_idle_ms.max(1)),
        max_in_flight: broker.config.queued_max_requests,
    }
}

/// Accepts connections until `shutdown` turns true.
pub async fn run(listener: TcpListener, broker: Arc<Broker>, mut shutdown: watch::Receiver<bool>) {
    let slots = Arc::new(Semaphore::new(
        broker.config.max_connections.min(Semaphore::MAX_PERMITS),
    ));
    let limits = limits(&broker);
    loop {
        tokio::select! {
            _ = shutdown.changed() => return,
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(s) => s,
                    Err(e) => {
                        match e.raw_os_error() {
                            Some(23 | 24) => tracing::error!(error = %e, "accept failed: out of file descriptors; raise `ulimit -n`"),
                            _ => tracing::warn!(error = %e, "accept failed"),
                        }
                        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let Ok(permit) = slots.clone().try_acquire_owned() else {
                    tracing::warn!(%peer, "max.connections reached; closing new connection");
                    drop(stream);
                    continue;
                };
                let broker = broker.clone();
                tokio::spawn(async move {
                    let end = serve(stream, broker, limits).await;
                    match &end {
                        ConnectionEnd::Closed => tracing::debug!(%peer, reason = %end, "connection ended"),
                        _ => tracing::info!(%peer, reason = %end, "connection closed"),
                    }
                    drop(permit);
                });
            }
        }
    }
}
