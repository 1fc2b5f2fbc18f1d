//! Transactions on the log: markers, the aborted transaction index, the last
//! stable offset, Kafka's producer checks, and all of them after a reopen.
#![allow(clippy::unwrap_used)]

use crate::common::*;
use vltava_records::control::{ControlRecordType, build_end_txn_batch};
use vltava_records::{BatchBuilderConfig, BatchView, DecodeLimits};
use vltava_storage::transactions::read_txn_marker;
use vltava_storage::{AbortedTxn, FetchIsolation, LogOpenOptions, Storage, StorageError};

fn aborted(pid: i64, first: i64, last: i64, lso: i64) -> AbortedTxn {
    AbortedTxn {
        producer_id: pid,
        first_offset: first,
        last_offset: last,
        last_stable_offset: lso,
    }
}

#[test]
fn abort_marker_indexes_the_transaction_and_moves_the_lso() {
    let (s, _c, mut log) = new_log(small_config());
    // Producer 1 writes 0..=1 and 2..=4, producer 2 writes 5..=6 in the middle.
    log.append_as_leader(&mut txn_batch(1, 0, 0, 2, 10), 0)
        .unwrap();
    log.append_as_leader(&mut txn_batch(1, 0, 2, 3, 10), 0)
        .unwrap();
    log.append_as_leader(&mut txn_batch(2, 0, 0, 2, 10), 0)
        .unwrap();
    log.set_high_watermark(log.log_end_offset());
    assert_eq!(log.last_stable_offset(), 0);
    // Abort producer 1 at 7: producer 2 still holds the LSO at 5.
    let info = log.append_control_marker(1, 0, 3, false, 0, 20).unwrap();
    assert_eq!((info.first_offset, info.last_offset), (7, 7));
    log.set_high_watermark(log.log_end_offset());
    assert_eq!(log.last_stable_offset(), 5);
    // Commit producer 2 at 8: nothing open, LSO = HW.
    log.append_control_marker(2, 0, 3, true, 0, 21).unwrap();
    log.set_high_watermark(log.log_end_offset());
    assert_eq!(log.last_stable_offset(), 9);
    assert_eq!(
        log.aborted_transactions(0, 9).unwrap(),
        vec![aborted(1, 0, 7, 5)]
    );
    assert_eq!(
        log.aborted_transactions(7, 9).unwrap(),
        vec![aborted(1, 0, 7, 5)]
    );
    assert!(log.aborted_transactions(8, 9).unwrap().is_empty());
    // The marker is a control batch holding an ABORT record with the
    // coordinator epoch, stamped with the producer's id and epoch.
    let bytes = log
        .read_bytes(7, 1 << 16, FetchIsolation::LogEnd, true)
        .unwrap();
    let view = BatchView::new(&bytes[..]).unwrap();
    let h = *view.header();
    assert!(h.attributes.is_control() && h.attributes.is_transactional());
    assert_eq!((h.base_offset, h.producer_id, h.producer_epoch), (7, 1, 0));
    let recs = view.records(&DecodeLimits::default()).unwrap();
    assert_eq!(recs[0].key.as_deref(), Some(&[0u8, 0, 0, 0][..]));
    assert_eq!(recs[0].value.as_deref(), Some(&[0u8, 0, 0, 0, 0, 3][..]));
    let marker = read_txn_marker(&bytes[..h.total_size()]).unwrap();
    assert_eq!((marker.commit, marker.coordinator_epoch), (false, 3));
    // The entry is in the active segment's `.txnindex`, in Kafka's layout.
    let seg = log.segments().last().unwrap();
    let path = seg.txn_index().path().to_path_buf();
    assert!(
        path.to_string_lossy()
            .ends_with("00000000000000000000.txnindex")
    );
    let f = s.open(&path, false).unwrap();
    assert_eq!(f.len().unwrap(), 34);
    // Read committed stops at the LSO; producer state forgot the transactions.
    assert!(log.producer_state().first_unstable_offset().is_none());
    assert_eq!(log.producer_state().get(1).unwrap().coordinator_epoch, 3);
}

