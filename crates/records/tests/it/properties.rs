//! Property tests: build → read round trips for random records and codecs,
//! offset/epoch patches keep the CRC valid, any single flipped byte is caught,
//! and arbitrary or mutated bytes never panic a reader.

use bytes::Bytes;
use proptest::prelude::*;
use vltava_records::batch_header::{
    ATTRIBUTES_OFFSET, set_base_offset, set_partition_leader_epoch, update_crc,
};
use vltava_records::fuzz_support::decode_all;
use vltava_records::{
    BatchBuilder, BatchBuilderConfig, BatchView, Compression, DecodeLimits, Header, RecordIter,
};

#[derive(Debug, Clone)]
struct Rec {
    timestamp: i64,
    key: Option<Vec<u8>>,
    value: Option<Vec<u8>>,
    headers: Vec<Header>,
}

fn codec() -> impl Strategy<Value = Compression> {
    prop_oneof![
        Just(Compression::None),
        Just(Compression::Gzip),
        Just(Compression::Snappy),
        Just(Compression::Lz4),
        Just(Compression::Zstd),
    ]
}

fn header() -> impl Strategy<Value = Header> {
    (
        proptest::collection::vec(any::<u8>(), 0..12),
        proptest::option::of(proptest::collection::vec(any::<u8>(), 0..24)),
    )
        .prop_map(|(k, v)| Header::new(&k, v.as_deref()))
}

fn rec() -> impl Strategy<Value = Rec> {
    (
        -1_000_000i64..1_000_000,
        proptest::option::of(proptest::collection::vec(any::<u8>(), 0..40)),
        proptest::option::of(proptest::collection::vec(any::<u8>(), 0..300)),
        proptest::collection::vec(header(), 0..3),
    )
        .prop_map(|(dt, key, value, headers)| Rec {
            timestamp: 1_700_000_000_000 + dt,
            key,
            value,
            headers,
        })
}

fn build(codec: Compression, base_offset: i64, recs: &[Rec]) -> Bytes {
    let mut b = BatchBuilder::new(BatchBuilderConfig {
        compression: codec,
        base_offset,
        ..BatchBuilderConfig::default()
    });
    for r in recs {
        let ok = b
            .append(
                r.timestamp,
                r.key.as_deref(),
                r.value.as_deref(),
                &r.headers,
            )
            .expect("append");
        assert!(ok, "default size limit holds these records");
    }
    b.build().expect("build")
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn build_then_read_round_trips(
        codec in codec(),
        base in 0i64..1 << 40,
        recs in proptest::collection::vec(rec(), 1..30),
    ) {
        let bytes = build(codec, base, &recs);
        let view = BatchView::new(&bytes).expect("view");
        prop_assert!(view.validate_crc().is_ok());
        let h = *view.header();
        prop_assert_eq!(h.record_count as usize, recs.len());
        prop_assert_eq!(h.max_timestamp, recs.iter().map(|r| r.timestamp).max().expect("non-empty"));
        let got = view.records(&DecodeLimits::default()).expect("records");
        prop_assert_eq!(got.len(), recs.len());
        for (i, (g, r)) in got.iter().zip(&recs).enumerate() {
            prop_assert_eq!(g.offset(&h), base + i as i64);
            prop_assert_eq!(g.timestamp(&h), r.timestamp);
            prop_assert_eq!(g.key.as_deref(), r.key.as_deref());
            prop_assert_eq!(g.value.as_deref(), r.value.as_deref());
            prop_assert_eq!(&g.headers, &r.headers);
        }
        // The zero-copy iterator over a shared buffer agrees.
        let again: Vec<_> = RecordIter::from_batch(&bytes, &DecodeLimits::default())
            .expect("iter")
            .collect::<Result<_, _>>()
            .expect("records");
        prop_assert_eq!(again, got);
    }

    #[test]
    fn patching_offset_and_epoch_keeps_crc_valid(
        codec in codec(),
        recs in proptest::collection::vec(rec(), 1..5),
        new_base in any::<i64>(),
        epoch in any::<i32>(),
    ) {
        let mut bytes = build(codec, 0, &recs).to_vec();
        set_base_offset(&mut bytes, new_base).expect("patch");
        set_partition_leader_epoch(&mut bytes, epoch).expect("patch");
        let view = BatchView::new(&bytes).expect("view");
        prop_assert!(view.validate_crc().is_ok());
        prop_assert_eq!(view.header().base_offset, new_base);
        prop_assert_eq!(view.header().partition_leader_epoch, epoch);
        let got = view.records(&DecodeLimits::default()).expect("records");
        prop_assert_eq!(got[0].offset(view.header()), new_base);
    }

    #[test]
    fn any_single_flipped_byte_is_caught(
        codec in codec(),
        recs in proptest::collection::vec(rec(), 1..5),
        pos in any::<prop::sample::Index>(),
        mask in 1u8..=255,
    ) {
        let good = build(codec, 0, &recs);
        let mut bad = good.to_vec();
        let i = pos.index(bad.len());
        bad[i] ^= mask;
        let outcome = BatchView::new(&bad).and_then(|v| {
            v.validate_crc()?;
            v.records(&DecodeLimits::default())
        });
        // Base offset (0..8) and partition leader epoch (12..16) lie outside the
        // CRC by Kafka's design; every other byte is covered or structural.
        if (0..8).contains(&i) || (12..16).contains(&i) {
            prop_assert!(outcome.is_ok());
        } else {
            prop_assert!(outcome.is_err(), "flip at {} of {} not caught", i, bad.len());
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..2048)) {
        decode_all(&data);
    }

    #[test]
    fn mutated_batches_with_fixed_crc_never_panic(
        codec in codec(),
        recs in proptest::collection::vec(rec(), 1..6),
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
    ) {
        // Recomputing the CRC after mutating gets the bytes past the CRC check and
        // into the record and codec parsers.
        let mut bytes = build(codec, 0, &recs).to_vec();
        for (at, v) in edits {
            let i = ATTRIBUTES_OFFSET + at.index(bytes.len() - ATTRIBUTES_OFFSET);
            bytes[i] = v;
        }
        update_crc(&mut bytes);
        let summary = decode_all(&bytes);
        prop_assert_eq!(summary.batches, 1, "the length field is outside the edited range");
    }
}
