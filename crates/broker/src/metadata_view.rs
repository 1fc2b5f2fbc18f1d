//! `MetadataView`: the broker's read-only view of the controller's committed
//! `MetadataImage`, shared (not copied) with the controller, plus the answers that
//! depend on which broker reads it (the controller id clients are given, this node's
//! dynamic broker configs). The broker never edits it.

use std::collections::BTreeMap;
use std::sync::Arc;

use vltava_protocol::Uuid;
use vltava_raft::{MetadataImage, TopicImage};
use vltava_security::quota::QuotaTable;

/// One committed image as broker `node_id` reads it.
#[derive(Debug, Clone)]
pub struct MetadataView {
    image: Arc<MetadataImage>,
    node_id: i32,
}

impl Default for MetadataView {
    /// An empty image of an unnamed cluster, read by node 0.
    fn default() -> Self {
        MetadataView::new(Arc::new(MetadataImage::default()), 0)
    }
}

impl MetadataView {
    /// `image` as broker `node_id` reads it.
    pub fn new(image: Arc<MetadataImage>, node_id: i32) -> Self {
        MetadataView { image, node_id }
    }

    /// The committed image itself (its plain facts: brokers, topics, configs, ...).
    pub fn image(&self) -> &MetadataImage {
        &self.image
    }

    /// The image, shared.
    pub fn shared_image(&self) -> &Arc<MetadataImage> {
        &self.image
    }

    /// The cluster id.
    pub fn cluster_id(&self) -> &str {
        &self.image.cluster_id
    }

    /// Metadata log offset the image reflects (newer images win).
    pub fn offset(&self) -> i64 {
        self.image.offset
    }

    /// The controller id clients are given. Clients send admin requests to it, and any
    /// broker forwards them: as Kafka's KRaft brokers do, name the active controller only
    /// while it is a live broker, else this node (never a dead or fenced one, nor -1 while
    /// an election runs).
    pub fn controller_id(&self) -> i32 {
        let active = self.image.controller_id;
        if self.image.live_broker(active).is_some() {
            active
        } else {
            self.node_id
        }
    }

    /// A topic by name.
    pub fn topic(&self, name: &str) -> Option<&TopicImage> {
        self.image.topic(name)
    }

    /// Every topic, by name.
    pub fn topics(&self) -> impl Iterator<Item = &TopicImage> {
        self.image.topics.values()
    }

    /// A topic by id.
    pub fn topic_by_id(&self, id: Uuid) -> Option<&TopicImage> {
        self.image.topic_by_id(&id)
    }

    /// The id of a topic, or the zero id.
    pub fn topic_id(&self, name: &str) -> Uuid {
        self.image.topic_id(name)
    }

    /// Dynamic broker configs of this broker (resource name = its id).
    pub fn broker_dynamic_configs(&self) -> &BTreeMap<String, String> {
        self.image.broker_configs(&self.node_id.to_string())
    }

    /// Dynamic broker configs set as the cluster default (resource name "").
    pub fn cluster_dynamic_configs(&self) -> &BTreeMap<String, String> {
        self.image.broker_configs("")
    }

    /// Client quotas by user / client id.
    pub fn client_quotas(&self) -> &QuotaTable {
        &self.image.client_quotas
    }
}
