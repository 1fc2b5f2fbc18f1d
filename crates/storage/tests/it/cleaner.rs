//! The log cleaner's storage half: dirty ratios past the cleaner checkpoint, passes
//! with an offset map too small for the dirty section, `compact,delete`, and cleaning
//! planned under the lock, run without it and swapped only if the log did not change
//! under it (appends go on; truncation or retention discard the copies).

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;

use crate::common::*;
use vltava_records::Compression;
use vltava_storage::{CleanOptions, CleanupPolicy, Log, LogConfig, ManualClock};

fn compacted() -> LogConfig {
    LogConfig {
        cleanup_policy: CleanupPolicy::COMPACT,
        delete_retention_ms: 1_000,
        ..small_config()
    }
}

/// Appends `rounds` rounds of `keys` keys (value `key:round`), one record a batch;
/// returns (offset, key) of each.
fn write_rounds(log: &mut Log, c: &ManualClock, keys: usize, rounds: usize) -> Vec<(i64, String)> {
    let mut out = Vec::new();
    for r in 0..rounds {
        for k in 0..keys {
            let key = format!("key{k}");
            let v = format!("{key}:{r}").into_bytes();
            let info = log
                .append_as_leader(
                    &mut keyed_batch(
                        &[(key.clone().into_bytes(), Some(v))],
                        c.now(),
                        Compression::None,
                    ),
                    0,
                )
                .unwrap();
            out.push((info.first_offset, key));
        }
    }
    out
}

/// Makes everything written cleanable: high watermark at the end, a roll, a flush.
fn settle(log: &mut Log) {
    log.roll().unwrap();
    log.flush().unwrap();
    log.set_high_watermark(log.log_end_offset());
}

/// The key of a record value `key:round`.
fn key_of(v: &Option<Vec<u8>>) -> String {
    let v = String::from_utf8(v.clone().unwrap()).unwrap();
    v.split(':').next().unwrap().to_string()
}

/// Checks that below `upto` exactly the latest record per key (by `written`) is left.
fn assert_latest_only(log: &Log, written: &[(i64, String)], upto: i64) {
    let mut latest = BTreeMap::new();
    for (o, k) in written.iter().filter(|(o, _)| *o < upto) {
        latest.insert(k.clone(), *o);
    }
    let mut got: Vec<i64> = read_all(log, log.log_start_offset())
        .into_iter()
        .filter(|(o, _)| *o < upto)
        .map(|(o, v)| {
            assert_eq!(
                Some(&o),
                latest.get(&key_of(&v)),
                "offset {o} is not its key's latest"
            );
            o
        })
        .collect();
    got.sort_unstable();
    let mut want: Vec<i64> = latest.values().copied().collect();
    want.sort_unstable();
    assert_eq!(got, want);
}

#[test]
fn dirty_ratio_counts_bytes_past_the_cleaner_checkpoint() {
    let (_s, c, mut log) = new_log(compacted());
    assert_eq!(log.dirty_stats(c.now()).unwrap().dirty_bytes, 0);
    write_rounds(&mut log, &c, 10, 10);
    // Nothing is cleanable before it is flushed and below the high watermark.
    assert_eq!(log.dirty_stats(c.now()).unwrap().dirty_bytes, 0);
    settle(&mut log);
    let s = log.dirty_stats(c.now()).unwrap();
    assert_eq!((s.clean_bytes, s.ratio()), (0, 1.0));
    assert!(s.needs_cleaning(0.5));
    let out = log.compact(c.now()).unwrap();
    assert!(
        out.segments_cleaned > 0 && out.records_removed >= 80,
        "{out:?}"
    );
    assert_eq!(log.cleaner_offset(), out.map_end);
    let s = log.dirty_stats(c.now()).unwrap();
    assert_eq!((s.dirty_bytes, s.ratio()), (0, 0.0));
    assert!(!s.needs_cleaning(0.01));
    // New dirty data: its share of the cleanable bytes.
    write_rounds(&mut log, &c, 10, 1);
    settle(&mut log);
    let s = log.dirty_stats(c.now()).unwrap();
    assert!(s.clean_bytes > 0 && s.dirty_bytes > 0);
    let r = s.ratio();
    assert!(r > 0.0 && r < 1.0, "{r}");
    assert!(s.needs_cleaning(r) && !s.needs_cleaning(r + 0.01));
    // Not a compacted log: no stats.
    let (_s2, _c2, plain) = new_log(small_config());
    assert!(plain.dirty_stats(0).is_none());
}

