//! `FollowerProgress`: what a leader knows of one follower (its log end offset and broker
//! epoch from its last fetch, and Kafka's `lastCaughtUpTimeMs`).

/// The leader's record of one follower replica.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FollowerProgress {
    log_end_offset: Option<u64>,
    /// The leader's log end offset when this follower last fetched.
    last_fetch_leader_log_end_offset: Option<u64>,
    last_fetch_time_ms: u64,
    last_caught_up_time_ms: u64,
    broker_epoch: Option<i64>,
}

impl FollowerProgress {
    /// A follower the leader has not heard from, caught up as of `last_caught_up_time_ms`
    /// (Kafka: the time of becoming leader for ISR members, so they get a full lag period
    /// before a shrink, and 0 for the others).
    pub fn new(last_caught_up_time_ms: u64) -> Self {
        FollowerProgress {
            log_end_offset: None,
            last_fetch_leader_log_end_offset: None,
            last_fetch_time_ms: 0,
            last_caught_up_time_ms,
            broker_epoch: None,
        }
    }

    /// The follower's log end offset as of its last fetch (unknown until it fetches).
    pub fn log_end_offset(&self) -> Option<u64> {
        self.log_end_offset
    }

    /// The broker epoch the follower sent with its last fetch (KIP-903, Fetch v15+
    /// `ReplicaState.ReplicaEpoch`); `None` before a fetch or when it sent -1.
    pub fn broker_epoch(&self) -> Option<i64> {
        self.broker_epoch
    }

    /// Kafka's `lastCaughtUpTimeMs`: the last time the follower was known to have everything
    /// the leader had.
    pub fn last_caught_up_time_ms(&self) -> u64 {
        self.last_caught_up_time_ms
    }

    /// The time of the follower's last fetch, 0 before any.
    pub fn last_fetch_time_ms(&self) -> u64 {
        self.last_fetch_time_ms
    }

    /// Records a fetch at `fetch_offset` (the follower's log end) by the follower at
    /// `broker_epoch` at `now_ms`, when the leader's log ended at `leader_log_end_offset`.
    /// Caught up now if it fetched from the leader's end; caught up as of its previous fetch
    /// if it now has everything the leader had at that previous fetch. The broker epoch is
    /// the fetch's, as Kafka keeps it (a restarted follower's new epoch replaces the old).
    pub fn record_fetch(
        &mut self,
        fetch_offset: u64,
        broker_epoch: Option<i64>,
        leader_log_end_offset: u64,
        now_ms: u64,
    ) {
        self.broker_epoch = broker_epoch;
        if fetch_offset >= leader_log_end_offset {
            self.last_caught_up_time_ms = self.last_caught_up_time_ms.max(now_ms);
        } else if self
            .last_fetch_leader_log_end_offset
            .is_some_and(|previous| fetch_offset >= previous)
        {
            self.last_caught_up_time_ms = self.last_caught_up_time_ms.max(self.last_fetch_time_ms);
        }
        self.log_end_offset = Some(fetch_offset);
        self.last_fetch_leader_log_end_offset = Some(
            self.last_fetch_leader_log_end_offset
                .map_or(leader_log_end_offset, |previous| {
                    previous.max(leader_log_end_offset)
                }),
        );
        self.last_fetch_time_ms = now_ms;
    }

    /// Kafka's `isCaughtUp`: at the leader's log end, or caught up within the last
    /// `max_lag_ms`.
    pub fn is_caught_up(&self, leader_log_end_offset: u64, now_ms: u64, max_lag_ms: u64) -> bool {
        self.log_end_offset == Some(leader_log_end_offset)
            || now_ms.saturating_sub(self.last_caught_up_time_ms) <= max_lag_ms
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fetching_from_the_leaders_end_is_caught_up_now() {
        let mut p = FollowerProgress::new(0);
        p.record_fetch(10, None, 10, 500);
        assert_eq!(p.last_caught_up_time_ms(), 500);
        assert_eq!(p.log_end_offset(), Some(10));
    }

    #[test]
    fn reaching_the_previous_fetchs_leader_end_is_caught_up_as_of_that_fetch() {
        let mut p = FollowerProgress::new(0);
        p.record_fetch(5, None, 10, 100);
        assert_eq!(p.last_caught_up_time_ms(), 0, "behind, no earlier fetch");
        p.record_fetch(10, None, 20, 200);
        assert_eq!(
            p.last_caught_up_time_ms(),
            100,
            "has what the leader had at 100"
        );
        p.record_fetch(15, None, 25, 300);
        assert_eq!(
            p.last_caught_up_time_ms(),
            100,
            "behind the leader's 20 of t=200"
        );
    }

    #[test]
    fn the_last_fetch_sets_the_broker_epoch() {
        let mut p = FollowerProgress::new(0);
        assert_eq!(p.broker_epoch(), None);
        p.record_fetch(5, Some(7), 10, 100);
        assert_eq!(p.broker_epoch(), Some(7));
        p.record_fetch(5, Some(9), 10, 200);
        assert_eq!(
            p.broker_epoch(),
            Some(9),
            "a restarted follower's new epoch"
        );
        p.record_fetch(5, None, 10, 300);
        assert_eq!(p.broker_epoch(), None, "-1 from an older fetch version");
    }

    #[test]
    fn caught_up_within_the_lag_or_at_the_end() {
        let mut p = FollowerProgress::new(1_000);
        assert!(p.is_caught_up(50, 1_000 + 30_000, 30_000));
        assert!(!p.is_caught_up(50, 1_000 + 30_001, 30_000));
        p.record_fetch(50, None, 60, 1_500);
        assert!(p.is_caught_up(50, 100_000, 30_000), "at the leader's end");
    }
}
