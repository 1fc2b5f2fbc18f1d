//! Crash tests: cut a log's files at every byte, flip bytes, drop unsynced data,
//! and check that reopening recovers a valid prefix of what was appended, with
//! correct indexes, without panicking; and that recovery reads only from the
//! recovery point on.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::Ordering;

use crate::common::*;
use vltava_records::BatchIter;
use vltava_storage::{FetchIsolation, Log, LogOpenOptions, ManualClock, MemStorage};

type Image = BTreeMap<PathBuf, Vec<u8>>;

fn value(i: usize) -> Vec<u8> {
    format!("record-{i}-{}", "y".repeat(i % 37)).into_bytes()
}

/// A log of several small segments; returns the storage (unclean: not closed) and
/// the records appended, in offset order.
fn build(batches: usize) -> (MemStorage, ManualClock, Vec<Rec>) {
    let (s, c, mut log) = new_log(small_config());
    let mut expected = Vec::new();
    let mut i = 0;
    for b in 0..batches {
        let n = 1 + b % 3;
        let vals: Vec<Vec<u8>> = (i..i + n).map(value).collect();
        let refs: Vec<&[u8]> = vals.iter().map(|v| v.as_slice()).collect();
        let info = log
            .append_as_leader(&mut batch(&refs, 1000 + b as i64), (b / 10) as i32)
            .unwrap();
        for (k, v) in vals.into_iter().enumerate() {
            expected.push((info.first_offset + k as i64, Some(v)));
        }
        i += n;
    }
    drop(log);
    (s, c, expected)
}

/// Opens the image and checks every invariant: the log is exactly a prefix of
/// `expected`, reads work at every offset, and (with `rp == 0`, so every segment
/// was recovered) every index entry is exact. Returns the log end offset.
fn check_recovers_prefix(img: Image, expected: &[Rec], rp: i64) -> i64 {
    check_recovery(img, expected, rp, true)
}

/// Like `check_recovers_prefix`; without `prefix`, the records served must form a
/// prefix of `expected` but the log end offset may lie past them: a segment cut
/// exactly at a batch boundary loses its tail without a torn batch to show for it,
/// and the later segments stay (a gap the format cannot tell from compaction).
fn check_recovery(img: Image, expected: &[Rec], rp: i64, prefix: bool) -> i64 {
    let s = MemStorage::from_image(img);
    let c = ManualClock::new(5_000_000);
    let log = open(
        &s,
        &c,
        small_config(),
        LogOpenOptions {
            recovery_point: rp,
            ..Default::default()
        },
    );
    let got = read_all(&log, 0);
    let leo = log.log_end_offset();
    if prefix {
        assert_eq!(got.len() as i64, leo, "records are contiguous from 0");
        assert!(
            got[..] == expected[..got.len()],
            "recovered data is a prefix"
        );
    } else {
        // Served records are in order and each is the one appended at its offset;
        // what is missing is a run of unflushed records before a segment boundary.
        for (i, r) in got.iter().enumerate() {
            assert!(
                Some(r) == expected.get(r.0 as usize),
                "offset {} served wrong data",
                r.0
            );
            assert!(i == 0 || got[i - 1].0 < r.0);
        }
    }
    if rp == 0 {
        check_indexes(&log);
    }
    // Every offset is readable on its own (exercises index lookups).
    for o in got.iter().map(|r| r.0).step_by(7) {
        let bytes = log.read_bytes(o, 1, FetchIsolation::LogEnd, true).unwrap();
        let first = BatchIter::new(&bytes).next().unwrap().unwrap();
        let h = first.header();
        assert!(
            h.base_offset <= o && o <= h.last_offset(),
            "offset {o} read batch {h:?}"
        );
    }
    // The log takes appends after recovery.
    let mut log = log;
    let info = log.append_as_leader(&mut batch(&[b"after"], 1), 9).unwrap();
    assert_eq!(info.first_offset, leo);
    leo
}

fn check_indexes(log: &Log) {
    for seg in log.segments() {
        let mut prev = None;
        for (off, pos) in seg.offset_index().entries() {
            let h = seg.header_at(u64::from(pos)).unwrap().unwrap();
            assert_eq!(h.last_offset(), off, "index entry points at its batch");
            if let Some(p) = prev {
                assert!(off > p);
            }
            prev = Some(off);
        }
        if let Some((ts, off)) = seg.time_index().last_entry() {
            assert!(ts <= seg.max_timestamp());
            assert!(off < seg.next_offset());
        }
    }
}

fn log_files(img: &Image) -> Vec<PathBuf> {
    img.keys()
        .filter(|p| p.extension().is_some_and(|e| e == "log"))
        .cloned()
        .collect()
}

