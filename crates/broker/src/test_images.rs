//! Hand-built metadata images for unit tests: alive brokers, partitions, topics (kept
//! findable by id), and the view a broker reads them through.

use std::sync::Arc;

use vltava_protocol::Uuid;
use vltava_raft::{BrokerImage, ListenerEndpoint, MetadataImage, PartitionImage, TopicImage};

use crate::metadata_view::MetadataView;

/// Alive broker `id` at `127.0.0.1:port`, epoch 1, with the given listeners (name, port).
pub fn broker(id: i32, port: i32, listeners: &[(&str, i32)]) -> BrokerImage {
    BrokerImage {
        id,
        host: "127.0.0.1".into(),
        port,
        endpoints: listeners
            .iter()
            .map(|(name, port)| ListenerEndpoint {
                name: name.to_string(),
                host: format!("{name}-host"),
                port: *port,
                security_protocol: 0,
            })
            .collect(),
        rack: None,
        fenced: false,
        epoch: 1,
    }
}

/// Partition `index` led by `leader` (epochs 0).
pub fn partition(index: i32, leader: i32, replicas: &[i32], isr: &[i32]) -> PartitionImage {
    PartitionImage::new(index, leader, replicas.to_vec(), isr.to_vec())
}

/// `image` with `b` registered.
pub fn add_broker(image: &mut MetadataImage, b: BrokerImage) {
    image.brokers.insert(b.id, b);
}

/// `image` with topic `name` (id `id`) of `partitions`.
pub fn add_topic(image: &mut MetadataImage, name: &str, id: Uuid, partitions: Vec<PartitionImage>) {
    image.topic_names.insert(id, name.to_string());
    image.topics.insert(
        name.to_string(),
        TopicImage {
            name: name.to_string(),
            id,
            partitions: partitions.into_iter().map(|p| (p.partition, p)).collect(),
        },
    );
}

/// `image` as node 0 reads it.
pub fn view(image: &MetadataImage) -> MetadataView {
    MetadataView::new(Arc::new(image.clone()), 0)
}
