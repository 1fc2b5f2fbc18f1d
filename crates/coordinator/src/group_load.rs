//! The group coordinator's partitions of `__consumer_offsets`: the error a
//! group's requests get when its partition is not served here
//! (NOT_COORDINATOR) or still loading (COORDINATOR_LOAD_IN_PROGRESS), and
//! Kafka's `onElection` / `onResignation`: a partition this broker comes to
//! lead is loaded (its records replayed with [`GroupCoordinator::load`] and
//! friends, then [`GroupCoordinator::finish_partition_load`]); one it stops
//! leading is unloaded (its groups dropped, their waiting JoinGroup and
//! SyncGroup requests answered NOT_COORDINATOR). The coordinator epoch is
//! the partition's leader epoch: older elections and resignations are
//! ignored.

use bytes::Bytes;

use crate::codes;
use crate::coordinator::{Effect, GroupCoordinator};
use crate::partition::partition_for;
use crate::responses::{JoinResult, sync_body};

impl GroupCoordinator {
    /// The `__consumer_offsets` partition of `group_id`.
    pub fn partition_of(&self, group_id: &str) -> i32 {
        partition_for(group_id, self.cfg.offsets_topic_num_partitions)
    }

    /// The error every request of `group_id` gets here: NOT_COORDINATOR
    /// when its partition is not served, COORDINATOR_LOAD_IN_PROGRESS while
    /// it loads; `None` when served.
    pub fn group_error(&self, group_id: &str) -> Option<i16> {
        self.ownership.error(self.partition_of(group_id))
    }

    /// The coordinator epoch of a served partition.
    pub fn partition_epoch(&self, partition: i32) -> Option<i32> {
        self.ownership.epoch(partition)
    }

    /// Elected coordinator of `partition` at `epoch`: its groups'
    /// requests get COORDINATOR_LOAD_IN_PROGRESS until
    /// [`GroupCoordinator::finish_partition_load`]. Groups left in memory
    /// from an earlier term are dropped first (the log is the truth), their
    /// waiting requests answered NOT_COORDINATOR. `None` when the election
    /// is stale (older than an epoch seen) or a repeat: nothing to load.
    pub fn elect(&mut self, partition: i32, epoch: i32) -> Option<Vec<Effect>> {
        if !self.ownership.elect(partition, epoch) {
            return None;
        }
        Some(self.drop_partition_groups(partition))
    }

    /// Whether `partition` is being loaded at `epoch` (what the driver
    /// checks before replaying records into it).
    pub fn is_loading_partition(&self, partition: i32, epoch: i32) -> bool {
        self.ownership.is_loading(partition) && self.ownership.epoch(partition) == Some(epoch)
    }

    /// Loading `partition` at `epoch` is done (its records were replayed
    /// through [`GroupCoordinator::load`]): its groups come to life as in
    /// [`GroupCoordinator::finish_load`] and are served. A load for a
    /// partition resigned or re-elected meanwhile is dropped.
    pub fn finish_partition_load(&mut self, partition: i32, epoch: i32, now_ms: i64) {
        if self.ownership.loaded(partition, epoch) {
            self.settle_loaded(Some(partition), now_ms);
        } else {
            self.drop_partition_groups(partition);
        }
    }

    /// No longer coordinator of `partition` (`epoch`: the new leader epoch,
    /// `None` when unknown): its groups are dropped and every JoinGroup or
    /// SyncGroup waiting in them is answered NOT_COORDINATOR. A resignation
    /// older than the served epoch is ignored.
    pub fn resign(&mut self, partition: i32, epoch: Option<i32>) -> Vec<Effect> {
        if !self.ownership.resign(partition, epoch) {
            return Vec::new();
        }
        self.drop_partition_groups(partition)
    }

    /// Drops the groups of `partition` (and their pending transactional
    /// offsets), answering their waiting requests NOT_COORDINATOR.
    fn drop_partition_groups(&mut self, partition: i32) -> Vec<Effect> {
        let mut out = Vec::new();
        let n = self.cfg.offsets_topic_num_partitions;
        let mut ids: Vec<String> = self
            .groups
            .keys()
            .filter(|g| partition_for(g, n) == partition)
            .cloned()
            .collect();
        ids.sort();
        for id in ids {
            let Some(g) = self.groups.remove(&id) else {
                continue;
            };
            for m in g.members.values() {
                if let Some(w) = &m.awaiting_join {
                    let body =
                        JoinResult::error(&m.member_id, codes::NOT_COORDINATOR).to_body(w.version);
                    out.push(Effect::Respond {
                        request_id: w.request_id,
                        body,
                    });
                }
                if let Some(w) = &m.awaiting_sync {
                    let body =
                        sync_body(w.version, codes::NOT_COORDINATOR, Bytes::new(), None, None);
                    out.push(Effect::Respond {
                        request_id: w.request_id,
                        body,
                    });
                }
            }
            self.drop_group_txn_offsets(&id);
            self.refresh_timer(&id);
        }
        out
    }
}
