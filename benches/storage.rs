//! Storage benchmarks: append and sequential read throughput of a `Log` on the real
//! file system, each beside a plain file write/read of the same bytes in the same
//! run, the time to recover a large log after an unclean stop, and the cost of
//! opening many cleanly closed one-record logs beside opening (and closing) one
//! plain file per log.
//!
//! Run (bounded): `cargo bench -p vltava-storage --bench storage -- --warm-up-time 1 --measurement-time 5`
//! The recovery log size defaults to 1 GiB; set `VLTAVA_BENCH_RECOVERY_MB` to change it.
//! The partition counts of `open_partitions` default to 1000,5000,10000,20000; set
//! `VLTAVA_BENCH_OPEN_N` (comma-separated) to change them. Only that group:
//! `cargo bench -p vltava-storage --bench storage -- open_partitions --warm-up-time 1 --measurement-time 5`
//! (this also runs `open_partitions_segments`: 100 logs of 1 and of 20 segments of
//! 128 KiB; `VLTAVA_BENCH_SEGMENTS_LOGS` and `VLTAVA_BENCH_SEGMENT_KB` change them).

use std::fs::OpenOptions;
use std::hint::black_box;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use vltava_records::{BatchBuilder, BatchBuilderConfig};
use vltava_storage::{FetchIsolation, Log, LogConfig, LogOpenOptions, StdStorage, SystemClock};

const MIB: usize = 1024 * 1024;
const RECORD: usize = 1024;
const RECORDS_PER_BATCH: usize = 16;
/// Appends (of 1 MiB) between untimed resets in the append benchmark.
const RESET_EVERY: u64 = 256;

/// 1 MiB (a little under) of batches of 16 records of 1 KiB each.
fn one_mib_of_batches() -> Vec<u8> {
    let value = vec![b'x'; RECORD];
    let mut out = Vec::with_capacity(MIB + 64 * 1024);
    while out.len() + RECORDS_PER_BATCH * (RECORD + 32) + 61 <= MIB {
        let mut b = BatchBuilder::new(BatchBuilderConfig::default());
        for _ in 0..RECORDS_PER_BATCH {
            b.append(1_700_000_000_000, None, Some(&value), &[])
                .expect("append");
        }
        out.extend_from_slice(&b.build().expect("build"));
    }
    out
}

fn config() -> LogConfig {
    LogConfig {
        segment_bytes: 256 * MIB as u64,
        retention_ms: -1,
        ..LogConfig::default()
    }
}

fn open(dir: &Path, opts: LogOpenOptions) -> Log {
    Log::open(
        Arc::new(StdStorage),
        dir,
        config(),
        Arc::new(SystemClock),
        opts,
    )
    .expect("open log")
}

fn bench_append(c: &mut Criterion) {
    let data = one_mib_of_batches();
    let mut g = c.benchmark_group("append");
    g.throughput(Throughput::Bytes(data.len() as u64));
    // Both sides start over every RESET_EVERY MiB (untimed), so the files stay a
    // bounded size and the page cache never has to throttle on writeback: the
    // figures compare the software paths over the same bytes.
    g.bench_function("log_append_1MiB", |b| {
        b.iter_custom(|iters| {
            let tmp = tempfile::tempdir().expect("tempdir");
            let mut log = open(&tmp.path().join("bench-0"), LogOpenOptions::default());
            let mut buf = data.clone();
            let mut elapsed = Duration::ZERO;
            let mut done = 0;
            while done < iters {
                // The first append of a fresh log records leader epoch 0 in the
                // leader-epoch-checkpoint (an fsynced file): a one-off per epoch
                // change, kept out of the steady-state figure.
                log.append_as_leader(&mut buf, 0)
                    .expect("untimed first append");
                let n = (iters - done).min(RESET_EVERY);
                let start = Instant::now();
                for _ in 0..n {
                    black_box(log.append_as_leader(&mut buf, 0).expect("append"));
                }
                elapsed += start.elapsed();
                done += n;
                log.truncate_fully_and_start_at(0).expect("reset");
            }
            elapsed
        })
    });
    g.bench_function("plain_file_write_1MiB", |b| {
        b.iter_custom(|iters| {
            let tmp = tempfile::tempdir().expect("tempdir");
            let mut elapsed = Duration::ZERO;
            let mut done = 0;
            let mut cycle = 0;
            while done < iters {
                // Same shape as the log side: a fresh file per cycle, one untimed
                // first write, then the timed writes.
                let path = tmp.path().join(format!("plain-{cycle}"));
                let f = OpenOptions::new()
                    .create(true)
                    .truncate(true)
                    .read(true)
                    .write(true)
                    .open(&path)
                    .expect("open");
                f.write_all_at(&data, 0).expect("untimed first write");
                let mut pos = data.len() as u64;
                let n = (iters - done).min(RESET_EVERY);
                let start = Instant::now();
                for _ in 0..n {
                    f.write_all_at(&data, pos).expect("write");
                    pos += data.len() as u64;
                }
                elapsed += start.elapsed();
                done += n;
                drop(f);
                std::fs::remove_file(&path).expect("reset");
                cycle += 1;
            }
            elapsed
        })
    });
    g.finish();
}

