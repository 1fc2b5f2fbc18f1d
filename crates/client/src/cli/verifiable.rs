//! `verifiable-producer` and `verifiable-consumer`: JSON line events as
//! Kafka's system-test tools print them.

use super::common::{apply_consumer, apply_producer};
use crate::consumer::{Consumer, ConsumerConfig, OffsetReset};
use crate::producer::{Acks, Producer, ProducerConfig, ProducerRecord};
use clap::Parser;
use serde_json::json;
use std::collections::BTreeMap;
use std::io::Write;
use std::time::{Duration, Instant};
use vltava_records::clock::now_ms;

#[derive(Debug, Parser)]
#[command(
    name = "verifiable-producer",
    about = "Produce numbered records, reporting each as JSON"
)]
struct ProducerArgs {
    /// Broker(s) to connect to, host:port[,host:port...].
    #[arg(long)]
    bootstrap_server: String,
    /// Topic to produce to.
    #[arg(long)]
    topic: String,
    /// Stop after this many records; -1 for no limit.
    #[arg(long, default_value_t = -1, allow_hyphen_values = true)]
    max_messages: i64,
    /// Records per second to aim at; -1 for no limit.
    #[arg(long, default_value_t = -1, allow_hyphen_values = true)]
    throughput: i64,
    /// Acknowledgements to wait for: -1/all, 1 or 0; 1 and 0 turn idempotence off.
    #[arg(long, default_value = "-1", allow_hyphen_values = true)]
    acks: String,
    /// When not 0, record values are "<prefix>.<n>" instead of "<n>".
    #[arg(long, default_value_t = 0)]
    value_prefix: i64,
    /// A producer config as key=value; repeatable, applied after --acks.
    #[arg(long)]
    producer_property: Vec<String>,
    /// Properties file of producer configs (security.protocol, sasl.*, ssl.*, ...);
    /// --producer-property overrides it.
    #[arg(long = "producer.config")]
    producer_config: Option<String>,
}

/// The clap command of `verifiable-producer`, for its help.
pub(super) fn producer_command() -> clap::Command {
    <ProducerArgs as clap::CommandFactory>::command()
}

pub async fn producer(args: Vec<String>, out: &mut (dyn Write + Send)) -> anyhow::Result<i32> {
    let a = ProducerArgs::try_parse_from(args)?;
    let mut cfg = ProducerConfig::new(&a.bootstrap_server);
    apply_producer(&mut cfg, "acks", &a.acks)?;
    if cfg.acks != Acks::All {
        cfg.enable_idempotence = false;
    }
    let props = super::common::file_and_flags(a.producer_config.as_ref(), &a.producer_property)?;
    for (k, v) in &props {
        apply_producer(&mut cfg, k, v)?;
    }
    super::common::apply_security(&mut cfg.client, &props)?;
    let producer = Producer::new(cfg).await?;
    writeln!(
        out,
        "{}",
        json!({"timestamp": now_ms(), "name": "startup_complete"})
    )?;
    let start = Instant::now();
    let (mut sent, mut acked) = (0i64, 0i64);
    let mut pending = std::collections::VecDeque::new();
    let total = if a.max_messages < 0 {
        i64::MAX
    } else {
        a.max_messages
    };
    while sent < total {
        if a.throughput > 0 {
            let due = Duration::from_secs_f64(sent as f64 / a.throughput as f64);
            if let Some(wait) = due.checked_sub(start.elapsed()) {
                tokio::time::sleep(wait).await;
            }
        }
        let value = if a.value_prefix != 0 {
            format!("{}.{sent}", a.value_prefix)
        } else {
            sent.to_string()
        };
        let f = producer
            .enqueue(ProducerRecord::new(&a.topic, None, Some(value.as_bytes())))
            .await?;
        pending.push_back((value, f));
        sent += 1;
        while pending.len() > 1000 {
            if let Some((v, f)) = pending.pop_front() {
                acked += report(out, &a.topic, v, f.await)?;
            }
        }
    }
    while let Some((v, f)) = pending.pop_front() {
        acked += report(out, &a.topic, v, f.await)?;
    }
    producer.close().await;
    let secs = start.elapsed().as_secs_f64().max(1e-9);
    writeln!(
        out,
        "{}",
        json!({"timestamp": now_ms(), "name": "shutdown_complete"})
    )?;
    writeln!(
        out,
        "{}",
        json!({"timestamp": now_ms(), "name": "tool_data", "sent": sent, "acked": acked,
               "target_throughput": a.throughput, "avg_throughput": acked as f64 / secs})
    )?;
    Ok(0)
}

