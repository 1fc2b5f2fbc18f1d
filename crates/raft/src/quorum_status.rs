//! `QuorumStatus`: what DescribeQuorum reports about the metadata quorum (leader, epoch, high
//! watermark, and per voter its log end offset and last fetch / caught-up times), and
//! `ReplicaTimes`, the clock readings the driver keeps to fill those times in.
//!
//! Offsets: the metadata-log offset of raft entry `i` is `i - 1`, so the high watermark (the
//! offset after the last committed entry) is the commit index, and a voter's log end offset is
//! the index of the last entry it holds (for followers: the leader's `matched` for them).

use std::collections::HashMap;

use crate::config::Voter;

/// The quorum as its leader sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuorumStatus {
    /// The leader's node id (this node: only the leader describes the quorum).
    pub leader_id: i32,
    /// The leader's epoch (raft term).
    pub leader_epoch: i32,
    /// Offset after the last committed metadata record.
    pub high_watermark: i64,
    /// Every voter, leader included, in node-id order.
    pub voters: Vec<ReplicaStatus>,
    /// Observers (broker-only nodes following the metadata log) that fetched from this leader
    /// within [`OBSERVER_SESSION_MS`], in node-id order.
    pub observers: Vec<ReplicaStatus>,
    /// The voters' controller listener addresses, as configured.
    pub voter_endpoints: Vec<Voter>,
}

/// One voter's replication state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplicaStatus {
    /// Node id.
    pub replica_id: i32,
    /// Offset after the last entry the voter holds.
    pub log_end_offset: i64,
    /// Wall-clock ms of the voter's last answer to the leader, -1 if none yet.
    pub last_fetch_timestamp: i64,
    /// Wall-clock ms when the voter last held everything the leader had, -1 if never.
    pub last_caught_up_timestamp: i64,
}

/// Largest number of peers whose times are kept (a bound for forged message senders).
const MAX_TRACKED_REPLICAS: usize = 1024;
/// An observer that has not fetched for this long is no longer listed (Kafka's 5 minutes).
pub const OBSERVER_SESSION_MS: i64 = 300_000;

/// The leader's record of the observers that fetch the metadata log from it: per node id,
/// the offset it fetched from (its log end) and its last fetch and caught-up times.
#[derive(Debug, Default)]
pub(crate) struct ObserverTimes {
    seen: HashMap<i32, ReplicaStatus>,
}

impl ObserverTimes {
    /// Records a fetch from `id` at `fetch_offset` at `now_ms`; `caught_up` when it asked for
    /// the offset after everything committed.
    pub(crate) fn record(&mut self, id: i32, fetch_offset: i64, now_ms: i64, caught_up: bool) {
        if !self.seen.contains_key(&id) && self.seen.len() >= MAX_TRACKED_REPLICAS {
            self.seen
                .retain(|_, r| now_ms - r.last_fetch_timestamp < OBSERVER_SESSION_MS);
            if self.seen.len() >= MAX_TRACKED_REPLICAS {
                return;
            }
        }
        let r = self.seen.entry(id).or_insert(ReplicaStatus {
            replica_id: id,
            log_end_offset: -1,
            last_fetch_timestamp: -1,
            last_caught_up_timestamp: -1,
        });
        r.log_end_offset = fetch_offset;
        r.last_fetch_timestamp = now_ms;
        if caught_up {
            r.last_caught_up_timestamp = now_ms;
        }
    }

    /// Forgets everything (on losing leadership).
    pub(crate) fn clear(&mut self) {
        self.seen.clear();
    }

    /// The observers seen within the session, in node-id order.
    pub(crate) fn live(&self, now_ms: i64) -> Vec<ReplicaStatus> {
        let mut out: Vec<ReplicaStatus> = self
            .seen
            .values()
            .filter(|r| now_ms - r.last_fetch_timestamp < OBSERVER_SESSION_MS)
            .copied()
            .collect();
        out.sort_by_key(|r| r.replica_id);
        out
    }
}

/// When each peer last answered the leader, and when it was last caught up.
#[derive(Debug, Default)]
pub(crate) struct ReplicaTimes {
    last_fetch: HashMap<i32, i64>,
    last_caught_up: HashMap<i32, i64>,
}

impl ReplicaTimes {
    /// Records an append answer from `replica` at `now_ms`; `caught_up` when it acknowledged the
    /// leader's last entry.
    pub(crate) fn record(&mut self, replica: i32, now_ms: i64, caught_up: bool) {
        if !self.last_fetch.contains_key(&replica) && self.last_fetch.len() >= MAX_TRACKED_REPLICAS
        {
            return;
        }
        self.last_fetch.insert(replica, now_ms);
        if caught_up {
            self.last_caught_up.insert(replica, now_ms);
        }
    }

    /// Forgets everything (on a leader change the old readings no longer apply).
    pub(crate) fn clear(&mut self) {
        self.last_fetch.clear();
        self.last_caught_up.clear();
    }

    /// (last fetch, last caught up) for `replica`, -1 where unknown.
    pub(crate) fn of(&self, replica: i32) -> (i64, i64) {
        (
            self.last_fetch.get(&replica).copied().unwrap_or(-1),
            self.last_caught_up.get(&replica).copied().unwrap_or(-1),
        )
    }
}

/// The workspace clock ([`vltava_records::clock::now_ms`]).
pub(crate) use vltava_records::clock::now_ms as wall_clock_ms;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_start_unknown_and_caught_up_only_when_told() {
        let mut t = ReplicaTimes::default();
        assert_eq!(t.of(2), (-1, -1));
        t.record(2, 100, false);
        assert_eq!(t.of(2), (100, -1));
        t.record(2, 200, true);
        t.record(2, 300, false);
        assert_eq!(t.of(2), (300, 200));
        t.clear();
        assert_eq!(t.of(2), (-1, -1));
    }

    #[test]
    fn observers_are_listed_in_order_until_their_session_ends() {
        let mut o = ObserverTimes::default();
        o.record(5, 10, 1_000, false);
        o.record(4, 12, 2_000, true);
        o.record(5, 12, 3_000, true);
        let live = o.live(3_000);
        assert_eq!(
            live.iter().map(|r| r.replica_id).collect::<Vec<_>>(),
            [4, 5]
        );
        assert_eq!(live[1].log_end_offset, 12);
        assert_eq!(live[1].last_caught_up_timestamp, 3_000);
        assert_eq!(o.live(2_000 + OBSERVER_SESSION_MS).len(), 1);
        o.clear();
        assert!(o.live(3_000).is_empty());
    }

    #[test]
    fn tracked_replicas_are_bounded() {
        let mut t = ReplicaTimes::default();
        for id in 0..(MAX_TRACKED_REPLICAS as i32 + 10) {
            t.record(id, 1, true);
        }
        assert_eq!(t.of(MAX_TRACKED_REPLICAS as i32 + 5), (-1, -1));
        t.record(0, 7, false);
        assert_eq!(t.of(0), (7, 1));
    }
}
