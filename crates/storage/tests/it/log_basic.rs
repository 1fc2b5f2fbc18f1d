//! Append/read/roll/index/reopen/truncate/retention/compaction behaviour of `Log`.
#![allow(clippy::unwrap_used)]

use crate::common::*;
use vltava_records::{BatchBuilder, BatchBuilderConfig, BatchView, Compression};
use vltava_storage::log::{EARLIEST_TIMESTAMP, LATEST_TIMESTAMP, MAX_TIMESTAMP};
use vltava_storage::{
    CleanupPolicy, FetchIsolation, LogConfig, LogOpenOptions, Storage, StorageError,
};

fn v(i: usize) -> Vec<u8> {
    format!("value-{i:05}-{}", "x".repeat(40)).into_bytes()
}

#[test]
fn append_assigns_offsets_and_reads_back_across_segments() {
    let (s, _c, mut log) = new_log(small_config());
    let mut expected = Vec::new();
    for i in 0..60 {
        let vals = [v(2 * i), v(2 * i + 1)];
        let mut b = batch(&[&vals[0], &vals[1]], 1000 + i as i64);
        let info = log.append_as_leader(&mut b, 3).unwrap();
        assert_eq!(info.first_offset, 2 * i as i64);
        assert_eq!(info.last_offset, 2 * i as i64 + 1);
        expected.push((2 * i as i64, Some(vals[0].clone())));
        expected.push((2 * i as i64 + 1, Some(vals[1].clone())));
    }
    assert_eq!(log.log_end_offset(), 120);
    assert!(log.segment_base_offsets().len() > 3, "small segments roll");
    assert_eq!(read_all(&log, 0), expected);
    // Reading from the middle of a batch returns that whole batch.
    let bytes = log.read_bytes(33, 1, FetchIsolation::LogEnd, true).unwrap();
    let view = BatchView::new(&bytes).unwrap();
    assert_eq!(view.header().base_offset, 32);
    assert_eq!(view.header().partition_leader_epoch, 3);
    // Files follow Kafka's names.
    let names = s.list_dir(&dir()).unwrap();
    assert!(names.contains(&"00000000000000000000.log".to_string()));
    assert!(names.contains(&"00000000000000000000.index".to_string()));
    assert!(names.contains(&"00000000000000000000.timeindex".to_string()));
    assert!(names.iter().any(|n| n.ends_with(".snapshot")));
    // Offsets out of range are typed errors.
    assert!(matches!(
        log.read(121, 100, FetchIsolation::LogEnd, true),
        Err(StorageError::OffsetOutOfRange { .. })
    ));
    assert!(
        log.read(120, 100, FetchIsolation::LogEnd, true)
            .unwrap()
            .slice
            .is_none()
    );
}

#[test]
fn reads_respect_max_bytes_and_high_watermark() {
    let (_s, _c, mut log) = new_log(LogConfig::default());
    for i in 0..10 {
        log.append_as_leader(&mut batch(&[&v(i)], 5), 0).unwrap();
    }
    let one = log
        .read(0, 1, FetchIsolation::LogEnd, true)
        .unwrap()
        .slice
        .unwrap();
    let size = one.len;
    let none = log.read(0, 1, FetchIsolation::LogEnd, false).unwrap();
    assert!(none.slice.is_none(), "no partial batches without min_one");
    let three = log
        .read(0, size * 3 + 5, FetchIsolation::LogEnd, false)
        .unwrap();
    assert_eq!(three.slice.unwrap().len, size * 3);
    log.set_high_watermark(4);
    let hw = log
        .read_bytes(0, 1 << 20, FetchIsolation::HighWatermark, false)
        .unwrap();
    assert_eq!(records_of(&hw).len(), 4);
    assert!(
        log.read(4, 1 << 20, FetchIsolation::HighWatermark, true)
            .unwrap()
            .slice
            .is_none()
    );
    assert_eq!(log.last_stable_offset(), 4);
}

#[test]
fn file_slice_exposes_the_os_file_on_real_storage() {
    let dir = tempfile::tempdir().unwrap();
    let mut log =
        vltava_storage::Log::open_path(dir.path().join("t-0"), LogConfig::default()).unwrap();
    log.append_as_leader(&mut batch(&[b"a", b"b"], 7), 0)
        .unwrap();
    let read = log.read(0, 4096, FetchIsolation::LogEnd, true).unwrap();
    let slice = read.slice.unwrap();
    assert!(slice.file.as_std_file().is_some());
    assert_eq!(records_of(&slice.to_bytes().unwrap()).len(), 2);
    log.close().unwrap();
    let log = vltava_storage::Log::open_path(dir.path().join("t-0"), LogConfig::default()).unwrap();
    assert_eq!(log.log_end_offset(), 2);
}

#[test]
fn invalid_batches_are_rejected_with_typed_errors() {
    let (_s, _c, mut log) = new_log(LogConfig {
        max_message_bytes: 200,
        ..LogConfig::default()
    });
    let mut b = batch(&[b"hello"], 1);
    let last = b.len() - 1;
    b[last] ^= 0xff;
    assert!(matches!(
        log.append_as_leader(&mut b, 0),
        Err(StorageError::InvalidBatch(_))
    ));
    let mut big = batch(&[&[7u8; 300]], 1);
    assert!(matches!(
        log.append_as_leader(&mut big, 0),
        Err(StorageError::BatchTooLarge { .. })
    ));
    let mut torn = batch(&[b"x"], 1);
    torn.truncate(torn.len() - 3);
    assert!(log.append_as_leader(&mut torn, 0).is_err());
    assert!(log.append_as_leader(&mut [], 0).is_err());
    assert_eq!(log.log_end_offset(), 0);
}

