//! The on-disk raft storage: entries and hard state survive reopening; a torn tail or a
//! corrupt entry is cut off (with everything after it); a conflicting append replaces the
//! suffix on disk; a snapshot compacts the log; corrupt state files are refused, not guessed.

#![allow(clippy::unwrap_used)]

use std::fs::OpenOptions;
use std::io::Write;

use bytes::Bytes;
use raft::Storage;
use raft::eraftpb::{Entry, HardState};
use vltava_raft::storage::DiskStorage;
use vltava_raft::storage::entry_log::FILE_NAME as LOG_FILE;

use crate::support::temp_dir;

fn entry(index: u64, term: u64, data: &str) -> Entry {
    Entry {
        index,
        term,
        data: Bytes::copy_from_slice(data.as_bytes()),
        ..Default::default()
    }
}

fn datas(s: &DiskStorage) -> Vec<(u64, u64, String)> {
    let first = s.first_index().unwrap();
    let last = s.last_index().unwrap();
    s.entries(first, last + 1, None, raft::GetEntriesContext::empty(false))
        .unwrap()
        .into_iter()
        .map(|e| (e.index, e.term, String::from_utf8(e.data.to_vec()).unwrap()))
        .collect()
}

#[test]
fn entries_and_hard_state_survive_reopen() {
    let dir = temp_dir("reopen");
    let mut s = DiskStorage::open(&dir, &[1, 2, 3]).unwrap();
    s.append(&[entry(1, 1, "a"), entry(2, 1, "b")]).unwrap();
    s.set_hard_state(HardState {
        term: 1,
        vote: 2,
        commit: 2,
        ..Default::default()
    })
    .unwrap();
    drop(s);
    let s = DiskStorage::open(&dir, &[9]).unwrap();
    assert_eq!(datas(&s), [(1, 1, "a".into()), (2, 1, "b".into())]);
    let st = s.initial_state().unwrap();
    assert_eq!(
        (st.hard_state.term, st.hard_state.vote, st.hard_state.commit),
        (1, 2, 2)
    );
    assert_eq!(st.conf_state.voters, [1, 2, 3]);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn torn_tail_is_truncated() {
    let dir = temp_dir("torn");
    let mut s = DiskStorage::open(&dir, &[1]).unwrap();
    s.append(&[entry(1, 1, "one"), entry(2, 1, "two"), entry(3, 1, "three")])
        .unwrap();
    drop(s);
    let path = dir.join(LOG_FILE);
    let len = std::fs::metadata(&path).unwrap().len();
    // Cut the last entry in half, as a crash mid-append would.
    OpenOptions::new()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(len - 4)
        .unwrap();
    let mut s = DiskStorage::open(&dir, &[1]).unwrap();
    assert_eq!(datas(&s), [(1, 1, "one".into()), (2, 1, "two".into())]);
    assert!(s.recovery().truncated_bytes > 0);
    // The log keeps working after the cut.
    s.append(&[entry(3, 2, "again")]).unwrap();
    drop(s);
    let s = DiskStorage::open(&dir, &[1]).unwrap();
    assert_eq!(s.recovery().truncated_bytes, 0);
    assert_eq!(datas(&s).last().unwrap(), &(3, 2, "again".into()));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn corrupt_entry_cuts_it_and_everything_after() {
    let dir = temp_dir("corrupt");
    let mut s = DiskStorage::open(&dir, &[1]).unwrap();
    s.append(&[
        entry(1, 1, "aaaa"),
        entry(2, 1, "bbbb"),
        entry(3, 1, "cccc"),
    ])
    .unwrap();
    drop(s);
    let path = dir.join(LOG_FILE);
    let mut bytes = std::fs::read(&path).unwrap();
    // Flip a byte inside entry 2's data.
    let pos = bytes.windows(4).position(|w| w == b"bbbb").unwrap();
    bytes[pos] ^= 0xff;
    std::fs::write(&path, &bytes).unwrap();
    let s = DiskStorage::open(&dir, &[1]).unwrap();
    assert_eq!(datas(&s), [(1, 1, "aaaa".into())]);
    // Only entry 1 is left: len + crc + index + term + type + context len + 4 data bytes.
    let one_entry = 4 + 4 + 8 + 8 + 1 + 4 + 4;
    assert_eq!(std::fs::metadata(&path).unwrap().len(), one_entry);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn garbage_after_the_log_is_truncated() {
    let dir = temp_dir("garbage");
    let mut s = DiskStorage::open(&dir, &[1]).unwrap();
    s.append(&[entry(1, 1, "x")]).unwrap();
    drop(s);
    let path = dir.join(LOG_FILE);
    let good = std::fs::metadata(&path).unwrap().len();
    let mut f = OpenOptions::new().append(true).open(&path).unwrap();
    f.write_all(&[0xff; 3]).unwrap();
    f.write_all(&u32::MAX.to_be_bytes()).unwrap();
    drop(f);
    let s = DiskStorage::open(&dir, &[1]).unwrap();
    assert_eq!(datas(&s).len(), 1);
    assert_eq!(std::fs::metadata(&path).unwrap().len(), good);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn conflicting_append_replaces_suffix_on_disk() {
    let dir = temp_dir("conflict");
    let mut s = DiskStorage::open(&dir, &[1]).unwrap();
    s.append(&[entry(1, 1, "a"), entry(2, 1, "b"), entry(3, 1, "c")])
        .unwrap();
    s.append(&[entry(2, 2, "B"), entry(3, 2, "C"), entry(4, 2, "D")])
        .unwrap();
    drop(s);
    let s = DiskStorage::open(&dir, &[1]).unwrap();
    assert_eq!(
        datas(&s),
        [
            (1, 1, "a".into()),
            (2, 2, "B".into()),
            (3, 2, "C".into()),
            (4, 2, "D".into())
        ]
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn snapshot_compacts_log_and_survives_reopen() {
    let dir = temp_dir("snap");
    let mut s = DiskStorage::open(&dir, &[1]).unwrap();
    let ents: Vec<Entry> = (1..=10).map(|i| entry(i, 1, &format!("e{i}"))).collect();
    s.append(&ents).unwrap();
    s.set_hard_state(HardState {
        term: 1,
        vote: 1,
        commit: 10,
        ..Default::default()
    })
    .unwrap();
    let before = s.log_bytes();
    s.create_snapshot(7, Bytes::from_static(b"image")).unwrap();
    assert!(s.log_bytes() < before);
    assert_eq!(s.first_index().unwrap(), 8);
    assert_eq!(s.term(7).unwrap(), 1);
    assert!(s.term(6).is_err());
    drop(s);
    let s = DiskStorage::open(&dir, &[1]).unwrap();
    assert_eq!(s.first_index().unwrap(), 8);
    assert_eq!(s.last_index().unwrap(), 10);
    let snap = s.snapshot(0, 0).unwrap();
    assert_eq!(snap.get_metadata().index, 7);
    assert_eq!(&snap.data[..], b"image");
    assert_eq!(datas(&s).len(), 3);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn corrupt_state_and_snapshot_files_are_refused() {
    let dir = temp_dir("badstate");
    let mut s = DiskStorage::open(&dir, &[1]).unwrap();
    s.append(&[entry(1, 1, "a"), entry(2, 1, "b")]).unwrap();
    s.set_hard_state(HardState {
        term: 1,
        vote: 1,
        commit: 2,
        ..Default::default()
    })
    .unwrap();
    s.create_snapshot(1, Bytes::from_static(b"snap")).unwrap();
    drop(s);
    for file in ["raft-state", "snapshot"] {
        let path = dir.join(file);
        let good = std::fs::read(&path).unwrap();
        let mut bad = good.clone();
        let last = bad.len() - 1;
        bad[last] ^= 1;
        std::fs::write(&path, &bad).unwrap();
        assert!(DiskStorage::open(&dir, &[1]).is_err(), "{file}");
        std::fs::write(&path, &good).unwrap();
    }
    assert!(DiskStorage::open(&dir, &[1]).is_ok());
    std::fs::remove_dir_all(&dir).unwrap();
}
