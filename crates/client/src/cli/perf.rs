//! `producer-perf-test` and `consumer-perf-test`: throughput (records/s,
//! MB/s) and, for the producer, latency percentiles, with progress lines while
//! running (every 5 s, as Kafka's tools do).

mod collect;

use super::common::{apply_consumer, apply_producer, kv};
use crate::consumer::{Consumer, ConsumerConfig, OffsetReset, RebalanceListener, Tp};
use crate::producer::{Acks, Producer, ProducerConfig, ProducerRecord};
use anyhow::bail;
use bytes::Bytes;
use clap::Parser;
use collect::{Chunks, collect};
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Debug, Parser)]
#[command(
    name = "producer-perf-test",
    about = "Measure produce throughput and latency"
)]
struct ProducerArgs {
    /// Topic to produce to.
    #[arg(long)]
    topic: String,
    /// Number of records to send.
    #[arg(long)]
    num_records: u64,
    /// Size of each record's value in bytes; either this or --payload-file.
    #[arg(long)]
    record_size: Option<usize>,
    /// File whose records (split by --payload-delimiter) are sent, picked at random;
    /// either this or --record-size.
    #[arg(long)]
    payload_file: Option<String>,
    /// Delimiter of the records in --payload-file.
    #[arg(long, default_value = "\\n")]
    payload_delimiter: String,
    /// Records/s to aim at; -1 for as fast as possible.
    #[arg(long, allow_hyphen_values = true)]
    throughput: i64,
    /// Producer configs as key=value, several after one flag (bootstrap.servers=..., acks=..., ...).
    #[arg(long, num_args = 1..)]
    producer_props: Vec<String>,
    /// Properties file of producer configs; --producer-props override it.
    #[arg(long = "producer.config")]
    producer_config: Option<String>,
    /// Broker(s) to connect to; bootstrap.servers in --producer.config or --producer-props wins.
    #[arg(long)]
    bootstrap_server: Option<String>,
    /// Accepted for Kafka's command lines; no metrics are printed.
    #[arg(long)]
    print_metrics: bool,
    /// Milliseconds between progress lines.
    #[arg(long, default_value_t = 5000)]
    reporting_interval: u64,
}

/// The clap command of `producer-perf-test`, for its help.
pub(super) fn producer_command() -> clap::Command {
    <ProducerArgs as clap::CommandFactory>::command()
}

/// Latency samples in ms, percentile lookup (Kafka's: the sample at `len * p`).
fn percentile(sorted: &[u32], p: f64) -> u32 {
    if sorted.is_empty() {
        return 0;
    }
    let i = ((sorted.len() as f64) * p) as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// Kafka's tool keeps at most this many latency samples (every n-th record).
const MAX_SAMPLES: u64 = 500_000;

/// Completed sends, as Kafka's `ProducerPerformance.Stats` counts them: totals, the
/// current window, and sampled latencies for the percentiles.
struct Stats {
    start: Instant,
    count: u64,
    bytes: u64,
    total_latency: u64,
    max_latency: u32,
    sampling: u64,
    samples: Vec<u32>,
    window_start: Instant,
    window_count: u64,
    window_bytes: u64,
    window_total_latency: u64,
    window_max_latency: u32,
}

impl Stats {
    fn new(num_records: u64) -> Stats {
        let now = Instant::now();
        Stats {
            start: now,
            count: 0,
            bytes: 0,
            total_latency: 0,
            max_latency: 0,
            sampling: (num_records / num_records.clamp(1, MAX_SAMPLES)).max(1),
            samples: Vec::with_capacity(num_records.min(MAX_SAMPLES) as usize),
            window_start: now,
            window_count: 0,
            window_bytes: 0,
            window_total_latency: 0,
            window_max_latency: 0,
        }
    }

    fn record(&mut self, latency_ms: u32, bytes: usize) {
        if self.count % self.sampling == 0 {
            self.samples.push(latency_ms);
        }
        self.count += 1;
        self.bytes += bytes as u64;
        self.total_latency += u64::from(latency_ms);
        self.max_latency = self.max_latency.max(latency_ms);
        self.window_count += 1;
        self.window_bytes += bytes as u64;
        self.window_total_latency += u64::from(latency_ms);
        self.window_max_latency = self.window_max_latency.max(latency_ms);
    }

    /// The progress line of the window that ended, as Kafka's `printWindow`, and a new window.
    fn window_line(&mut self) -> String {
        let secs = self.window_start.elapsed().as_secs_f64().max(1e-9);
        let n = self.window_count;
        let line = format!(
            "{n} records sent, {:.1} records/sec ({:.2} MB/sec), {:.1} ms avg latency, {:.1} ms max latency.",
            n as f64 / secs,
            self.window_bytes as f64 / secs / (1024.0 * 1024.0),
            self.window_total_latency as f64 / n.max(1) as f64,
            f64::from(self.window_max_latency)
        );
        self.window_start = Instant::now();
        self.window_count = 0;
        self.window_bytes = 0;
        self.window_total_latency = 0;
        self.window_max_latency = 0;
        line
    }

    /// The final line, as Kafka's `printTotal`.
    fn total_line(&mut self) -> String {
        let secs = self.start.elapsed().as_secs_f64().max(1e-9);
        self.samples.sort_unstable();
        let s = &self.samples;
        format!(
            "{} records sent, {:.6} records/sec ({:.2} MB/sec), {:.2} ms avg latency, {:.2} ms max latency, {} ms 50th, {} ms 95th, {} ms 99th, {} ms 99.9th.",
            self.count,
            self.count as f64 / secs,
            self.bytes as f64 / secs / (1024.0 * 1024.0),
            self.total_latency as f64 / self.count.max(1) as f64,
            f64::from(self.max_latency),
            percentile(s, 0.5),
            percentile(s, 0.95),
            percentile(s, 0.99),
            percentile(s, 0.999)
        )
    }
}

/// The stats, also after a panic elsewhere (they are only counters).
fn lock(s: &Mutex<Stats>) -> std::sync::MutexGuard<'_, Stats> {
    s.lock().unwrap_or_else(|p| p.into_inner())
}

