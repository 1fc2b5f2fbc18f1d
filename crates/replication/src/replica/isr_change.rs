//! ISR changes proposed by the leader (KIP-497): expansion of a caught-up follower, shrink
//! of lagging ones, one pending change at a time, and the controller's answer.

use std::collections::BTreeSet;

use super::{Replica, Role};
use crate::alter_partition::{
    AlterPartitionProposal, AlterPartitionResult, FailureHandling, IsrChange,
};
use crate::event::Event;

impl Replica {
    /// Proposes adding `replica_id` to the ISR when nothing is pending, it is an eligible
    /// replica outside the ISR (KIP-841: not fenced, not shutting down; KIP-903: the broker
    /// epoch of its last fetch, if it sent one, is its current registration's), and its log
    /// end has reached both the high watermark and the start of the current leader epoch.
    pub(super) fn maybe_expand_isr(&mut self, replica_id: i32) -> Option<Event> {
        if self.role != Role::Leader
            || self.isr.is_pending()
            || self.isr.committed_isr().contains(&replica_id)
            || self.isr_ineligible.contains(&replica_id)
        {
            return None;
        }
        let progress = self.followers.get(&replica_id)?;
        if let (Some(fetched), Some(&registered)) =
            (progress.broker_epoch(), self.broker_epochs.get(&replica_id))
            && fetched != registered
        {
            return None;
        }
        let follower_end = progress.log_end_offset()?;
        let epoch_start = self.leader_epoch_start_offset?;
        if follower_end < self.high_watermark || follower_end < epoch_start {
            return None;
        }
        self.propose(IsrChange::Expand(replica_id))
    }

    /// Proposes removing the ISR followers that are out of sync: behind the leader's log end
    /// and not caught up within `replica.lag.time.max.ms`. The leader never removes itself.
    pub(super) fn maybe_shrink_isr(&mut self, now_ms: u64) -> Option<Event> {
        if self.role != Role::Leader || self.isr.is_pending() {
            return None;
        }
        let max_lag = self.config.replica_lag_time_max_ms;
        let out_of_sync: BTreeSet<i32> = self
            .isr
            .committed_isr()
            .iter()
            .copied()
            .filter(|&id| id != self.local_id)
            .filter(|id| {
                self.followers.get(id).is_some_and(|progress| {
                    !progress.is_caught_up(self.log_end_offset, now_ms, max_lag)
                })
            })
            .collect();
        if out_of_sync.is_empty() {
            return None;
        }
        self.propose(IsrChange::Shrink(out_of_sync))
    }

    /// Proposes `change`, each member with its broker epoch (KIP-903): this broker's from
    /// the image, a follower's from its last fetch.
    fn propose(&mut self, change: IsrChange) -> Option<Event> {
        let local_id = self.local_id;
        let local_epoch = self.broker_epochs.get(&local_id).copied();
        let followers = &self.followers;
        let epoch_of = |id: i32| {
            if id == local_id {
                local_epoch
            } else {
                followers.get(&id).and_then(|p| p.broker_epoch())
            }
        };
        self.isr
            .propose(
                self.local_id,
                self.leader_epoch,
                self.partition_epoch,
                change,
                epoch_of,
            )
            .map(Event::AlterPartition)
    }

    /// The controller's answer to `proposal`. Answers to anything but the proposal in
    /// flight are ignored. Accepted (for this leader epoch, at a partition epoch not older
    /// than ours): the proposed ISR is committed and the high watermark may rise; accepted
    /// for another view of the epochs: parked until new partition state.
    /// Failed: by [`FailureHandling::for_error_code`], revert (the high watermark may rise
    /// when a pending addition goes), park until new partition state, or resend.
    #[must_use]
    pub fn on_alter_partition_result(
        &mut self,
        proposal: &AlterPartitionProposal,
        result: AlterPartitionResult,
    ) -> Vec<Event> {
        if self.role != Role::Leader || self.isr.in_flight() != Some(proposal) {
            return Vec::new();
        }
        match result {
            AlterPartitionResult::Accepted {
                leader_epoch,
                partition_epoch,
            } => {
                if leader_epoch != self.leader_epoch || partition_epoch < self.partition_epoch {
                    // Stale answer for this replica's view: wait for metadata, as Kafka.
                    self.isr.park_pending();
                    return Vec::new();
                }
                self.isr.commit_pending();
                self.partition_epoch = partition_epoch;
                self.maybe_advance_high_watermark()
            }
            AlterPartitionResult::Failed { error_code } => {
                match FailureHandling::for_error_code(error_code) {
                    FailureHandling::Revert => {
                        self.isr.revert_pending();
                        self.maybe_advance_high_watermark()
                    }
                    FailureHandling::AwaitMetadata => {
                        self.isr.park_pending();
                        Vec::new()
                    }
                    FailureHandling::Retry => vec![Event::AlterPartition(proposal.clone())],
                }
            }
        }
    }
}
