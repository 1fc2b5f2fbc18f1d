//! Batches written by real Kafka clients decode here, and what this crate writes
//! decodes in a real client.
//!
//! - Committed goldens (`testdata/captures/`, from the capture harness):
//!   confluent-kafka (librdkafka) and kafka-python Produce requests, one per codec.
//!   Every key, value, header and timestamp must match the manifest.
//! - Live: the capture harness runs the real clients again into a temp dir and the
//!   same checks run on that output; kafka-python then decodes v2 batches and
//!   legacy message sets built here. These need the project's Python environment
//!   (`./test.sh` or `scripts/python-env.sh` creates it); without it they FAIL.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use bytes::Bytes;
use serde_json::Value;
use vltava_records::legacy::decode_message_set;
use vltava_records::{
    BatchBuilder, BatchBuilderConfig, BatchIter, BatchView, Compression, DecodeLimits, Header,
    RecordsReader, down_convert,
};

use vltava_testkit::{python, temp_dir, workspace_root};

/// The project's Python environment; the tests fail (never skip) without it.
fn python_env() -> PathBuf {
    python().unwrap_or_else(|e| panic!("{e}"))
}

fn codec_of(name: &str) -> Compression {
    match name {
        "none" => Compression::None,
        "gzip" => Compression::Gzip,
        "snappy" => Compression::Snappy,
        "lz4" => Compression::Lz4,
        "zstd" => Compression::Zstd,
        other => panic!("unknown codec {other} in manifest"),
    }
}

fn opt_str(b: &Option<Bytes>) -> Value {
    match b {
        None => Value::Null,
        Some(b) => Value::String(String::from_utf8(b.to_vec()).expect("utf-8 payload")),
    }
}

/// Checks every Produce entry of the manifest in `dir`; returns the
/// (client, codec) pairs checked.
fn check_manifest(dir: &Path) -> BTreeSet<(String, String)> {
    let text = std::fs::read_to_string(dir.join("manifest.json")).expect("manifest.json");
    let manifest: Value = serde_json::from_str(&text).expect("manifest is JSON");
    let mut seen = BTreeSet::new();
    for entry in manifest.as_array().expect("manifest is a list") {
        if entry["api_key"].as_i64() != Some(0) {
            continue;
        }
        let client = entry["client"].as_str().expect("client").to_string();
        let codec_name = entry["codec"].as_str().expect("codec").to_string();
        let case = format!("{client}/{codec_name}");
        let records_file = entry["records"].as_str().expect("records file");
        let records = std::fs::read(dir.join(records_file)).expect("records bytes");
        let frame =
            std::fs::read(dir.join(entry["frame"].as_str().expect("frame"))).expect("frame");
        assert!(
            frame
                .windows(records.len())
                .any(|w| w == records.as_slice()),
            "{case}: records bytes are not inside the request frame"
        );
        let codec = codec_of(&codec_name);
        for view in BatchIter::new(&records) {
            let view = view.unwrap_or_else(|e| panic!("{case}: {e}"));
            view.validate_crc()
                .unwrap_or_else(|e| panic!("{case}: {e}"));
            assert_eq!(
                view.header().attributes.compression(),
                Some(codec),
                "{case}"
            );
        }
        let decoded: Vec<_> = RecordsReader::new(&records, DecodeLimits::default())
            .collect::<Result<_, _>>()
            .unwrap_or_else(|e| panic!("{case}: {e}"));
        let want = entry["messages"].as_array().expect("messages");
        assert_eq!(decoded.len(), want.len(), "{case}: record count");
        assert!(!want.is_empty(), "{case}: no messages in manifest");
        for (i, ((h, r), w)) in decoded.iter().zip(want).enumerate() {
            assert_eq!(opt_str(&r.key), w["key"], "{case} #{i} key");
            assert_eq!(opt_str(&r.value), w["value"], "{case} #{i} value");
            assert_eq!(
                Some(r.timestamp(h)),
                w["timestamp"].as_i64(),
                "{case} #{i} timestamp"
            );
            assert_eq!(
                r.offset(h),
                i as i64,
                "{case} #{i} offset (relative in a produce)"
            );
            let headers: Vec<Value> = r
                .headers
                .iter()
                .map(|hd| Value::Array(vec![opt_str(&Some(hd.key.clone())), opt_str(&hd.value)]))
                .collect();
            assert_eq!(Value::Array(headers), w["headers"], "{case} #{i} headers");
        }
        check_rebuild_and_down_convert(&case, &records, codec);
        seen.insert((client, codec_name));
    }
    seen
}

