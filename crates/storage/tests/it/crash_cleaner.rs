//! The cleaner killed at every step of its swaps: `MemStorage` lets the first `n`
//! renames, removals and directory fsyncs through and then fails everything, as if
//! the process died there. Each image (as written, and as a power cut leaves it),
//! reopened trusting its segments or recovering them all, holds for every segment
//! either its old records or its cleaned ones, at identical offsets, so every key's
//! latest value is there; no `.cleaned`, `.swap` or `.deleted` file is left, and the
//! log takes appends at its old end.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
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
