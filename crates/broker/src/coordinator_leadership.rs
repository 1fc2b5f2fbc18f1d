//! Coordinator elections from metadata images: which `__consumer_offsets` and
//! `__transaction_state` partitions this broker leads (its replica is the
//! leader), image by image, and the difference to the previous image as
//! elections (partition, leader epoch = coordinator epoch) and resignations
//! (partition, the new leader epoch if the partition still exists). The broker
//! hands them to the group and transaction coordinators, which load or unload
//! those partitions (Kafka's `onElection` / `onResignation`).

use std::collections::BTreeMap;

use vltava_replication::Role;

use crate::metadata_view::MetadataView;
use crate::replica_manager::ReplicaManager;

/// What changed for one internal topic between two images.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Changes {
    /// Partitions now led here, with their leader epoch.
    pub elected: Vec<(i32, i32)>,
    /// Partitions no longer led here, with the new leader epoch if known.
    pub resigned: Vec<(i32, Option<i32>)>,
}

/// The partitions of one internal topic this broker led at the last image.
#[derive(Debug, Default)]
pub struct Leadership {
    led: BTreeMap<i32, i32>,
}

impl Leadership {
    /// Compares `topic`'s partitions led here in `metadata` (the image names
    /// this node as leader and its replica leads) with the last call's.
    pub fn update(
        &mut self,
        metadata: &MetadataView,
        replicas: &ReplicaManager,
        topic: &str,
    ) -> Changes {
        let node = replicas.node_id();
        let meta = metadata.topic(topic);
        let now: BTreeMap<i32, i32> = meta
            .map(|t| {
                t.partitions
                    .values()
                    .filter(|p| p.leader == node)
                    .filter(|p| {
                        replicas
                            .get(topic, p.partition)
                            .is_some_and(|h| h.lock().replica.role() == Role::Leader)
                    })
                    .map(|p| (p.partition, p.leader_epoch))
                    .collect()
            })
            .unwrap_or_default();
        let mut changes = Changes::default();
        for (p, epoch) in &now {
            if self.led.get(p) != Some(epoch) {
                changes.elected.push((*p, *epoch));
            }
        }
        for p in self.led.keys() {
            if !now.contains_key(p) {
                let epoch = meta
                    .and_then(|t| t.partitions.get(p))
                    .map(|m| m.leader_epoch);
                changes.resigned.push((*p, epoch));
            }
        }
        self.led = now;
        changes
    }
}
