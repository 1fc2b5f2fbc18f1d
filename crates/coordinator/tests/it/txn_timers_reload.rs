//! Transaction coordinator timers and reload: transactions past their
//! timeout are aborted under a bumped epoch, idle ids expire, and a
//! coordinator loaded from `__transaction_state` resumes every state
//! (Prepare* states complete by writing their markers again).

use vltava_coordinator::{TxnConfig, TxnState};

use crate::txn_harness::TxnHarness;

fn cfg() -> TxnConfig {
    TxnConfig {
        abort_timed_out_interval_ms: 1_000,
        ..TxnConfig::default()
    }
}

#[test]
fn a_transaction_past_its_timeout_is_aborted_with_a_bumped_epoch() {
    let mut h = TxnHarness::new(cfg());
    h.advance(0); // arms the timers
    let (_, pid, epoch) = h.init("app", 5_000);
    assert_eq!(h.add("app", pid, epoch, &[("a", 0), ("b", 2)]), 0);
    h.advance_by_steps(4_000, 500);
    assert_eq!(h.state("app"), Some(TxnState::Ongoing));
    h.advance_by_steps(2_000, 500);
    assert_eq!(h.state("app"), Some(TxnState::CompleteAbort));
    assert_eq!(h.markers.len(), 2);
    assert!(
        h.markers
            .iter()
            .all(|m| (m.0, m.1, m.2) == (pid, epoch + 1, false))
    );
    // The producer finds itself fenced.
    assert_eq!(h.end("app", pid, epoch, true), 90);
    assert_eq!(h.add("app", pid, epoch, &[("a", 0)]), 90);
    // A new InitProducerId works (epoch bumped once more).
    assert_eq!(h.init("app", 5_000), (0, pid, epoch + 2));
}

#[test]
fn the_timeout_counts_from_the_first_partition_added() {
    let mut h = TxnHarness::new(cfg());
    h.advance(0);
    let (_, pid, epoch) = h.init("app", 3_000);
    h.advance_by_steps(10_000, 1_000);
    // No transaction open: nothing to abort.
    assert_eq!(h.state("app"), Some(TxnState::Empty));
    assert_eq!(h.add("app", pid, epoch, &[("a", 0)]), 0);
    h.advance_by_steps(2_000, 1_000);
    // Adding more partitions does not restart the clock.
    assert_eq!(h.add("app", pid, epoch, &[("a", 1)]), 0);
    h.advance_by_steps(2_000, 1_000);
    assert_eq!(h.state("app"), Some(TxnState::CompleteAbort));
}

#[test]
fn completed_transactions_are_not_timed_out() {
    let mut h = TxnHarness::new(cfg());
    h.advance(0);
    let (_, pid, epoch) = h.init("app", 2_000);
    assert_eq!(h.add("app", pid, epoch, &[("a", 0)]), 0);
    assert_eq!(h.end("app", pid, epoch, true), 0);
    h.advance_by_steps(10_000, 1_000);
    assert_eq!(h.state("app"), Some(TxnState::CompleteCommit));
    assert_eq!(h.snapshot("app").producer_epoch, epoch);
}

#[test]
fn next_deadline_names_the_next_check() {
    let mut h = TxnHarness::new(cfg());
    assert_eq!(h.c.next_deadline(), None);
    h.advance(0);
    assert_eq!(h.c.next_deadline(), Some(h.now + 1_000));
}

#[test]
fn idle_ids_expire_and_are_tombstoned() {
    let mut h = TxnHarness::new(TxnConfig {
        id_expiration_ms: 10_000,
        remove_expired_interval_ms: 1_000,
        ..cfg()
    });
    h.advance(0);
    let (_, pid, epoch) = h.init("idle", 60_000);
    let (_, p2, e2) = h.init("busy", 60_000);
    assert_eq!(h.add("busy", p2, e2, &[("a", 0)]), 0);
    h.advance_by_steps(12_000, 1_000);
    assert_eq!(h.state("idle"), None);
    assert_eq!(h.written_states("idle").last(), Some(&None));
    // An open transaction keeps its id (it times out first).
    assert_eq!(h.state("busy"), Some(TxnState::Ongoing));
    // The expired id starts over with a new producer id.
    let (code, pid2, e) = h.init("idle", 60_000);
    assert_eq!(code, 0);
    assert_ne!(pid2, pid);
    assert_eq!(e, 0);
    let _ = epoch;
    // Reload: the tombstone removes the old state.
    let mut r = h.reloaded(cfg());
    r.finish_load();
    assert_eq!(r.snapshot("idle").producer_id, pid2);
}

