//! The follower side: where to fetch from next, and what a fetch response does to the local
//! log (KIP-320 truncation on a diverging epoch) and high watermark.

use super::{Replica, Role};
use crate::epoch_lookup::{EpochEndOffset, LeaderEpochLookup};
use crate::event::Event;

/// The next fetch a follower sends to its leader for this partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FetchPosition {
    /// The leader to fetch from.
    pub leader_id: i32,
    /// The leader epoch to send as the current leader epoch.
    pub current_leader_epoch: i32,
    /// The local log end offset.
    pub fetch_offset: u64,
    /// The epoch of the last record in the local log (KIP-320), if any.
    pub last_fetched_epoch: Option<i32>,
}

/// The leader's answer to a [`FetchPosition`], as the driver reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FetchResult {
    /// The leader found the local log diverging from its own (KIP-320); nothing was appended.
    Diverging(EpochEndOffset),
    /// The response's records (maybe none) were appended; the local log now ends at
    /// `log_end_offset`; the leader's high watermark was `leader_high_watermark`.
    Appended {
        /// The local log end offset after the append.
        log_end_offset: u64,
        /// The high watermark in the response.
        leader_high_watermark: u64,
    },
    /// The leader answered OFFSET_OUT_OF_RANGE; its log starts at `leader_log_start_offset`.
    OutOfRange {
        /// The leader's log start offset.
        leader_log_start_offset: u64,
    },
}

impl Replica {
    /// The fetch to send next: from the local log end, with the local log's latest epoch.
    /// `None` unless following a known leader. A driver appends a response's records only
    /// if this is still the position it fetched with (else the response is stale).
    pub fn fetch_position(&self, local_epochs: &impl LeaderEpochLookup) -> Option<FetchPosition> {
        if self.role != Role::Follower {
            return None;
        }
        Some(FetchPosition {
            leader_id: self.leader_id?,
            current_leader_epoch: self.leader_epoch,
            fetch_offset: self.log_end_offset,
            last_fetched_epoch: local_epochs.latest_epoch(),
        })
    }

    /// Applies the answer to the fetch sent at `position`. A diverging epoch gives
    /// [`Event::Truncate`] at Kafka's truncation offset (and the log end and high watermark
    /// drop to it); appended records move the log end, and the high watermark becomes
    /// min(leader's, local log end) (a follower's may move back, as in Kafka). Out of range
    /// below the leader's log start gives [`Event::TruncateFullyAndStartAt`] the leader's log
    /// start (the log end and high watermark move there); out of range above it (the
    /// follower ahead of a leader whose epochs did not show the divergence) changes nothing,
    /// and the fetch is retried. Answers for a position of another leader or epoch are
    /// ignored.
    #[must_use]
    pub fn on_fetch_response(
        &mut self,
        position: &FetchPosition,
        result: FetchResult,
        local_epochs: &impl LeaderEpochLookup,
    ) -> Vec<Event> {
        if self.role != Role::Follower
            || self.leader_id != Some(position.leader_id)
            || self.leader_epoch != position.current_leader_epoch
        {
            return Vec::new();
        }
        match result {
            FetchResult::Diverging(leader) => {
                let offset = self.truncation_offset(leader, local_epochs);
                self.log_end_offset = self.log_end_offset.min(offset);
                self.high_watermark = self.high_watermark.min(offset);
                vec![Event::Truncate(offset)]
            }
            FetchResult::Appended {
                log_end_offset,
                leader_high_watermark,
            } => {
                self.log_end_offset = log_end_offset;
                let high_watermark = leader_high_watermark.min(log_end_offset);
                let advanced = high_watermark > self.high_watermark;
                self.high_watermark = high_watermark;
                if advanced {
                    vec![Event::HighWatermarkAdvanced(high_watermark)]
                } else {
                    Vec::new()
                }
            }
            FetchResult::OutOfRange {
                leader_log_start_offset,
            } => {
                if position.fetch_offset >= leader_log_start_offset {
                    return Vec::new();
                }
                self.log_end_offset = leader_log_start_offset;
                self.high_watermark = leader_log_start_offset;
                vec![Event::TruncateFullyAndStartAt(leader_log_start_offset)]
            }
        }
    }

    /// Kafka's follower truncation for a diverging epoch: where the local log stops agreeing
    /// with the leader's (epoch, end offset). If the local log lacks that epoch, cut at the
    /// end of the largest smaller local epoch and ask again.
    fn truncation_offset(
        &self,
        leader: EpochEndOffset,
        local_epochs: &impl LeaderEpochLookup,
    ) -> u64 {
        let local_end = self.log_end_offset;
        match local_epochs.end_offset_for_epoch(leader.epoch) {
            None => leader.end_offset.min(local_end),
            Some(local) if local.epoch != leader.epoch => local.end_offset.min(local_end),
            Some(local) => leader.end_offset.min(local.end_offset).min(local_end),
        }
    }
}