#[test]
fn max_compaction_lag_forces_cleaning_below_the_ratio() {
    let (_s, c, mut log) = new_log(LogConfig {
        max_compaction_lag_ms: 10_000,
        ..compacted()
    });
    write_rounds(&mut log, &c, 10, 10);
    settle(&mut log);
    log.compact(c.now()).unwrap();
    write_rounds(&mut log, &c, 1, 1);
    settle(&mut log);
    let s = log.dirty_stats(c.now()).unwrap();
    assert!(!s.needs_cleaning(0.99) && !s.max_lag_exceeded);
    c.advance(10_001);
    let s = log.dirty_stats(c.now()).unwrap();
    assert!(s.max_lag_exceeded && s.needs_cleaning(0.99));
}

#[test]
fn a_small_offset_map_cleans_in_passes() {
    let (_s, c, mut log) = new_log(compacted());
    let written = write_rounds(&mut log, &c, 40, 5);
    settle(&mut log);
    let end = log.log_end_offset();
    // Room for about 10 keys: 40 distinct keys take several passes.
    let opts = CleanOptions {
        dedupe_buffer_bytes: 10 * vltava_storage::offset_map::OffsetMap::cost(5),
        ..CleanOptions::default()
    };
    let mut passes = 0;
    let mut last = log.cleaner_offset();
    while log.cleaner_offset() < end {
        let out = log.compact_with(c.now(), &opts).unwrap();
        assert!(out.keys_mapped <= 10, "{out:?}");
        assert!(log.cleaner_offset() > last, "no progress: {out:?}");
        last = log.cleaner_offset();
        passes += 1;
        assert!(passes < 100);
    }
    assert!(passes >= 4, "{passes} passes");
    assert_latest_only(&log, &written, end);
    // One map that holds every key gives the same log.
    let (_s2, c2, mut log2) = new_log(compacted());
    write_rounds(&mut log2, &c2, 40, 5);
    settle(&mut log2);
    log2.compact(c2.now()).unwrap();
    assert_eq!(read_all(&log, 0), read_all(&log2, 0));
}

#[test]
fn compact_delete_both_compacts_and_deletes_by_size() {
    let (_s, c, mut log) = new_log(LogConfig {
        cleanup_policy: CleanupPolicy {
            compact: true,
            delete: true,
        },
        retention_bytes: 3000,
        retention_ms: -1,
        ..compacted()
    });
    let written = write_rounds(&mut log, &c, 30, 6);
    settle(&mut log);
    let before = log.size_in_bytes();
    let out = log.run_retention(c.now()).unwrap();
    assert!(out.segments_deleted > 0);
    let start = log.log_start_offset();
    assert!(start > 0);
    log.compact(c.now()).unwrap();
    assert!(log.size_in_bytes() < before);
    let rest: Vec<(i64, String)> = written.into_iter().filter(|(o, _)| *o >= start).collect();
    assert_latest_only(&log, &rest, log.log_end_offset());
}

#[test]
fn appends_between_plan_and_swap_are_kept() {
    let (_s, c, mut log) = new_log(compacted());
    let mut written = write_rounds(&mut log, &c, 10, 10);
    settle(&mut log);
    let cleanable_end = log.log_end_offset();
    let plan = log.plan_cleaning(c.now()).unwrap().unwrap();
    // The cleaner works without the log: the log takes appends and rolls meanwhile.
    written.extend(write_rounds(&mut log, &c, 10, 3));
    log.roll().unwrap();
    let mut swapped = 0;
    let out = plan
        .clean(&CleanOptions::default(), &mut |seg| {
            swapped += 1;
            log.swap_cleaned(seg)
        })
        .unwrap();
    assert_eq!(out.segments_discarded, 0);
    assert!(swapped > 0);
    log.finish_cleaning(&out);
    assert_eq!(log.cleaner_offset(), cleanable_end);
    assert_latest_only(&log, &written[..cleanable_end as usize], cleanable_end);
    // Everything appended after the plan is there as written.
    let after: Vec<i64> = read_all(&log, cleanable_end)
        .into_iter()
        .map(|(o, _)| o)
        .collect();
    assert_eq!(
        after,
        (cleanable_end..log.log_end_offset()).collect::<Vec<_>>()
    );
}

