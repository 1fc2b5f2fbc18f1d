//! Fuzz target: arbitrary bytes as a request frame of any API key and version.
//! `crates/protocol/tests/it/fuzz_corpus.rs` replays the committed corpus.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    vltava_protocol::fuzz_support::request_frame(data);
});
