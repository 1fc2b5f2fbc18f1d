//! ISR shrink and expansion through one pending AlterPartition (KIP-497), KIP-841
//! eligibility, KIP-903 broker epochs, and the controller's answers.

use std::collections::BTreeSet;

use vltava_replication::{AlterPartitionResult, IsrChange, IsrMember};

use crate::support::{LAG_MS, Leader, config, hw_advances, only_proposal, proposals, state};

fn set(ids: &[i32]) -> BTreeSet<i32> {
    ids.iter().copied().collect()
}

#[test]
fn a_lagging_follower_is_shrunk_after_the_lag_time_and_hw_then_advances() {
    let mut leader = Leader::new(config(1), &[1, 2, 3], &[1, 2, 3]);
    let _ = leader.append(10);
    let _ = leader.fetch(2, 10);
    let _ = leader.fetch(3, 2);
    assert_eq!(leader.replica.high_watermark(), 2);

    // Follower 2 keeps fetching at the end; 3 stops.
    let _ = leader.advance(LAG_MS);
    let _ = leader.fetch(2, 10);
    assert!(
        proposals(&leader.advance(0)).is_empty(),
        "exactly the lag: kept"
    );
    let events = leader.advance(1);
    let proposal = only_proposal(&events);
    assert_eq!(proposal.change, IsrChange::Shrink(set(&[3])));
    assert_eq!(proposal.new_isr, vec![1, 2]);
    assert_eq!((proposal.leader_epoch, proposal.partition_epoch), (0, 0));
    assert_eq!(
        leader.replica.high_watermark(),
        2,
        "a pending shrink does not count yet"
    );
    assert_eq!(leader.replica.maximal_isr(), set(&[1, 2, 3]));

    let events = leader.accept(&proposal);
    assert_eq!(hw_advances(&events), vec![10]);
    assert_eq!(leader.replica.isr(), &set(&[1, 2]));
    assert_eq!(leader.replica.partition_epoch(), 1);
}

#[test]
fn a_follower_fetching_steadily_but_behind_stays_in_sync() {
    // Kafka's rule: caught up as of its previous fetch if it now has what the leader had.
    let mut leader = Leader::new(config(1), &[1, 2], &[1, 2]);
    for _ in 0..12 {
        let _ = leader.append(5);
        let behind = leader.replica.log_end_offset() - 5;
        let _ = leader.fetch(2, behind);
        let events = leader.advance(LAG_MS / 4);
        assert!(proposals(&events).is_empty(), "{events:?}");
    }
}

#[test]
fn a_follower_that_reports_a_new_leo_but_never_catches_up_is_shrunk() {
    let mut leader = Leader::new(config(1), &[1, 2], &[1, 2]);
    let _ = leader.append(100);
    let _ = leader.fetch(2, 100);
    for step in 1..=6 {
        let _ = leader.append(100);
        // Always one append behind what the leader had at the previous fetch.
        let _ = leader.fetch(2, 100 * step - 50);
        let events = leader.advance(LAG_MS / 2);
        if !proposals(&events).is_empty() {
            assert!(step >= 2, "shrunk too early at step {step}");
            return;
        }
    }
    panic!("never shrunk");
}

#[test]
fn a_returning_follower_is_re_added_once_caught_up_to_the_hw() {
    let mut leader = Leader::new(config(1), &[1, 2, 3], &[1, 2]);
    let _ = leader.append(10);
    let _ = leader.fetch(2, 10);
    assert_eq!(leader.replica.high_watermark(), 10);

    let answer = leader.fetch(3, 6);
    assert!(proposals(&answer.events).is_empty(), "below the HW");
    let answer = leader.fetch(3, 10);
    let proposal = only_proposal(&answer.events);
    assert_eq!(proposal.change, IsrChange::Expand(3));
    assert_eq!(proposal.new_isr, vec![1, 2, 3]);
    assert_eq!(leader.replica.maximal_isr(), set(&[1, 2, 3]));
    assert_eq!(leader.replica.isr(), &set(&[1, 2]));

    // While the expansion is pending, 3 holds the HW back (maximal ISR).
    let _ = leader.append(5);
    let _ = leader.fetch(2, 15);
    assert_eq!(leader.replica.high_watermark(), 10);
    let answer = leader.fetch(3, 15);
    assert_eq!(hw_advances(&answer.events), vec![15]);
    let _ = leader.accept(&proposal);
    assert_eq!(leader.replica.isr(), &set(&[1, 2, 3]));
}