/// A small xorshift generator: the random payload letters and the payload-file picks.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// The payloads to send: one of random upper-case letters (`--record-size`, as Kafka's
/// tool makes it) or the records of `--payload-file`.
fn payloads(a: &ProducerArgs, rng: &mut Rng) -> anyhow::Result<Vec<Bytes>> {
    match (a.record_size, &a.payload_file) {
        (Some(size), None) => Ok(vec![Bytes::from(
            (0..size)
                .map(|_| b'A' + (rng.next() % 26) as u8)
                .collect::<Vec<u8>>(),
        )]),
        (None, Some(path)) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| anyhow::anyhow!("cannot read --payload-file {path}: {e}"))?;
            let delim = a
                .payload_delimiter
                .replace("\\n", "\n")
                .replace("\\t", "\t");
            let list: Vec<Bytes> = text
                .split(delim.as_str())
                .filter(|p| !p.is_empty())
                .map(|p| Bytes::copy_from_slice(p.as_bytes()))
                .collect();
            if list.is_empty() {
                bail!("no payloads in --payload-file {path}");
            }
            Ok(list)
        }
        _ => bail!("either --record-size or --payload-file must be specified but not both."),
    }
}

pub async fn producer(args: Vec<String>, out: &mut (dyn Write + Send)) -> anyhow::Result<i32> {
    let a = ProducerArgs::try_parse_from(args)?;
    let mut seed = [0u8; 8];
    getrandom::fill(&mut seed).map_err(|e| anyhow::anyhow!("random seed: {e}"))?;
    let mut rng = Rng(u64::from_le_bytes(seed) | 1);
    let payloads = payloads(&a, &mut rng)?;
    let producer = Producer::new(producer_config(&a)?).await?;
    let stats = Arc::new(Mutex::new(Stats::new(a.num_records)));
    // Latency is from before the send (which may wait for buffer memory) to the
    // acknowledgement, as Kafka's tool measures it.
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let collector = tokio::spawn(collect(Arc::clone(&stats), rx));
    let mut sends = Chunks::new(tx);
    let interval = Duration::from_millis(a.reporting_interval.max(1));
    let mut next_report = Instant::now() + interval;
    let start = Instant::now();
    for i in 0..a.num_records {
        if a.throughput > 0 {
            let due = Duration::from_secs_f64(i as f64 / a.throughput as f64);
            if let Some(wait) = due.checked_sub(start.elapsed()) {
                sends.flush();
                tokio::time::sleep(wait).await;
            }
        }
        let payload = if payloads.len() == 1 {
            payloads[0].clone()
        } else {
            payloads[(rng.next() % payloads.len() as u64) as usize].clone()
        };
        let len = payload.len();
        let rec = ProducerRecord {
            topic: a.topic.clone(),
            value: Some(payload),
            ..Default::default()
        };
        let sent_at = Instant::now();
        let f = producer.enqueue(rec).await?;
        sends.push((sent_at, len, f));
        if sent_at >= next_report {
            let line = lock(&stats).window_line();
            writeln!(out, "{line}")?;
            next_report = Instant::now() + interval;
        }
    }
    drop(sends);
    let flush = producer.flush();
    tokio::pin!(flush);
    loop {
        tokio::select! {
            () = &mut flush => break,
            () = tokio::time::sleep_until(next_report.into()) => {
                let line = lock(&stats).window_line();
                writeln!(out, "{line}")?;
                next_report = Instant::now() + interval;
            }
        }
    }
    let (errors, first_error) = collector.await?;
    let line = lock(&stats).total_line();
    writeln!(out, "{line}")?;
    producer.close().await;
    if errors > 0 {
        writeln!(
            out,
            "{errors} records failed, the first with: {}",
            first_error.unwrap_or_default()
        )?;
        return Ok(1);
    }
    Ok(0)
}