fn bench_read(c: &mut Criterion) {
    let data = one_mib_of_batches();
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("read-0");
    let mut log = open(&dir, LogOpenOptions::default());
    let total_mib = 256;
    let mut buf = data.clone();
    for _ in 0..total_mib {
        log.append_as_leader(&mut buf, 0).expect("append");
    }
    let leo = log.log_end_offset();
    let plain = tmp.path().join("plain");
    let f = OpenOptions::new()
        .create(true)
        .truncate(true)
        .read(true)
        .write(true)
        .open(&plain)
        .expect("open");
    for i in 0..total_mib {
        f.write_all_at(&data, (i * data.len()) as u64)
            .expect("write");
    }
    let bytes_total = log.size_in_bytes();
    let mut g = c.benchmark_group("sequential_read");
    g.throughput(Throughput::Bytes(bytes_total));
    g.sample_size(10);
    g.bench_function("log_read_bytes_256MiB", |b| {
        b.iter(|| {
            let mut next = 0;
            let mut n = 0usize;
            while next < leo {
                let info = log
                    .read(next, MIB as u64, FetchIsolation::LogEnd, true)
                    .expect("read");
                let slice = info.slice.expect("data");
                let bytes = slice.to_bytes().expect("copy");
                n += bytes.len();
                // Next offset: the last batch's end, from its header.
                let mut pos = 0;
                while pos < bytes.len() {
                    let h = vltava_records::batch_header::parse_header(&bytes[pos..]).expect("h");
                    next = h.next_offset();
                    pos += h.total_size();
                }
            }
            black_box(n)
        })
    });
    g.bench_function("plain_file_read_256MiB", |b| {
        let mut chunk = vec![0u8; MIB];
        b.iter(|| {
            let mut pos = 0u64;
            let mut n = 0usize;
            while pos < bytes_total {
                let got = f.read_at(&mut chunk, pos).expect("read");
                if got == 0 {
                    break;
                }
                n += got;
                pos += got as u64;
                black_box(&chunk);
            }
            black_box(n)
        })
    });
    g.finish();
}

