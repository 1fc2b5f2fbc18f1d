//! Produce with acks: min.insync.replicas before the append, acks=all waiters after it,
//! NOT_ENOUGH_REPLICAS_AFTER_APPEND judged at completion, timeouts, the bound, and
//! leadership loss.

use vltava_replication::{Acks, CurrentLeader, ProduceWait, ReplicaConfig, ReplicaError};

use crate::support::{LAG_MS, Leader, completions, config, only_proposal, state};

fn produce(leader: &mut Leader, records: u64, acks: Acks) -> ProduceWait {
    leader.replica.check_append(acks).unwrap();
    let _ = leader.append(records);
    let required = leader.replica.log_end_offset();
    let deadline = leader.now + 30_000;
    leader
        .replica
        .after_append(acks, required, deadline)
        .unwrap()
}

fn waiting(wait: ProduceWait) -> vltava_replication::ProduceId {
    match wait {
        ProduceWait::Waiting(id) => id,
        ProduceWait::Done(result) => panic!("done at once: {result:?}"),
    }
}

#[test]
fn acks_all_needs_min_isr_before_appending() {
    let mut leader = Leader::new(config(2), &[1, 2, 3], &[1, 2, 3]);
    assert_eq!(leader.replica.check_append(Acks::All), Ok(()));
    let _ = leader.apply(&state(Some(1), 0, 1, &[1, 2, 3], &[1]));
    assert_eq!(
        leader.replica.check_append(Acks::All),
        Err(ReplicaError::NotEnoughReplicas)
    );
    assert_eq!(leader.replica.check_append(Acks::Leader), Ok(()));
    assert_eq!(leader.replica.check_append(Acks::None), Ok(()));
}

#[test]
fn acks_all_completes_when_every_isr_member_has_the_records() {
    let mut leader = Leader::new(config(2), &[1, 2, 3], &[1, 2, 3]);
    let id = waiting(produce(&mut leader, 5, Acks::All));
    assert_eq!(leader.replica.produce_waiters(), 1);
    assert!(completions(&leader.fetch(2, 5).events).is_empty());
    assert!(completions(&leader.fetch(3, 4).events).is_empty());
    assert_eq!(completions(&leader.fetch(3, 5).events), vec![(id, Ok(()))]);
    assert_eq!(leader.replica.produce_waiters(), 0);
}

#[test]
fn waiters_complete_in_offset_order_as_the_hw_passes_them() {
    let mut leader = Leader::new(config(1), &[1, 2], &[1, 2]);
    let first = waiting(produce(&mut leader, 3, Acks::All));
    let second = waiting(produce(&mut leader, 3, Acks::All));
    assert_eq!(
        completions(&leader.fetch(2, 4).events),
        vec![(first, Ok(()))]
    );
    assert_eq!(
        completions(&leader.fetch(2, 6).events),
        vec![(second, Ok(()))]
    );
}

#[test]
fn acks_one_and_zero_complete_at_once() {
    let mut leader = Leader::new(config(3), &[1, 2, 3], &[1, 2, 3]);
    assert_eq!(
        produce(&mut leader, 5, Acks::Leader),
        ProduceWait::Done(Ok(()))
    );
    assert_eq!(
        produce(&mut leader, 5, Acks::None),
        ProduceWait::Done(Ok(()))
    );
    assert_eq!(leader.replica.produce_waiters(), 0);
}

#[test]
fn isr_shrinking_below_min_while_waiting_is_not_enough_replicas_after_append() {
    let mut leader = Leader::new(config(3), &[1, 2, 3], &[1, 2, 3]);
    let id = waiting(produce(&mut leader, 5, Acks::All));
    let _ = leader.fetch(2, 5);
    let _ = leader.advance(LAG_MS);
    let _ = leader.fetch(2, 5);
    let proposal = only_proposal(&leader.advance(1));
    let events = leader.accept(&proposal);
    assert_eq!(
        completions(&events),
        vec![(id, Err(ReplicaError::NotEnoughReplicasAfterAppend))]
    );
    assert_eq!(leader.replica.high_watermark(), 5);
}

