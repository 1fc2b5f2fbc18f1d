//! The names of Kafka's internal topics, written once for the whole workspace
//! (Kafka's `org.apache.kafka.common.internals.Topic`): the coordinator, the
//! broker, the client tools and the test crates all name them from here.

/// The internal topic of consumer group metadata and committed offsets.
pub const OFFSETS_TOPIC: &str = "__consumer_offsets";

/// The internal topic of transactional ids and their transaction state.
pub const TRANSACTION_STATE_TOPIC: &str = "__transaction_state";

/// The KRaft metadata log's topic (not listed as a topic; its partition 0 is the
/// quorum's log).
pub const METADATA_TOPIC: &str = "__cluster_metadata";

/// Whether `topic` is one of the internal topics clients see in metadata (the
/// offsets and transaction state topics; Kafka's `Topic.isInternal`).
pub fn is_internal(topic: &str) -> bool {
    topic == OFFSETS_TOPIC || topic == TRANSACTION_STATE_TOPIC
}