#[test]
fn offset_for_timestamp_follows_list_offsets() {
    let (_s, _c, mut log) = new_log(small_config());
    for i in 0..50 {
        log.append_as_leader(&mut batch(&[&v(i)], 1000 + 10 * i as i64), 0)
            .unwrap();
    }
    let t = log.offset_for_timestamp(1255).unwrap().unwrap();
    assert_eq!((t.offset, t.timestamp), (26, 1260));
    assert_eq!(log.offset_for_timestamp(1000).unwrap().unwrap().offset, 0);
    assert_eq!(log.offset_for_timestamp(1490).unwrap().unwrap().offset, 49);
    assert!(log.offset_for_timestamp(1491).unwrap().is_none());
    assert_eq!(
        log.offset_for_timestamp(LATEST_TIMESTAMP)
            .unwrap()
            .unwrap()
            .offset,
        50
    );
    assert_eq!(
        log.offset_for_timestamp(EARLIEST_TIMESTAMP)
            .unwrap()
            .unwrap()
            .offset,
        0
    );
    let max = log.offset_for_timestamp(MAX_TIMESTAMP).unwrap().unwrap();
    assert_eq!((max.offset, max.timestamp), (49, 1490));
}

#[test]
fn record_level_timestamp_lookup_inside_a_batch() {
    let (_s, _c, mut log) = new_log(LogConfig::default());
    let mut b = vltava_records::BatchBuilder::new(vltava_records::BatchBuilderConfig::default());
    for (i, ts) in [100, 300, 200, 400].iter().enumerate() {
        b.append(*ts, None, Some(format!("{i}").as_bytes()), &[])
            .unwrap();
    }
    log.append_as_leader(&mut b.build().unwrap().to_vec(), 0)
        .unwrap();
    let t = log.offset_for_timestamp(250).unwrap().unwrap();
    assert_eq!((t.offset, t.timestamp), (1, 300));
}

#[test]
fn max_timestamp_names_the_record_not_the_batch_end() {
    // Kafka's ListOffsets MAX_TIMESTAMP answers with the offset of the record that
    // holds the largest timestamp (found by the Java client interop suite: the last
    // offset of its batch was answered before).
    let (_s, _c, mut log) = new_log(LogConfig::default());
    let mut b = vltava_records::BatchBuilder::new(vltava_records::BatchBuilderConfig::default());
    for (i, ts) in [100, 400, 200, 400, 300].iter().enumerate() {
        b.append(*ts, None, Some(format!("{i}").as_bytes()), &[])
            .unwrap();
    }
    log.append_as_leader(&mut b.build().unwrap().to_vec(), 0)
        .unwrap();
    log.append_as_leader(&mut batch(&[b"later"], 350), 0)
        .unwrap();
    let max = log.offset_for_timestamp(MAX_TIMESTAMP).unwrap().unwrap();
    assert_eq!((max.offset, max.timestamp), (1, 400));
}

#[test]
fn reopen_after_clean_close_keeps_everything_and_indexes() {
    let (s, c, mut log) = new_log(small_config());
    for i in 0..80 {
        log.append_as_leader(&mut batch(&[&v(i)], 1000 + i as i64), 2)
            .unwrap();
    }
    let before = read_all(&log, 0);
    let segs = log.segment_base_offsets();
    let rp = log.log_end_offset();
    log.close().unwrap();
    // A lost time index of a trusted segment is rebuilt, so timestamp lookups
    // and time retention still see the segment's real timestamps.
    s.remove(&dir().join("00000000000000000000.timeindex"))
        .unwrap();
    let log = open(
        &s,
        &c,
        small_config(),
        LogOpenOptions {
            recovery_point: rp,
            ..Default::default()
        },
    );
    let t = log.offset_for_timestamp(1001).unwrap().unwrap();
    assert_eq!((t.offset, t.timestamp), (1, 1001));
    assert!(!log.segments().next().unwrap().time_index().is_empty());
    assert_eq!(log.segment_base_offsets(), segs);
    assert_eq!(read_all(&log, 0), before);
    assert_eq!(log.end_offset_for_epoch(2), (2, 80));
    for seg in log.segments() {
        if seg.size() > 600 {
            assert!(
                seg.offset_index_entries() > 0,
                "segment {} has no index entries",
                seg.base_offset()
            );
        }
    }
}

#[test]
fn roll_by_time_and_by_full_index() {
    let (_s, c, mut log) = new_log(LogConfig {
        segment_ms: 1000,
        ..LogConfig::default()
    });
    log.append_as_leader(&mut batch(&[b"a"], -1), 0).unwrap();
    c.advance(1001);
    log.append_as_leader(&mut batch(&[b"b"], -1), 0).unwrap();
    assert_eq!(log.segment_base_offsets(), vec![0, 1]);
    // Record timestamps drive segment.ms when the segment's first batch has one.
    log.roll().unwrap();
    log.append_as_leader(&mut batch(&[b"c"], 5000), 0).unwrap();
    log.append_as_leader(&mut batch(&[b"d"], 5900), 0).unwrap();
    log.append_as_leader(&mut batch(&[b"e"], 6001), 0).unwrap();
    assert_eq!(log.segment_base_offsets(), vec![0, 1, 2, 4]);

    let (_s, _c, mut log) = new_log(LogConfig {
        index_interval_bytes: 0,
        segment_index_bytes: 24, // 3 offset entries, 2 time entries
        ..LogConfig::default()
    });
    for i in 0..10 {
        log.append_as_leader(&mut batch(&[&v(i)], i as i64 + 1), 0)
            .unwrap();
    }
    assert!(
        log.segment_base_offsets().len() >= 3,
        "{:?}",
        log.segment_base_offsets()
    );
    assert_eq!(read_all(&log, 0).len(), 10);
}

