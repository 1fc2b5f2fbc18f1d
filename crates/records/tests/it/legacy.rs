//! Legacy message sets (magic 0 and 1): golden sets written by kafka-python's
//! legacy builder decode here, our encoder reproduces its uncompressed bytes, and
//! down-conversion of v2 batches reads back through the legacy decoder.

use bytes::Bytes;
use vltava_records::legacy::{
    LegacyEntry, LegacyMessageIter, decode_message_set, encode_message_set,
};
use vltava_records::{
    BatchBuilder, BatchBuilderConfig, Compression, DecodeLimits, Header, RecordsError,
    TimestampType, control, down_convert,
};

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/legacy");

struct Expected {
    key: Option<String>,
    value: Option<String>,
    timestamp: i64,
}

fn expected() -> (Vec<(String, i8, String)>, Vec<Expected>) {
    let text = std::fs::read_to_string(format!("{DIR}/expected.json")).expect("expected.json");
    let v: serde_json::Value = serde_json::from_str(&text).expect("json");
    let sets = v["sets"]
        .as_array()
        .expect("sets")
        .iter()
        .map(|s| {
            (
                s["file"].as_str().expect("file").to_string(),
                s["magic"].as_i64().expect("magic") as i8,
                s["codec"].as_str().expect("codec").to_string(),
            )
        })
        .collect();
    let records = v["records"]
        .as_array()
        .expect("records")
        .iter()
        .map(|r| Expected {
            key: r["key"].as_str().map(str::to_string),
            value: r["value"].as_str().map(str::to_string),
            timestamp: r["timestamp"].as_i64().expect("timestamp"),
        })
        .collect();
    (sets, records)
}

fn codec(name: &str) -> Compression {
    match name {
        "none" => Compression::None,
        "gzip" => Compression::Gzip,
        "snappy" => Compression::Snappy,
        "lz4" => Compression::Lz4,
        other => panic!("unexpected codec {other}"),
    }
}

fn as_str(b: &Option<Bytes>) -> Option<String> {
    b.as_ref()
        .map(|b| String::from_utf8(b.to_vec()).expect("utf8"))
}

#[test]
fn kafka_python_legacy_sets_decode() {
    let (sets, want) = expected();
    assert_eq!(sets.len(), 8, "two magics x four codecs");
    for (file, magic, codec_name) in sets {
        let mut raw = std::fs::read(format!("{DIR}/{file}")).expect("read set");
        if magic == 1 && codec_name != "none" {
            // A producer leaves the magic-1 wrapper offset at 0 and inner offsets
            // relative; the broker sets the wrapper to the last absolute offset.
            raw[..8].copy_from_slice(&3i64.to_be_bytes());
        }
        let bytes = Bytes::from(raw);
        let got = decode_message_set(&bytes, &DecodeLimits::default())
            .unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(got.len(), want.len(), "{file}");
        for (i, (g, w)) in got.iter().zip(&want).enumerate() {
            assert_eq!(g.offset, i as i64, "{file} offset {i}");
            assert_eq!(g.magic, magic, "{file}");
            assert_eq!(g.compression, codec(&codec_name), "{file}");
            assert_eq!(as_str(&g.key), w.key, "{file} key {i}");
            assert_eq!(as_str(&g.value), w.value, "{file} value {i}");
            let ts = if magic == 0 { None } else { Some(w.timestamp) };
            assert_eq!(g.timestamp, ts, "{file} timestamp {i}");
        }
    }
}

#[test]
fn our_encoder_matches_kafka_python_uncompressed_and_round_trips_compressed() {
    let (sets, want) = expected();
    let keys: Vec<Option<Vec<u8>>> = want
        .iter()
        .map(|w| w.key.clone().map(String::into_bytes))
        .collect();
    let values: Vec<Option<Vec<u8>>> = want
        .iter()
        .map(|w| w.value.clone().map(String::into_bytes))
        .collect();
    let entries: Vec<LegacyEntry<'_>> = want
        .iter()
        .enumerate()
        .map(|(i, w)| LegacyEntry {
            offset: i as i64,
            timestamp: w.timestamp,
            key: keys[i].as_deref(),
            value: values[i].as_deref(),
        })
        .collect();
    for (file, magic, codec_name) in sets {
        let c = codec(&codec_name);
        let mut ours = Vec::new();
        encode_message_set(&mut ours, magic, c, TimestampType::CreateTime, -1, &entries)
            .expect("encode");
        let mut theirs = std::fs::read(format!("{DIR}/{file}")).expect("read set");
        if c == Compression::None {
            assert_eq!(ours, theirs, "{file}: byte-identical");
        } else if c == Compression::Lz4 && magic == 0 {
            // Same LZ4 frame header, including the broken header checksum of magic 0
            // (it hashes the frame magic too). Outer entry (12), crc, magic,
            // attributes, key -1, value length, then the frame. (For magic 1
            // kafka-python also sets a content size, so only the payload compares.)
            let frame_at = 12 + 4 + 1 + 1 + 4 + 4;
            assert_eq!(
                &ours[frame_at..frame_at + 7],
                &theirs[frame_at..frame_at + 7],
                "{file}: LZ4 frame header"
            );
        }
        if c != Compression::None {
            // Our wrapper carries the last absolute offset, as a broker's does.
            assert_eq!(&ours[..8], &3i64.to_be_bytes(), "{file}: wrapper offset");
            theirs[..8].copy_from_slice(&3i64.to_be_bytes());
        }
        // Compressed bytes may differ (codec settings); the decoded content may not.
        let a = decode_message_set(&Bytes::from(ours), &DecodeLimits::default()).expect("ours");
        let b = decode_message_set(&Bytes::from(theirs), &DecodeLimits::default()).expect("theirs");
        assert!(a == b, "{file}: decoded sets differ");
    }
}

