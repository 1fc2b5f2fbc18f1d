//! Keeps the broker's metadata cache in step with the controller: converts each
//! committed `MetadataImage` into a `MetadataCache` and applies it (opening and
//! deleting partition logs), from a task that follows the controller's image
//! channel and on demand after the broker's own admin requests.

use std::sync::Arc;

use tokio::task::JoinHandle;
use vltava_raft::{ConfigResource, ConfigResourceKind, MetadataImage};

use crate::broker::Broker;
use crate::metadata_cache::{BrokerNode, MetadataCache, NodeEndpoint, PartitionMeta, TopicMeta};

/// The broker's view of a committed image.
pub fn cache_from_image(image: &MetadataImage, node_id: i32) -> MetadataCache {
    let brokers: std::collections::BTreeMap<i32, BrokerNode> = image
        .brokers
        .values()
        .filter(|b| !b.fenced)
        .map(|b| {
            (
                b.id,
                BrokerNode {
                    id: b.id,
                    host: b.host.clone(),
                    port: b.port,
                    rack: b.rack.clone(),
                    epoch: b.epoch,
                    endpoints: b
                        .endpoints
                        .iter()
                        .map(|e| NodeEndpoint {
                            name: e.name.clone(),
                            host: e.host.clone(),
                            port: e.port,
                        })
                        .collect(),
                },
            )
        })
        .collect();
    let topics = image
        .topics
        .values()
        .map(|t| {
            let configs = image
                .configs_of(&ConfigResource::topic(&t.name))
                .cloned()
                .unwrap_or_default();
            let partitions = t
                .partitions
                .values()
                .map(|p| {
                    let meta = PartitionMeta {
                        index: p.partition,
                        leader: p.leader,
                        leader_epoch: p.leader_epoch,
                        partition_epoch: p.partition_epoch,
                        replicas: p.replicas.clone(),
                        isr: p.isr.clone(),
                    };
                    (p.partition, meta)
                })
                .collect();
            let meta = TopicMeta {
                name: t.name.clone(),
                id: t.id,
                partitions,
                configs,
            };
            (t.name.clone(), meta)
        })
        .collect();
    let broker_resource = |name: String| ConfigResource {
        kind: ConfigResourceKind::Broker,
        name,
    };
    let dynamic = |name: String| {
        image
            .configs_of(&broker_resource(name))
            .cloned()
            .unwrap_or_default()
    };
    // Clients send admin requests to the controller id they are given, and any broker
    // forwards them: as Kafka's KRaft brokers do, name the active controller only while it
    // is a live broker, else this node (never a dead or fenced one, nor -1 while an election
    // runs).
    let controller_id = if brokers.contains_key(&image.controller_id) {
        image.controller_id
    } else {
        node_id
    };
    MetadataCache {
        cluster_id: image.cluster_id.clone(),
        controller_id,
        offset: image.offset,
        brokers,
        topics,
        topic_names: image.topic_names.clone(),
        broker_dynamic_configs: dynamic(node_id.to_string()),
        cluster_dynamic_configs: dynamic(String::new()),
        client_quotas: image.client_quotas.clone(),
    }
}

/// Applies the controller's latest image now (after an admin request, so the
/// next request sees its effect).
pub fn sync_now(broker: &Broker) {
    if let Some(c) = broker.controller() {
        let image = c.image();
        broker.acls.refresh(&image.acls);
        let cache = cache_from_image(&image, broker.config.node_id);
        broker.apply_metadata(cache);
    }
}

/// Follows the controller's images until the controller stops.
pub fn spawn_follower(broker: &Arc<Broker>) -> Option<JoinHandle<()>> {
    let mut rx = broker.controller()?.subscribe();
    let weak = Arc::downgrade(broker);
    Some(tokio::spawn(async move {
        while rx.changed().await.is_ok() {
            let image = rx.borrow_and_update().clone();
            let Some(b) = weak.upgrade() else { return };
            b.acls.refresh(&image.acls);
            let cache = cache_from_image(&image, b.config.node_id);
            let _ = tokio::task::spawn_blocking(move || b.apply_metadata(cache)).await;
        }
    }))
}