#[test]
fn truncate_to_removes_the_tail_and_epochs() {
    let (s, c, mut log) = new_log(small_config());
    for i in 0..40 {
        let epoch = if i < 20 { 1 } else { 2 };
        log.append_as_leader(&mut batch(&[&v(2 * i), &v(2 * i + 1)], 1000), epoch)
            .unwrap();
    }
    log.truncate_to(51).unwrap(); // mid-batch: the whole batch goes
    assert_eq!(log.log_end_offset(), 50);
    assert_eq!(read_all(&log, 0).len(), 50);
    assert_eq!(log.end_offset_for_epoch(1), (1, 40));
    assert_eq!(log.end_offset_for_epoch(2), (2, 50));
    log.truncate_to(30).unwrap();
    assert_eq!(log.end_offset_for_epoch(2), (1, 30));
    let info = log
        .append_as_leader(&mut batch(&[b"new"], 1000), 3)
        .unwrap();
    assert_eq!(info.first_offset, 30);
    let all = read_all(&log, 0);
    assert_eq!(all.len(), 31);
    assert_eq!(all[30], (30, Some(b"new".to_vec())));
    log.close().unwrap();
    let log = open(&s, &c, small_config(), LogOpenOptions::default());
    assert_eq!(read_all(&log, 0), all);
    assert_eq!(log.end_offset_for_epoch(3), (3, 31));
}

#[test]
fn a_new_leader_epoch_starts_at_the_log_end_and_a_cut_there_forgets_it() {
    let (s, c, mut log) = new_log(small_config());
    log.append_as_leader(&mut batch(&[b"a", b"b"], 1000), 1)
        .unwrap();
    log.assign_leader_epoch(3, 2).unwrap();
    assert_eq!(
        log.end_offset_for_epoch(1),
        (1, 2),
        "epoch 1 ends where 3 starts"
    );
    assert_eq!(log.end_offset_for_epoch(3), (3, 2));
    log.assign_leader_epoch(2, 2).unwrap();
    assert_eq!(
        log.leader_epoch_cache().latest().map(|e| e.epoch),
        Some(3),
        "older ignored"
    );
    log.truncate_to(2).unwrap();
    assert_eq!(log.log_end_offset(), 2, "no records go");
    assert_eq!(log.leader_epoch_cache().latest().map(|e| e.epoch), Some(1));
    log.close().unwrap();
    let log = open(&s, &c, small_config(), LogOpenOptions::default());
    assert_eq!(
        log.leader_epoch_cache().latest().map(|e| e.epoch),
        Some(1),
        "persisted"
    );
}

#[test]
fn follower_append_keeps_offsets_and_rejects_going_back() {
    let (_s, _c, mut leader) = new_log(small_config());
    let (_s2, _c2, mut follower) = new_log(small_config());
    for i in 0..10 {
        leader.append_as_leader(&mut batch(&[&v(i)], 1), 4).unwrap();
    }
    let bytes = leader
        .read_bytes(0, 1 << 20, FetchIsolation::LogEnd, true)
        .unwrap();
    follower.append_as_follower(&bytes).unwrap();
    assert_eq!(follower.log_end_offset(), leader.log_end_offset());
    assert_eq!(
        follower.end_offset_for_epoch(4),
        (4, follower.log_end_offset())
    );
    assert!(matches!(
        follower.append_as_follower(&bytes),
        Err(StorageError::OffsetsOutOfOrder { .. })
    ));
}

#[test]
fn retention_by_time_size_and_delete_records() {
    let (_s, c, mut log) = new_log(LogConfig {
        retention_ms: 10_000,
        ..small_config()
    });
    let now = c.now();
    for i in 0..60 {
        log.append_as_leader(&mut batch(&[&v(i)], now + i as i64 * 1000), 0)
            .unwrap();
    }
    // Nothing beyond the high watermark is deleted.
    log.set_high_watermark(0);
    assert_eq!(
        log.run_retention(now + 1_000_000).unwrap().segments_deleted,
        0
    );
    log.set_high_watermark(log.log_end_offset());
    let segs = log.segment_base_offsets();
    let out = log.run_retention(now + 30_000).unwrap();
    assert!(out.segments_deleted > 0);
    assert!(log.log_start_offset() > 0);
    let first_ts = log.offset_for_timestamp(0).unwrap().unwrap().timestamp;
    // Every remaining segment but the first holds only records newer than the limit.
    assert!(first_ts <= now + 30_000 - 10_000 + 1000 * 10, "{first_ts}");
    assert!(log.segment_base_offsets().len() < segs.len());
    // Everything expired: the active segment rolls and goes too.
    log.run_retention(now + 10_000_000).unwrap();
    assert_eq!(log.log_start_offset(), 60);
    assert_eq!(log.log_end_offset(), 60);
    assert_eq!(log.segment_base_offsets(), vec![60]);
    log.append_as_leader(&mut batch(&[b"after"], now), 0)
        .unwrap();
    assert_eq!(read_all(&log, 60).len(), 1);

    let (_s, _c, mut log) = new_log(LogConfig {
        retention_bytes: 3000,
        retention_ms: -1,
        ..small_config()
    });
    for i in 0..60 {
        log.append_as_leader(&mut batch(&[&v(i)], 1), 0).unwrap();
    }
    log.set_high_watermark(60);
    log.run_retention(0).unwrap();
    assert!(
        log.size_in_bytes() <= 3000 + 2048,
        "{}",
        log.size_in_bytes()
    );
    assert!(log.size_in_bytes() >= 3000 - 2048);

    log.delete_records_before(55).unwrap();
    assert_eq!(log.log_start_offset(), 55);
    assert!(matches!(
        log.read(54, 100, FetchIsolation::LogEnd, true),
        Err(StorageError::OffsetOutOfRange { .. })
    ));
    assert_eq!(read_all(&log, 55).len(), 5);
    assert!(log.delete_records_before(61).is_err());
}

