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

#[test]
fn an_ended_transaction_holds_the_lso_until_its_marker_is_below_the_high_watermark() {
    let (_s, _c, mut log) = new_log(small_config());
    log.append_as_leader(&mut txn_batch(1, 0, 0, 2, 1), 0)
        .unwrap();
    log.append_as_leader(&mut batch(&[b"plain"], 1), 0).unwrap();
    log.set_high_watermark(3);
    assert_eq!(log.last_stable_offset(), 0);
    log.append_control_marker(1, 0, 0, true, 0, 1).unwrap();
    // The marker (offset 3) is not replicated yet: the transaction still counts.
    assert_eq!(log.last_stable_offset(), 0);
    log.set_high_watermark(3);
    assert_eq!(log.last_stable_offset(), 0);
    log.set_high_watermark(4);
    assert_eq!(log.last_stable_offset(), 4);
}

#[test]
fn truncation_drops_index_entries_and_reopens_transactions() {
    let (s, c, mut log) = new_log(small_config());
    log.append_as_leader(&mut txn_batch(1, 0, 0, 2, 1), 0)
        .unwrap(); // 0..=1
    log.append_control_marker(1, 0, 0, false, 0, 1).unwrap(); // 2
    log.append_as_leader(&mut txn_batch(2, 0, 0, 2, 1), 0)
        .unwrap(); // 3..=4
    log.append_control_marker(2, 0, 0, false, 0, 1).unwrap(); // 5
    log.set_high_watermark(6);
    assert_eq!(
        log.aborted_transactions(0, 6).unwrap(),
        vec![aborted(1, 0, 2, 3), aborted(2, 3, 5, 6)]
    );
    let path = log
        .segments()
        .last()
        .unwrap()
        .txn_index()
        .path()
        .to_path_buf();
    log.truncate_to(5).unwrap();
    assert_eq!(
        log.aborted_transactions(0, 5).unwrap(),
        vec![aborted(1, 0, 2, 3)]
    );
    assert_eq!(s.open(&path, false).unwrap().len().unwrap(), 34);
    log.set_high_watermark(5);
    assert_eq!(
        log.last_stable_offset(),
        3,
        "producer 2's transaction is open again"
    );
    log.truncate_to(2).unwrap();
    log.set_high_watermark(2);
    assert!(log.aborted_transactions(0, 2).unwrap().is_empty());
    assert_eq!(s.open(&path, false).unwrap().len().unwrap(), 0);
    assert_eq!(log.last_stable_offset(), 0);
    // The same after a crash.
    let rp = log.recovery_point();
    drop(log);
    let mut log = open(
        &s,
        &c,
        small_config(),
        LogOpenOptions {
            recovery_point: rp,
            ..Default::default()
        },
    );
    assert_eq!(log.log_end_offset(), 2);
    assert_eq!(log.last_stable_offset(), 0);
    assert!(log.aborted_transactions(0, 2).unwrap().is_empty());
    log.append_control_marker(1, 0, 0, false, 0, 1).unwrap();
    assert_eq!(
        log.aborted_transactions(0, 3).unwrap(),
        vec![aborted(1, 0, 2, 3)]
    );
}

/// Appends `rounds` of (aborted transaction of 3 records, a plain batch),
/// rolling after each round; returns the expected aborted transactions.
fn aborted_rounds(log: &mut vltava_storage::Log, rounds: i64) -> Vec<AbortedTxn> {
    let mut out = Vec::new();
    for i in 0..rounds {
        let pid = 10 + i;
        let first = log.log_end_offset();
        log.append_as_leader(&mut txn_batch(pid, 0, 0, 3, 1), 0)
            .unwrap();
        log.append_as_leader(
            &mut keyed_batch(
                &[(b"k".to_vec(), Some(vec![b'v'; 8]))],
                1,
                vltava_records::Compression::None,
            ),
            0,
        )
        .unwrap();
        let m = log.append_control_marker(pid, 0, 0, false, 0, 1).unwrap();
        out.push(aborted(pid, first, m.first_offset, m.first_offset + 1));
        log.roll().unwrap();
    }
    log.set_high_watermark(log.log_end_offset());
    out
}