#[test]
fn reload_restores_every_id() {
    let mut h = TxnHarness::new(cfg());
    let (_, p1, e1) = h.init("ongoing", 60_000);
    assert_eq!(h.add("ongoing", p1, e1, &[("a", 0), ("b", 1)]), 0);
    let (_, p2, e2) = h.init("done", 60_000);
    assert_eq!(h.add("done", p2, e2, &[("a", 0)]), 0);
    assert_eq!(h.end("done", p2, e2, true), 0);
    let (_, _, _) = h.init("empty", 60_000);
    let mut r = h.reloaded(cfg());
    assert_eq!(r.init("ongoing", 60_000).0, 14);
    r.finish_load();
    for id in ["ongoing", "done", "empty"] {
        assert_eq!(
            r.snapshot(id).producer_id,
            h.snapshot(id).producer_id,
            "{id}"
        );
        assert_eq!(
            r.snapshot(id).producer_epoch,
            h.snapshot(id).producer_epoch,
            "{id}"
        );
        assert_eq!(r.snapshot(id).state, h.snapshot(id).state, "{id}");
        assert_eq!(r.snapshot(id).partitions, h.snapshot(id).partitions, "{id}");
        assert_eq!(r.snapshot(id).start_ms, h.snapshot(id).start_ms, "{id}");
    }
    // The reloaded open transaction goes on where it was.
    assert_eq!(r.add("ongoing", p1, e1, &[("c", 0)]), 0);
    assert_eq!(r.end("ongoing", p1, e1, true), 0);
    assert_eq!(r.markers.len(), 3);
}

#[test]
fn prepare_commit_found_at_load_is_completed() {
    let mut h = TxnHarness::new(cfg());
    let (_, pid, epoch) = h.init("app", 60_000);
    assert_eq!(h.add("app", pid, epoch, &[("a", 0), ("a", 1)]), 0);
    // The broker dies after PrepareCommit was written, before the markers.
    h.hold_markers = true;
    assert_eq!(h.end("app", pid, epoch, true), 0);
    assert_eq!(
        h.written_states("app").last(),
        Some(&Some(TxnState::PrepareCommit))
    );
    let mut r = h.reloaded(cfg());
    assert_eq!(r.state("app"), Some(TxnState::PrepareCommit));
    r.finish_load();
    assert_eq!(r.state("app"), Some(TxnState::CompleteCommit));
    assert_eq!(r.markers.len(), 2);
    assert!(
        r.markers
            .iter()
            .all(|m| (m.0, m.1, m.2) == (pid, epoch, true))
    );
    assert_eq!(
        r.written_states("app").last(),
        Some(&Some(TxnState::CompleteCommit))
    );
    // The producer's retried EndTxn(commit) is answered NONE.
    assert_eq!(r.end("app", pid, epoch, true), 0);
}

#[test]
fn prepare_abort_found_at_load_is_completed() {
    let mut h = TxnHarness::new(cfg());
    let (_, pid, epoch) = h.init("app", 60_000);
    assert_eq!(h.add("app", pid, epoch, &[("a", 0)]), 0);
    h.hold_markers = true;
    // A fencing InitProducerId: PrepareAbort under epoch + 1.
    assert_eq!(h.init("app", 60_000).0, 51);
    let mut r = h.reloaded(cfg());
    r.finish_load();
    assert_eq!(r.state("app"), Some(TxnState::CompleteAbort));
    assert_eq!(
        r.markers,
        vec![(pid, epoch + 1, false, ("a".to_owned(), 0))]
    );
    assert_eq!(r.init("app", 60_000), (0, pid, epoch + 2));
}

#[test]
fn an_open_transaction_found_at_load_times_out() {
    let mut h = TxnHarness::new(cfg());
    let (_, pid, epoch) = h.init("app", 5_000);
    assert_eq!(h.add("app", pid, epoch, &[("a", 0)]), 0);
    let mut r = h.reloaded(cfg());
    r.finish_load();
    r.advance(0);
    r.advance_by_steps(7_000, 500);
    assert_eq!(r.state("app"), Some(TxnState::CompleteAbort));
    assert_eq!(
        r.markers,
        vec![(pid, epoch + 1, false, ("a".to_owned(), 0))]
    );
}

#[test]
fn bad_records_are_counted_and_skipped() {
    let mut h = TxnHarness::new(cfg());
    h.init("app", 5_000);
    let mut r = TxnHarness::new(cfg());
    r.c.begin_load();
    assert!(r.c.load(bytes::Bytes::from_static(b"\x00"), None).is_err());
    assert!(
        r.c.load(
            bytes::Bytes::from_static(b"\x00\x07abc"),
            Some(bytes::Bytes::from_static(b"zz"))
        )
        .is_err()
    );
    for (_, k, v) in &h.log {
        r.c.load(k.clone(), v.clone()).expect("good record");
    }
    r.finish_load();
    assert_eq!(r.c.load_errors(), 2);
    assert_eq!(r.state("app"), Some(TxnState::Empty));
}