#[test]
fn delayed_file_deletion_waits_for_file_delete_delay() {
    let (s, c, mut log) = new_log(LogConfig {
        retention_ms: 1,
        file_delete_delay_ms: 5000,
        ..small_config()
    });
    for i in 0..40 {
        log.append_as_leader(&mut batch(&[&v(i)], 1), 0).unwrap();
    }
    log.set_high_watermark(40);
    let now = c.now();
    log.run_retention(now).unwrap();
    let names = s.list_dir(&dir()).unwrap();
    assert!(names.iter().any(|n| n.ends_with(".deleted")));
    log.run_retention(now + 5001).unwrap();
    let names = s.list_dir(&dir()).unwrap();
    assert!(!names.iter().any(|n| n.ends_with(".deleted")), "{names:?}");
}

#[test]
fn compaction_keeps_latest_per_key_and_offsets() {
    let (s, c, mut log) = new_log(LogConfig {
        cleanup_policy: CleanupPolicy::COMPACT,
        delete_retention_ms: 100_000,
        ..small_config()
    });
    let now = c.now();
    let mut written = Vec::new();
    for i in 0..120i64 {
        let key = format!("key{}", i % 7).into_bytes();
        let value = if i % 13 == 0 {
            None
        } else {
            Some(format!("v{i}").into_bytes())
        };
        let compression = if i % 2 == 0 {
            Compression::None
        } else {
            Compression::Lz4
        };
        log.append_as_leader(
            &mut keyed_batch(&[(key.clone(), value.clone())], now, compression),
            0,
        )
        .unwrap();
        written.push((key, value));
    }
    log.set_high_watermark(120);
    // Only flushed data is compacted.
    assert_eq!(log.compact(now).unwrap().segments_cleaned, 0);
    log.flush().unwrap();
    let before = log.size_in_bytes();
    let active_base = *log.segment_base_offsets().last().unwrap();
    let out = log.compact(now).unwrap();
    assert!(out.segments_cleaned > 0);
    assert!(log.size_in_bytes() < before);
    // Below the active segment exactly the latest record per key remains; the
    // active segment is untouched.
    let mut latest = std::collections::BTreeMap::new();
    for (o, (k, _)) in written.iter().enumerate().take(active_base as usize) {
        latest.insert(k.clone(), o as i64);
    }
    let expected: Vec<(i64, Option<Vec<u8>>)> = written
        .iter()
        .enumerate()
        .filter(|(o, (k, _))| *o as i64 >= active_base || latest[k] == *o as i64)
        .map(|(o, (_, v))| (o as i64, v.clone()))
        .collect();
    assert_eq!(read_all(&log, 0), expected);
    // Tombstones go once delete.retention.ms passes.
    c.advance(200_000);
    log.compact(c.now()).unwrap();
    let after = read_all(&log, 0);
    assert!(after.iter().all(|(o, v)| v.is_some() || *o >= active_base));
    // Survives reopen (no .cleaned / .swap leftovers).
    log.close().unwrap();
    let names = s.list_dir(&dir()).unwrap();
    assert!(
        !names
            .iter()
            .any(|n| n.contains(".cleaned") || n.contains(".swap")),
        "{names:?}"
    );
    let log = open(&s, &c, small_config(), LogOpenOptions::default());
    assert_eq!(read_all(&log, 0), after);
}

#[test]
fn interrupted_compaction_swap_is_completed_on_open() {
    let (s, c, mut log) = new_log(small_config());
    for i in 0..30 {
        log.append_as_leader(&mut batch(&[&v(i)], 1), 0).unwrap();
    }
    let all = read_all(&log, 0);
    log.close().unwrap();
    // Simulate a crash after the cleaned segment was renamed to .swap and the
    // original moved to .deleted: the swap holds the same data here.
    let base = "00000000000000000000";
    let img = s.snapshot();
    let log_bytes = img[&dir().join(format!("{base}.log"))].clone();
    s.rename(
        &dir().join(format!("{base}.log")),
        &dir().join(format!("{base}.log.deleted")),
    )
    .unwrap();
    s.put(&dir().join(format!("{base}.log.swap")), log_bytes)
        .unwrap();
    s.put(
        &dir().join(format!("{base}.log.cleaned")),
        b"partial".to_vec(),
    )
    .unwrap();
    let log = open(&s, &c, small_config(), LogOpenOptions::default());
    assert_eq!(read_all(&log, 0), all);
    let names = s.list_dir(&dir()).unwrap();
    assert!(
        !names
            .iter()
            .any(|n| n.contains(".swap") || n.contains(".cleaned") || n.contains(".deleted"))
    );
}