fn txn_index_files(s: &vltava_storage::MemStorage) -> Vec<String> {
    let mut names: Vec<String> = s
        .list_dir(&dir())
        .unwrap()
        .into_iter()
        .filter(|n| n.ends_with(".txnindex"))
        .collect();
    names.sort();
    names
}

#[test]
fn retention_and_delete_records_delete_txn_indexes_with_their_segments() {
    let (s, c, mut log) = new_log(small_config());
    let expect = aborted_rounds(&mut log, 6);
    assert_eq!(txn_index_files(&s).len(), 7, "one per segment");
    assert_eq!(
        log.aborted_transactions(0, log.log_end_offset()).unwrap(),
        expect
    );
    // DeleteRecords past the first two segments.
    let third = log.segment_base_offsets()[2];
    log.delete_records_before(third).unwrap();
    assert_eq!(txn_index_files(&s).len(), 5);
    assert_eq!(
        log.aborted_transactions(third, log.log_end_offset())
            .unwrap(),
        expect[2..]
    );
    // Size retention takes two more.
    let sizes: Vec<u64> = log.segments().map(|seg| seg.size()).collect();
    log.set_config(vltava_storage::LogConfig {
        retention_bytes: (log.size_in_bytes() - sizes[0] - sizes[1]) as i64,
        ..small_config()
    });
    let out = log.run_retention(c.now()).unwrap();
    assert!(out.segments_deleted >= 2);
    let start = log.log_start_offset();
    let left: Vec<AbortedTxn> = expect
        .iter()
        .copied()
        .filter(|t| t.last_offset >= start)
        .collect();
    assert_eq!(txn_index_files(&s).len(), log.segment_base_offsets().len());
    assert_eq!(left.len() + 1, log.segment_base_offsets().len());
    assert_eq!(
        log.aborted_transactions(start, log.log_end_offset())
            .unwrap(),
        left
    );
}

