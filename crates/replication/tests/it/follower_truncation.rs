//! The follower side: fetch position, KIP-320 divergence found by the leader and the
//! follower's truncation (one or more rounds), and the follower's high watermark.

use vltava_replication::{
    EpochEndOffset, EpochHistory, Event, FetchPosition, FetchResult, FollowerFetch,
    LeaderEpochLookup, Replica, ReplicaError,
};

use crate::support::{LOCAL, Leader, applied, config, state};

/// Broker `LOCAL` following leader 2 at `leader_epoch` over a log with `history`.
fn follower(history: &EpochHistory, leader_epoch: i32) -> Replica {
    let end = history.log_end_offset();
    let mut replica = Replica::new(LOCAL, config(1), end, 0);
    let published = state(Some(2), leader_epoch, leader_epoch, &[1, 2], &[1, 2]);
    let _ = applied(replica.apply_partition_state(&published, 0));
    replica
}

fn history(epochs: &[(i32, u64)]) -> EpochHistory {
    let mut h = EpochHistory::new();
    for &(epoch, end) in epochs {
        h.append(epoch, end);
    }
    h
}

/// The leader (broker 2 here) answering a position, as the driver would.
fn leader_answer(leader_log: &EpochHistory, position: &FetchPosition) -> Option<EpochEndOffset> {
    let mut leader = Replica::new(2, config(1), leader_log.log_end_offset(), 0);
    let latest = leader_log.latest_epoch().unwrap();
    let published = state(Some(2), latest, latest, &[1, 2], &[1, 2]);
    let _ = applied(leader.apply_partition_state(&published, 0));
    let fetch = FollowerFetch {
        replica_id: LOCAL,
        fetch_offset: position.fetch_offset,
        last_fetched_epoch: position.last_fetched_epoch,
        current_leader_epoch: Some(position.current_leader_epoch),
        broker_epoch: None,
    };
    leader
        .on_follower_fetch(&fetch, leader_log, 0)
        .unwrap()
        .diverging_epoch
}

#[test]
fn the_fetch_position_is_the_log_end_and_latest_epoch() {
    let log = history(&[(1, 10), (2, 15)]);
    let replica = follower(&log, 3);
    assert_eq!(
        replica.fetch_position(&log),
        Some(FetchPosition {
            leader_id: 2,
            current_leader_epoch: 3,
            fetch_offset: 15,
            last_fetched_epoch: Some(2),
        })
    );
}

/// A follower at `leader_epoch` over `local` fetches from a leader with `leader_log`: the
/// answer is `diverging`, the follower truncates to its end offset in one round, and its
/// next fetch position (returned) agrees with the leader.
fn truncates_once(
    leader_log: &EpochHistory,
    mut local: EpochHistory,
    leader_epoch: i32,
    diverging: EpochEndOffset,
) -> FetchPosition {
    let mut replica = follower(&local, leader_epoch);
    let position = replica.fetch_position(&local).unwrap();
    assert_eq!(leader_answer(leader_log, &position), Some(diverging));
    let events = replica.on_fetch_response(&position, FetchResult::Diverging(diverging), &local);
    assert_eq!(events, vec![Event::Truncate(diverging.end_offset)]);
    assert_eq!(replica.log_end_offset(), diverging.end_offset);
    local.truncate_to(diverging.end_offset);
    let position = replica.fetch_position(&local).unwrap();
    assert_eq!(leader_answer(leader_log, &position), None, "logs agree now");
    position
}

#[test]
fn a_diverging_epoch_truncates_to_where_the_logs_agree() {
    // The follower wrote 10..15 in epoch 2, which the new leader (epoch 3) never had.
    let leader_log = history(&[(1, 10), (3, 20)]);
    let local = history(&[(1, 10), (2, 15)]);
    let diverging = EpochEndOffset {
        epoch: 1,
        end_offset: 10,
    };
    let position = truncates_once(&leader_log, local, 3, diverging);
    assert_eq!(
        (position.fetch_offset, position.last_fetched_epoch),
        (10, Some(1))
    );
}

#[test]
fn a_follower_without_the_leaders_epoch_truncates_in_rounds() {
    // Leader: epoch 1 to 5, epoch 2 to 8, epoch 5 to 20. Follower: epoch 1 to 5, epoch 4 to 12.
    let leader_log = history(&[(1, 5), (2, 8), (5, 20)]);
    let mut local = history(&[(1, 5), (4, 12)]);
    let mut replica = follower(&local, 5);

    let position = replica.fetch_position(&local).unwrap();
    let diverging = leader_answer(&leader_log, &position).unwrap();
    assert_eq!(
        diverging,
        EpochEndOffset {
            epoch: 2,
            end_offset: 8
        }
    );
    // The follower has no epoch 2: cut at the end of its epoch 1 and ask again.
    let events = replica.on_fetch_response(&position, FetchResult::Diverging(diverging), &local);
    assert_eq!(events, vec![Event::Truncate(5)]);
    local.truncate_to(5);
    let position = replica.fetch_position(&local).unwrap();
    assert_eq!(leader_answer(&leader_log, &position), None);
}

