//! The leader's high watermark: the smallest log end offset over the ISR, held by members
//! not heard from, never lowered, kept across becoming leader.

use vltava_replication::{Event, Replica};

use crate::support::{LOCAL, Leader, applied, config, hw_advances, state};

#[test]
fn hw_follows_the_slowest_isr_member() {
    let mut leader = Leader::new(config(1), &[1, 2, 3, 4], &[1, 2, 3]);
    let events = leader.append(10);
    assert_eq!(hw_advances(&events), Vec::<u64>::new(), "followers unknown");
    assert_eq!(leader.replica.high_watermark(), 0);

    let answer = leader.fetch(2, 10);
    assert_eq!(answer.high_watermark, 0, "follower 3 not heard from yet");
    let answer = leader.fetch(3, 4);
    assert_eq!(hw_advances(&answer.events), vec![4]);
    assert_eq!(answer.high_watermark, 4);
    let answer = leader.fetch(3, 7);
    assert_eq!(hw_advances(&answer.events), vec![7]);
    let answer = leader.fetch(3, 10);
    assert_eq!(hw_advances(&answer.events), vec![10], "4 is not in the ISR");
    assert_eq!(
        leader.replica.follower_log_end_offsets(),
        vec![(2, Some(10)), (3, Some(10)), (4, None)]
    );
}

#[test]
fn a_lone_leader_commits_on_append_and_never_past_its_log_end() {
    let mut leader = Leader::new(config(1), &[1, 2], &[1]);
    assert_eq!(hw_advances(&leader.append(5)), vec![5]);
    assert_eq!(leader.replica.high_watermark(), 5);
    // A follower outside the ISR ahead of nothing changes nothing.
    let answer = leader.fetch(2, 5);
    assert_eq!(answer.high_watermark, 5);
}

#[test]
fn hw_never_decreases_while_leading() {
    let mut leader = Leader::new(config(1), &[1, 2], &[1, 2]);
    let _ = leader.append(10);
    let _ = leader.fetch(2, 8);
    assert_eq!(leader.replica.high_watermark(), 8);
    // The follower reports a shorter log (it lost data): the HW stays.
    let answer = leader.fetch(2, 3);
    assert_eq!(answer.high_watermark, 8);
    assert_eq!(hw_advances(&answer.events), Vec::<u64>::new());
}

#[test]
fn becoming_leader_keeps_the_hw_and_starts_the_epoch_at_the_log_end() {
    let mut replica = Replica::new(LOCAL, config(1), 20, 15);
    let _ = applied(replica.apply_partition_state(&state(Some(2), 3, 5, &[1, 2], &[1, 2]), 0));
    let events = applied(replica.apply_partition_state(&state(Some(1), 4, 6, &[1, 2], &[1, 2]), 0));
    assert!(events.contains(&Event::LeaderEpochStarted {
        epoch: 4,
        start_offset: 20
    }));
    assert!(events.contains(&Event::LeaderChanged {
        leader_id: Some(1),
        leader_epoch: 4
    }));
    assert_eq!(replica.high_watermark(), 15, "not lowered, not raised");
    assert_eq!(replica.leader_epoch_start_offset(), Some(20));
    assert_eq!(replica.follower_log_end_offsets(), vec![(2, None)]);
}

#[test]
fn a_checkpointed_hw_past_the_log_end_is_clamped() {
    let replica = Replica::new(LOCAL, config(1), 10, 12);
    assert_eq!(replica.high_watermark(), 10);
}