/// Rebuilding the client's batch here gives the same records (and, uncompressed,
/// the same bytes); down-converting it keeps keys and values.
fn check_rebuild_and_down_convert(case: &str, records: &[u8], codec: Compression) {
    let view = BatchView::new(records).expect("batch");
    let h = *view.header();
    let recs = view.records(&DecodeLimits::default()).expect("records");
    let mut b = BatchBuilder::new(BatchBuilderConfig {
        compression: codec,
        base_offset: h.base_offset,
        partition_leader_epoch: h.partition_leader_epoch,
        producer_id: h.producer_id,
        producer_epoch: h.producer_epoch,
        base_sequence: h.base_sequence,
        transactional: h.attributes.is_transactional(),
        control: h.attributes.is_control(),
        timestamp_type: h.attributes.timestamp_type(),
        ..BatchBuilderConfig::default()
    });
    for r in &recs {
        let headers: Vec<Header> = r.headers.clone();
        let appended = b
            .append_with_offset(
                r.offset(&h),
                r.timestamp(&h),
                r.key.as_deref(),
                r.value.as_deref(),
                &headers,
            )
            .expect("append");
        assert!(appended, "{case}: rebuilt batch refused a record");
    }
    let ours = b.build().expect("build");
    let ours_view = BatchView::new(&ours).expect("our batch");
    assert_eq!(
        ours_view
            .records(&DecodeLimits::default())
            .expect("our records"),
        recs,
        "{case}: rebuilt records differ"
    );
    if codec == Compression::None {
        assert_eq!(
            &ours[..],
            &records[..h.total_size()],
            "{case}: rebuilt bytes differ"
        );
    }
    if codec != Compression::Zstd {
        for magic in [0, 1] {
            let set = down_convert(records, magic, &DecodeLimits::default()).expect("down-convert");
            let legacy = decode_message_set(&set, &DecodeLimits::default()).expect("legacy");
            assert_eq!(legacy.len(), recs.len(), "{case}: magic {magic}");
            for (l, r) in legacy.iter().zip(&recs) {
                assert_eq!(
                    (&l.key, &l.value),
                    (&r.key, &r.value),
                    "{case}: magic {magic}"
                );
            }
        }
    }
}

fn assert_required_cases(seen: &BTreeSet<(String, String)>) {
    let mut required: Vec<(&str, &str)> = ["none", "gzip", "snappy", "lz4", "zstd"]
        .iter()
        .map(|c| ("confluent-kafka", *c))
        .collect();
    required.extend([("kafka-python", "gzip"), ("kafka-python", "lz4")]);
    for (client, codec) in required {
        assert!(
            seen.contains(&(client.to_string(), codec.to_string())),
            "no Produce capture for {client} with {codec}"
        );
    }
}

#[test]
fn committed_client_captures_decode() {
    let seen = check_manifest(&workspace_root().join("testdata/captures"));
    assert_required_cases(&seen);
}

#[test]
fn live_client_captures_decode() {
    let live = vltava_testkit::captures::live().unwrap_or_else(|e| panic!("{e}"));
    let seen = check_manifest(&live.dir);
    assert_required_cases(&seen);
    std::fs::remove_dir_all(&live.dir).ok();
}

fn sample_batch(codec: Compression, base_offset: i64) -> Bytes {
    let mut b = BatchBuilder::new(BatchBuilderConfig {
        compression: codec,
        base_offset,
        ..BatchBuilderConfig::default()
    });
    for i in 0..20i64 {
        let key = format!("key-{i}");
        let value = format!("value-{i}-").repeat(i as usize + 1);
        let headers = [
            Header::new(b"h1", Some(format!("v{i}").as_bytes())),
            Header::new(b"h-null", None),
        ];
        assert!(
            b.append(
                1_700_000_000_000 + i,
                Some(key.as_bytes()),
                Some(value.as_bytes()),
                &headers
            )
            .expect("append")
        );
    }
    b.build().expect("build")
}

#[test]
fn kafka_python_reads_what_we_write() {
    let py = python_env();
    let dir = temp_dir("kpy-read").expect("temp dir");
    let mut files = Vec::new();
    let codecs = [
        ("none", Compression::None),
        ("gzip", Compression::Gzip),
        ("snappy", Compression::Snappy),
        ("lz4", Compression::Lz4),
        ("zstd", Compression::Zstd),
    ];
    for (name, codec) in codecs {
        let batch = sample_batch(codec, 500);
        let path = dir.join(format!("v2-{name}.bin"));
        std::fs::write(&path, &batch).expect("write");
        files.push((path, 2, name));
        if codec != Compression::Zstd {
            for magic in [0i8, 1] {
                // kafka-python reads magic-0 LZ4 only with the optional `xxhash`
                // module, which the project environment does not install; that
                // framing is checked against kafka-python's bytes in tests/it/legacy.rs.
                if magic == 0 && codec == Compression::Lz4 {
                    continue;
                }
                let set = down_convert(&batch, magic, &DecodeLimits::default()).expect("convert");
                let path = dir.join(format!("magic{magic}-{name}.bin"));
                std::fs::write(&path, &set).expect("write");
                files.push((path, magic, name));
            }
        }
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/kafka_python_decode.py");
    let output = Command::new(&py)
        .arg(&script)
        .args(files.iter().map(|(p, _, _)| p))
        .output()
        .expect("run kafka-python decoder");
    assert!(
        output.status.success(),
        "kafka-python failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let got: Value = serde_json::from_slice(&output.stdout).expect("decoder JSON");
    for (path, magic, name) in &files {
        let recs = got[path.to_str().expect("utf-8 path")]
            .as_array()
            .unwrap_or_else(|| panic!("no output for {}", path.display()));
        assert_eq!(recs.len(), 20, "{name} magic {magic}");
        for (i, r) in recs.iter().enumerate() {
            let i = i as i64;
            assert_eq!(r["offset"].as_i64(), Some(500 + i), "{name} magic {magic}");
            assert_eq!(r["key"].as_str(), Some(format!("key-{i}").as_str()));
            let value = format!("value-{i}-").repeat(i as usize + 1);
            assert_eq!(
                r["value"].as_str(),
                Some(value.as_str()),
                "{name} magic {magic}"
            );
            if *magic > 0 {
                assert_eq!(r["timestamp"].as_i64(), Some(1_700_000_000_000 + i));
            }
            if *magic == 2 {
                let want = serde_json::json!([["h1", format!("v{i}")], ["h-null", null]]);
                assert_eq!(r["headers"], want, "{name}");
            }
        }
    }
    std::fs::remove_dir_all(&dir).ok();
}
