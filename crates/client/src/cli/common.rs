//! Helpers shared by the tools: property parsing into client configs.

use crate::config::ClientConfig;
use crate::consumer::{ConsumerConfig, IsolationLevel, OffsetReset};
use crate::producer::{Acks, ProducerConfig, parse_compression};
use anyhow::{Context, anyhow, bail};
use std::time::Duration;

/// Splits `key=value`.
pub fn kv(s: &str) -> anyhow::Result<(String, String)> {
    let (k, v) = s
        .split_once('=')
        .ok_or_else(|| anyhow!("expected key=value, got {s:?}"))?;
    Ok((k.trim().to_string(), v.trim().to_string()))
}

fn ms(v: &str) -> anyhow::Result<Duration> {
    Ok(Duration::from_millis(
        v.parse().with_context(|| format!("bad number {v:?}"))?,
    ))
}

fn num<T: std::str::FromStr>(v: &str) -> anyhow::Result<T> {
    v.parse().map_err(|_| anyhow!("bad number {v:?}"))
}

/// Sets `c.security` from the security keys among `props` (`security.protocol`,
/// `ssl.*`, `sasl.*`, as [`crate::security::KEYS`]), the last value of a key winning;
/// without any, `c.security` is left as it is.
pub fn apply_security(c: &mut ClientConfig, props: &[(String, String)]) -> anyhow::Result<()> {
    let security: std::collections::BTreeMap<String, String> = props
        .iter()
        .filter(|(k, _)| crate::security::is_security_key(k))
        .cloned()
        .collect();
    if !security.is_empty() {
        c.security = crate::security::Security::from_properties(&security)?;
    }
    Ok(())
}

/// Applies a `--command-config` file (connection-level keys and the security keys;
/// others are ignored, as Kafka's admin tools warn and go on).
pub fn apply_command_config(c: &mut ClientConfig, path: Option<&String>) -> anyhow::Result<()> {
    let Some(path) = path else { return Ok(()) };
    let props = properties_file(path)?;
    for (k, v) in &props {
        apply_client(c, k, v)?;
    }
    apply_security(c, &props)
}

/// The client config of a tool's `--bootstrap-server` and `--command-config`.
pub fn command_client(
    bootstrap: &str,
    command_config: Option<&String>,
) -> anyhow::Result<ClientConfig> {
    let mut c = ClientConfig::new(bootstrap);
    apply_command_config(&mut c, command_config)?;
    Ok(c)
}

/// The properties of an optional config file followed by `key=value` flags (which win).
pub fn file_and_flags(
    file: Option<&String>,
    flags: &[String],
) -> anyhow::Result<Vec<(String, String)>> {
    let mut out = match file {
        Some(f) => properties_file(f)?,
        None => Vec::new(),
    };
    for p in flags {
        out.push(kv(p)?);
    }
    Ok(out)
}

/// Applies a connection-level property; false when it is not one.
pub fn apply_client(c: &mut ClientConfig, k: &str, v: &str) -> anyhow::Result<bool> {
    match k {
        "bootstrap.servers" => c.bootstrap_servers = ClientConfig::new(v).bootstrap_servers,
        "client.id" => c.client_id = v.to_string(),
        "request.timeout.ms" => c.request_timeout = ms(v)?,
        "retry.backoff.ms" => c.retry_backoff = ms(v)?,
        "metadata.max.age.ms" => c.metadata_max_age = ms(v)?,
        _ => return Ok(false),
    }
    Ok(true)
}

pub fn apply_producer(c: &mut ProducerConfig, k: &str, v: &str) -> anyhow::Result<()> {
    if apply_client(&mut c.client, k, v)? {
        return Ok(());
    }
    match k {
        "acks" => c.acks = Acks::parse(v).ok_or_else(|| anyhow!("bad acks {v:?}"))?,
        "batch.size" => c.batch_size = num(v)?,
        "linger.ms" => c.linger = ms(v)?,
        "compression.type" => {
            c.compression =
                parse_compression(v).ok_or_else(|| anyhow!("bad compression.type {v:?}"))?
        }
        "max.in.flight.requests.per.connection" => c.max_in_flight = num(v)?,
        "enable.idempotence" => c.enable_idempotence = v == "true",
        "delivery.timeout.ms" => c.delivery_timeout = ms(v)?,
        "buffer.memory" => c.buffer_memory = num(v)?,
        "max.block.ms" => c.max_block = ms(v)?,
        "max.request.size" => c.max_request_size = num(v)?,
        "partitioner.class" if v.contains("RoundRobin") => {
            c.partitioner = std::sync::Arc::new(crate::producer::RoundRobinPartitioner::default())
        }
        _ => {} // Unknown properties are ignored, as Kafka warns and goes on.
    }
    Ok(())
}

pub fn apply_consumer(c: &mut ConsumerConfig, k: &str, v: &str) -> anyhow::Result<()> {
    if apply_client(&mut c.client, k, v)? {
        return Ok(());
    }
    match k {
        "group.id" => c.group_id = Some(v.to_string()),
        "group.instance.id" => c.group_instance_id = Some(v.to_string()),
        "auto.offset.reset" => {
            c.auto_offset_reset =
                OffsetReset::parse(v).ok_or_else(|| anyhow!("bad auto.offset.reset {v:?}"))?
        }
        "enable.auto.commit" => c.enable_auto_commit = v == "true",
        "auto.commit.interval.ms" => c.auto_commit_interval = ms(v)?,
        "isolation.level" => {
            c.isolation_level = match v {
                "read_committed" => IsolationLevel::ReadCommitted,
                "read_uncommitted" => IsolationLevel::ReadUncommitted,
                _ => bail!("bad isolation.level {v:?}"),
            }
        }
        "max.poll.records" => c.max_poll_records = num(v)?,
        "session.timeout.ms" => c.session_timeout = ms(v)?,
        "heartbeat.interval.ms" => c.heartbeat_interval = ms(v)?,
        "max.poll.interval.ms" => c.max_poll_interval = ms(v)?,
        "fetch.min.bytes" => c.fetch_min_bytes = num(v)?,
        "fetch.max.wait.ms" => c.fetch_max_wait = ms(v)?,
        "max.partition.fetch.bytes" => c.max_partition_fetch_bytes = num(v)?,
        "partition.assignment.strategy" => {
            let mut list: Vec<std::sync::Arc<dyn crate::consumer::Assignor>> = Vec::new();
            for name in v.split(',') {
                let n = name.trim();
                let short = match n.rsplit('.').next().unwrap_or(n) {
                    "RangeAssignor" => "range",
                    "RoundRobinAssignor" => "roundrobin",
                    "StickyAssignor" => "sticky",
                    "CooperativeStickyAssignor" => "cooperative-sticky",
                    other => other,
                };
                let a = crate::consumer::assignor::by_name(short)
                    .ok_or_else(|| anyhow!("unknown assignor {n:?}"))?;
                list.push(std::sync::Arc::from(a));
            }
            c.assignors = list;
        }
        _ => {}
    }
    Ok(())
}

/// Reads a `--command-config`/`--producer.config` style properties file.
pub fn properties_file(path: &str) -> anyhow::Result<Vec<(String, String)>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {path}"))?;
    Ok(text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#') && !l.starts_with('!'))
        .filter_map(|l| {
            l.split_once(['=', ':'])
                .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        })
        .collect())
}

/// Parses Kafka's escape sequences in separators (`\t`, `\n`).
pub fn unescape(s: &str) -> String {
    s.replace("\\t", "\t").replace("\\n", "\n")
}
