//! The sans-IO controller: pure functions from (committed-or-pending image, admin request) to
//! (Kafka response, metadata records to commit). No IO, no clock; topic ids come from an
//! `IdSource` so tests are deterministic.

pub mod acls;
pub mod alter_configs;
pub mod alter_partition;
pub mod broker_config_table;
pub mod brokers;
pub mod client_quotas;
pub mod configs_schema;
pub mod create_partitions;
pub mod create_topics;
pub mod delete_topics;
pub mod effective_configs;
pub mod elections;
pub mod features;
pub mod fencing;
pub mod placement;
pub mod reassignments;
pub mod scram_credentials;
#[cfg(test)]
mod test_image;
pub mod topic_name;

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};

use vltava_protocol::{SharedStr, Uuid};

use crate::image::MetadataImage;

pub use acls::{create_acls, delete_acls};
pub use alter_configs::{alter_configs, incremental_alter_configs};
pub use alter_partition::alter_partition;
pub use brokers::{
    PRODUCER_ID_BLOCK_SIZE, allocate_producer_ids, endpoints_record, plaintext, register_broker,
    register_broker_endpoints,
};
pub use client_quotas::alter_client_quotas;
pub use create_partitions::create_partitions;
pub use create_topics::create_topics;
pub use delete_topics::delete_topics;
pub use effective_configs::{EffectiveConfig, effective_topic_configs};
pub use elections::elect_leaders;
pub use reassignments::{alter_partition_reassignments, list_partition_reassignments};
pub use scram_credentials::alter_user_scram_credentials;

/// A per-item failure: Kafka error code and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicError {
    pub code: i16,
    pub message: String,
}

impl TopicError {
    pub fn new(code: i16, message: impl Into<String>) -> Self {
        TopicError {
            code,
            message: message.into(),
        }
    }
}

/// The message field when the version has it.
pub(crate) fn opt_msg(has_field: bool, m: String) -> Option<SharedStr> {
    has_field.then(|| SharedStr::from(m))
}

/// Where new topic ids come from.
pub trait IdSource: Send {
    /// A fresh topic id not used in `image`.
    fn next_topic_id(&mut self, image: &MetadataImage) -> Uuid;
}

/// Random version-4 UUIDs (seeded from the process's random hasher keys), skipping the ids Kafka
/// reserves (zero, the metadata topic's id 1) and ids whose base64 form starts with '-'.
#[derive(Debug, Default)]
pub struct RandomIds {
    state: RandomState,
    counter: u64,
}

impl RandomIds {
    fn next_u64(&mut self) -> u64 {
        self.counter = self.counter.wrapping_add(1);
        let mut h = self.state.build_hasher();
        h.write_u64(self.counter);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0);
        h.write_u64(nanos);
        h.finish()
    }
}

impl IdSource for RandomIds {
    fn next_topic_id(&mut self, image: &MetadataImage) -> Uuid {
        loop {
            let v = (u128::from(self.next_u64()) << 64) | u128::from(self.next_u64());
            let mut b = v.to_be_bytes();
            b[6] = (b[6] & 0x0f) | 0x40;
            b[8] = (b[8] & 0x3f) | 0x80;
            let id = Uuid(b);
            if id.as_u128() > 1 && (b[0] >> 2) != 62 && !image.topic_names.contains_key(&id) {
                return id;
            }
        }
    }
}

/// Sequential ids 2, 3, ... for tests and simulations.
#[derive(Debug, Default)]
pub struct SequentialIds(pub u128);

impl IdSource for SequentialIds {
    fn next_topic_id(&mut self, image: &MetadataImage) -> Uuid {
        loop {
            self.0 += 1;
            let id = Uuid::from_u128(self.0 + 1);
            if !image.topic_names.contains_key(&id) {
                return id;
            }
        }
    }
}
