//! A controller-only node (`process.roles=controller`): a voter of the metadata quorum that
//! serves its controller listener (raft messages, and the controller channel: registrations,
//! heartbeats, forwarded admin requests, observers' metadata fetches) and nothing else. It
//! has no client listener, hosts no partitions and never registers as a broker, so Metadata
//! never lists it and the controller places no replica on it.

use std::net::SocketAddr;

use crate::config::BrokerConfig;
use crate::node::{NodeError, open_data_dir, quorum_config};

/// A running controller-only node.
#[derive(Debug)]
pub struct ControllerNode {
    /// Its controller listener.
    pub addr: SocketAddr,
    controller: vltava_raft::Controller,
}

impl ControllerNode {
    /// Starts the voter: data dir (formatted on first start), metadata log in
    /// `<first log dir>/__cluster_metadata-0` (or `metadata.log.dir`), controller listener.
    pub async fn start(config: BrokerConfig) -> Result<ControllerNode, NodeError> {
        let (dir, meta) = open_data_dir(&config)?;
        let quorum = quorum_config(&config, &dir, &meta.cluster_id)?;
        let addr = quorum
            .voters
            .iter()
            .find(|v| v.id == config.node_id)
            .map(|v| v.addr)
            .ok_or(crate::config::ConfigError::Missing(
                "controller.quorum.voters (this node's entry)",
            ))?;
        let controller = vltava_raft::Controller::start(quorum).await?;
        tracing::info!(%addr, cluster_id = %meta.cluster_id, node_id = config.node_id, "controller started");
        Ok(ControllerNode { addr, controller })
    }

    /// The quorum handle (its image, leader, DescribeQuorum).
    pub fn controller(&self) -> &vltava_raft::Controller {
        &self.controller
    }

    /// Stops the voter (its log is on disk; another voter takes over leadership).
    pub async fn shutdown(self) {
        self.controller.shutdown().await;
        tracing::info!("controller stopped");
    }
}