#[test]
fn compaction_removes_aborted_records_and_keeps_markers_and_the_index() {
    use vltava_storage::{CleanupPolicy, LogConfig};
    let config = LogConfig {
        cleanup_policy: CleanupPolicy::COMPACT,
        ..small_config()
    };
    let (s, c, mut log) = new_log(config.clone());
    let expect = aborted_rounds(&mut log, 5);
    // A committed transaction of keyed records, superseded by a plain record.
    let seq = log
        .producer_state()
        .get(77)
        .map_or(0, |e| e.batches.back().unwrap().last_seq + 1);
    let mut b = vltava_records::BatchBuilder::new(BatchBuilderConfig {
        producer_id: 77,
        producer_epoch: 0,
        base_sequence: seq,
        transactional: true,
        ..BatchBuilderConfig::default()
    });
    b.append(1, Some(b"k"), Some(b"committed"), &[]).unwrap();
    b.append(1, Some(b"c"), Some(b"stays"), &[]).unwrap();
    let committed = log
        .append_as_leader(&mut b.build().unwrap().to_vec(), 0)
        .unwrap();
    log.append_control_marker(77, 0, 0, true, 0, 1).unwrap();
    log.append_as_leader(
        &mut keyed_batch(
            &[(b"k".to_vec(), Some(b"newest".to_vec()))],
            1,
            vltava_records::Compression::None,
        ),
        0,
    )
    .unwrap();
    log.roll().unwrap();
    log.set_high_watermark(log.log_end_offset());
    let before = read_all(&log, 0);
    let headers_before: Vec<(i64, i64)> = log
        .segments()
        .flat_map(|s| s.headers().unwrap())
        .map(|(_, h)| (h.base_offset, h.last_offset()))
        .collect();
    log.flush().unwrap();
    let out = log.compact(c.now()).unwrap();
    assert!(out.records_removed > 0);
    let after = read_all(&log, 0);
    // Aborted records are gone; markers stay; of key k only the newest stays.
    for t in &expect {
        for o in t.first_offset..t.first_offset + 3 {
            assert!(after.iter().all(|r| r.0 != o), "aborted record {o} kept");
        }
        assert_eq!(
            after.iter().find(|r| r.0 == t.last_offset),
            before.iter().find(|r| r.0 == t.last_offset),
            "marker at {}",
            t.last_offset
        );
    }
    assert!(
        after.iter().all(|r| r.0 != committed.first_offset),
        "superseded committed record kept"
    );
    assert!(
        after.iter().any(|r| r.0 == committed.last_offset),
        "committed record of key c went"
    );
    assert_eq!(
        after
            .iter()
            .filter(|r| r.1.as_deref() == Some(&b"newest"[..]))
            .count(),
        1
    );
    // No transactional batch was dropped: every header is still there.
    let headers_after: Vec<(i64, i64)> = log
        .segments()
        .flat_map(|s| s.headers().unwrap())
        .map(|(_, h)| (h.base_offset, h.last_offset()))
        .collect();
    for t in &expect {
        assert!(headers_after.contains(&(t.first_offset, t.first_offset + 2)));
    }
    assert!(headers_after.len() <= headers_before.len());
    assert_eq!(
        log.aborted_transactions(0, log.log_end_offset()).unwrap(),
        expect
    );
    assert_eq!(txn_index_files(&s).len(), log.segment_base_offsets().len());
    // Reopen, trusting the compacted segments and recovering (so rebuilding
    // every `.txnindex` from the cleaned batches): the same entries.
    let leo = log.log_end_offset();
    let rp = log.recovery_point();
    drop(log);
    for rp in [rp, 0] {
        let log = open(
            &s,
            &c,
            config.clone(),
            LogOpenOptions {
                recovery_point: rp,
                ..Default::default()
            },
        );
        assert_eq!(log.aborted_transactions(0, leo).unwrap(), expect, "rp {rp}");
        assert_eq!(log.last_stable_offset(), leo);
        assert_eq!(read_all(&log, 0), after);
        drop(log);
    }
}

#[test]
fn coordinator_epochs_and_open_transactions_survive_reopen() {
    for clean in [true, false] {
        let (s, c, mut log) = new_log(small_config());
        log.append_as_leader(&mut txn_batch(1, 2, 0, 1, 1), 0)
            .unwrap();
        log.append_control_marker(1, 2, 9, true, 0, 1).unwrap();
        log.append_as_leader(&mut txn_batch(1, 2, 1, 1, 1), 0)
            .unwrap();
        log.roll().unwrap();
        log.append_as_leader(&mut batch(&[b"x"], 1), 0).unwrap();
        let leo = log.log_end_offset();
        let rp = if clean {
            log.close().unwrap();
            leo
        } else {
            let rp = log.recovery_point();
            drop(log);
            rp
        };
        let mut log = open(
            &s,
            &c,
            small_config(),
            LogOpenOptions {
                recovery_point: rp,
                ..Default::default()
            },
        );
        let e = log.producer_state().get(1).unwrap();
        assert_eq!((e.epoch, e.coordinator_epoch), (2, 9), "clean {clean}");
        assert_eq!(e.current_txn_first_offset, Some(2));
        assert_eq!(log.last_stable_offset(), 2);
        assert!(matches!(
            log.append_control_marker(1, 2, 8, false, 0, 1),
            Err(StorageError::TransactionCoordinatorFenced { .. })
        ));
        assert!(matches!(
            log.append_as_leader(&mut producer_batch(1, 2, 2, 1, 1), 0),
            Err(StorageError::InvalidTxnState { .. })
        ));
        log.append_control_marker(1, 2, 9, false, 0, 1).unwrap();
        log.set_high_watermark(log.log_end_offset());
        assert_eq!(
            log.aborted_transactions(0, log.log_end_offset()).unwrap(),
            vec![aborted(1, 2, leo, leo + 1)]
        );
    }
}