/// The producer's settings: `--bootstrap-server`, then `--producer.config`, then
/// `--producer-props`.
fn producer_config(a: &ProducerArgs) -> anyhow::Result<ProducerConfig> {
    // The Java producer's defaults (acks=all, idempotent, linger.ms=5, batch.size=16384)
    // are ProducerConfig's.
    let mut cfg = ProducerConfig::default();
    if let Some(b) = &a.bootstrap_server {
        apply_producer(&mut cfg, "bootstrap.servers", b)?;
    }
    if let Some(f) = &a.producer_config {
        for (k, v) in super::common::properties_file(f)? {
            apply_producer(&mut cfg, &k, &v)?;
        }
    }
    let mut idempotence_set = false;
    for p in &a.producer_props {
        let (k, v) = kv(p)?;
        idempotence_set |= k == "enable.idempotence";
        apply_producer(&mut cfg, &k, &v)?;
    }
    let props = super::common::file_and_flags(a.producer_config.as_ref(), &a.producer_props)?;
    super::common::apply_security(&mut cfg.client, &props)?;
    if cfg.acks != Acks::All && !idempotence_set {
        cfg.enable_idempotence = false;
    }
    Ok(cfg)
}

#[derive(Debug, Parser)]
#[command(name = "consumer-perf-test", about = "Measure consume throughput")]
struct ConsumerArgs {
    /// Broker(s) to connect to, host:port[,host:port...].
    #[arg(long)]
    bootstrap_server: String,
    /// Topic to consume (from the earliest offset when the group has no committed one).
    #[arg(long)]
    topic: String,
    /// Number of records to consume; exits 1 if fewer arrive.
    #[arg(long)]
    messages: u64,
    /// Consumer group id (default: perf-consumer-<pid>).
    #[arg(long)]
    group: Option<String>,
    /// Give up when no record arrived for this many ms.
    #[arg(long, default_value_t = 10000)]
    timeout: u64,
    /// Also print a stats line every --reporting-interval.
    #[arg(long)]
    show_detailed_stats: bool,
    /// Milliseconds between the lines of --show-detailed-stats.
    #[arg(long, default_value_t = 5000)]
    reporting_interval: u64,
    /// A consumer config as key=value; repeatable, overrides --consumer.config.
    #[arg(long)]
    consumer_property: Vec<String>,
    /// Properties file of consumer configs (security.protocol, sasl.*, ssl.*, ...).
    #[arg(long = "consumer.config")]
    consumer_config: Option<String>,
}

/// The clap command of `consumer-perf-test`, for its help.
pub(super) fn consumer_command() -> clap::Command {
    <ConsumerArgs as clap::CommandFactory>::command()
}

/// Records when the group first assigned this consumer partitions.
struct AssignedAt(Arc<Mutex<Option<Instant>>>);

impl RebalanceListener for AssignedAt {
    fn on_partitions_assigned(&mut self, partitions: &[Tp]) {
        if !partitions.is_empty() {
            let mut at = self.0.lock().unwrap_or_else(|p| p.into_inner());
            at.get_or_insert_with(Instant::now);
        }
    }
}

/// When the join ended: the first assignment, else the first record.
fn joined(assigned_at: &Mutex<Option<Instant>>, first: Option<Instant>) -> Option<Instant> {
    let at = *assigned_at.lock().unwrap_or_else(|p| p.into_inner());
    at.or(first)
}

/// The columns Kafka's consumer-perf-test adds after the totals: the time until
/// the group join ended (`rebalance.time.ms`) and the rates from then on
/// (`fetch.*`), which is what the fetch path itself achieved.
struct FetchStats {
    rebalance_ms: f64,
    fetch_ms: f64,
    fetch_mb_sec: f64,
    fetch_msg_sec: f64,
}