#[test]
fn producer_state_dedups_fences_and_survives_reopen() {
    let (s, c, mut log) = new_log(small_config());
    let a = log
        .append_as_leader(&mut producer_batch(9, 0, 0, 3, 1), 0)
        .unwrap();
    let b = log
        .append_as_leader(&mut producer_batch(9, 0, 3, 2, 1), 0)
        .unwrap();
    assert_eq!((b.first_offset, b.last_offset), (3, 4));
    let dup = log
        .append_as_leader(&mut producer_batch(9, 0, 0, 3, 1), 0)
        .unwrap();
    assert!(dup.duplicate);
    assert_eq!(
        (dup.first_offset, dup.last_offset),
        (a.first_offset, a.last_offset)
    );
    assert_eq!(log.log_end_offset(), 5);
    assert!(matches!(
        log.append_as_leader(&mut producer_batch(9, 0, 7, 1, 1), 0),
        Err(StorageError::OutOfOrderSequence { .. })
    ));
    log.append_as_leader(&mut producer_batch(9, 1, 0, 1, 1), 0)
        .unwrap();
    assert!(matches!(
        log.append_as_leader(&mut producer_batch(9, 0, 5, 1, 1), 0),
        Err(StorageError::InvalidProducerEpoch { .. })
    ));
    // Many batches so there are rolls and snapshots, then a reopen.
    for i in 0..40 {
        log.append_as_leader(&mut producer_batch(5, 0, i * 2, 2, 1), 0)
            .unwrap();
    }
    log.close().unwrap();
    let mut log = open(&s, &c, small_config(), LogOpenOptions::default());
    let dup = log
        .append_as_leader(&mut producer_batch(5, 0, 78, 2, 1), 0)
        .unwrap();
    assert!(dup.duplicate, "last batch remembered after reopen");
    assert!(
        log.append_as_leader(&mut producer_batch(5, 0, 81, 1, 1), 0)
            .is_err()
    );
    log.append_as_leader(&mut producer_batch(5, 0, 80, 1, 1), 0)
        .unwrap();
    assert_eq!(log.producer_state().get(9).unwrap().epoch, 1);
}

#[test]
fn failed_fsync_takes_the_log_offline_until_reopened() {
    let (s, c, mut log) = new_log(LogConfig {
        flush_messages: 1,
        ..small_config()
    });
    log.append_as_leader(&mut batch(&[b"a"], 1), 0).unwrap();
    s.stats()
        .fail_sync
        .store(true, std::sync::atomic::Ordering::Relaxed);
    assert!(matches!(
        log.append_as_leader(&mut batch(&[b"b"], 1), 0),
        Err(StorageError::Io { .. })
    ));
    assert!(log.is_offline());
    s.stats()
        .fail_sync
        .store(false, std::sync::atomic::Ordering::Relaxed);
    assert!(matches!(
        log.append_as_leader(&mut batch(&[b"c"], 1), 0),
        Err(StorageError::LogOffline(_))
    ));
    assert!(matches!(log.flush(), Err(StorageError::LogOffline(_))));
    // Reads still work; a reopen brings it back.
    assert_eq!(read_all(&log, 0).len(), 2);
    drop(log);
    let mut log = open(&s, &c, small_config(), LogOpenOptions::default());
    log.append_as_leader(&mut batch(&[b"d"], 1), 0).unwrap();
}

#[test]
fn flush_advances_the_recovery_point() {
    let (s, _c, mut log) = new_log(LogConfig::default());
    log.append_as_leader(&mut batch(&[b"a"], 1), 0).unwrap();
    assert_eq!(log.recovery_point(), 0);
    let synced_before = s.stats().syncs.load(std::sync::atomic::Ordering::Relaxed);
    log.flush().unwrap();
    assert_eq!(log.recovery_point(), 1);
    assert!(s.stats().syncs.load(std::sync::atomic::Ordering::Relaxed) > synced_before);
    // flush.messages triggers flushes on its own.
    let (_s, _c, mut log) = new_log(LogConfig {
        flush_messages: 2,
        ..LogConfig::default()
    });
    log.append_as_leader(&mut batch(&[b"a"], 1), 0).unwrap();
    assert_eq!(log.recovery_point(), 0);
    log.append_as_leader(&mut batch(&[b"b"], 1), 0).unwrap();
    assert_eq!(log.recovery_point(), 2);
}

#[test]
fn log_append_time_stamps_broker_time() {
    let (_s, c, mut log) = new_log(LogConfig {
        message_timestamp_type: vltava_records::TimestampType::LogAppendTime,
        ..LogConfig::default()
    });
    let info = log.append_as_leader(&mut batch(&[b"a"], 5), 0).unwrap();
    assert_eq!(info.log_append_time, c.now());
    let bytes = log
        .read_bytes(0, 1000, FetchIsolation::LogEnd, true)
        .unwrap();
    let view = BatchView::new(&bytes).unwrap();
    view.validate_crc().unwrap();
    assert_eq!(view.header().max_timestamp, c.now());
}

/// A produce's batches are appended from the shared request bytes: the segment holds
/// them byte for byte, only the base offset and partition leader epoch rewritten (and,
/// under LogAppendTime, the timestamp type, max timestamp and CRC), and the caller's
/// bytes are left as they were.
#[test]
fn checked_batches_are_written_as_sent_with_only_the_header_patched() {
    use vltava_records::CheckedBatches;
    use vltava_records::batch_header::{
        set_base_offset, set_log_append_time, set_partition_leader_epoch,
    };
    for log_append in [false, true] {
        let (_s, c, mut log) = new_log(LogConfig {
            message_timestamp_type: if log_append {
                vltava_records::TimestampType::LogAppendTime
            } else {
                vltava_records::TimestampType::CreateTime
            },
            ..LogConfig::default()
        });
        log.append_as_leader(&mut batch(&[b"first", b"second"], 5), 1)
            .unwrap();
        let sent = [batch(&[b"a", b"b", b"c"], 6), batch(&[b"d"], 7)].concat();
        let before = sent.clone();
        let info = log
            .append_checked_as_leader(CheckedBatches::check(&sent).unwrap(), 4)
            .unwrap();
        assert_eq!((info.first_offset, info.last_offset), (2, 5));
        assert_eq!(sent, before, "the caller's bytes are not touched");
        let stored = log
            .read_bytes(2, 1 << 20, FetchIsolation::LogEnd, true)
            .unwrap();
        let mut expected = sent.clone();
        let second = BatchView::new(&sent).unwrap().bytes().len();
        for (at, base) in [(0, 2), (second, 5)] {
            let b = &mut expected[at..];
            set_base_offset(b, base).unwrap();
            set_partition_leader_epoch(b, 4).unwrap();
            if log_append {
                set_log_append_time(b, c.now()).unwrap();
            }
        }
        assert_eq!(&stored[..], &expected[..]);
        for view in vltava_records::BatchIter::new(&stored) {
            view.unwrap().validate_crc().unwrap();
        }
    }
}

