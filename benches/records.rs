//! vltava-records benchmarks: building and reading 1,000-record batches of 1 KiB
//! values per codec, next to the raw codec crate compressing and decompressing the
//! same record bytes, and the batch view's validate + patch cost over ~1 MiB of
//! batches next to raw CRC-32C over the same bytes.
//!
//! `cargo bench -p vltava-records --bench records -- --warm-up-time 1 --measurement-time 3`

use std::hint::black_box;
use std::io::{Read, Write};

use bytes::Bytes;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use vltava_records::batch_header::{BATCH_HEADER_LEN, set_base_offset, set_partition_leader_epoch};
use vltava_records::{
    BatchBuilder, BatchBuilderConfig, BatchIter, Compression, DecodeLimits, RecordIter,
};

const RECORDS: usize = 1_000;
const VALUE_LEN: usize = 1_024;

const CODECS: [(&str, Compression); 5] = [
    ("none", Compression::None),
    ("gzip", Compression::Gzip),
    ("snappy", Compression::Snappy),
    ("lz4", Compression::Lz4),
    ("zstd", Compression::Zstd),
];

/// Log-like values: repetitive structure with varying fields, so codecs have
/// realistic work (neither all zeros nor random).
fn values() -> Vec<Vec<u8>> {
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    (0..RECORDS)
        .map(|i| {
            let mut v = Vec::with_capacity(VALUE_LEN);
            while v.len() < VALUE_LEN {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                let line = format!(
                    "{{\"id\":{i},\"user\":\"u{}\",\"event\":\"{}\",\"ms\":{},\"tok\":\"{:x}\"}}\n",
                    seed % 5000,
                    ["click", "view", "buy", "scroll"][(seed % 4) as usize],
                    seed % 100_000,
                    seed
                );
                v.extend_from_slice(line.as_bytes());
            }
            v.truncate(VALUE_LEN);
            v
        })
        .collect()
}

fn build(codec: Compression, values: &[Vec<u8>]) -> Bytes {
    let mut b = BatchBuilder::new(BatchBuilderConfig {
        compression: codec,
        max_batch_bytes: 64 << 20,
        ..BatchBuilderConfig::default()
    });
    for (i, v) in values.iter().enumerate() {
        let key = (i as u32).to_be_bytes();
        let ok = b
            .append(1_700_000_000_000 + i as i64, Some(&key), Some(v), &[])
            .expect("append");
        assert!(ok);
    }
    b.build().expect("build")
}

fn raw_compress(codec: Compression, data: &[u8]) -> Vec<u8> {
    match codec {
        Compression::None => data.to_vec(),
        Compression::Gzip => {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(6));
            e.write_all(data).expect("gzip");
            e.finish().expect("gzip")
        }
        Compression::Snappy => snap::raw::Encoder::new()
            .compress_vec(data)
            .expect("snappy"),
        Compression::Lz4 => {
            // The same frame settings the crate writes: independent 64 KiB blocks.
            let info = lz4_flex::frame::FrameInfo::new()
                .block_size(lz4_flex::frame::BlockSize::Max64KB)
                .block_mode(lz4_flex::frame::BlockMode::Independent);
            let mut e = lz4_flex::frame::FrameEncoder::with_frame_info(info, Vec::new());
            e.write_all(data).expect("lz4");
            e.finish().expect("lz4")
        }
        Compression::Zstd => zstd::bulk::compress(data, 3).expect("zstd"),
    }
}

fn raw_decompress(codec: Compression, data: &[u8], len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len);
    match codec {
        Compression::None => out.extend_from_slice(data),
        Compression::Gzip => {
            flate2::read::GzDecoder::new(data)
                .read_to_end(&mut out)
                .expect("gzip");
        }
        Compression::Snappy => {
            out = snap::raw::Decoder::new()
                .decompress_vec(data)
                .expect("snappy")
        }
        Compression::Lz4 => {
            lz4_flex::frame::FrameDecoder::new(data)
                .read_to_end(&mut out)
                .expect("lz4");
        }
        Compression::Zstd => out = zstd::bulk::decompress(data, len).expect("zstd"),
    }
    out
}

fn codecs(c: &mut Criterion) {
    let values = values();
    let plain = build(Compression::None, &values);
    let record_bytes = plain[BATCH_HEADER_LEN..].to_vec();
    let n = record_bytes.len() as u64;
    let limits = DecodeLimits::default();

    let mut group = c.benchmark_group("batch");
    group.throughput(Throughput::Bytes(n));
    for (name, codec) in CODECS {
        let built = build(codec, &values);
        let raw = raw_compress(codec, &record_bytes);
        eprintln!(
            "{name}: records {n} B, batch {} B (ratio {:.3}), raw codec {} B (ratio {:.3})",
            built.len(),
            built.len() as f64 / n as f64,
            raw.len(),
            raw.len() as f64 / n as f64
        );
        group.bench_function(BenchmarkId::new("build", name), |b| {
            b.iter(|| build(codec, black_box(&values)))
        });
        group.bench_function(BenchmarkId::new("read", name), |b| {
            b.iter(|| {
                let iter = RecordIter::from_batch(black_box(&built), &limits).expect("iter");
                let mut total = 0usize;
                for r in iter {
                    total += r.expect("record").value.map_or(0, |v| v.len());
                }
                total
            })
        });
        if codec != Compression::None {
            group.bench_function(BenchmarkId::new("raw_compress", name), |b| {
                b.iter(|| raw_compress(codec, black_box(&record_bytes)))
            });
            group.bench_function(BenchmarkId::new("raw_decompress", name), |b| {
                b.iter(|| raw_decompress(codec, black_box(&raw), record_bytes.len()))
            });
        }
    }
    group.finish();
}

fn view(c: &mut Criterion) {
    // ~1 MiB of 16 KiB-value batches, as a fetch or produce buffer holds.
    let values = values();
    let mut log = Vec::new();
    for chunk in values.chunks(16) {
        log.extend_from_slice(&build(Compression::Lz4, chunk));
    }
    let mut group = c.benchmark_group("view");
    group.throughput(Throughput::Bytes(log.len() as u64));
    group.bench_function("validate_crc_and_patch", |b| {
        let mut buf = log.clone();
        b.iter(|| {
            let mut at = 0;
            let mut offset = 0i64;
            while at < buf.len() {
                let (len, next) = {
                    let view = BatchIter::new(&buf[at..])
                        .next()
                        .expect("batch")
                        .expect("valid");
                    view.validate_crc().expect("crc");
                    (view.bytes().len(), view.header().last_offset_delta)
                };
                let batch = &mut buf[at..at + len];
                set_base_offset(batch, offset).expect("patch");
                set_partition_leader_epoch(batch, 5).expect("patch");
                offset += i64::from(next) + 1;
                at += len;
            }
            offset
        })
    });
    group.bench_function("raw_crc32c", |b| b.iter(|| crc32c::crc32c(black_box(&log))));
    group.finish();
}

criterion_group!(benches, codecs, view);
criterion_main!(benches);