fn bench_recovery(c: &mut Criterion) {
    let mib: usize = std::env::var("VLTAVA_BENCH_RECOVERY_MB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1024);
    let data = one_mib_of_batches();
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("recover-0");
    let recovery_point = {
        let mut log = open(&dir, LogOpenOptions::default());
        let mut buf = data.clone();
        for _ in 0..mib {
            log.append_as_leader(&mut buf, 0).expect("append");
            // The broker's post-roll flush of finished segments.
            if let Some(job) = log.rolled_flush_job() {
                let r = job.run();
                log.complete_flush(&job, r).expect("flush");
            }
        }
        // Dropped without close(): an unclean stop.
        log.recovery_point()
    };
    let mut g = c.benchmark_group("recovery");
    g.sample_size(10);
    g.throughput(Throughput::Bytes((mib * data.len()) as u64));
    g.measurement_time(Duration::from_secs(10));
    // Worst case: no recovery point, every segment is checked.
    g.bench_function(format!("recover_{mib}MiB_from_offset_0"), |b| {
        b.iter(|| black_box(open(&dir, LogOpenOptions::default()).log_end_offset()))
    });
    // The usual case: only the segment after the recovery point is checked.
    let opts = LogOpenOptions {
        recovery_point,
        ..LogOpenOptions::default()
    };
    g.bench_function(format!("recover_{mib}MiB_from_recovery_point"), |b| {
        b.iter(|| black_box(open(&dir, opts).log_end_offset()))
    });
    g.finish();
}

/// Opening N cleanly closed logs of one segment and one record (as a broker
/// restart after a clean shutdown does: every segment trusted), each opened and
/// dropped in turn, beside opening and closing N plain files (each log's `.log`)
/// in the same run: the ratio is the cost of a log open in plain file opens, and
/// the per-element time (throughput in partitions) should not grow with N.
fn bench_open_partitions(c: &mut Criterion) {
    let counts: Vec<usize> = std::env::var("VLTAVA_BENCH_OPEN_N")
        .ok()
        .map(|v| v.split(',').filter_map(|n| n.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![1000, 5000, 10_000, 20_000]);
    let Some(&max) = counts.iter().max() else {
        return;
    };
    let tmp = tempfile::tempdir().expect("tempdir");
    let dirs: Vec<_> = (0..max)
        .map(|i| tmp.path().join(format!("t-{i}")))
        .collect();
    let mut record = {
        let mut b = BatchBuilder::new(BatchBuilderConfig::default());
        b.append(1_700_000_000_000, None, Some(&[b'x'; 100]), &[])
            .expect("append");
        b.build().expect("build").to_vec()
    };
    for d in &dirs {
        let mut log = open(d, LogOpenOptions::default());
        log.append_as_leader(&mut record, 0).expect("append");
        log.close().expect("close");
    }
    let clean = LogOpenOptions {
        recovery_point: i64::MAX,
        ..LogOpenOptions::default()
    };
    let mut g = c.benchmark_group("open_partitions");
    g.sample_size(10);
    for n in counts {
        g.throughput(Throughput::Elements(n as u64));
        g.bench_function(format!("log_open_{n}"), |b| {
            b.iter(|| {
                for d in &dirs[..n] {
                    black_box(open(d, clean).log_end_offset());
                }
            })
        });
        g.bench_function(format!("plain_file_open_{n}"), |b| {
            b.iter(|| {
                for d in &dirs[..n] {
                    let f = std::fs::File::open(d.join("00000000000000000000.log")).expect("open");
                    black_box(f.metadata().expect("metadata").len());
                }
            })
        });
    }
    g.finish();
}

/// Opening cleanly closed logs of 1 and of 20 segments of 128 KiB, each
/// segment densely indexed (one entry per 170-byte batch: about 6 KiB of
/// `.index` and 9 KiB of `.timeindex` per 128 KiB): with the indexes of inactive segments
/// read on first use, an old segment costs its file opens and a few small
/// reads, not its index files.
fn bench_open_segments(c: &mut Criterion) {
    let logs: usize = std::env::var("VLTAVA_BENCH_SEGMENTS_LOGS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100);
    let seg_bytes: u64 = std::env::var("VLTAVA_BENCH_SEGMENT_KB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(128)
        * 1024;
    let cfg = LogConfig {
        segment_bytes: seg_bytes,
        index_interval_bytes: 1,
        retention_ms: -1,
        ..LogConfig::default()
    };
    let mut chunk = Vec::new();
    loop {
        let mut b = BatchBuilder::new(BatchBuilderConfig::default());
        b.append(1_700_000_000_000, None, Some(&[b'x'; 100]), &[])
            .expect("append");
        let batch = b.build().expect("build");
        if (chunk.len() + batch.len()) as u64 > seg_bytes - 1024 {
            break;
        }
        chunk.extend_from_slice(&batch);
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let open_with = |d: &Path, opts: LogOpenOptions| {
        Log::open(
            Arc::new(StdStorage),
            d,
            cfg.clone(),
            Arc::new(SystemClock),
            opts,
        )
        .expect("open log")
    };
    let mut g = c.benchmark_group("open_partitions_segments");
    g.sample_size(10);
    for segments in [1usize, 20] {
        let dirs: Vec<_> = (0..logs)
            .map(|i| tmp.path().join(format!("s{segments}-{i}")))
            .collect();
        for d in &dirs {
            let mut log = open_with(d, LogOpenOptions::default());
            for _ in 0..segments {
                let mut bytes = chunk.clone();
                log.append_as_leader(&mut bytes, 0).expect("append");
            }
            assert_eq!(log.segments().count(), segments);
            log.close().expect("close");
        }
        let clean = LogOpenOptions {
            recovery_point: i64::MAX,
            ..LogOpenOptions::default()
        };
        g.throughput(Throughput::Elements(logs as u64));
        g.bench_function(format!("log_open_{segments}_segments"), |b| {
            b.iter(|| {
                for d in &dirs {
                    black_box(open_with(d, clean).log_end_offset());
                }
            })
        });
    }
    g.finish();
}

criterion_group!(
    benches,
    bench_append,
    bench_read,
    bench_recovery,
    bench_open_partitions,
    bench_open_segments
);
criterion_main!(benches);
