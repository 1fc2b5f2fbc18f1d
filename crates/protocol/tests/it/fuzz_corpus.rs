//! Replays the committed corpora of the `protocol_request` and
//! `protocol_response` fuzz targets through the functions the targets call, so
//! every test run exercises them (and any crash input added later).

use std::path::Path;
use vltava_protocol::fuzz_support::{Outcome, request_frame, response_frame};

fn replay(target: &str, f: fn(&[u8]) -> Outcome) -> (usize, usize) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/corpus")
        .join(target);
    let (mut files, mut decoded) = (0, 0);
    for entry in std::fs::read_dir(&dir).expect("corpus directory exists") {
        let data = std::fs::read(entry.expect("dir entry").path()).expect("read corpus file");
        files += 1;
        if f(&data) == Outcome::Decoded {
            decoded += 1;
        }
    }
    (files, decoded)
}

#[test]
fn request_corpus_replays() {
    let (files, decoded) = replay("protocol_request", request_frame);
    // One seed per API key and version (327), plus the real-client frames: all valid.
    assert!(
        files >= 327 && decoded == files,
        "{decoded} of {files} decoded"
    );
}

#[test]
fn response_corpus_replays() {
    let (files, decoded) = replay("protocol_response", response_frame);
    assert!(
        files >= 327 && decoded == files,
        "{decoded} of {files} decoded"
    );
}