fn report(
    out: &mut (dyn Write + Send),
    topic: &str,
    value: String,
    r: crate::Result<crate::RecordMetadata>,
) -> anyhow::Result<i64> {
    match r {
        Ok(md) => {
            writeln!(
                out,
                "{}",
                json!({"timestamp": now_ms(), "name": "producer_send_success", "key": null, "value": value,
                       "topic": topic, "partition": md.partition, "offset": md.offset})
            )?;
            Ok(1)
        }
        Err(e) => {
            writeln!(
                out,
                "{}",
                json!({"timestamp": now_ms(), "name": "producer_send_error", "key": null, "value": value,
                       "topic": topic, "exception": "ClientError", "message": e.to_string()})
            )?;
            Ok(0)
        }
    }
}

#[derive(Debug, Parser)]
#[command(
    name = "verifiable-consumer",
    about = "Consume in a group, reporting each event as JSON"
)]
struct ConsumerArgs {
    /// Broker(s) to connect to, host:port[,host:port...].
    #[arg(long)]
    bootstrap_server: String,
    /// Topic to subscribe to.
    #[arg(long)]
    topic: String,
    /// Consumer group id.
    #[arg(long)]
    group_id: String,
    /// Static membership: the group.instance.id (default: a dynamic member).
    #[arg(long)]
    group_instance_id: Option<String>,
    /// Stop after consuming this many records; -1 for no limit.
    #[arg(long, default_value_t = -1, allow_hyphen_values = true)]
    max_messages: i64,
    /// Let the consumer commit on its own; otherwise each batch is committed and reported.
    #[arg(long)]
    enable_autocommit: bool,
    /// Group session timeout in ms.
    #[arg(long, default_value_t = 30000)]
    session_timeout: u64,
    /// Partition assignor(s), comma-separated class or short names (range, roundrobin, sticky, ...).
    #[arg(
        long,
        default_value = "org.apache.kafka.clients.consumer.RangeAssignor"
    )]
    assignment_strategy: String,
    /// Where to start without a committed offset: earliest (default), latest or none.
    #[arg(long)]
    reset_policy: Option<String>,
    /// Exit when no record arrived for this many ms (default: wait forever).
    #[arg(long)]
    timeout_ms: Option<u64>,
    /// A consumer config as key=value; repeatable, applied after the flags above.
    #[arg(long)]
    consumer_property: Vec<String>,
    /// Properties file of consumer configs (security.protocol, sasl.*, ssl.*, ...);
    /// --consumer-property overrides it.
    #[arg(long = "consumer.config")]
    consumer_config: Option<String>,
}

/// The clap command of `verifiable-consumer`, for its help.
pub(super) fn consumer_command() -> clap::Command {
    <ConsumerArgs as clap::CommandFactory>::command()
}

fn tp_json(parts: &[(String, i32)]) -> serde_json::Value {
    serde_json::Value::Array(
        parts
            .iter()
            .map(|(t, p)| json!({"topic": t, "partition": p}))
            .collect(),
    )
}

