//! A disk that fills up under the log (`MemStorage`'s space limit: the write
//! that does not fit is done in part, then fails with ENOSPC, as on a full
//! tmpfs): the failed append leaves no partial batch in the file, nothing
//! acknowledged is lost, producer state and indexes stay consistent, and a
//! reopen (what the broker does with an offline log) serves again once space
//! is back, also from the image a kill -9 would leave.

#![allow(clippy::unwrap_used)]

use std::sync::atomic::Ordering;

use crate::common::*;
use vltava_storage::{Log, LogOpenOptions, MemStorage, StorageError};

fn limit(s: &MemStorage, bytes: Option<u64>) {
    s.stats()
        .space_left
        .store(bytes.unwrap_or(0), Ordering::Relaxed);
    s.stats()
        .space_limited
        .store(bytes.is_some(), Ordering::Relaxed);
}

fn log_files_len(s: &MemStorage) -> u64 {
    s.snapshot()
        .iter()
        .filter(|(p, _)| p.extension().is_some_and(|e| e == "log"))
        .map(|(_, b)| b.len() as u64)
        .sum()
}

fn reopen(s: &MemStorage, log: &Log) -> Log {
    let c = vltava_storage::ManualClock::new(1_000_000);
    open(
        s,
        &c,
        small_config(),
        LogOpenOptions {
            log_start_offset: log.log_start_offset(),
            recovery_point: log.recovery_point(),
            ..LogOpenOptions::default()
        },
    )
}

#[test]
fn a_failed_append_is_cut_back_and_the_log_serves_after_a_reopen() {
    let (s, _c, mut log) = new_log(small_config());
    for seq in 0..4 {
        log.append_as_leader(&mut producer_batch(7, 0, seq * 3, 3, 1), 0)
            .unwrap();
    }
    let before = read_all(&log, 0);
    let bytes_before = log_files_len(&s);
    limit(&s, Some(10));
    let err = log
        .append_as_leader(&mut producer_batch(7, 0, 12, 3, 1), 0)
        .unwrap_err();
    let StorageError::Io { source, .. } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(source.raw_os_error(), Some(28), "{err}");
    assert!(log.is_offline());
    assert_eq!(log_files_len(&s), bytes_before, "partial batch cut back");
    assert_eq!(log.log_end_offset(), 12);
    assert_eq!(
        log.producer_state()
            .get(7)
            .unwrap()
            .batches
            .back()
            .unwrap()
            .last_seq,
        11
    );
    assert_eq!(read_all(&log, 0), before, "reads go on");

    // Still full: a reopen may fail (recovery rewrites indexes), never panics,
    // and an open log refuses the append again without damage.
    let c = vltava_storage::ManualClock::new(1_000_000);
    let opts = LogOpenOptions {
        log_start_offset: log.log_start_offset(),
        recovery_point: log.recovery_point(),
        ..LogOpenOptions::default()
    };
    match Log::open(
        std::sync::Arc::new(s.clone()),
        std::path::Path::new(DIR),
        small_config(),
        std::sync::Arc::new(c),
        opts,
    ) {
        Ok(mut full) => {
            assert_eq!(read_all(&full, 0), before);
            assert!(matches!(
                full.append_as_leader(&mut producer_batch(7, 0, 12, 3, 1), 0),
                Err(StorageError::Io { .. })
            ));
        }
        Err(e) => assert!(matches!(e, StorageError::Io { .. }), "{e}"),
    }
    // Space back: the producer's retry of the same sequence is appended once.
    limit(&s, None);
    let mut log = reopen(&s, &log);
    let info = log
        .append_as_leader(&mut producer_batch(7, 0, 12, 3, 1), 0)
        .unwrap();
    assert_eq!(info.first_offset, 12);
    assert_eq!(read_all(&log, 0).len(), 15);
}

/// Every space budget from 0 to a few segments' worth: the appends that
/// succeeded before the disk filled are exactly what a reopen finds (from the
/// running image and from a kill -9 image), with rolls, index writes and
/// producer snapshots failing at every point on the way.
#[test]
fn running_out_at_any_byte_keeps_exactly_the_acknowledged_records() {
    for budget in (0..6000).step_by(97) {
        let (s, _c, mut log) = new_log(small_config());
        log.append_as_leader(&mut batch(&[b"first"], 1), 0).unwrap();
        limit(&s, Some(budget));
        let mut acked = 1;
        let mut seq = 0;
        loop {
            match log.append_as_leader(&mut producer_batch(3, 0, seq, 4, 2), 0) {
                Ok(_) => {
                    acked += 4;
                    seq += 4;
                }
                Err(StorageError::Io { .. }) => break,
                Err(e) => panic!("budget {budget}: {e}"),
            }
            assert!(acked < 10_000, "budget {budget} never filled");
        }
        assert!(log.is_offline());
        let killed = MemStorage::from_image(s.snapshot());
        limit(&s, None);
        for (what, st) in [("reopened", &s), ("after kill -9", &killed)] {
            let mut back = reopen(st, &log);
            let recs = read_all(&back, 0);
            assert_eq!(recs.len(), acked, "budget {budget}, {what}");
            assert!(recs.iter().enumerate().all(|(i, (o, _))| *o == i as i64));
            assert_eq!(back.log_end_offset(), acked as i64);
            // Offset lookups agree with the records (indexes consistent).
            for (o, _) in recs.iter().step_by(5) {
                let got = back
                    .read_bytes(*o, 1, vltava_storage::FetchIsolation::LogEnd, true)
                    .unwrap();
                assert!(
                    records_of(&got).iter().any(|(g, _)| g == o),
                    "budget {budget}, {what}: offset {o}"
                );
            }
            // The producer goes on at its next sequence; a resend of the last
            // acknowledged one is a duplicate, not a second copy.
            if seq > 0 {
                let dup = back
                    .append_as_leader(&mut producer_batch(3, 0, seq - 4, 4, 2), 0)
                    .unwrap();
                assert!(dup.duplicate, "budget {budget}, {what}");
            }
            back.append_as_leader(&mut producer_batch(3, 0, seq, 4, 2), 0)
                .unwrap();
            assert_eq!(
                read_all(&back, 0).len(),
                acked + 4,
                "budget {budget}, {what}"
            );
        }
    }
}
