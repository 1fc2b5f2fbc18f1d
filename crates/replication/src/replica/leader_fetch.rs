//! A follower's Fetch on the leader: epoch and membership checks, the KIP-320 divergence
//! check on the follower's last fetched epoch, then its progress, a possible ISR expansion
//! and a possible high-watermark rise.

use super::Replica;
use crate::epoch_lookup::{EpochEndOffset, LeaderEpochLookup};
use crate::error::ReplicaError;
use crate::event::Event;

/// One partition of a follower's Fetch request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FollowerFetch {
    /// The fetching broker (the request's replica id).
    pub replica_id: i32,
    /// Where it wants to read from: its log end offset.
    pub fetch_offset: u64,
    /// The epoch of the last record in its log (KIP-320), if it sent one.
    pub last_fetched_epoch: Option<i32>,
    /// The leader epoch it believes current; `None` (Kafka's -1) skips the check.
    pub current_leader_epoch: Option<i32>,
    /// The fetching broker's epoch (KIP-903, Fetch v15+ `ReplicaState.ReplicaEpoch`);
    /// `None` (Kafka's -1, older versions) skips the broker-epoch checks of an expansion.
    pub broker_epoch: Option<i64>,
}

/// The leader's answer to a [`FollowerFetch`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub struct FollowerFetchAnswer {
    /// Set when the follower's log diverges from the leader's: the largest leader epoch ≤
    /// its last fetched epoch and where it ends here. No records are read and nothing of
    /// the follower is recorded; it truncates and fetches again.
    pub diverging_epoch: Option<EpochEndOffset>,
    /// The high watermark to send (after this fetch's effect on it).
    pub high_watermark: u64,
    /// Events this fetch caused.
    pub events: Vec<Event>,
}

impl Replica {
    /// Handles a follower's fetch at `now_ms`. `leader_epochs` is this broker's log's
    /// leader-epoch history. Errors: the request's leader epoch (FENCED_LEADER_EPOCH /
    /// UNKNOWN_LEADER_EPOCH), not leading or a fetcher that is not a follower replica
    /// (NOT_LEADER_OR_FOLLOWER), an epoch the history cannot place or (with no divergence)
    /// an offset past the log end (OFFSET_OUT_OF_RANGE). When no divergence is found the follower's log end is
    /// its fetch offset; the driver reads records from there.
    pub fn on_follower_fetch(
        &mut self,
        fetch: &FollowerFetch,
        leader_epochs: &impl LeaderEpochLookup,
        now_ms: u64,
    ) -> Result<FollowerFetchAnswer, ReplicaError> {
        self.check_leader(fetch.current_leader_epoch)?;
        if !self.followers.contains_key(&fetch.replica_id) {
            return Err(self.not_leader());
        }
        // The divergence check comes first, as Kafka's: a follower that got further than this
        // leader from the previous one (its fetch offset past this log's end) is told where
        // their logs part and truncates, instead of being refused until this log outgrows it.
        if let Some(last_fetched_epoch) = fetch.last_fetched_epoch {
            let local = leader_epochs
                .end_offset_for_epoch(last_fetched_epoch)
                .ok_or(ReplicaError::OffsetOutOfRange)?;
            if local.end_offset < fetch.fetch_offset || local.epoch < last_fetched_epoch {
                return Ok(FollowerFetchAnswer {
                    diverging_epoch: Some(local),
                    high_watermark: self.high_watermark,
                    events: Vec::new(),
                });
            }
        }
        if fetch.fetch_offset > self.log_end_offset {
            return Err(ReplicaError::OffsetOutOfRange);
        }

        let leader_end = self.log_end_offset;
        if let Some(progress) = self.followers.get_mut(&fetch.replica_id) {
            progress.record_fetch(fetch.fetch_offset, fetch.broker_epoch, leader_end, now_ms);
        }
        let mut events: Vec<Event> = self
            .maybe_expand_isr(fetch.replica_id)
            .into_iter()
            .collect();
        events.extend(self.maybe_advance_high_watermark());
        Ok(FollowerFetchAnswer {
            diverging_epoch: None,
            high_watermark: self.high_watermark,
            events,
        })
    }
}