pub async fn consumer(args: Vec<String>, out: &mut (dyn Write + Send)) -> anyhow::Result<i32> {
    let a = ConsumerArgs::try_parse_from(args)?;
    let cfg = consumer_config(&a)?;
    let mut consumer = Consumer::new(cfg).await?;
    consumer.subscribe(&[a.topic.as_str()], None)?;
    writeln!(
        out,
        "{}",
        json!({"timestamp": now_ms(), "name": "startup_complete"})
    )?;
    let mut assigned: Vec<(String, i32)> = Vec::new();
    let mut consumed = 0i64;
    let mut last = Instant::now();
    let idle = a.timeout_ms.map(Duration::from_millis);
    let total = if a.max_messages < 0 {
        i64::MAX
    } else {
        a.max_messages
    };
    while consumed < total {
        let recs = consumer.poll(Duration::from_millis(200)).await?;
        let now_assigned = consumer.assignment();
        if now_assigned != assigned {
            report_assignment(out, &assigned, &now_assigned)?;
            assigned = now_assigned;
        }
        if recs.is_empty() {
            if idle.is_some_and(|d| last.elapsed() >= d) {
                break;
            }
            continue;
        }
        last = Instant::now();
        let take = recs.len().min((total - consumed) as usize);
        let mut per: BTreeMap<(String, i32), (i64, i64, i64)> = BTreeMap::new();
        for r in &recs[..take] {
            let e = per
                .entry((r.topic.clone(), r.partition))
                .or_insert((0, r.offset, r.offset));
            e.0 += 1;
            e.1 = e.1.min(r.offset);
            e.2 = e.2.max(r.offset);
        }
        consumed += take as i64;
        let parts: Vec<_> = per
            .iter()
            .map(|((t, p), (c, lo, hi))| json!({"topic": t, "partition": p, "count": c, "minOffset": lo, "maxOffset": hi}))
            .collect();
        writeln!(
            out,
            "{}",
            json!({"timestamp": now_ms(), "name": "records_consumed", "count": take, "partitions": parts})
        )?;
        if !a.enable_autocommit {
            commit_consumed(&mut consumer, out, &per).await?;
        }
    }
    consumer.close().await.ok();
    writeln!(
        out,
        "{}",
        json!({"timestamp": now_ms(), "name": "shutdown_complete"})
    )?;
    Ok(0)
}

/// The consumer's settings: the tool's flags, then `--consumer.config` and
/// `--consumer-property`.
fn consumer_config(a: &ConsumerArgs) -> anyhow::Result<ConsumerConfig> {
    let mut cfg = ConsumerConfig::new(&a.bootstrap_server, Some(&a.group_id));
    cfg.group_instance_id = a.group_instance_id.clone();
    cfg.enable_auto_commit = a.enable_autocommit;
    cfg.session_timeout = Duration::from_millis(a.session_timeout);
    cfg.auto_offset_reset = OffsetReset::Earliest;
    apply_consumer(
        &mut cfg,
        "partition.assignment.strategy",
        &a.assignment_strategy,
    )?;
    if let Some(r) = &a.reset_policy {
        apply_consumer(&mut cfg, "auto.offset.reset", r)?;
    }
    let props = super::common::file_and_flags(a.consumer_config.as_ref(), &a.consumer_property)?;
    for (k, v) in &props {
        apply_consumer(&mut cfg, k, v)?;
    }
    super::common::apply_security(&mut cfg.client, &props)?;
    Ok(cfg)
}

/// Reports an assignment change: the partitions revoked (if any), then those assigned.
fn report_assignment(
    out: &mut (dyn Write + Send),
    assigned: &[(String, i32)],
    now_assigned: &[(String, i32)],
) -> anyhow::Result<()> {
    let revoked: Vec<_> = assigned
        .iter()
        .filter(|tp| !now_assigned.contains(tp))
        .cloned()
        .collect();
    if !revoked.is_empty() {
        writeln!(
            out,
            "{}",
            json!({"timestamp": now_ms(), "name": "partitions_revoked", "partitions": tp_json(&revoked)})
        )?;
    }
    writeln!(
        out,
        "{}",
        json!({"timestamp": now_ms(), "name": "partitions_assigned", "partitions": tp_json(now_assigned)})
    )?;
    Ok(())
}

/// Commits past the last record consumed of each partition in `per` and reports the
/// commit (with its error, if it failed).
async fn commit_consumed(
    consumer: &mut Consumer,
    out: &mut (dyn Write + Send),
    per: &BTreeMap<(String, i32), (i64, i64, i64)>,
) -> anyhow::Result<()> {
    let offsets: BTreeMap<(String, i32), i64> = per
        .iter()
        .map(|(tp, (_, _, hi))| (tp.clone(), hi + 1))
        .collect();
    let r = consumer.commit_offsets(&offsets).await;
    let list: Vec<_> = offsets
        .iter()
        .map(|((t, p), o)| json!({"topic": t, "partition": p, "offset": o}))
        .collect();
    let mut ev = json!({"timestamp": now_ms(), "name": "offsets_committed", "offsets": list, "success": r.is_ok()});
    if let Err(e) = r {
        ev["error"] = json!(e.to_string());
    }
    writeln!(out, "{ev}")?;
    Ok(())
}
