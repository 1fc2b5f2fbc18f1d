//! Fuzz target: recover a partition log from arbitrary file contents (segment
//! files, indexes, aborted transaction index, producer snapshot, leader epoch
//! checkpoint) and use it.
//! `crates/storage/tests/it/fuzz_corpus.rs` replays the committed corpus through the
//! same function on every test run.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    vltava_storage::fuzz_support::recover_from_bytes(data);
});
