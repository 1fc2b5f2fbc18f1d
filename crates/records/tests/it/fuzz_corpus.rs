//! Replays every file of the `records_batch` fuzz corpus through the function the
//! fuzz target calls, so each test run exercises the corpus (and any crash input
//! added to it) without a fuzzer.

use std::path::Path;

use vltava_records::fuzz_support::{DecodeSummary, FUZZ_LIMITS, decode_all};
use vltava_records::{BatchView, RecordsError};

#[test]
fn records_batch_corpus_replays_without_panics() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/records_batch");
    let mut files = 0;
    let mut total = DecodeSummary::default();
    for entry in std::fs::read_dir(&dir).expect("corpus directory exists") {
        let path = entry.expect("dir entry").path();
        let data = std::fs::read(&path).expect("read corpus file");
        let s = decode_all(&data);
        files += 1;
        total.batches += s.batches;
        total.valid_crc_batches += s.valid_crc_batches;
        total.records += s.records;
        total.legacy_records += s.legacy_records;
    }
    // The committed seeds hold valid batches and legacy sets: if none decode, the
    // corpus or the decoders broke.
    assert!(files >= 20, "corpus has only {files} files");
    assert!(total.valid_crc_batches >= 8, "{total:?}");
    assert!(total.records >= 30, "{total:?}");
    assert!(total.legacy_records >= 30, "{total:?}");
}

#[test]
fn gzip_bomb_seed_stops_at_the_bound() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/corpus/records_batch/broken-gzip-bomb");
    let data = std::fs::read(path).expect("bomb seed");
    let view = BatchView::new(&data).expect("well-formed batch header");
    view.validate_crc().expect("the bomb carries a valid CRC");
    assert_eq!(
        view.records(&FUZZ_LIMITS),
        Err(RecordsError::Oversized {
            what: "decompressed records",
            limit: FUZZ_LIMITS.max_decompressed_bytes
        })
    );
}