#[test]
fn read_committed_stops_at_the_first_open_transaction() {
    let (_s, _c, mut log) = new_log(small_config());
    log.append_as_leader(&mut batch(&[b"a", b"b"], 1), 0)
        .unwrap();
    log.append_as_leader(&mut txn_batch(5, 0, 0, 2, 1), 0)
        .unwrap();
    log.append_as_leader(&mut batch(&[b"c"], 1), 0).unwrap();
    log.set_high_watermark(log.log_end_offset());
    assert_eq!(log.last_stable_offset(), 2);
    let read = log
        .read(0, 1 << 20, FetchIsolation::Committed, true)
        .unwrap();
    assert_eq!(read.last_stable_offset, 2);
    let recs = records_of(&read.slice.unwrap().to_bytes().unwrap());
    assert_eq!(recs.len(), 2);
    // Nothing is readable at the LSO until the transaction ends.
    assert!(
        log.read(2, 1 << 20, FetchIsolation::Committed, true)
            .unwrap()
            .slice
            .is_none()
    );
    log.append_control_marker(5, 0, 0, true, 0, 2).unwrap();
    log.set_high_watermark(log.log_end_offset());
    assert_eq!(log.last_stable_offset(), 6);
    assert!(log.aborted_transactions(0, 6).unwrap().is_empty());
}

#[test]
fn markers_check_producer_and_coordinator_epochs() {
    let (_s, _c, mut log) = new_log(small_config());
    log.append_as_leader(&mut txn_batch(1, 4, 0, 1, 1), 0)
        .unwrap();
    assert!(matches!(
        log.append_control_marker(1, 3, 0, true, 0, 1),
        Err(StorageError::InvalidProducerEpoch {
            current: 4,
            received: 3,
            ..
        })
    ));
    log.append_control_marker(1, 4, 7, false, 0, 1).unwrap();
    assert!(matches!(
        log.append_control_marker(1, 4, 6, false, 0, 1),
        Err(StorageError::TransactionCoordinatorFenced {
            current: 7,
            received: 6,
            ..
        })
    ));
    // A marker for a producer without an open transaction (or unknown) is
    // written, but indexes nothing.
    let before = log.log_end_offset();
    log.append_control_marker(1, 4, 7, false, 0, 1).unwrap();
    log.append_control_marker(99, 0, 0, false, 0, 1).unwrap();
    assert_eq!(log.log_end_offset(), before + 2);
    log.set_high_watermark(log.log_end_offset());
    assert_eq!(
        log.aborted_transactions(0, 100).unwrap(),
        vec![aborted(1, 0, 1, 2)]
    );
    // A newer producer epoch on a marker (an epoch bump by the coordinator)
    // is accepted and becomes the producer's epoch.
    log.append_control_marker(1, 5, 7, false, 0, 1).unwrap();
    assert_eq!(log.producer_state().get(1).unwrap().epoch, 5);
    assert!(log.append_control_marker(-1, 0, 0, true, 0, 1).is_err());
}

#[test]
fn non_transactional_batch_during_a_transaction_is_invalid_txn_state() {
    let (_s, _c, mut log) = new_log(small_config());
    log.append_as_leader(&mut txn_batch(1, 0, 0, 2, 1), 0)
        .unwrap();
    assert!(matches!(
        log.append_as_leader(&mut producer_batch(1, 0, 2, 1, 1), 0),
        Err(StorageError::InvalidTxnState { producer_id: 1 })
    ));
    // Also with a bumped epoch (it starts at sequence 0).
    assert!(matches!(
        log.append_as_leader(&mut producer_batch(1, 1, 0, 1, 1), 0),
        Err(StorageError::InvalidTxnState { producer_id: 1 })
    ));
    // Two batches in one append: the transactional one opens the transaction
    // the idempotent one then breaks; nothing is written.
    let leo = log.log_end_offset();
    let mut both = txn_batch(2, 0, 0, 1, 1);
    both.extend(producer_batch(2, 0, 1, 1, 1));
    assert!(matches!(
        log.append_as_leader(&mut both, 0),
        Err(StorageError::InvalidTxnState { producer_id: 2 })
    ));
    assert_eq!(log.log_end_offset(), leo);
    // After the marker, idempotent batches are fine again; other producers
    // were never affected.
    log.append_as_leader(&mut producer_batch(3, 0, 0, 1, 1), 0)
        .unwrap();
    log.append_control_marker(1, 0, 0, true, 0, 1).unwrap();
    log.append_as_leader(&mut producer_batch(1, 0, 2, 1, 1), 0)
        .unwrap();
}