fn v2_batch(codec: Compression, base_offset: i64, n: usize) -> Bytes {
    let mut b = BatchBuilder::new(BatchBuilderConfig {
        compression: codec,
        base_offset,
        ..BatchBuilderConfig::default()
    });
    for i in 0..n {
        let key = format!("k{i}");
        let value = format!("value {i} {}", "x".repeat(i * 10));
        let hdr = [Header::new(b"h", Some(b"dropped"))];
        assert!(
            b.append(
                1_000 + i as i64,
                Some(key.as_bytes()),
                Some(value.as_bytes()),
                &hdr
            )
            .expect("append")
        );
    }
    b.build().expect("build")
}

#[test]
fn down_conversion_reads_back_in_both_magics_and_all_legacy_codecs() {
    for c in [
        Compression::None,
        Compression::Gzip,
        Compression::Snappy,
        Compression::Lz4,
    ] {
        let mut input = v2_batch(c, 100, 3).to_vec();
        input.extend_from_slice(
            &control::build_end_txn_batch(
                BatchBuilderConfig {
                    base_offset: 103,
                    ..BatchBuilderConfig::default()
                },
                control::ControlRecordType::Commit,
                1,
                5,
            )
            .expect("marker"),
        );
        input.extend_from_slice(&v2_batch(c, 104, 2));
        let torn = v2_batch(c, 106, 2);
        input.extend_from_slice(&torn[..torn.len() - 3]);
        for magic in [0i8, 1] {
            let set = down_convert(&input, magic, &DecodeLimits::default()).expect("convert");
            let got = decode_message_set(&set, &DecodeLimits::default()).expect("decode");
            let offsets: Vec<i64> = got.iter().map(|r| r.offset).collect();
            assert_eq!(
                offsets,
                vec![100, 101, 102, 104, 105],
                "{c:?} magic {magic}"
            );
            for r in &got {
                assert_eq!(r.magic, magic);
                assert_eq!(r.compression, c);
                let i = if r.offset < 104 {
                    r.offset - 100
                } else {
                    r.offset - 104
                };
                assert_eq!(as_str(&r.key), Some(format!("k{i}")));
                let ts = (magic == 1).then_some(1_000 + i);
                assert_eq!(r.timestamp, ts, "{c:?} magic {magic}");
            }
        }
    }
}

#[test]
fn down_conversion_refuses_zstd_and_bad_magic() {
    let b = v2_batch(Compression::Zstd, 0, 2);
    assert_eq!(
        down_convert(&b, 1, &DecodeLimits::default()),
        Err(RecordsError::UnsupportedCompression("zstd"))
    );
    assert!(matches!(
        down_convert(&b, 2, &DecodeLimits::default()),
        Err(RecordsError::BadMagic(2))
    ));
}

#[test]
fn log_append_time_carries_into_magic_one() {
    let mut b = BatchBuilder::new(BatchBuilderConfig {
        compression: Compression::Gzip,
        timestamp_type: TimestampType::LogAppendTime,
        ..BatchBuilderConfig::default()
    });
    b.append(7_000, None, Some(b"a"), &[]).expect("append");
    b.append(7_000, None, Some(b"b"), &[]).expect("append");
    let set = down_convert(&b.build().expect("build"), 1, &DecodeLimits::default()).expect("dc");
    let got = decode_message_set(&set, &DecodeLimits::default()).expect("decode");
    assert!(got
        .iter()
        .all(|r| r.timestamp == Some(7_000) && r.timestamp_type == TimestampType::LogAppendTime));
}

#[test]
fn every_flipped_byte_outside_offsets_is_an_error_never_a_panic() {
    let (sets, _) = expected();
    for (file, _, _) in sets {
        let good = Bytes::from(std::fs::read(format!("{DIR}/{file}")).expect("read set"));
        // Outer offset fields lie outside the CRC: note where they are.
        let mut offset_fields = Vec::new();
        let mut it = LegacyMessageIter::new(good.clone());
        loop {
            let at = it.position();
            match it.next() {
                Some(m) => {
                    m.expect("good entry");
                    offset_fields.push(at..at + 8);
                }
                None => break,
            }
        }
        for i in 0..good.len() {
            let mut bad = good.to_vec();
            bad[i] ^= 0x10;
            let result = decode_message_set(&Bytes::from(bad), &DecodeLimits::default());
            if !offset_fields.iter().any(|r| r.contains(&i)) {
                assert!(result.is_err(), "{file}: flip at {i} went unnoticed");
            }
        }
    }
}
