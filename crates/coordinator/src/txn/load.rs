//! The transaction coordinator's partitions of `__transaction_state`: the
//! error a transactional id's requests get when its partition is not served
//! here (NOT_COORDINATOR) or still loading (COORDINATOR_LOAD_IN_PROGRESS),
//! and Kafka's `onElection` / `onResignation`: a partition this broker
//! comes to lead is loaded (its records replayed, then
//! [`TransactionCoordinator::finish_partition_load`] completes the
//! transactions found prepared, with markers carrying the new coordinator
//! epoch); one it stops leading is unloaded (its ids dropped). The
//! coordinator epoch is the partition's leader epoch.

use crate::txn::coordinator::{TransactionCoordinator, TxnEffect, txn_partition_for};

impl TransactionCoordinator {
    /// The `__transaction_state` partition of `transactional_id`.
    pub fn partition_of(&self, transactional_id: &str) -> i32 {
        txn_partition_for(transactional_id, self.cfg.num_partitions)
    }

    /// The error every request of `transactional_id` gets here:
    /// NOT_COORDINATOR when its partition is not served,
    /// COORDINATOR_LOAD_IN_PROGRESS while it loads; `None` when served.
    pub fn txn_error(&self, transactional_id: &str) -> Option<i16> {
        self.ownership.error(self.partition_of(transactional_id))
    }

    /// The coordinator epoch of a served partition.
    pub fn partition_epoch(&self, partition: i32) -> Option<i32> {
        self.ownership.epoch(partition)
    }

    /// Elected coordinator of `partition` at `epoch`: its ids' requests
    /// get COORDINATOR_LOAD_IN_PROGRESS until
    /// [`TransactionCoordinator::finish_partition_load`]; ids left in memory
    /// from an earlier term are dropped (the log is the truth). False when
    /// the election is stale or a repeat: nothing to load.
    pub fn elect(&mut self, partition: i32, epoch: i32) -> bool {
        if !self.ownership.elect(partition, epoch) {
            return false;
        }
        self.drop_partition_ids(partition);
        true
    }

    /// Whether `partition` is being loaded at `epoch`.
    pub fn is_loading_partition(&self, partition: i32, epoch: i32) -> bool {
        self.ownership.is_loading(partition) && self.ownership.epoch(partition) == Some(epoch)
    }

    /// Loading `partition` at `epoch` is done (its records were replayed
    /// through [`TransactionCoordinator::load`]): its ids are served, and
    /// those found in PrepareCommit/PrepareAbort get their markers. A load
    /// for a partition resigned or re-elected meanwhile is dropped.
    pub fn finish_partition_load(
        &mut self,
        partition: i32,
        epoch: i32,
        now_ms: i64,
    ) -> Vec<TxnEffect> {
        if self.ownership.loaded(partition, epoch) {
            self.complete_loaded(Some(partition), now_ms)
        } else {
            self.drop_partition_ids(partition);
            Vec::new()
        }
    }

    /// No longer coordinator of `partition` (`epoch`: the new leader epoch,
    /// if known): its ids are dropped; an append or marker write still in
    /// flight for one of them finds nothing when it completes (a waiting
    /// client is answered COORDINATOR_NOT_AVAILABLE and goes to the new
    /// coordinator). A resignation older than the served epoch is ignored.
    pub fn resign(&mut self, partition: i32, epoch: Option<i32>) {
        if self.ownership.resign(partition, epoch) {
            self.drop_partition_ids(partition);
        }
    }

    fn drop_partition_ids(&mut self, partition: i32) {
        let n = self.cfg.num_partitions;
        self.txns
            .retain(|id, _| txn_partition_for(id, n) != partition);
        let txns = &self.txns;
        self.retrying.retain(|id| txns.contains_key(id));
    }
}
