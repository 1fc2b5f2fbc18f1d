//! Leader epochs: fenced and unknown epochs on requests, stale partition states ignored,
//! one leader per leader epoch, and the roles a state gives.

use vltava_replication::{
    CurrentLeader, Event, FollowerFetch, IgnoredReason, InvalidPartitionState, Replica,
    ReplicaError, Role, StateUpdate,
};

use crate::support::{LAG_MS, LOCAL, Leader, applied, config, only_proposal, proposals, state};

fn fetch_with_epoch(leader: &mut Leader, epoch: Option<i32>) -> Result<u64, ReplicaError> {
    let fetch = FollowerFetch {
        replica_id: 2,
        fetch_offset: 0,
        last_fetched_epoch: None,
        current_leader_epoch: epoch,
        broker_epoch: None,
    };
    leader
        .replica
        .on_follower_fetch(&fetch, &leader.log, leader.now)
        .map(|answer| answer.high_watermark)
}

#[test]
fn follower_fetches_are_fenced_by_leader_epoch() {
    let mut leader = Leader::new(config(1), &[1, 2], &[1, 2]);
    let _ = leader.apply(&state(Some(1), 5, 1, &[1, 2], &[1, 2]));
    assert_eq!(
        fetch_with_epoch(&mut leader, Some(4)),
        Err(ReplicaError::FencedLeaderEpoch {
            request: 4,
            current: 5
        })
    );
    assert_eq!(
        fetch_with_epoch(&mut leader, Some(6)),
        Err(ReplicaError::UnknownLeaderEpoch {
            request: 6,
            current: 5
        })
    );
    assert_eq!(fetch_with_epoch(&mut leader, Some(5)), Ok(0));
    assert_eq!(
        fetch_with_epoch(&mut leader, None),
        Ok(0),
        "-1 skips the check"
    );
    assert_eq!(
        ReplicaError::FencedLeaderEpoch {
            request: 4,
            current: 5
        }
        .code(),
        74
    );
}

#[test]
fn client_requests_check_epoch_then_leadership() {
    let mut replica = Replica::new(LOCAL, config(1), 0, 0);
    let _ = applied(replica.apply_partition_state(&state(Some(2), 3, 3, &[1, 2], &[1, 2]), 0));
    assert!(matches!(
        replica.check_leader(Some(2)),
        Err(ReplicaError::FencedLeaderEpoch { .. })
    ));
    assert_eq!(
        replica.check_leader(Some(3)),
        Err(ReplicaError::NotLeaderOrFollower {
            current_leader: Some(CurrentLeader {
                leader_id: 2,
                leader_epoch: 3
            })
        })
    );
    assert_eq!(
        replica.check_leader_epoch(Some(3)),
        Ok(()),
        "a follower's epoch matches"
    );
}

#[test]
fn only_follower_replicas_may_fetch_and_not_past_the_log_end() {
    let mut leader = Leader::new(config(1), &[1, 2], &[1, 2]);
    let _ = leader.append(5);
    for stranger in [3, LOCAL] {
        assert!(matches!(
            leader.try_fetch(stranger, 0),
            Err(ReplicaError::NotLeaderOrFollower { .. })
        ));
    }
    assert_eq!(leader.try_fetch(2, 6), Err(ReplicaError::OffsetOutOfRange));
    assert!(leader.try_fetch(2, 5).is_ok());
}

#[test]
fn older_and_repeated_states_are_ignored() {
    let mut leader = Leader::new(config(1), &[1, 2], &[1, 2]);
    let _ = leader.apply(&state(Some(1), 3, 7, &[1, 2], &[1, 2]));
    let mut replica = leader.replica;
    let cases = [
        (
            state(Some(2), 2, 8, &[1, 2], &[1, 2]),
            IgnoredReason::StaleLeaderEpoch,
        ),
        (
            state(Some(1), 3, 6, &[1, 2], &[1]),
            IgnoredReason::StalePartitionEpoch,
        ),
        (
            state(Some(1), 3, 7, &[1, 2], &[1]),
            IgnoredReason::AlreadyApplied,
        ),
        (
            state(Some(2), 3, 8, &[1, 2], &[1, 2]),
            IgnoredReason::ConflictingLeader,
        ),
        (
            state(Some(1), 4, 8, &[1, 2], &[2]),
            IgnoredReason::Invalid(InvalidPartitionState::LeaderNotInIsr),
        ),
    ];
    for (stale, reason) in cases {
        assert_eq!(
            replica.apply_partition_state(&stale, 0),
            StateUpdate::Ignored(reason),
            "{stale:?}"
        );
    }
    assert_eq!((replica.leader_epoch(), replica.partition_epoch()), (3, 7));
    assert_eq!(replica.role(), Role::Leader);
    assert_eq!(replica.isr().len(), 2);
}

#[test]
fn becoming_follower_and_back_restarts_the_leader_state() {
    let mut leader = Leader::new(config(1), &[1, 2], &[1, 2]);
    let _ = leader.append(4);
    let _ = leader.fetch(2, 4);
    let events = leader.apply(&state(Some(2), 1, 1, &[1, 2], &[1, 2]));
    assert!(events.contains(&Event::LeaderChanged {
        leader_id: Some(2),
        leader_epoch: 1
    }));
    assert_eq!(leader.replica.role(), Role::Follower);
    assert!(leader.replica.follower_log_end_offsets().is_empty());
    assert_eq!(leader.replica.leader_epoch_start_offset(), None);

    let events = leader.apply(&state(Some(1), 2, 2, &[1, 2], &[1, 2]));
    assert!(events.contains(&Event::LeaderEpochStarted {
        epoch: 2,
        start_offset: 4
    }));
    assert_eq!(leader.replica.follower_log_end_offsets(), vec![(2, None)]);
}

#[test]
fn an_offline_partition_has_a_follower_without_a_leader() {
    let mut replica = Replica::new(LOCAL, config(1), 0, 0);
    let _ = applied(replica.apply_partition_state(&state(None, 1, 1, &[1, 2], &[]), 0));
    assert_eq!(replica.role(), Role::Follower);
    assert_eq!(replica.current_leader(), None);
    assert_eq!(
        replica.fetch_position(&vltava_replication::EpochHistory::new()),
        None
    );
}

#[test]
fn a_re_election_keeps_caught_up_times_and_a_new_leadership_resets_them() {
    // Re-elected leader: follower 2's last caught-up time (t=1000) is kept, so the shrink
    // comes LAG after it, not LAG after the re-election.
    let mut leader = Leader::new(config(1), &[1, 2], &[1, 2]);
    let _ = leader.append(3);
    let _ = leader.advance(LAG_MS / 2);
    let _ = leader.apply(&state(Some(1), 1, 1, &[1, 2], &[1, 2]));
    assert!(proposals(&leader.advance(LAG_MS / 2)).is_empty());
    let proposal = only_proposal(&leader.advance(1));
    assert_eq!(proposal.leader_epoch, 1);
}
