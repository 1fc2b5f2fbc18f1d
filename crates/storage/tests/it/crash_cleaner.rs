//! The cleaner killed at every step of its swaps: `MemStorage` lets the first `n`
//! renames, removals and directory fsyncs through and then fails everything, as if
//! the process died there. Each image (as written, and as a power cut leaves it),
//! reopened trusting its segments or recovering them all, holds for every segment
//! either its old records or its cleaned ones, at identical offsets, so every key's
//! latest value is there; no `.cleaned`, `.swap` or `.deleted` file is left, and the
//! log takes appends at its old end.

#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::Ordering;

use crate::common::*;
use vltava_records::Compression;
use vltava_storage::{CleanupPolicy, LogConfig, LogOpenOptions, ManualClock, MemStorage, Storage};

type Image = BTreeMap<std::path::PathBuf, Vec<u8>>;

fn config() -> LogConfig {
    LogConfig {
        cleanup_policy: CleanupPolicy::COMPACT,
        ..small_config()
    }
}

/// A flushed compacted log of 10 keys × 12 rounds over several segments, with a
/// tombstone; its image and records.
fn build(c: &ManualClock) -> (Image, Vec<Rec>, i64) {
    let s = MemStorage::new();
    let mut log = open(&s, c, config(), LogOpenOptions::default());
    for r in 0..12 {
        for k in 0..10 {
            let v = (r != 11 || k != 3).then(|| format!("key{k}:{r}").into_bytes());
            log.append_as_leader(
                &mut keyed_batch(
                    &[(format!("key{k}").into_bytes(), v)],
                    c.now(),
                    Compression::None,
                ),
                0,
            )
            .unwrap();
        }
    }
    log.roll().unwrap();
    log.flush().unwrap();
    log.set_high_watermark(log.log_end_offset());
    let leo = log.log_end_offset();
    let recs = read_all(&log, 0);
    log.close().unwrap();
    (s.snapshot(), recs, leo)
}

fn reopen(img: Image, c: &ManualClock, rp: i64) -> (MemStorage, vltava_storage::Log) {
    let s = MemStorage::from_image(img);
    let opts = LogOpenOptions {
        recovery_point: rp,
        log_start_offset: 0,
        high_watermark: None,
    };
    let log = open(&s, c, config(), opts);
    (s, log)
}

/// The records of `all` in `[from, to)`.
fn range(all: &[Rec], from: i64, to: i64) -> Vec<Rec> {
    all.iter()
        .filter(|(o, _)| *o >= from && *o < to)
        .cloned()
        .collect()
}

#[test]
fn a_cleaner_killed_at_any_step_of_a_swap_leaves_old_or_cleaned_segments() {
    let c = ManualClock::new(1_000_000);
    let (img0, old, leo) = build(&c);
    // The whole cleaning without faults: the cleaned records and the step count.
    let (s, mut log) = reopen(img0.clone(), &c, leo);
    let bases = log.segment_base_offsets();
    assert!(bases.len() >= 4, "{bases:?}");
    let before = s.stats().dir_ops.load(Ordering::Relaxed);
    let out = log.compact(c.now()).unwrap();
    assert!(out.segments_cleaned >= 3, "{out:?}");
    let steps = s.stats().dir_ops.load(Ordering::Relaxed) - before;
    let cleaned = read_all(&log, 0);
    assert_ne!(cleaned, old);
    // Every key's latest record (the tombstone is young: kept).
    let mut latest = BTreeMap::new();
    for (o, v) in &old {
        let key = o % 10;
        latest.insert(key, (*o, v.clone()));
    }
    let mut bounds = bases.clone();
    bounds.push(leo);
    let (mut all_old, mut all_cleaned, mut mixed) = (0, 0, 0);
    for n in 0..=steps + 1 {
        let (s, mut log) = reopen(img0.clone(), &c, leo);
        s.stats().dir_ops_left.store(n, Ordering::Relaxed);
        s.stats().dir_ops_limited.store(true, Ordering::Relaxed);
        let r = log.compact(c.now());
        // (The last steps remove `.deleted` files; failing them is not an error.)
        assert!(n < steps || r.is_ok(), "step {n} of {steps}: {r:?}");
        drop(log);
        for (what, img) in [("crash", s.snapshot()), ("power cut", s.power_cut_image())] {
            for rp in [leo, 0] {
                let (s2, mut log2) = reopen(img.clone(), &c, rp);
                let got = read_all(&log2, 0);
                let (mut olds, mut news) = (0, 0);
                for w in bounds.windows(2) {
                    let part = range(&got, w[0], w[1]);
                    if range(&old, w[0], w[1]) == range(&cleaned, w[0], w[1]) {
                        assert_eq!(part, range(&old, w[0], w[1]), "step {n} ({what})");
                    } else if part == range(&old, w[0], w[1]) {
                        olds += 1;
                    } else if part == range(&cleaned, w[0], w[1]) {
                        news += 1;
                    } else {
                        panic!(
                            "step {n} ({what}, rp {rp}): segment {} is neither old nor cleaned",
                            w[0]
                        );
                    }
                }
                match (olds, news) {
                    (_, 0) => all_old += 1,
                    (0, _) => all_cleaned += 1,
                    _ => mixed += 1,
                }
                for (o, v) in latest.values() {
                    assert!(
                        got.contains(&(*o, v.clone())),
                        "step {n} ({what}): latest {o} lost"
                    );
                }
                let names = s2.list_dir(&dir()).unwrap();
                assert!(
                    !names.iter().any(|n| n.ends_with(".cleaned")
                        || n.ends_with(".swap")
                        || n.ends_with(".deleted")),
                    "step {n} ({what}): {names:?}"
                );
                assert_eq!(log2.log_end_offset(), leo);
                let info = log2
                    .append_as_leader(&mut batch(&[b"more"], c.now()), 0)
                    .unwrap();
                assert_eq!(info.first_offset, leo);
            }
        }
    }
    assert!(
        all_old > 0 && all_cleaned > 0 && mixed > 0,
        "{all_old} {all_cleaned} {mixed}"
    );
}

