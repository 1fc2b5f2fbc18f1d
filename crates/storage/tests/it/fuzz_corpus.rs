//! Replays every file of the `storage_recover` fuzz corpus through the function
//! the fuzz target calls, so each test run exercises the corpus (and any crash
//! input added to it) without a fuzzer.
//!
//! `VLTAVA_WRITE_STORAGE_SEEDS=1 cargo test -p vltava-storage --test it fuzz_corpus::`
//! regenerates the seed files from real logs first.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use crate::common::*;
use proptest::prelude::*;
use vltava_storage::fuzz_support::{join_input, recover_from_bytes};

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/storage_recover")
}

/// Seeds from real logs: whole, torn, flipped, with snapshot and epochs.
fn seeds() -> Vec<(String, Vec<u8>)> {
    let (s, _c, mut log) = new_log(vltava_storage::LogConfig {
        segment_bytes: 1 << 20,
        index_interval_bytes: 64,
        segment_index_bytes: 1024,
        ..vltava_storage::LogConfig::default()
    });
    for i in 0..64 {
        if i % 4 == 0 {
            log.append_as_leader(
                &mut producer_batch(7, 0, i / 4, 1, 1000 + i64::from(i)),
                i / 16,
            )
            .unwrap();
        } else {
            let v = format!("value-{i}");
            log.append_as_leader(&mut batch(&[v.as_bytes()], 1000 + i64::from(i)), i / 16)
                .unwrap();
        }
    }
    log.roll().unwrap();
    for i in 0..5 {
        log.append_as_leader(&mut batch(&[b"tail"], 2000 + i), 4)
            .unwrap();
    }
    assert_eq!(log.segment_base_offsets(), vec![0, 64]);
    let img = s.snapshot();
    let d = dir();
    let get = |name: &str| img.get(&d.join(name)).cloned().unwrap_or_default();
    let seg0 = get("00000000000000000000.log");
    let idx0 = get("00000000000000000000.index");
    let tidx0 = get("00000000000000000000.timeindex");
    let seg64 = get("00000000000000000064.log");
    let snap = get("00000000000000000064.snapshot");
    let epochs = get("leader-epoch-checkpoint");
    assert!(!seg0.is_empty() && !seg64.is_empty() && !snap.is_empty() && !epochs.is_empty());
    let mut flipped = seg0.clone();
    let mid = flipped.len() / 2;
    flipped[mid] ^= 0x20;
    let mut out = vec![
        (
            "full".to_string(),
            join_input(0, &[&seg0, &idx0, &tidx0, &seg64, &snap, &epochs]),
        ),
        (
            "full-trusted".to_string(),
            join_input(1, &[&seg0, &idx0, &tidx0, &seg64, &snap, &epochs]),
        ),
        (
            "full-compact".to_string(),
            join_input(2, &[&seg0, &idx0, &tidx0, &seg64, &snap, &epochs]),
        ),
        (
            "torn-first-segment".to_string(),
            join_input(0, &[&seg0[..seg0.len() - 17], &idx0, &tidx0, &seg64]),
        ),
        (
            "flipped".to_string(),
            join_input(0, &[&flipped, &idx0, &tidx0]),
        ),
        ("log-only".to_string(), join_input(0, &[&seg0])),
        (
            "bad-index-trusted".to_string(),
            join_input(1, &[&seg0, &[0xff; 24], &[1; 36]]),
        ),
        (
            "garbage-snapshot-and-epochs".to_string(),
            join_input(
                0,
                &[
                    &seg0,
                    &[],
                    &[],
                    &seg64,
                    b"\x00\x01junk",
                    b"0\n2\n5 0\n3 1\n",
                ],
            ),
        ),
        ("empty".to_string(), Vec::new()),
    ];
    out.push(("zeros".to_string(), join_input(0, &[&[0u8; 200]])));
    out.extend(txn_seeds());
    out
}