#[test]
fn clients_may_not_append_control_batches() {
    let (_s, _c, mut log) = new_log(small_config());
    let marker = build_end_txn_batch(
        BatchBuilderConfig {
            producer_id: 1,
            producer_epoch: 0,
            ..BatchBuilderConfig::default()
        },
        ControlRecordType::Commit,
        0,
        1,
    )
    .unwrap();
    assert!(matches!(
        log.append_as_leader(&mut marker.to_vec(), 0),
        Err(StorageError::InvalidRecord(_))
    ));
    // A follower copies the leader's markers, index entries included.
    log.append_as_follower(&txn_at(0, 1, 2)).unwrap();
    let abort = build_end_txn_batch(
        BatchBuilderConfig {
            base_offset: 2,
            producer_id: 1,
            producer_epoch: 0,
            ..BatchBuilderConfig::default()
        },
        ControlRecordType::Abort,
        0,
        1,
    )
    .unwrap();
    log.append_as_follower(&abort).unwrap();
    log.set_high_watermark(3);
    assert_eq!(
        log.aborted_transactions(0, 3).unwrap(),
        vec![aborted(1, 0, 2, 3)]
    );
}

/// A transactional batch of `n` records of producer `pid` at offset `base`.
fn txn_at(base: i64, pid: i64, n: usize) -> Vec<u8> {
    let mut b = txn_batch(pid, 0, 0, n, 1);
    vltava_records::batch_header::set_base_offset(&mut b, base).unwrap();
    b
}

#[test]
fn aborted_transactions_and_lso_survive_clean_and_crash_reopen() {
    for clean in [true, false] {
        let (s, c, mut log) = new_log(small_config());
        // Many segments: transactions span rolls; producer 9 stays open.
        let mut expect = Vec::new();
        log.append_as_leader(&mut txn_batch(9, 0, 0, 1, 1), 0)
            .unwrap();
        for i in 0..12i64 {
            let pid = 100 + i;
            let first = log.log_end_offset();
            log.append_as_leader(&mut txn_batch(pid, 0, 0, 20, 1), 0)
                .unwrap();
            if i % 3 == 0 {
                log.roll().unwrap();
            }
            log.append_as_leader(&mut batch(&[&[b'x'; 200]], 1), 0)
                .unwrap();
            let info = log
                .append_control_marker(pid, 0, 0, i % 2 == 1, 0, 1)
                .unwrap();
            if i % 2 == 0 {
                expect.push(aborted(pid, first, info.first_offset, 0));
            }
        }
        assert!(log.segment_base_offsets().len() > 4);
        let leo = log.log_end_offset();
        log.set_high_watermark(leo);
        assert_eq!(log.last_stable_offset(), 0);
        assert_eq!(log.aborted_transactions(0, leo).unwrap(), expect);
        let rp = log.recovery_point();
        let log = if clean {
            log.close().unwrap();
            open(
                &s,
                &c,
                small_config(),
                LogOpenOptions {
                    recovery_point: leo,
                    ..Default::default()
                },
            )
        } else {
            drop(log);
            open(
                &s,
                &c,
                small_config(),
                LogOpenOptions {
                    recovery_point: rp,
                    ..Default::default()
                },
            )
        };
        assert_eq!(log.log_end_offset(), leo);
        assert_eq!(log.last_stable_offset(), 0, "clean {clean}");
        assert_eq!(
            log.aborted_transactions(0, leo).unwrap(),
            expect,
            "clean {clean}"
        );
        // Ending producer 9 frees the LSO after the reopen as well.
        let mut log = log;
        log.append_control_marker(9, 0, 0, false, 0, 1).unwrap();
        log.set_high_watermark(log.log_end_offset());
        assert_eq!(log.last_stable_offset(), log.log_end_offset());
        assert_eq!(
            log.aborted_transactions(0, 1)
                .unwrap()
                .last()
                .unwrap()
                .producer_id,
            9
        );
    }
}