/// The cleaning that drops transaction markers past their delete horizon (with
/// their emptied headers, `.txnindex` entries and the producer snapshots inside
/// them), killed at every step: each image, reopened trusting its segments,
/// recovering them, or replaying producer state without snapshots, has no
/// transactional batch left without its marker (no open transaction, the last
/// stable offset at the log end), the same producer state and read_committed view,
/// and only `.txnindex` entries whose markers are still there.
#[test]
fn a_cleaner_killed_while_dropping_markers_leaves_consistent_transactions() {
    use crate::cleaner_txn::{
        RETENTION, header_at, headers, reopen, reopen_points, standard, state,
    };
    let mut w = standard();
    let t0 = w.c.now();
    assert_eq!(w.log.compact(t0).unwrap().markers_stamped, 3);
    let stamped = state(&w.log);
    let leo = w.log.log_end_offset();
    w.log.close_in_place().unwrap();
    let img0 = w.s.snapshot();
    let c = w.c.clone();
    let (old, points): (BTreeSet<i64>, _) = {
        let (_s, log) = reopen(&img0, &c, leo, false);
        let old = headers(&log).iter().map(|h| h.base_offset).collect();
        (old, reopen_points(&log))
    };
    // The fault-free cleaning: what it drops and how many steps it takes.
    let (s, mut log) = reopen(&img0, &c, leo, false);
    let before = s.stats().dir_ops.load(Ordering::Relaxed);
    let out = log.compact(t0 + RETENTION).unwrap();
    assert_eq!(out.markers_removed, 2, "{out:?}");
    let steps = s.stats().dir_ops.load(Ordering::Relaxed) - before;
    let kept: BTreeSet<i64> = headers(&log).iter().map(|h| h.base_offset).collect();
    let dropped: BTreeSet<i64> = old.difference(&kept).copied().collect();
    let markers: Vec<i64> = w
        .txns
        .keys()
        .filter(|(_, m)| dropped.contains(m))
        .map(|(_, m)| *m)
        .collect();
    assert_eq!(markers.len(), 2);
    drop(log);
    let mut markers_left = BTreeSet::new();
    for n in 0..=steps + 1 {
        let (s, mut log) = reopen(&img0, &c, leo, false);
        s.stats().dir_ops_left.store(n, Ordering::Relaxed);
        s.stats().dir_ops_limited.store(true, Ordering::Relaxed);
        let r = log.compact(t0 + RETENTION);
        assert!(n < steps || r.is_ok(), "step {n} of {steps}: {r:?}");
        drop(log);
        for (what, img) in [("crash", s.snapshot()), ("power cut", s.power_cut_image())] {
            for &(rp, bare) in &points {
                let at = format!("step {n} of {steps} ({what}, rp {rp}, no snapshots {bare})");
                let (s2, mut log2) = reopen(&img, &c, rp, bare);
                log2.set_high_watermark(log2.log_end_offset());
                let got = state(&log2);
                assert_eq!(got.leo, leo, "{at}");
                assert_eq!(got.lso, leo, "{at}: a transaction was left open");
                assert_eq!(got.producers, stamped.producers, "{at}");
                assert_eq!(got.committed, stamped.committed, "{at}");
                // An entry rebuilt while part of its transaction's headers are
                // gone starts at the first one left.
                for a in &got.aborted {
                    assert!(
                        stamped
                            .aborted
                            .iter()
                            .any(|o| o.0 == a.0 && o.2 == a.2 && o.1 <= a.1),
                        "{at}: {a:?}"
                    );
                    assert!(
                        header_at(&log2, a.2).is_some(),
                        "{at}: entry without marker"
                    );
                }
                let present: BTreeSet<i64> = headers(&log2).iter().map(|h| h.base_offset).collect();
                assert!(present.is_subset(&old), "{at}");
                assert!(
                    old.difference(&present).all(|o| dropped.contains(o)),
                    "{at}"
                );
                markers_left.insert(markers.iter().filter(|m| present.contains(m)).count());
                let names = s2.list_dir(&dir()).unwrap();
                assert!(
                    !names.iter().any(|n| n.ends_with(".cleaned")
                        || n.ends_with(".swap")
                        || n.ends_with(".deleted")),
                    "{at}: {names:?}"
                );
                log2.append_as_leader(&mut txn_batch(999, 0, 0, 1, 1), 0)
                    .unwrap();
                log2.append_control_marker(999, 0, 0, false, 0, 1).unwrap();
            }
        }
    }
    // Images with both markers, one, and none.
    assert_eq!(markers_left, BTreeSet::from([0, 1, 2]));
}