impl FetchStats {
    fn new(start: Instant, first: Option<Instant>, count: u64, bytes: u64) -> Self {
        let first = first.unwrap_or_else(Instant::now);
        let rebalance = first.saturating_duration_since(start).as_secs_f64();
        let fetch = first.elapsed().as_secs_f64().max(1e-9);
        FetchStats {
            rebalance_ms: rebalance * 1000.0,
            fetch_ms: fetch * 1000.0,
            fetch_mb_sec: bytes as f64 / 1048576.0 / fetch,
            fetch_msg_sec: count as f64 / fetch,
        }
    }
}

impl std::fmt::Display for FetchStats {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:.0}, {:.0}, {:.4}, {:.4}",
            self.rebalance_ms, self.fetch_ms, self.fetch_mb_sec, self.fetch_msg_sec
        )
    }
}

pub async fn consumer(args: Vec<String>, out: &mut (dyn Write + Send)) -> anyhow::Result<i32> {
    let a = ConsumerArgs::try_parse_from(args)?;
    let group = a
        .group
        .clone()
        .unwrap_or_else(|| format!("perf-consumer-{}", std::process::id()));
    let mut consumer = Consumer::new(consumer_config(&a, &group)?).await?;
    // The join ends when partitions are assigned: Kafka's tool splits its
    // rebalance and fetch times there, so this does too.
    let assigned_at = Arc::new(Mutex::new(None));
    consumer.subscribe(
        &[a.topic.as_str()],
        Some(Box::new(AssignedAt(Arc::clone(&assigned_at)))),
    )?;
    writeln!(
        out,
        "start.time, end.time, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec, \
         rebalance.time.ms, fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec"
    )?;
    let start = Instant::now();
    let (mut count, mut bytes) = (0u64, 0u64);
    let mut last_record = Instant::now();
    let mut window = (Instant::now(), 0u64, 0u64);
    let interval = Duration::from_millis(a.reporting_interval.max(1));
    let mut first: Option<Instant> = None;
    while count < a.messages {
        let recs = consumer.poll(Duration::from_millis(100)).await?;
        if recs.is_empty() {
            if last_record.elapsed() >= Duration::from_millis(a.timeout) {
                break;
            }
            continue;
        }
        first.get_or_insert_with(Instant::now);
        last_record = Instant::now();
        for r in &recs {
            count += 1;
            let b = r.value.as_ref().map_or(0, |v| v.len()) + r.key.as_ref().map_or(0, |k| k.len());
            bytes += b as u64;
            window.1 += 1;
            window.2 += b as u64;
        }
        if window.0.elapsed() >= interval {
            let s = window.0.elapsed().as_secs_f64();
            if a.show_detailed_stats {
                let stats = FetchStats::new(start, joined(&assigned_at, first), count, bytes);
                writeln!(
                    out,
                    "{:.3}, {:.3}, {:.4}, {:.4}, {}, {:.4}, {}",
                    start.elapsed().as_secs_f64() - s,
                    start.elapsed().as_secs_f64(),
                    bytes as f64 / 1048576.0,
                    window.2 as f64 / 1048576.0 / s,
                    count,
                    window.1 as f64 / s,
                    stats
                )?;
            }
            window = (Instant::now(), 0, 0);
        }
    }
    let secs = start.elapsed().as_secs_f64().max(1e-9);
    let mb = bytes as f64 / 1048576.0;
    writeln!(
        out,
        "{:.3}, {:.3}, {:.4}, {:.4}, {}, {:.4}, {}",
        0.0,
        secs,
        mb,
        mb / secs,
        count,
        count as f64 / secs,
        FetchStats::new(start, joined(&assigned_at, first), count, bytes)
    )?;
    consumer.close().await.ok();
    Ok(if count >= a.messages { 0 } else { 1 })
}

/// The consumer's settings: the tool's defaults (from the earliest offset, no automatic
/// commits, up to 5000 records a poll), then `--consumer.config` and
/// `--consumer-property`.
fn consumer_config(a: &ConsumerArgs, group: &str) -> anyhow::Result<ConsumerConfig> {
    let mut cfg = ConsumerConfig::new(&a.bootstrap_server, Some(group));
    cfg.auto_offset_reset = OffsetReset::Earliest;
    cfg.enable_auto_commit = false;
    cfg.max_poll_records = 5000;
    let props = super::common::file_and_flags(a.consumer_config.as_ref(), &a.consumer_property)?;
    for (k, v) in &props {
        apply_consumer(&mut cfg, k, v)?;
    }
    super::common::apply_security(&mut cfg.client, &props)?;
    Ok(cfg)
}
