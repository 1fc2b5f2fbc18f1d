//! Crash tests for transactions: a log of transactional batches, markers and plain
//! batches over many segments, cut at every byte, with damaged `.txnindex` files,
//! and power-cut after every step. Every reopened log must serve records as they
//! were appended, and its last stable offset and aborted transactions must be
//! exactly what the surviving batches say.
#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use crate::common::*;
use vltava_storage::{Log, LogOpenOptions, ManualClock, MemStorage};

type Image = BTreeMap<PathBuf, Vec<u8>>;

const PIDS: [i64; 3] = [501, 502, 503];

/// One step of a fixed workload: transactional batches from three producers,
/// plain batches, and COMMIT/ABORT markers (some for producers with nothing
/// open). Appends what it wrote to `records` and `events`.
fn step(log: &mut Log, i: usize, records: &mut Vec<Rec>, events: &mut Vec<TxnEvent>) {
    let pid = PIDS[(i * 7 / 3) % 3];
    let before = log.log_end_offset();
    match i % 6 {
        0 | 3 | 4 => {
            let seq = log
                .producer_state()
                .get(pid)
                .and_then(|e| e.batches.back())
                .map_or(0, |b| b.last_seq + 1);
            let n = 1 + i % 4;
            let info = log
                .append_as_leader(&mut txn_batch(pid, 0, seq, n, 1000 + i as i64), 0)
                .unwrap();
            events.push(TxnEvent::Data {
                pid,
                base: info.first_offset,
            });
        }
        1 => {
            let v = format!("plain-{i}-{}", "p".repeat(i % 50)).into_bytes();
            log.append_as_leader(&mut batch(&[&v], 1000 + i as i64), 0)
                .unwrap();
        }
        _ => {
            let commit = i % 4 == 1;
            let info = log
                .append_control_marker(pid, 0, 0, commit, 0, 1000 + i as i64)
                .unwrap();
            events.push(TxnEvent::Marker {
                pid,
                offset: info.first_offset,
                commit,
            });
        }
    }
    let bytes = log
        .read_bytes(
            before,
            1 << 20,
            vltava_storage::FetchIsolation::LogEnd,
            true,
        )
        .unwrap();
    records.extend(records_of(&bytes).into_iter().filter(|r| r.0 >= before));
}

/// Opens `img` and checks records and transactions against what survived.
/// Returns the log end offset.
fn check(img: Image, records: &[Rec], events: &[TxnEvent], rp: i64) -> i64 {
    let s = MemStorage::from_image(img);
    let c = ManualClock::new(9_000_000);
    let mut log = open(
        &s,
        &c,
        small_config(),
        LogOpenOptions {
            recovery_point: rp,
            ..Default::default()
        },
    );
    let got = read_all(&log, 0);
    for (i, r) in got.iter().enumerate() {
        assert!(
            records.iter().find(|x| x.0 == r.0) == Some(r),
            "offset {} served wrong data",
            r.0
        );
        assert!(i == 0 || got[i - 1].0 < r.0);
    }
    // Batches that survived, by their headers (compaction empties aborted
    // transactional batches but keeps them).
    let present: BTreeSet<i64> = log
        .segments()
        .flat_map(|seg| seg.headers().unwrap())
        .map(|(_, h)| h.base_offset)
        .collect();
    let survivors: Vec<TxnEvent> = events
        .iter()
        .copied()
        .filter(|e| present.contains(&e.offset()))
        .collect();
    let (open_txns, aborted) = expected_txns(&survivors);
    let leo = log.log_end_offset();
    log.set_high_watermark(leo);
    let lso = open_txns.values().copied().min().unwrap_or(leo).min(leo);
    assert_eq!(log.last_stable_offset(), lso, "last stable offset");
    assert_eq!(log.aborted_transactions(0, leo).unwrap(), aborted);
    assert_eq!(
        log.aborted_transactions(0, lso).unwrap(),
        aborted
            .iter()
            .copied()
            .filter(|t| t.first_offset < lso)
            .collect::<Vec<_>>()
    );
    for seg in log.segments() {
        for t in seg.aborted_txns() {
            assert!(t.last_offset >= seg.base_offset() && t.last_offset < seg.next_offset());
        }
    }
    // The log takes transactions after recovery.
    let first = log.log_end_offset();
    log.append_as_leader(&mut txn_batch(999, 0, 0, 1, 1), 0)
        .unwrap();
    let m = log.append_control_marker(999, 0, 0, false, 0, 1).unwrap();
    log.set_high_watermark(log.log_end_offset());
    assert_eq!(
        log.aborted_transactions(first, log.log_end_offset())
            .unwrap()
            .last()
            .map(|t| (t.producer_id, t.first_offset, t.last_offset)),
        Some((999, first, m.first_offset))
    );
    leo
}