#[test]
fn the_min_isr_verdict_is_taken_at_completion() {
    // Appended with enough replicas; the controller shrinks the ISR before the wait is
    // registered; the HW is already past: done at once, with the error.
    let mut leader = Leader::new(config(2), &[1, 2], &[1, 2]);
    leader.replica.check_append(Acks::All).unwrap();
    let _ = leader.append(4);
    let _ = leader.apply(&state(Some(1), 0, 1, &[1, 2], &[1]));
    assert_eq!(leader.replica.high_watermark(), 4);
    let wait = leader.replica.after_append(Acks::All, 4, leader.now + 100);
    assert_eq!(
        wait,
        Ok(ProduceWait::Done(Err(
            ReplicaError::NotEnoughReplicasAfterAppend
        )))
    );

    // A min.insync.replicas raised during the wait counts too.
    let mut leader = Leader::new(config(1), &[1, 2], &[1, 2]);
    let id = waiting(produce(&mut leader, 2, Acks::All));
    leader.replica.set_min_insync_replicas(3);
    assert_eq!(
        completions(&leader.fetch(2, 2).events),
        vec![(id, Err(ReplicaError::NotEnoughReplicasAfterAppend))]
    );
}

#[test]
fn waiters_time_out() {
    let mut leader = Leader::new(config(2), &[1, 2], &[1, 2]);
    leader.replica.check_append(Acks::All).unwrap();
    let _ = leader.append(1);
    let deadline = leader.now + 100;
    let id = waiting(leader.replica.after_append(Acks::All, 1, deadline).unwrap());
    assert!(completions(&leader.advance(99)).is_empty());
    assert_eq!(
        completions(&leader.advance(1)),
        vec![(id, Err(ReplicaError::RequestTimedOut))]
    );
    assert!(
        completions(&leader.fetch(2, 1).events).is_empty(),
        "answered once"
    );
}

#[test]
fn losing_leadership_fails_waiters_with_the_new_leader() {
    let mut leader = Leader::new(config(1), &[1, 2], &[1, 2]);
    let id = waiting(produce(&mut leader, 3, Acks::All));
    let events = leader.apply(&state(Some(2), 1, 1, &[1, 2], &[1, 2]));
    let hint = Some(CurrentLeader {
        leader_id: 2,
        leader_epoch: 1,
    });
    assert_eq!(
        completions(&events),
        vec![(
            id,
            Err(ReplicaError::NotLeaderOrFollower {
                current_leader: hint
            })
        )]
    );
    assert_eq!(
        leader.replica.check_append(Acks::Leader),
        Err(ReplicaError::NotLeaderOrFollower {
            current_leader: hint
        })
    );
}

#[test]
fn being_removed_from_the_replicas_fails_waiters() {
    let mut leader = Leader::new(config(1), &[1, 2], &[1, 2]);
    let id = waiting(produce(&mut leader, 3, Acks::All));
    let events = leader.apply(&state(Some(2), 1, 1, &[2, 3], &[2, 3]));
    assert_eq!(completions(&events).len(), 1);
    assert_eq!(completions(&events)[0].0, id);
    assert_eq!(leader.replica.role(), vltava_replication::Role::Stopped);
}

#[test]
fn the_waiter_table_is_bounded() {
    let config = ReplicaConfig {
        max_produce_waiters: 2,
        ..config(1)
    };
    let mut leader = Leader::new(config, &[1, 2], &[1, 2]);
    let _ = waiting(produce(&mut leader, 1, Acks::All));
    let _ = waiting(produce(&mut leader, 1, Acks::All));
    assert_eq!(
        leader.replica.check_append(Acks::All),
        Err(ReplicaError::RequestTimedOut)
    );
    assert_eq!(
        leader.replica.after_append(Acks::All, 3, leader.now + 10),
        Err(ReplicaError::RequestTimedOut)
    );
    assert_eq!(leader.replica.check_append(Acks::Leader), Ok(()));
    let _ = leader.fetch(2, 2);
    assert_eq!(leader.replica.check_append(Acks::All), Ok(()), "room again");
}