#[test]
fn cutting_any_log_file_at_every_byte_recovers_a_prefix() {
    let (s, _c, expected) = build(60);
    let img = s.snapshot();
    let files = log_files(&img);
    assert!(files.len() >= 3, "several segments: {files:?}");
    let last = files.last().unwrap().clone();
    let mut cases = 0;
    for f in &files {
        let bytes = &img[f];
        let boundaries: Vec<usize> = BatchIter::new(bytes)
            .scan(0, |pos, v| {
                *pos += v.unwrap().bytes().len();
                Some(*pos)
            })
            .collect();
        for cut in 0..bytes.len() {
            let mut img2 = img.clone();
            img2.get_mut(f).unwrap().truncate(cut);
            // A torn batch (or any cut of the last segment) leaves an exact prefix:
            // the segments after a torn one are dropped.
            let torn = !boundaries.contains(&cut) && cut > 0;
            let leo = check_recovery(img2, &expected, 0, *f == last || torn);
            assert!(leo <= expected.len() as i64);
            cases += 1;
        }
    }
    assert!(cases > 2000, "{cases}");
}

#[test]
fn flipped_bytes_never_surface_as_data() {
    let (s, _c, expected) = build(40);
    let img = s.snapshot();
    for f in log_files(&img) {
        let bytes = &img[&f];
        // Batch boundaries, to skip the base offset and leader epoch fields, which
        // the format leaves outside the CRC (see docs/log-format.md).
        let mut unprotected = Vec::new();
        let mut pos = 0;
        for v in BatchIter::new(bytes) {
            let n = v.unwrap().bytes().len();
            unprotected.extend(pos..pos + 8);
            unprotected.extend(pos + 12..pos + 16);
            pos += n;
        }
        for at in (0..bytes.len()).filter(|i| !unprotected.contains(i)) {
            let mut img2 = img.clone();
            img2.get_mut(&f).unwrap()[at] ^= 0x5a;
            let leo = check_recovers_prefix(img2, &expected, 0);
            assert!(
                leo < expected.len() as i64,
                "flip at {at} of {f:?} went unnoticed"
            );
        }
    }
}

#[test]
fn flipped_or_cut_index_files_are_rebuilt_or_ignored() {
    let (s, c, mut log) = new_log(small_config());
    for i in 0..60 {
        log.append_as_leader(&mut batch(&[&value(i)], 1000 + i as i64), 0)
            .unwrap();
    }
    let expected = read_all(&log, 0);
    let rp = log.log_end_offset();
    log.close().unwrap();
    let _ = c;
    let img = s.snapshot();
    let index_files: Vec<PathBuf> = img
        .keys()
        .filter(|p| {
            p.extension()
                .is_some_and(|e| e == "index" || e == "timeindex")
        })
        .cloned()
        .collect();
    for f in index_files {
        for at in 0..img[&f].len() {
            let mut img2 = img.clone();
            img2.get_mut(&f).unwrap()[at] ^= 0x81;
            // Trusted path (recovery point at the end): indexes are not rebuilt
            // unless they fail their checks, yet reads must stay right.
            let leo = check_recovers_prefix(img2, &expected, rp);
            assert_eq!(leo, rp);
        }
        let mut img2 = img.clone();
        img2.get_mut(&f).unwrap().truncate(5);
        assert_eq!(check_recovers_prefix(img2, &expected, rp), rp);
        let mut img2 = img.clone();
        img2.remove(&f);
        assert_eq!(check_recovers_prefix(img2, &expected, rp), rp);
    }
}

#[test]
fn power_cut_keeps_everything_flushed() {
    let (s, c, mut log) = new_log(small_config());
    let mut expected = Vec::new();
    let mut durable = 0;
    let mut rp = 0;
    for i in 0..50 {
        let info = log
            .append_as_leader(&mut batch(&[&value(i)], 1), 0)
            .unwrap();
        expected.push((info.first_offset, Some(value(i))));
        if i % 7 == 3 {
            log.flush().unwrap();
            durable = log.log_end_offset();
            rp = log.recovery_point();
        } else if i % 5 == 0 {
            // The broker's post-roll flush of finished segments.
            if let Some(job) = log.rolled_flush_job() {
                let r = job.run();
                log.complete_flush(&job, r).unwrap();
                durable = durable.max(job.up_to());
                rp = log.recovery_point();
            }
        }
        // A power cut now loses only what was not flushed. (A rolled segment whose
        // tail was not flushed yet leaves a gap before the next segment.)
        let img = s.power_cut_image();
        let s2 = MemStorage::from_image(img.clone());
        let opts = LogOpenOptions {
            recovery_point: rp,
            ..Default::default()
        };
        let served = read_all(&open(&s2, &c, small_config(), opts), 0);
        assert!(
            served.len() as i64 >= durable,
            "flushed data lost: {} < {durable}",
            served.len()
        );
        check_recovery(img, &expected, rp, false);
    }
    let _ = c;
}