#[test]
fn expansion_waits_for_the_leader_epoch_start_offset() {
    // Re-elected at log end 10 with HW 0 (3 never fetched): a follower at 5 is past the HW
    // but not the epoch start.
    let mut leader = Leader::new(config(1), &[1, 2, 3], &[1, 3]);
    let _ = leader.append(10);
    let _ = leader.apply(&state(Some(1), 1, 1, &[1, 2, 3], &[1, 3]));
    assert_eq!(leader.replica.high_watermark(), 0);
    assert_eq!(leader.replica.leader_epoch_start_offset(), Some(10));
    let answer = leader.fetch(2, 5);
    assert!(proposals(&answer.events).is_empty());
    let answer = leader.fetch(2, 10);
    assert_eq!(only_proposal(&answer.events).change, IsrChange::Expand(2));
}

#[test]
fn fenced_or_shutting_down_brokers_are_not_added() {
    let mut leader = Leader::new(config(1), &[1, 2], &[1]);
    leader.replica.set_isr_ineligible([2]);
    let answer = leader.fetch(2, 0);
    assert!(proposals(&answer.events).is_empty());
    leader.replica.set_isr_ineligible([]);
    let answer = leader.fetch(2, 0);
    assert_eq!(only_proposal(&answer.events).change, IsrChange::Expand(2));
}

#[test]
fn proposals_carry_each_members_broker_epoch() {
    // KIP-903: the leader's own epoch from the image, a follower's from its last fetch,
    // -1 (None) for a member that has not fetched with one.
    let mut leader = Leader::new(config(1), &[1, 2, 3], &[1, 2]);
    leader
        .replica
        .set_broker_epochs([(1, 11), (2, 22), (3, 33)]);
    let answer = leader.fetch_at(3, Some(33), 0);
    let proposal = only_proposal(&answer.events);
    assert_eq!(proposal.change, IsrChange::Expand(3));
    let member = |broker_id, broker_epoch| IsrMember {
        broker_id,
        broker_epoch,
    };
    assert_eq!(
        proposal.new_isr_with_epochs,
        vec![member(1, Some(11)), member(2, None), member(3, Some(33))]
    );
}

#[test]
fn a_follower_fetching_with_a_stale_broker_epoch_is_not_added() {
    // Broker 2 restarted and registered again at epoch 23; fetches of its old
    // incarnation (epoch 22) must not bring it into the ISR, a fetch at 23 does, and
    // the proposal names 23.
    let mut leader = Leader::new(config(1), &[1, 2], &[1]);
    leader.replica.set_broker_epochs([(1, 11), (2, 23)]);
    let answer = leader.fetch_at(2, Some(22), 0);
    assert!(proposals(&answer.events).is_empty(), "stale broker epoch");
    let answer = leader.fetch_at(2, Some(24), 0);
    assert!(
        proposals(&answer.events).is_empty(),
        "an epoch the image does not have yet"
    );
    let answer = leader.fetch_at(2, Some(23), 0);
    let proposal = only_proposal(&answer.events);
    assert_eq!(proposal.change, IsrChange::Expand(2));
    assert_eq!(proposal.new_isr_with_epochs[1].broker_epoch, Some(23));
}

#[test]
fn a_fetch_without_a_broker_epoch_skips_the_check() {
    // Fetch before v15 (or ReplicaEpoch -1): Kafka bypasses the verification.
    let mut leader = Leader::new(config(1), &[1, 2], &[1]);
    leader.replica.set_broker_epochs([(1, 11), (2, 23)]);
    let answer = leader.fetch_at(2, None, 0);
    let proposal = only_proposal(&answer.events);
    assert_eq!(proposal.new_isr_with_epochs[1].broker_epoch, None);
}

#[test]
fn one_change_at_a_time() {
    let mut leader = Leader::new(config(1), &[1, 2, 3], &[1]);
    let proposal = only_proposal(&leader.fetch(2, 0).events);
    assert!(proposals(&leader.fetch(3, 0).events).is_empty());
    let _ = leader.accept(&proposal);
    let second = only_proposal(&leader.fetch(3, 0).events);
    assert_eq!(second.partition_epoch, 1, "built on the committed epoch");
    assert_eq!(second.new_isr, vec![1, 2, 3]);
}