/// Seeds with transactions: segment 0 holds eight rounds of two producers'
/// transactions (one aborted, one committed) around plain batches, so its
/// `.txnindex` has eight entries; segment 64 one more aborted transaction.
fn txn_seeds() -> Vec<(String, Vec<u8>)> {
    let (s, _c, mut log) = new_log(vltava_storage::LogConfig {
        segment_bytes: 1 << 20,
        index_interval_bytes: 64,
        segment_index_bytes: 1024,
        ..vltava_storage::LogConfig::default()
    });
    for round in 0..8 {
        let (a, b) = if round % 2 == 0 { (21, 22) } else { (22, 21) };
        let seq = |log: &vltava_storage::Log, pid: i64| {
            log.producer_state()
                .get(pid)
                .and_then(|e| e.batches.back())
                .map_or(0, |b| b.last_seq + 1)
        };
        let sa = seq(&log, a);
        log.append_as_leader(&mut txn_batch(a, 0, sa, 3, 1000 + round), 0)
            .unwrap();
        log.append_as_leader(&mut batch(&[b"plain"], 1000 + round), 0)
            .unwrap();
        let sb = seq(&log, b);
        log.append_as_leader(&mut txn_batch(b, 0, sb, 2, 1000 + round), 0)
            .unwrap();
        log.append_control_marker(a, 0, 1, false, 0, 1000 + round)
            .unwrap();
        log.append_control_marker(b, 0, 1, true, 0, 1000 + round)
            .unwrap();
    }
    assert_eq!(log.log_end_offset(), 64);
    log.roll().unwrap();
    log.append_as_leader(&mut txn_batch(23, 0, 0, 2, 2000), 1)
        .unwrap();
    log.append_control_marker(23, 0, 1, false, 1, 2001).unwrap();
    let img = s.snapshot();
    let d = dir();
    let get = |name: &str| img.get(&d.join(name)).cloned().unwrap_or_default();
    let files: Vec<Vec<u8>> = vltava_storage::fuzz_support::FILES
        .iter()
        .map(|n| get(n))
        .collect();
    assert_eq!(files[6].len(), 8 * 34, "segment 0's .txnindex");
    let refs: Vec<&[u8]> = files.iter().map(Vec::as_slice).collect();
    let mut torn = refs.clone();
    torn[6] = &files[6][..files[6].len() - 5];
    vec![
        ("txn".to_string(), join_input(0, &refs)),
        ("txn-trusted".to_string(), join_input(1, &refs)),
        ("txn-compact".to_string(), join_input(2, &refs)),
        ("txn-torn-index-trusted".to_string(), join_input(1, &torn)),
    ]
}

#[test]
fn storage_recover_corpus_replays_without_panics() {
    let dir = corpus_dir();
    if std::env::var_os("VLTAVA_WRITE_STORAGE_SEEDS").is_some() {
        std::fs::create_dir_all(&dir).unwrap();
        for (name, bytes) in seeds() {
            std::fs::write(dir.join(name), bytes).unwrap();
        }
    }
    let mut files = 0;
    let mut opened = 0;
    let mut batches = 0;
    for entry in std::fs::read_dir(&dir).expect("corpus directory exists") {
        let data = std::fs::read(entry.unwrap().path()).unwrap();
        let s = recover_from_bytes(&data);
        files += 1;
        opened += usize::from(s.opened);
        batches += s.batches_read;
    }
    assert!(files >= 10, "corpus has only {files} files");
    assert!(opened >= 8, "{opened} of {files} opened");
    assert!(
        batches >= 100,
        "only {batches} batches read: the seeds no longer reach deep"
    );
}

#[test]
fn freshly_generated_seeds_recover_as_expected() {
    let seeds = seeds();
    let full = recover_from_bytes(&seeds[0].1);
    assert_eq!(full.log_end_offset, 69);
    let torn = recover_from_bytes(&seeds[3].1);
    assert!(torn.opened && torn.log_end_offset < 64);
    for (name, data) in &seeds {
        let s = recover_from_bytes(data);
        assert!(s.opened || name == "empty", "{name} did not open");
        if name.starts_with("txn") {
            // Segment 64's `.txnindex` is not among the files: it is rebuilt.
            assert_eq!(s.log_end_offset, 67, "{name}");
            assert_eq!(s.aborted_txns, 9, "{name}");
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]
    /// Random damage to the seeds (byte flips, cuts, flag changes) never panics.
    #[test]
    fn mutated_seeds_never_panic(
        which in 0usize..10,
        flips in prop::collection::vec((any::<prop::sample::Index>(), 1u8..=255), 0..8),
        cut in any::<prop::sample::Index>(),
        do_cut in any::<bool>(),
        flags in any::<u8>(),
    ) {
        let seeds = seeds();
        let mut data = seeds[which % seeds.len()].1.clone();
        if !data.is_empty() {
            data[0] = flags;
            for (at, x) in flips {
                let i = at.index(data.len());
                data[i] ^= x;
            }
            if do_cut {
                data.truncate(cut.index(data.len() + 1));
            }
        }
        recover_from_bytes(&data);
    }
}