#[test]
fn recovery_reads_only_from_the_recovery_point() {
    let config = vltava_storage::LogConfig {
        segment_bytes: 16 * 1024,
        ..small_config()
    };
    let s = MemStorage::new();
    let c = ManualClock::new(0);
    let mut log = open(&s, &c, config.clone(), LogOpenOptions::default());
    for i in 0..2000 {
        log.append_as_leader(&mut batch(&[&value(i)], 1000), 0)
            .unwrap();
    }
    log.flush().unwrap();
    let rp = log.recovery_point();
    // More appends after the flush, then an unclean stop.
    for i in 0..5 {
        log.append_as_leader(&mut batch(&[&value(i)], 1000), 0)
            .unwrap();
    }
    let total = log.size_in_bytes();
    let active = log.segments().last().unwrap().size();
    let leo = log.log_end_offset();
    drop(log);
    let img = s.snapshot();
    let index_bytes: usize = img
        .iter()
        .filter(|(p, _)| {
            p.extension()
                .is_some_and(|e| e == "index" || e == "timeindex")
        })
        .map(|(_, b)| b.len())
        .sum();
    let segments = log_files(&img).len() as u64;

    let measure = |rp: i64| {
        let s2 = MemStorage::from_image(img.clone());
        let log = open(
            &s2,
            &c,
            config.clone(),
            LogOpenOptions {
                recovery_point: rp,
                ..Default::default()
            },
        );
        assert_eq!(log.log_end_offset(), leo);
        s2.stats().bytes_read.load(Ordering::Relaxed)
    };
    let from_rp = measure(rp);
    let full = measure(0);
    eprintln!(
        "log {total} B, active segment {active} B: read {from_rp} B from the recovery point, {full} B from 0"
    );
    assert!(full >= total, "a full recovery reads every byte");
    assert!(
        from_rp < total / 4,
        "recovery from the recovery point read {from_rp} of {total} bytes"
    );
    // Index files, the unflushed segment, and a few headers per trusted segment.
    assert!(
        from_rp <= active + index_bytes as u64 + segments * 1024,
        "{from_rp}"
    );
    // It reads the unflushed segment in full, and little else.
    assert!(from_rp >= active);
}

/// A workload of appends, rolls with post-roll flushes, retention, DeleteRecords
/// and compaction, with a power cut (only fsynced bytes survive) and a process
/// crash (everything written survives) simulated after every step: each image
/// reopens, serves only records that were appended at those offsets, in order,
/// and takes new appends.
#[test]
fn power_cuts_during_a_mixed_workload_reopen_consistently() {
    use vltava_storage::{CleanupPolicy, LogConfig};
    let config = LogConfig {
        cleanup_policy: CleanupPolicy {
            delete: true,
            compact: true,
        },
        retention_bytes: 1500,
        retention_ms: -1,
        ..small_config()
    };
    let s = MemStorage::new();
    let c = ManualClock::new(1_000_000);
    let mut log = open(&s, &c, config.clone(), LogOpenOptions::default());
    let mut appended: Vec<Rec> = Vec::new();
    let (mut cleaned, mut deleted) = (0, 0);
    let check = |img: Image, appended: &[Rec], rp: i64, log_start: i64| {
        let s2 = MemStorage::from_image(img);
        let opts = LogOpenOptions {
            recovery_point: rp,
            log_start_offset: log_start,
            high_watermark: None,
        };
        let mut log2 = open(&s2, &c, config.clone(), opts);
        let got = read_all(&log2, log2.log_start_offset());
        for (i, r) in got.iter().enumerate() {
            assert!(
                Some(r) == appended.get(r.0 as usize),
                "offset {} not as appended",
                r.0
            );
            assert!(i == 0 || got[i - 1].0 < r.0);
        }
        let leo = log2.log_end_offset();
        let info = log2.append_as_leader(&mut batch(&[b"x"], 1), 9).unwrap();
        assert_eq!(info.first_offset, leo);
    };
    for step in 0..120usize {
        let key = format!("key{}", step % 9).into_bytes();
        let value = Some(value(step));
        let info = log
            .append_as_leader(
                &mut keyed_batch(
                    &[(key, value.clone())],
                    1_000_000,
                    vltava_records::Compression::None,
                ),
                0,
            )
            .unwrap();
        assert_eq!(info.first_offset as usize, appended.len());
        appended.push((info.first_offset, value));
        match step % 10 {
            3 => {
                if let Some(job) = log.rolled_flush_job() {
                    let r = job.run();
                    log.complete_flush(&job, r).unwrap();
                }
            }
            6 => log.flush().unwrap(),
            8 => {
                log.set_high_watermark(log.log_end_offset());
                let out = log.run_retention(c.now()).unwrap();
                cleaned += log.compact(c.now()).unwrap().segments_cleaned;
                deleted += out.segments_deleted;
            }
            9 => {
                log.set_high_watermark(log.log_end_offset());
                let target = (log.log_start_offset() + 2).min(log.high_watermark());
                log.delete_records_before(target).unwrap();
            }
            _ => {}
        }
        let (rp, start) = (log.recovery_point(), log.log_start_offset());
        check(s.power_cut_image(), &appended, rp, start);
        check(s.snapshot(), &appended, rp, start);
    }
    assert!(
        cleaned > 0 && deleted > 0,
        "compacted {cleaned}, deleted {deleted}"
    );
}
