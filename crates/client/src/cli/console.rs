//! `console-producer` and `console-consumer`.

use super::common::{apply_consumer, apply_producer, kv, unescape};
use crate::consumer::{Consumer, ConsumerConfig, OffsetReset};
use crate::producer::{Producer, ProducerConfig, ProducerRecord};
use anyhow::bail;
use bytes::Bytes;
use clap::Parser;
use std::io::{BufRead, Write};
use std::time::{Duration, Instant};

#[derive(Debug, Parser)]
#[command(
    name = "console-producer",
    about = "Send lines of standard input as records"
)]
struct ProducerArgs {
    /// Broker(s) to connect to, host:port[,host:port...].
    #[arg(long)]
    bootstrap_server: String,
    /// Topic to produce the lines to.
    #[arg(long)]
    topic: String,
    /// Line reading: parse.key=true splits each line at key.separator (default tab); others ignored.
    #[arg(long)]
    property: Vec<String>,
    /// A producer config as key=value (acks, linger.ms, ...); repeatable, overrides --producer.config.
    #[arg(long)]
    producer_property: Vec<String>,
    /// Properties file of producer configs.
    #[arg(long = "producer.config")]
    producer_config: Option<String>,
    /// Compression of the records: none, gzip, snappy, lz4 or zstd; overrides compression.type.
    #[arg(long)]
    compression_codec: Option<String>,
    /// Acknowledgements to wait for: all/-1 (default), 1 or 0; 1 and 0 turn idempotence off.
    #[arg(long)]
    request_required_acks: Option<String>,
    /// Wait for each record's acknowledgement before sending the next line.
    #[arg(long)]
    sync: bool,
}

/// The clap command of `console-producer`, for its help.
pub(super) fn producer_command() -> clap::Command {
    <ProducerArgs as clap::CommandFactory>::command()
}

pub async fn producer(
    args: Vec<String>,
    input: &mut (dyn BufRead + Send),
    out: &mut (dyn Write + Send),
) -> anyhow::Result<i32> {
    let a = ProducerArgs::try_parse_from(args)?;
    let mut cfg = ProducerConfig::new(&a.bootstrap_server);
    let props = super::common::file_and_flags(a.producer_config.as_ref(), &a.producer_property)?;
    for (k, v) in &props {
        apply_producer(&mut cfg, k, v)?;
    }
    super::common::apply_security(&mut cfg.client, &props)?;
    if let Some(c) = &a.compression_codec {
        apply_producer(&mut cfg, "compression.type", c)?;
    }
    if let Some(acks) = &a.request_required_acks {
        apply_producer(&mut cfg, "acks", acks)?;
        if acks != "all" && acks != "-1" {
            cfg.enable_idempotence = false;
        }
    }
    let mut parse_key = false;
    let mut sep = "\t".to_string();
    for p in &a.property {
        let (k, v) = kv(p)?;
        match k.as_str() {
            "parse.key" => parse_key = v == "true",
            "key.separator" => sep = unescape(&v),
            _ => {}
        }
    }
    let producer = Producer::new(cfg).await?;
    let mut pending = Vec::new();
    let mut line = String::new();
    loop {
        line.clear();
        if input.read_line(&mut line)? == 0 {
            break;
        }
        let text = line.trim_end_matches(['\n', '\r']);
        let (key, value) = if parse_key {
            match text.split_once(sep.as_str()) {
                Some((k, v)) => (Some(Bytes::copy_from_slice(k.as_bytes())), v),
                None => bail!("No key separator found on line: {text}"),
            }
        } else {
            (None, text)
        };
        let rec = ProducerRecord {
            topic: a.topic.clone(),
            key,
            value: Some(Bytes::copy_from_slice(value.as_bytes())),
            ..Default::default()
        };
        let f = producer.enqueue(rec).await?;
        if a.sync {
            f.await?;
        } else {
            pending.push(f);
        }
    }
    let mut failed = 0;
    for f in pending {
        if let Err(e) = f.await {
            failed += 1;
            writeln!(out, "Error when sending message: {e}")?;
        }
    }
    producer.close().await;
    Ok(if failed == 0 { 0 } else { 1 })
}

#[derive(Debug, Parser)]
#[command(name = "console-consumer", about = "Print the records of a topic")]
struct ConsumerArgs {
    /// Broker(s) to connect to, host:port[,host:port...].
    #[arg(long)]
    bootstrap_server: String,
    /// Topic to consume.
    #[arg(long)]
    topic: String,
    /// Consumer group id (default: console-consumer-<pid>; none with --partition).
    #[arg(long)]
    group: Option<String>,
    /// Start at the earliest offset, not the latest, when there is no committed offset.
    #[arg(long)]
    from_beginning: bool,
    /// Consume only this partition, assigned directly rather than through the group.
    #[arg(long)]
    partition: Option<i32>,
    /// With --partition: where to start, earliest, latest or an offset (default: latest; earliest with --from-beginning).
    #[arg(long)]
    offset: Option<String>,
    /// Output: print.key/partition/offset/headers/timestamp=true, key.separator=SEP; others ignored.
    #[arg(long)]
    property: Vec<String>,
    /// A consumer config as key=value; repeatable, overrides --consumer.config.
    #[arg(long)]
    consumer_property: Vec<String>,
    /// Properties file of consumer configs.
    #[arg(long = "consumer.config")]
    consumer_config: Option<String>,
    /// Exit after printing this many records (default: no limit).
    #[arg(long)]
    max_messages: Option<u64>,
    /// Exit when no record arrived for this many ms (default: wait forever).
    #[arg(long)]
    timeout_ms: Option<u64>,
    /// read_uncommitted (default) or read_committed; overrides isolation.level.
    #[arg(long)]
    isolation_level: Option<String>,
}