#[test]
fn not_attempted_reverts_and_a_new_proposal_may_follow() {
    let mut leader = Leader::new(config(1), &[1, 2], &[1]);
    let proposal = only_proposal(&leader.fetch(2, 0).events);
    let failed = AlterPartitionResult::Failed { error_code: 55 };
    assert!(
        leader
            .replica
            .on_alter_partition_result(&proposal, failed)
            .is_empty()
    );
    assert!(leader.replica.pending_alter_partition().is_none());
    assert_eq!(leader.replica.maximal_isr(), set(&[1]));
    assert_eq!(only_proposal(&leader.fetch(2, 0).events), proposal);
}

#[test]
fn invalid_update_version_parks_until_new_metadata() {
    let mut leader = Leader::new(config(1), &[1, 2, 3], &[1]);
    let proposal = only_proposal(&leader.fetch(2, 0).events);
    let failed = AlterPartitionResult::Failed { error_code: 95 };
    assert!(
        leader
            .replica
            .on_alter_partition_result(&proposal, failed)
            .is_empty()
    );
    assert!(leader.replica.alter_partition_in_flight().is_none());
    assert_eq!(leader.replica.pending_alter_partition(), Some(&proposal));
    assert!(
        proposals(&leader.fetch(3, 0).events).is_empty(),
        "still blocked"
    );

    // The controller's newer state (it had already changed the ISR) unblocks.
    let _ = leader.apply(&state(Some(1), 0, 1, &[1, 2, 3], &[1, 2]));
    assert!(leader.replica.pending_alter_partition().is_none());
    let next = only_proposal(&leader.fetch(3, 0).events);
    assert_eq!((next.partition_epoch, next.new_isr), (1, vec![1, 2, 3]));
}

#[test]
fn retriable_errors_resend_and_stale_answers_are_ignored() {
    let mut leader = Leader::new(config(1), &[1, 2], &[1]);
    let proposal = only_proposal(&leader.fetch(2, 0).events);
    let not_controller = AlterPartitionResult::Failed { error_code: 41 };
    let events = leader
        .replica
        .on_alter_partition_result(&proposal, not_controller);
    assert_eq!(only_proposal(&events), proposal);

    let mut other = proposal.clone();
    other.partition_epoch = 7;
    let accepted = AlterPartitionResult::Accepted {
        leader_epoch: 0,
        partition_epoch: 8,
    };
    assert!(
        leader
            .replica
            .on_alter_partition_result(&other, accepted)
            .is_empty()
    );
    assert_eq!(
        leader.replica.isr(),
        &set(&[1]),
        "answer to another proposal"
    );

    let wrong_epoch = AlterPartitionResult::Accepted {
        leader_epoch: 3,
        partition_epoch: 1,
    };
    let _ = leader
        .replica
        .on_alter_partition_result(&proposal, wrong_epoch);
    assert_eq!(leader.replica.isr(), &set(&[1]), "another leader epoch");
    assert!(
        leader.replica.alter_partition_in_flight().is_none(),
        "parked"
    );
}

#[test]
fn a_reverted_expansion_releases_the_hw() {
    let mut leader = Leader::new(config(1), &[1, 2], &[1]);
    let proposal = only_proposal(&leader.fetch(2, 0).events);
    let _ = leader.append(5);
    assert_eq!(
        leader.replica.high_watermark(),
        0,
        "2 is in the maximal ISR"
    );
    let failed = AlterPartitionResult::Failed { error_code: 107 };
    let events = leader.replica.on_alter_partition_result(&proposal, failed);
    assert_eq!(hw_advances(&events), vec![5]);
}

#[test]
fn isr_members_get_a_full_lag_period_after_leadership_starts() {
    let mut leader = Leader::new(config(1), &[1, 2], &[1, 2]);
    let _ = leader.append(3);
    assert!(proposals(&leader.advance(LAG_MS)).is_empty());
    let proposal = only_proposal(&leader.advance(1));
    assert_eq!(proposal.change, IsrChange::Shrink(set(&[2])));
}