fn workload(steps: usize) -> (MemStorage, Vec<Rec>, Vec<TxnEvent>, i64) {
    let (s, _c, mut log) = new_log(small_config());
    let (mut records, mut events) = (Vec::new(), Vec::new());
    for i in 0..steps {
        step(&mut log, i, &mut records, &mut events);
    }
    let leo = log.log_end_offset();
    assert!(log.segment_base_offsets().len() >= 3);
    let (_, aborted) = expected_txns(&events);
    assert!(aborted.len() >= 4, "{aborted:?}");
    log.close().unwrap();
    (s, records, events, leo)
}

fn files_with(img: &Image, ext: &str) -> Vec<PathBuf> {
    img.keys()
        .filter(|p| p.extension().is_some_and(|e| e == ext))
        .cloned()
        .collect()
}

#[test]
fn cutting_any_log_file_at_every_byte_keeps_transactions_consistent() {
    let (s, records, events, leo) = workload(60);
    let img = s.snapshot();
    assert_eq!(check(img.clone(), &records, &events, leo), leo);
    let mut cases = 0;
    for f in files_with(&img, "log") {
        for cut in 0..img[&f].len() {
            let mut img2 = img.clone();
            img2.get_mut(&f).unwrap().truncate(cut);
            check(img2, &records, &events, 0);
            cases += 1;
        }
    }
    assert!(cases > 2000, "{cases}");
}

#[test]
fn damaged_txn_index_files_are_rebuilt() {
    let (s, records, events, leo) = workload(60);
    let img = s.snapshot();
    let (_, aborted) = expected_txns(&events);
    let files = files_with(&img, "txnindex");
    assert_eq!(
        files.len(),
        files_with(&img, "log").len(),
        "one per segment"
    );
    assert!(files.iter().filter(|f| !img[*f].is_empty()).count() >= 2);
    for f in &files {
        let len = img[f].len();
        assert_eq!(len % 34, 0);
        for cut in 0..len {
            let mut img2 = img.clone();
            img2.get_mut(f).unwrap().truncate(cut);
            // Recovered segments rebuild their index from the markers.
            check(img2.clone(), &records, &events, 0);
            if cut % 34 != 0 {
                // A torn index fails its checks and is rebuilt even in a segment
                // below the recovery point.
                check(img2, &records, &events, leo);
            }
        }
        for at in [0, 1, 34, 35] {
            if at < len {
                let mut img2 = img.clone();
                img2.get_mut(f).unwrap()[at] ^= 0x40;
                check(img2, &records, &events, leo);
            }
        }
        // Entries out of order, or naming a marker past the segment's end.
        if len >= 68 {
            let mut img2 = img.clone();
            let b = img2.get_mut(f).unwrap();
            let (a, rest) = b.split_at_mut(34);
            a.swap_with_slice(&mut rest[..34]);
            check(img2, &records, &events, leo);
        }
        if len >= 34 {
            let mut img2 = img.clone();
            let b = img2.get_mut(f).unwrap();
            b[18..26].copy_from_slice(&(leo + 100).to_be_bytes());
            check(img2, &records, &events, leo);
        }
        // A missing file is damage too, below the recovery point or not.
        for rp in [0, leo] {
            let mut img2 = img.clone();
            img2.remove(f);
            check(img2, &records, &events, rp);
        }
    }
    // A stray `.txnindex` without its segment is removed on open.
    let mut img2 = img.clone();
    img2.insert(
        dir().join("00000000000099999999.txnindex"),
        aborted[0].encode().to_vec(),
    );
    let s2 = MemStorage::from_image(img2);
    let c = ManualClock::new(1);
    let log = open(&s2, &c, small_config(), LogOpenOptions::default());
    assert!(
        !s2.snapshot()
            .contains_key(&dir().join("00000000000099999999.txnindex"))
    );
    assert_eq!(log.aborted_transactions(0, leo).unwrap(), aborted);
}

/// Power cuts (only fsynced bytes survive) and process crashes (everything
/// written survives) after every step of a workload that also flushes, rolls
/// and compacts: each image reopens with its transactions consistent.
#[test]
fn power_cuts_during_a_transactional_workload_reopen_consistently() {
    use vltava_storage::{CleanupPolicy, LogConfig};
    let (s, c, mut log) = new_log(LogConfig {
        cleanup_policy: CleanupPolicy::COMPACT,
        ..small_config()
    });
    let mut cleaned = 0;
    let (mut records, mut events) = (Vec::new(), Vec::new());
    for i in 0..90usize {
        step(&mut log, i, &mut records, &mut events);
        match i % 9 {
            2 => {
                if let Some(job) = log.rolled_flush_job() {
                    let r = job.run();
                    log.complete_flush(&job, r).unwrap();
                }
            }
            5 => log.flush().unwrap(),
            7 => log.roll().unwrap(),
            8 => {
                // Compaction removes aborted records (and old plain values).
                log.set_high_watermark(log.log_end_offset());
                log.flush().unwrap();
                cleaned += log.compact(c.now()).unwrap().segments_cleaned;
            }
            _ => {}
        }
        let rp = log.recovery_point();
        check(s.power_cut_image(), &records, &events, rp);
        check(s.snapshot(), &records, &events, rp);
    }
    assert!(cleaned > 0, "compaction cleaned nothing");
}