#[test]
fn flush_ms_is_honoured_by_appends_and_the_periodic_check() {
    let (_s, c, mut log) = new_log(LogConfig {
        flush_ms: 1000,
        ..LogConfig::default()
    });
    log.append_as_leader(&mut batch(&[b"a"], 1), 0).unwrap();
    assert_eq!(log.recovery_point(), 0);
    assert!(!log.flush_if_due(c.now() + 500).unwrap());
    assert!(log.flush_if_due(c.now() + 1000).unwrap());
    assert_eq!(log.recovery_point(), 1);
    assert!(
        !log.flush_if_due(c.now() + 5000).unwrap(),
        "nothing left to flush"
    );
    c.advance(3000);
    log.append_as_leader(&mut batch(&[b"b"], 1), 0).unwrap();
    assert_eq!(log.recovery_point(), 2, "an append after flush.ms flushes");
}

#[test]
fn log_is_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<vltava_storage::Log>();
    assert_send_sync::<vltava_storage::FileSlice>();
}

#[test]
fn rolled_segments_are_flushed_by_a_job_outside_the_append_path() {
    let (s, _c, mut log) = new_log(small_config());
    let syncs = || s.stats().syncs.load(std::sync::atomic::Ordering::Relaxed);
    assert!(log.rolled_flush_job().is_none());
    for i in 0..40 {
        log.append_as_leader(&mut batch(&[&v(i)], 1), 0).unwrap();
    }
    let before = syncs();
    assert!(log.segment_base_offsets().len() > 2);
    assert_eq!(log.recovery_point(), 0, "appends and rolls do not fsync");
    let job = log.rolled_flush_job().unwrap();
    let active = *log.segment_base_offsets().last().unwrap();
    assert_eq!(job.up_to(), active);
    let r = job.run();
    log.complete_flush(&job, r).unwrap();
    assert!(syncs() > before);
    assert_eq!(log.recovery_point(), active);
    assert!(log.rolled_flush_job().is_none());
    // A failed job takes the log offline.
    log.roll().unwrap();
    let job = log.rolled_flush_job().unwrap();
    s.stats()
        .fail_sync
        .store(true, std::sync::atomic::Ordering::Relaxed);
    let r = job.run();
    assert!(log.complete_flush(&job, r).is_err());
    assert!(log.is_offline());
}

#[test]
fn compaction_with_nothing_to_remove_leaves_segments_alone() {
    let (s, c, mut log) = new_log(LogConfig {
        cleanup_policy: CleanupPolicy::COMPACT,
        ..small_config()
    });
    for i in 0..60i64 {
        let key = format!("unique-{i}").into_bytes();
        log.append_as_leader(
            &mut keyed_batch(&[(key, Some(v(i as usize)))], 5, Compression::None),
            0,
        )
        .unwrap();
    }
    log.set_high_watermark(60);
    log.flush().unwrap();
    let before = read_all(&log, 0);
    let files_before = s.list_dir(&dir()).unwrap();
    let out = log.compact(c.now()).unwrap();
    assert_eq!(out.segments_cleaned, 0);
    assert_eq!(s.list_dir(&dir()).unwrap(), files_before);
    assert_eq!(read_all(&log, 0), before);
    log.close().unwrap();
    let log = open(&s, &c, small_config(), LogOpenOptions::default());
    assert_eq!(read_all(&log, 0), before);
}

#[test]
fn damaged_time_index_entries_do_not_mislead_timestamp_lookups() {
    let (s, c, mut log) = new_log(small_config());
    for i in 0..40 {
        log.append_as_leader(&mut batch(&[&v(i)], 1000 + 10 * i as i64), 0)
            .unwrap();
    }
    let rp = log.log_end_offset();
    log.close().unwrap();
    // Lower every timestamp in segment 0's time index: the entries stay well formed
    // (increasing), but now claim offsets far too late for those times.
    let path = dir().join("00000000000000000000.timeindex");
    let mut bytes = s.snapshot()[&path].clone();
    assert!(bytes.len() >= 24);
    for e in bytes.chunks_exact_mut(12) {
        let ts = i64::from_be_bytes(e[..8].try_into().unwrap());
        e[..8].copy_from_slice(&(ts - 95).to_be_bytes());
    }
    s.put(&path, bytes).unwrap();
    let log = open(
        &s,
        &c,
        small_config(),
        LogOpenOptions {
            recovery_point: rp,
            ..Default::default()
        },
    );
    for i in 0..40i64 {
        let t = log
            .offset_for_timestamp(1000 + 10 * i - 5)
            .unwrap()
            .unwrap();
        assert_eq!(t.offset, i, "lookup of {}", 1000 + 10 * i - 5);
    }
}