#[test]
fn a_follower_past_the_new_leaders_end_is_told_to_truncate() {
    // Under the old leader (epoch 1) this follower got to 15, the new leader (epoch 2) only
    // to 10 before it took over, and has 2 records of its own since. The follower must learn
    // where the logs part even while the new leader's log is shorter than its fetch offset
    // (acks=all producers wait on it).
    let leader_log = history(&[(1, 10), (2, 12)]);
    let local = history(&[(1, 15)]);
    let diverging = EpochEndOffset {
        epoch: 1,
        end_offset: 10,
    };
    truncates_once(&leader_log, local, 2, diverging);
}

#[test]
fn the_leader_cannot_place_an_epoch_above_its_own() {
    let mut leader = Leader::new(config(1), &[1, 2], &[1, 2]);
    let _ = leader.append(3);
    let fetch = FollowerFetch {
        replica_id: 2,
        fetch_offset: 3,
        last_fetched_epoch: Some(9),
        current_leader_epoch: Some(0),
        broker_epoch: None,
    };
    assert_eq!(
        leader.replica.on_follower_fetch(&fetch, &leader.log, 0),
        Err(ReplicaError::OffsetOutOfRange)
    );
    // A diverging answer records nothing of the follower.
    let fetch = FollowerFetch {
        last_fetched_epoch: Some(0),
        fetch_offset: 3,
        ..fetch
    };
    assert!(
        leader
            .replica
            .on_follower_fetch(&fetch, &leader.log, 0)
            .unwrap()
            .diverging_epoch
            .is_none()
    );
    assert_eq!(
        leader.replica.follower_log_end_offsets(),
        vec![(2, Some(3))]
    );
}

#[test]
fn the_follower_hw_is_the_leaders_capped_by_the_local_log_end() {
    let mut local = history(&[(1, 4)]);
    let mut replica = follower(&local, 1);
    let position = replica.fetch_position(&local).unwrap();
    local.append(1, 10);
    let appended = FetchResult::Appended {
        log_end_offset: 10,
        leader_high_watermark: 20,
    };
    assert_eq!(
        replica.on_fetch_response(&position, appended, &local),
        vec![Event::HighWatermarkAdvanced(10)]
    );
    let position = replica.fetch_position(&local).unwrap();
    let appended = FetchResult::Appended {
        log_end_offset: 10,
        leader_high_watermark: 7,
    };
    assert!(
        replica
            .on_fetch_response(&position, appended, &local)
            .is_empty()
    );
    assert_eq!(
        replica.high_watermark(),
        7,
        "a follower follows the leader's HW"
    );

    let diverging = FetchResult::Diverging(EpochEndOffset {
        epoch: 1,
        end_offset: 5,
    });
    let position = replica.fetch_position(&local).unwrap();
    assert_eq!(
        replica.on_fetch_response(&position, diverging, &local),
        vec![Event::Truncate(5)]
    );
    assert_eq!(replica.high_watermark(), 5);
}

#[test]
fn answers_to_an_old_position_are_ignored() {
    let local = history(&[(1, 4)]);
    let mut replica = follower(&local, 1);
    let position = replica.fetch_position(&local).unwrap();
    let _ = applied(replica.apply_partition_state(&state(Some(2), 2, 2, &[1, 2], &[1, 2]), 0));
    let appended = FetchResult::Appended {
        log_end_offset: 9,
        leader_high_watermark: 9,
    };
    assert!(
        replica
            .on_fetch_response(&position, appended, &local)
            .is_empty()
    );
    assert_eq!(replica.log_end_offset(), 4);
}

#[test]
fn a_longer_log_in_the_same_epoch_is_cut_to_the_leaders_end_of_it() {
    // The follower wrote 10..12 in epoch 1 (an old leader's unreplicated tail); the leader's
    // epoch 1 ends at 10.
    let leader_log = history(&[(1, 10), (3, 20)]);
    let mut local = history(&[(1, 12)]);
    let mut replica = follower(&local, 3);
    let position = replica.fetch_position(&local).unwrap();
    let diverging = leader_answer(&leader_log, &position).unwrap();
    assert_eq!(
        diverging,
        EpochEndOffset {
            epoch: 1,
            end_offset: 10
        }
    );
    let events = replica.on_fetch_response(&position, FetchResult::Diverging(diverging), &local);
    assert_eq!(events, vec![Event::Truncate(10)]);
    local.truncate_to(10);
    let position = replica.fetch_position(&local).unwrap();
    assert_eq!(leader_answer(&leader_log, &position), None);
}

#[test]
fn out_of_range_below_the_leaders_log_start_restarts_the_log_there() {
    let local = history(&[(1, 4)]);
    let mut replica = follower(&local, 3);
    let position = replica.fetch_position(&local).unwrap();
    assert_eq!(position.fetch_offset, 4);
    let above = FetchResult::OutOfRange {
        leader_log_start_offset: 2,
    };
    assert!(
        replica
            .on_fetch_response(&position, above, &local)
            .is_empty(),
        "a fetch offset above the leader's log start is not fixed by restarting the log"
    );
    assert_eq!(replica.log_end_offset(), 4);
    let below = FetchResult::OutOfRange {
        leader_log_start_offset: 150,
    };
    assert_eq!(
        replica.on_fetch_response(&position, below, &local),
        vec![Event::TruncateFullyAndStartAt(150)]
    );
    assert_eq!(replica.log_end_offset(), 150);
    assert_eq!(replica.high_watermark(), 150);
    let empty = EpochHistory::new();
    let next = replica.fetch_position(&empty).unwrap();
    assert_eq!(
        next.fetch_offset, 150,
        "it fetches from the leader's log start"
    );
}
