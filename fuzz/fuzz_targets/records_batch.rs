//! Fuzz target: arbitrary bytes through every record decoder (v2 batches, their
//! records and control records, legacy message sets, down-conversion, codecs).
//! `crates/records/tests/it/fuzz_corpus.rs` replays the committed corpus through the
//! same function on every test run.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    vltava_records::fuzz_support::decode_all(data);
});