#[test]
fn a_lying_last_time_index_entry_cannot_expire_a_segment_early() {
    let config = LogConfig {
        retention_ms: 10_000,
        ..small_config()
    };
    let (s, c, mut log) = new_log(config.clone());
    let now = c.now();
    // The newest timestamp is in the first batch, so only the time index (not the
    // batches after the last offset-index entry) knows it.
    for i in 0..40 {
        let ts = if i == 0 { now } else { now - 100_000 };
        log.append_as_leader(&mut batch(&[&v(i)], ts), 0).unwrap();
    }
    let rp = log.log_end_offset();
    log.close().unwrap();
    // Make segment 0's last time-index entry claim an ancient timestamp.
    let path = dir().join("00000000000000000000.timeindex");
    let mut bytes = s.snapshot()[&path].clone();
    let n = bytes.len();
    assert!(n >= 12);
    bytes[n - 12..n - 4].copy_from_slice(&1i64.to_be_bytes());
    s.put(&path, bytes).unwrap();
    let mut log = open(
        &s,
        &c,
        config,
        LogOpenOptions {
            recovery_point: rp,
            ..Default::default()
        },
    );
    assert_eq!(log.segments().next().unwrap().max_timestamp(), now);
    assert_eq!(log.run_retention(now + 1).unwrap().segments_deleted, 0);
}

#[test]
fn follower_append_far_past_the_log_end_starts_a_new_segment() {
    let (s, c, mut log) = new_log(small_config());
    let far = 10_000_000_000i64;
    let mut b = vltava_records::BatchBuilder::new(vltava_records::BatchBuilderConfig {
        base_offset: far,
        ..vltava_records::BatchBuilderConfig::default()
    });
    b.append(1, None, Some(b"far"), &[]).unwrap();
    let info = log.append_as_follower(&b.build().unwrap()).unwrap();
    assert_eq!(info.first_offset, far);
    assert_eq!(log.log_end_offset(), far + 1);
    assert_eq!(log.segment_base_offsets(), vec![far]);
    assert_eq!(log.log_start_offset(), far);
    log.close().unwrap();
    let log = open(&s, &c, small_config(), LogOpenOptions::default());
    assert_eq!(read_all(&log, far), vec![(far, Some(b"far".to_vec()))]);
}

#[test]
fn close_in_place_refuses_writes_serves_reads_and_reopens_without_reading_data() {
    let (s, c, mut log) = new_log(small_config());
    for i in 0..40 {
        log.append_as_leader(&mut batch(&[&v(i)], 5), 0).unwrap();
    }
    let before = read_all(&log, 0);
    log.close_in_place().unwrap();
    assert!(matches!(
        log.append_as_leader(&mut batch(&[b"late"], 5), 0),
        Err(StorageError::LogClosed(_))
    ));
    assert_eq!(read_all(&log, 0), before);
    let leo = log.log_end_offset();
    assert_eq!(log.recovery_point(), leo);
    drop(log);
    // Reopened at the recovery point a clean close leaves: no batch is read
    // through (only headers past the last index entry of each segment).
    let data: u64 = s.snapshot().values().map(|f| f.len() as u64).sum();
    let read_before = s
        .stats()
        .bytes_read
        .load(std::sync::atomic::Ordering::Relaxed);
    let log = open(
        &s,
        &c,
        small_config(),
        LogOpenOptions {
            recovery_point: leo,
            ..Default::default()
        },
    );
    let read = s
        .stats()
        .bytes_read
        .load(std::sync::atomic::Ordering::Relaxed)
        - read_before;
    assert!(
        read * 4 < data,
        "read {read} of {data} bytes on a clean open"
    );
    assert_eq!(log.log_end_offset(), leo);
    assert_eq!(read_all(&log, 0), before);
}

#[test]
fn inactive_indexes_are_read_on_first_use_and_dropped_again() {
    // An index entry per batch: the index files outweigh the headers read.
    let config = LogConfig {
        segment_bytes: 16 * 1024,
        index_interval_bytes: 1,
        ..small_config()
    };
    let (s, c, mut log) = new_log(config.clone());
    for i in 0..3000 {
        log.append_as_leader(&mut batch(&[&v(i)], 1000 + i as i64), 0)
            .unwrap();
    }
    let expected = read_all(&log, 0);
    let rp = log.log_end_offset();
    let segments = log.segments().count();
    assert!(segments >= 10, "{segments} segments");
    log.close().unwrap();
    let index_bytes: usize = s
        .snapshot()
        .iter()
        .filter(|(p, _)| {
            p.extension()
                .is_some_and(|e| e == "index" || e == "timeindex")
        })
        .map(|(_, b)| b.len())
        .sum();
    let before = s
        .stats()
        .bytes_read
        .load(std::sync::atomic::Ordering::Relaxed);
    let mut log = open(
        &s,
        &c,
        config,
        LogOpenOptions {
            recovery_point: rp,
            ..Default::default()
        },
    );
    let read = s
        .stats()
        .bytes_read
        .load(std::sync::atomic::Ordering::Relaxed)
        - before;
    // Per trusted segment: two last entries, a few headers, a binary search.
    assert!(
        read < index_bytes as u64 / 2,
        "open read {read} B; the indexes hold {index_bytes} B"
    );
    assert_eq!(log.segments_with_loaded_indexes(), 0, "none read at open");
    // A lookup in an old segment reads its index; everything reads back right.
    assert_eq!(log.offset_for_timestamp(1005).unwrap().unwrap().offset, 5);
    assert_eq!(log.segments_with_loaded_indexes(), 1);
    for o in (0..3000).step_by(97) {
        let got = log
            .read_bytes(o, 1, vltava_storage::FetchIsolation::LogEnd, true)
            .unwrap();
        assert!(records_of(&got).iter().any(|(g, _)| *g == o), "offset {o}");
    }
    assert!(log.segments_with_loaded_indexes() > 3);
    log.run_retention(2000).unwrap();
    // The most recently used inactive ones (plus the active one's, if read).
    let max = vltava_storage::index_memory::MAX_LOADED_INACTIVE;
    let loaded = log.segments_with_loaded_indexes();
    assert!((max..=max + 1).contains(&loaded), "{loaded} loaded");
    assert_eq!(read_all(&log, 0), expected, "dropped indexes are read back");
    log.append_as_leader(&mut batch(&[b"more"], 3000), 0)
        .unwrap();
}