/// The clap command of `console-consumer`, for its help.
pub(super) fn consumer_command() -> clap::Command {
    <ConsumerArgs as clap::CommandFactory>::command()
}

/// What `console-consumer` prints of a record (`--property print.key=true`, ...).
struct Format {
    key: bool,
    partition: bool,
    offset: bool,
    headers: bool,
    timestamp: bool,
    sep: String,
}

impl Format {
    /// From the `--property` arguments; the others are ignored.
    fn of(properties: &[String]) -> anyhow::Result<Self> {
        let mut f = Format {
            key: false,
            partition: false,
            offset: false,
            headers: false,
            timestamp: false,
            sep: "\t".to_string(),
        };
        for p in properties {
            let (k, v) = kv(p)?;
            let on = v == "true";
            match k.as_str() {
                "print.key" => f.key = on,
                "print.partition" => f.partition = on,
                "print.offset" => f.offset = on,
                "print.headers" => f.headers = on,
                "print.timestamp" => f.timestamp = on,
                "key.separator" => f.sep = unescape(&v),
                _ => {}
            }
        }
        Ok(f)
    }

    /// The line printed for `r`.
    fn line(&self, r: &crate::consumer::ConsumerRecord) -> String {
        let mut line = String::new();
        if self.timestamp {
            line.push_str(&format!("CreateTime:{}{}", r.timestamp, self.sep));
        }
        if self.partition {
            line.push_str(&format!("Partition:{}{}", r.partition, self.sep));
        }
        if self.offset {
            line.push_str(&format!("Offset:{}{}", r.offset, self.sep));
        }
        if self.headers {
            let h: Vec<String> = r
                .headers
                .iter()
                .map(|h| {
                    format!(
                        "{}:{}",
                        String::from_utf8_lossy(&h.key),
                        h.value
                            .as_deref()
                            .map_or("NULL".into(), |v| String::from_utf8_lossy(v).into_owned())
                    )
                })
                .collect();
            line.push_str(&if h.is_empty() {
                "NO_HEADERS".to_string()
            } else {
                h.join(",")
            });
            line.push_str(&self.sep);
        }
        if self.key {
            line.push_str(
                &r.key
                    .as_deref()
                    .map_or("null".into(), |k| String::from_utf8_lossy(k).into_owned()),
            );
            line.push_str(&self.sep);
        }
        line.push_str(
            &r.value
                .as_deref()
                .map_or("null".into(), |v| String::from_utf8_lossy(v).into_owned()),
        );
        line
    }
}

/// Assigns `--partition` at `--offset` (earliest, latest or a number; from the beginning
/// with `--from-beginning`), or subscribes to the topic.
async fn start(consumer: &mut Consumer, a: &ConsumerArgs) -> anyhow::Result<()> {
    match a.partition {
        Some(p) => {
            let tp = (a.topic.clone(), p);
            consumer.assign(std::slice::from_ref(&tp))?;
            match a.offset.as_deref() {
                Some("earliest") => {
                    consumer
                        .seek_to(std::slice::from_ref(&tp), crate::admin::EARLIEST)
                        .await?
                }
                Some("latest") | None if !a.from_beginning => {
                    consumer
                        .seek_to(std::slice::from_ref(&tp), crate::admin::LATEST)
                        .await?
                }
                Some(n) if n != "latest" => consumer.seek(&tp, n.parse()?)?,
                _ => {
                    consumer
                        .seek_to(std::slice::from_ref(&tp), crate::admin::EARLIEST)
                        .await?
                }
            }
        }
        None => consumer.subscribe(&[a.topic.as_str()], None)?,
    }
    Ok(())
}

pub async fn consumer(args: Vec<String>, out: &mut (dyn Write + Send)) -> anyhow::Result<i32> {
    let a = ConsumerArgs::try_parse_from(args)?;
    let group = a.group.clone().or_else(|| {
        a.partition
            .is_none()
            .then(|| format!("console-consumer-{}", std::process::id()))
    });
    let mut cfg = ConsumerConfig::new(&a.bootstrap_server, group.as_deref());
    cfg.auto_offset_reset = if a.from_beginning {
        OffsetReset::Earliest
    } else {
        OffsetReset::Latest
    };
    let props = super::common::file_and_flags(a.consumer_config.as_ref(), &a.consumer_property)?;
    for (k, v) in &props {
        apply_consumer(&mut cfg, k, v)?;
    }
    super::common::apply_security(&mut cfg.client, &props)?;
    if let Some(i) = &a.isolation_level {
        apply_consumer(&mut cfg, "isolation.level", i)?;
    }
    let format = Format::of(&a.property)?;
    let mut consumer = Consumer::new(cfg).await?;
    start(&mut consumer, &a).await?;
    let mut count = 0u64;
    let mut last = Instant::now();
    let idle = a.timeout_ms.map(Duration::from_millis);
    'outer: loop {
        let recs = consumer.poll(Duration::from_millis(200)).await?;
        if recs.is_empty() {
            if idle.is_some_and(|d| last.elapsed() >= d) {
                break;
            }
            continue;
        }
        last = Instant::now();
        for r in recs {
            let line = format.line(&r);
            writeln!(out, "{line}")?;
            count += 1;
            if a.max_messages.is_some_and(|m| count >= m) {
                break 'outer;
            }
        }
    }
    out.flush()?;
    if a.group.is_some() {
        consumer.commit_sync().await.ok();
    }
    // Kafka prints the summary on standard error, keeping standard output to the records.
    eprintln!("Processed a total of {count} messages");
    consumer.close().await.ok();
    Ok(0)
}