#[test]
fn truncation_or_retention_under_a_cleaning_discards_its_copies() {
    // Truncation: every copy is discarded (or the cleaning stops, reading a
    // segment cut under it) and the checkpoint stays.
    let (s, c, mut log) = new_log(compacted());
    write_rounds(&mut log, &c, 10, 10);
    settle(&mut log);
    let plan = log.plan_cleaning(c.now()).unwrap().unwrap();
    let bases = plan.segment_bases();
    assert!(bases.len() > 2);
    log.truncate_to(bases[1] + 1).unwrap();
    let before = read_all(&log, 0);
    let mut swaps = (0, 0);
    let r = plan.clean(&CleanOptions::default(), &mut |seg| {
        let swapped = log.swap_cleaned(seg)?;
        if swapped {
            swaps.0 += 1
        } else {
            swaps.1 += 1
        }
        Ok(swapped)
    });
    assert_eq!(swaps.0, 0);
    assert!(r.is_err() || swaps.1 > 0);
    if let Ok(out) = r {
        log.finish_cleaning(&out);
    }
    assert!(log.cleaner_offset() <= bases[1] + 1);
    assert_eq!(read_all(&log, 0), before);
    let names = vltava_storage::Storage::list_dir(&s, &dir()).unwrap();
    assert!(
        !names
            .iter()
            .any(|n| n.contains(".cleaned") || n.contains(".swap")),
        "{names:?}"
    );

    // A truncation past the planned segments: they read fine, yet every copy is
    // discarded (the truncation may have been below the plan's view of the log).
    let (_s, c, mut log) = new_log(compacted());
    write_rounds(&mut log, &c, 10, 10);
    settle(&mut log);
    let end = log.log_end_offset();
    let plan = log.plan_cleaning(c.now()).unwrap().unwrap();
    write_rounds(&mut log, &c, 10, 2);
    log.truncate_to(end + 5).unwrap();
    let before = read_all(&log, 0);
    let out = plan
        .clean(&CleanOptions::default(), &mut |seg| log.swap_cleaned(seg))
        .unwrap();
    assert_eq!(out.segments_cleaned, 0);
    assert!(out.segments_discarded > 0);
    log.finish_cleaning(&out);
    assert_eq!(log.cleaner_offset(), 0);
    assert_eq!(read_all(&log, 0), before);

    // Retention deleted the first segments: their copies go, the rest swap in.
    let (_s, c, mut log) = new_log(LogConfig {
        cleanup_policy: CleanupPolicy {
            compact: true,
            delete: true,
        },
        retention_ms: -1,
        ..compacted()
    });
    let written = write_rounds(&mut log, &c, 10, 10);
    settle(&mut log);
    let plan = log.plan_cleaning(c.now()).unwrap().unwrap();
    let bases = plan.segment_bases();
    log.delete_records_before(bases[2]).unwrap();
    log.run_retention(c.now()).unwrap();
    assert_eq!(log.segment_base_offsets()[0], bases[2]);
    let out = plan
        .clean(&CleanOptions::default(), &mut |seg| log.swap_cleaned(seg))
        .unwrap();
    assert!(
        out.segments_discarded >= 1 && out.segments_cleaned >= 1,
        "{out:?}"
    );
    let end = *bases.last().unwrap();
    let rest: Vec<(i64, String)> = written
        .into_iter()
        .filter(|(o, _)| *o >= bases[2])
        .collect();
    // Below the last planned segment only latest values remain (that segment's own
    // later records are all there).
    let mut latest = BTreeMap::new();
    for (o, k) in &rest {
        latest.insert(k.clone(), *o);
    }
    for (o, v) in read_all(&log, bases[2])
        .into_iter()
        .filter(|(o, _)| *o < end)
    {
        assert_eq!(latest.get(&key_of(&v)), Some(&o));
    }
}

#[test]
fn tombstones_go_after_delete_retention_ms_and_the_log_says_when() {
    let (_s, c, mut log) = new_log(compacted());
    write_rounds(&mut log, &c, 5, 2);
    log.append_as_leader(
        &mut keyed_batch(&[(b"key0".to_vec(), None)], c.now(), Compression::None),
        0,
    )
    .unwrap();
    settle(&mut log);
    log.compact(c.now()).unwrap();
    // The tombstone is young: kept, and due after delete.retention.ms.
    assert_eq!(
        read_all(&log, 0)
            .iter()
            .filter(|(_, v)| v.is_none())
            .count(),
        1
    );
    assert!(!log.dirty_stats(c.now()).unwrap().tombstones_due);
    c.advance(1_001);
    let s = log.dirty_stats(c.now()).unwrap();
    assert!(s.tombstones_due && s.needs_cleaning(1.0));
    log.compact(c.now()).unwrap();
    assert!(read_all(&log, 0).iter().all(|(_, v)| v.is_some()));
    assert!(!log.dirty_stats(c.now()).unwrap().tombstones_due);
}

#[test]
fn the_cleaner_checkpoint_falls_back_to_the_log_start_and_follows_truncation() {
    let (_s, c, mut log) = new_log(compacted());
    write_rounds(&mut log, &c, 10, 10);
    settle(&mut log);
    log.set_cleaner_offset(1_000_000);
    assert_eq!(log.cleaner_offset(), 0);
    log.set_cleaner_offset(50);
    assert_eq!(log.cleaner_offset(), 50);
    log.truncate_to(30).unwrap();
    assert_eq!(log.cleaner_offset(), 30);
}