#[test]
fn a_damaged_index_found_on_first_use_is_emptied_and_rebuilt_at_the_next_open() {
    let config = LogConfig {
        index_interval_bytes: 1,
        ..small_config()
    };
    let (s, c, mut log) = new_log(config.clone());
    for i in 0..200 {
        log.append_as_leader(&mut batch(&[&v(i)], 1000 + i as i64), 0)
            .unwrap();
    }
    let expected = read_all(&log, 0);
    let rp = log.log_end_offset();
    log.close().unwrap();
    let path = dir().join("00000000000000000000.index");
    let good = s.snapshot()[&path].clone();
    assert!(good.len() >= 40);
    // A middle entry's position far past the log: fails the load's checks, not
    // the last-entry check at open.
    let mut bad = good.clone();
    bad[20..24].copy_from_slice(&u32::MAX.to_be_bytes());
    s.put(&path, bad).unwrap();
    let reopen = || {
        open(
            &s,
            &c,
            config.clone(),
            LogOpenOptions {
                recovery_point: rp,
                ..Default::default()
            },
        )
    };
    let log = reopen();
    assert_eq!(read_all(&log, 0), expected, "reads stay right");
    assert_eq!(s.snapshot()[&path].len(), 0, "emptied once found damaged");
    drop(log);
    let log = reopen();
    assert_eq!(s.snapshot()[&path], good, "rebuilt at the next open");
    assert_eq!(read_all(&log, 0), expected);
}

/// Kafka's LogValidator: a compacted log refuses a producer's record without a key
/// (INVALID_RECORD), compressed or not, and appends nothing of that batch; a follower
/// still copies what its leader holds, and a delete-only log takes keyless records.
#[test]
fn compacted_log_refuses_records_without_key() {
    for compression in [Compression::None, Compression::Lz4] {
        let (_s, c, mut log) = new_log(LogConfig {
            cleanup_policy: CleanupPolicy::COMPACT,
            ..small_config()
        });
        let mut b = BatchBuilder::new(BatchBuilderConfig {
            compression,
            ..BatchBuilderConfig::default()
        });
        assert!(b.append(c.now(), Some(b"k"), Some(b"v"), &[]).unwrap());
        assert!(b.append(c.now(), None, Some(b"no key"), &[]).unwrap());
        let mut keyless = b.build().unwrap().to_vec();
        let err = log.append_as_leader(&mut keyless, 0).unwrap_err();
        match &err {
            StorageError::RecordsRejected(r) => {
                assert_eq!(r.errors.len(), 1, "{err:?}");
                assert_eq!(r.errors[0].batch_index, 1);
                assert!(r.errors[0].message.contains("without key"), "{err:?}");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(log.log_end_offset(), 0);
        let mut keyed = keyed_batch(
            &[(b"k".to_vec(), Some(b"v".to_vec()))],
            c.now(),
            compression,
        );
        assert_eq!(log.append_as_leader(&mut keyed, 0).unwrap().first_offset, 0);
        // A follower's copy of a keyless batch (written before the policy changed) is kept.
        let mut follower = keyless.clone();
        follower[..8].copy_from_slice(&1i64.to_be_bytes());
        log.append_as_follower(&follower).unwrap();
        assert_eq!(log.log_end_offset(), 3);
    }
    let (_s, c, mut log) = new_log(small_config());
    let mut b = BatchBuilder::new(BatchBuilderConfig::default());
    assert!(b.append(c.now(), None, Some(b"no key"), &[]).unwrap());
    log.append_as_leader(&mut b.build().unwrap().to_vec(), 0)
        .unwrap();
    assert_eq!(log.log_end_offset(), 1);
}

#[test]
fn a_read_says_where_its_batches_end_in_offsets() {
    // Dense index entries, so reads take both the index jump and the header walk.
    let mut config = small_config();
    config.index_interval_bytes = 1;
    let (_s, _c, mut log) = new_log(config);
    for i in 0..80 {
        let n = 1 + i % 3;
        let vals: Vec<Vec<u8>> = (0..n).map(|j| v(10 * i + j)).collect();
        let refs: Vec<&[u8]> = vals.iter().map(Vec::as_slice).collect();
        log.append_as_leader(&mut batch(&refs, 100 + i as i64), 1)
            .unwrap();
    }
    let end = log.log_end_offset();
    for offset in [0, 1, 7, 40, end - 1] {
        for max in [1, 100, 700, 5_000, 1 << 20] {
            let read = log.read(offset, max, FetchIsolation::LogEnd, true).unwrap();
            let slice = read.slice.unwrap();
            let bytes = slice.to_bytes().unwrap();
            let last = vltava_records::BatchIter::new(&bytes)
                .map(Result::unwrap)
                .last()
                .unwrap();
            assert_eq!(
                slice.end_offset,
                last.header().next_offset(),
                "offset {offset}, max {max}"
            );
        }
    }
}
