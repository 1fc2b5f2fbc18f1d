//! Fuzz target: arbitrary bytes as a response frame (bytes 0-1 pick API and version).
//! `crates/protocol/tests/it/fuzz_corpus.rs` replays the committed corpus.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    vltava_protocol::fuzz_support::response_frame(data);
});
