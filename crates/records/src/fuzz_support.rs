//! One entry point that runs every decoder of this crate over untrusted bytes:
//! the `records_batch` fuzz target calls it, and so does the test that replays
//! the committed fuzz corpus. It must never panic; it does assert the crate's
//! invariants (a patched batch keeps a valid CRC), so a broken invariant shows
//! up as a fuzz crash.

use bytes::Bytes;

use crate::batch_header::{
    BatchIter, BatchView, Compression, set_base_offset, set_log_append_time, set_max_timestamp,
    set_partition_leader_epoch,
};
use crate::compression::decompress;
use crate::control;
use crate::down_convert::down_convert;
use crate::legacy::decode_message_set;
use crate::limits::DecodeLimits;
use crate::reader::{RecordIter, RecordsReader};

/// Limits used while fuzzing: small enough to keep each input fast.
pub const FUZZ_LIMITS: DecodeLimits = DecodeLimits {
    max_decompressed_bytes: 4 * 1024 * 1024,
    max_records_per_batch: 1 << 20,
};

/// What one run decoded (so callers and tests can see that inputs got deep).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct DecodeSummary {
    pub batches: usize,
    pub valid_crc_batches: usize,
    pub records: usize,
    pub legacy_records: usize,
}

/// Decodes `data` every way this crate can: as v2 batches (header, CRC, records,
/// control records, in-place patches), as a legacy message set, through
/// down-conversion, and through each codec's decompressor.
pub fn decode_all(data: &[u8]) -> DecodeSummary {
    let mut s = DecodeSummary::default();
    let shared = Bytes::copy_from_slice(data);
    for view in BatchIter::new(data).flatten() {
        s.batches += 1;
        let crc_ok = view.validate_crc().is_ok();
        if crc_ok {
            s.valid_crc_batches += 1;
        }
        if let Ok(records) = view.records(&FUZZ_LIMITS) {
            s.records += records.len();
            if view.header().attributes.is_control() {
                for r in &records {
                    if let Some(k) = &r.key {
                        let _ = control::decode_key(k);
                    }
                    if let Some(v) = &r.value {
                        let _ = control::EndTxnMarker::decode(v);
                    }
                }
            }
        }
        let owned = Bytes::copy_from_slice(view.bytes());
        if let Ok(iter) = RecordIter::from_batch(&owned, &FUZZ_LIMITS) {
            iter.for_each(drop);
        }
        check_patches(view, crc_ok);
    }
    RecordsReader::new(data, FUZZ_LIMITS).for_each(drop);
    if let Ok(legacy) = decode_message_set(&shared, &FUZZ_LIMITS) {
        s.legacy_records = legacy.len();
    }
    for magic in [0, 1] {
        let _ = down_convert(data, magic, &FUZZ_LIMITS);
    }
    for codec in [
        Compression::Gzip,
        Compression::Snappy,
        Compression::Lz4,
        Compression::Zstd,
    ] {
        let _ = decompress(codec, data, FUZZ_LIMITS.max_decompressed_bytes);
    }
    s
}

/// Patching a batch that had a valid CRC must leave it valid.
fn check_patches(view: BatchView<'_>, crc_ok: bool) {
    let mut copy = view.bytes().to_vec();
    let patched = set_base_offset(&mut copy, 12_345)
        .and_then(|()| set_partition_leader_epoch(&mut copy, 7))
        .and_then(|()| set_max_timestamp(&mut copy, 99))
        .and_then(|()| set_log_append_time(&mut copy, 1_000));
    if patched.is_ok() && crc_ok {
        let after = BatchView::new(&copy).map(|v| v.validate_crc());
        assert!(
            matches!(after, Ok(Ok(()))),
            "patching a valid batch broke it: {after:?}"
        );
    }
}
